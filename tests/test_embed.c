/*
 * test_embed.c - the library inside a threaded host that uses ZeroMQ
 * itself (RELIABILITY T15): jr_init() first, then a host thread keeps a
 * REQ/REP ping-pong going while pools start, run and stop; the host's
 * traffic never breaks, and its fds, threads, RSS and segments stay flat.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "helpers.h"
#include "jobrun.h"

static atomic_int stop_host;
static atomic_long pings;

static void *host_thread(void *arg)
{
    void *ctx = arg;
    void *rep = zmq_socket(ctx, ZMQ_REP), *req = zmq_socket(ctx, ZMQ_REQ);
    int zero = 0;
    zmq_setsockopt(rep, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(req, ZMQ_LINGER, &zero, sizeof zero);
    zmq_bind(rep, "inproc://host");
    zmq_connect(req, "inproc://host");
    char buf[8];
    while (!atomic_load(&stop_host)) {
        if (zmq_send(req, "ping", 4, 0) != 4 ||
            zmq_recv(rep, buf, sizeof buf, 0) != 4 ||
            zmq_send(rep, "pong", 4, 0) != 4 ||
            zmq_recv(req, buf, sizeof buf, 0) != 4)
            break;
        atomic_fetch_add(&pings, 1);
    }
    zmq_close(req);
    zmq_close(rep);
    return NULL;
}

static int twice(jr_map_ctx *ctx, const void *in, size_t len)
{
    uint32_t v;
    memcpy(&v, in, sizeof v);
    (void)len;
    v *= 2;
    return jr_write(ctx, &v, sizeof v);
}

static long status_field(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0)
            v = atol(line + n);
    if (f)
        fclose(f);
    return v;
}

static void one_run(jr_pool *p)
{
    uint32_t v[16];
    jr_blob in[16], out[16];
    for (int i = 0; i < 16; i++) {
        v[i] = (uint32_t)i;
        in[i] = (jr_blob){&v[i], sizeof v[i]};
    }
    cr_assert_eq(jr_pool_map(p, twice, in, 16, 1, out), 0, "%s",
                 jr_pool_errmsg(p));
    for (int i = 0; i < 16; i++) {
        uint32_t r;
        memcpy(&r, out[i].data, sizeof r);
        cr_assert_eq(r, 2u * i);
        jr_free(out[i].data);
    }
}

Test(embed, a_threaded_zeromq_host_runs_a_thousand_jobs_and_stays_flat,
     .timeout = 120)
{
    cr_assert_eq(jr_init(), 0);
    cr_assert_eq(jr_init(), 0, "jr_init() is idempotent");
    void *hctx = zmq_ctx_new();
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, host_thread, hctx), 0);

    /* Warm up, then take the baseline. */
    jr_opts o = {.workers = 2};
    jr_pool *p = NULL;
    cr_assert_eq(jr_pool_new(&p, &o), 0);
    one_run(p);
    jr_pool_destroy(&p);
    int fds = jr_test_fd_count();
    long threads = status_field("Threads:");
    long rss = status_field("VmRSS:");

    /* 1,000 runs: 100 pool lifetimes of 10 runs each. */
    for (int k = 0; k < 100; k++) {
        cr_assert_eq(jr_pool_new(&p, &o), 0, "pool %d", k);
        for (int r = 0; r < 10; r++)
            one_run(p);
        jr_pool_destroy(&p);
        cr_assert_eq(jr_test_segments_of(getpid()), 0);
    }
    long pings_during = atomic_load(&pings);
    cr_assert_eq(jr_test_fd_count(), fds, "fds grew");
    cr_assert_eq(status_field("Threads:"), threads, "threads grew");
    long rss_end = status_field("VmRSS:");
#if defined(__SANITIZE_ADDRESS__)
    /* ASan keeps freed memory in quarantine (256 MB by default) and maps
     * shadow for it: RSS says nothing about leaks there, and LeakSanitizer
     * checks them instead. */
    (void)rss_end;
#else
    cr_assert(rss_end < rss + 4096, "RSS grew from %ld to %ld kB", rss,
              rss_end);
#endif

    atomic_store(&stop_host, 1);
    pthread_join(th, NULL);
    zmq_ctx_term(hctx);
    cr_assert_gt(pings_during, 0, "the host's own ZeroMQ traffic ran");
    jr_fini();
    jr_test_assert_clean();
}

Test(embed, pools_work_without_jr_init_in_a_single_threaded_program,
     .timeout = 30)
{
    jr_pool *p = NULL;
    jr_opts o = {.workers = 1};
    cr_assert_eq(jr_pool_new(&p, &o), 0);
    one_run(p);
    jr_pool_destroy(&p);
    jr_fini(); /* harmless without jr_init() */
    jr_test_assert_clean();
}
