/*
 * test_hostile.c - a fake peer on the master's endpoint (RELIABILITY T18):
 * while a job runs, a thread connects DEALERs to the master's ipc://
 * socket, with a worker's identity and with others, and sends truncated
 * frames, lying lengths, unknown types and versions, corrupt LZ4 and
 * DONEs for stale attempts.  The master must reject them all and the
 * job's results must stay exact; nothing is left behind.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "helpers.h"
#include "ipc/ipc.h"
#include "jobrun.h"

static char g_endpoint[512];
static atomic_int g_stop;
static atomic_long g_sent;

/* The master's endpoint: XDG_RUNTIME_DIR/jobrun.<our pid>.*./ctl */
static int find_endpoint(const char *xdg)
{
    char pre[64];
    snprintf(pre, sizeof pre, "jobrun.%d.", (int)getpid());
    DIR *d = opendir(xdg);
    struct dirent *e;
    int found = 0;
    while (d && (e = readdir(d)) != NULL)
        if (strncmp(e->d_name, pre, strlen(pre)) == 0) {
            snprintf(g_endpoint, sizeof g_endpoint, "ipc://%s/%s/ctl", xdg,
                     e->d_name);
            found = 1;
        }
    if (d)
        closedir(d);
    return found;
}

static void *hostile(void *arg)
{
    (void)arg;
    void *ctx = zmq_ctx_new();
    unsigned seed = 7;
    while (!atomic_load(&g_stop)) {
        void *s = zmq_socket(ctx, ZMQ_DEALER);
        int zero = 0;
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
        /* Half the time a real worker's identity (slot 0 or 1, gen 1). */
        uint8_t id[8];
        jr_put_u32(id, rand_r(&seed) % 3);
        jr_put_u32(id + 4, 1 + rand_r(&seed) % 2);
        if (rand_r(&seed) % 2)
            zmq_setsockopt(s, ZMQ_ROUTING_ID, id, sizeof id);
        zmq_connect(s, g_endpoint);
        for (int k = 0; k < 20; k++) {
            uint8_t f[64];
            jr_msg m = {.type = (uint8_t)(rand_r(&seed) % (JR_MSG_TYPE_MAX_ + 2)),
                        .worker = jr_get_u32(id), .task = rand_r(&seed) % 50,
                        .attempt = rand_r(&seed) % 3, .len = 40};
            jr_msg_encode(f, &m);
            for (int b = JR_MSG_HDR; b < (int)sizeof f; b++)
                f[b] = (uint8_t)rand_r(&seed);
            size_t n = sizeof f;
            switch (rand_r(&seed) % 5) {
            case 0: n = rand_r(&seed) % JR_MSG_HDR; break; /* truncated */
            case 1: f[0] = 99; break;                      /* version */
            case 2: jr_put_u32(f + 20, 0xfffffff0u); break; /* len lies */
            case 3: f[2] = JR_MSGF_LZ4; break;             /* bad LZ4 */
            default: break;                                /* stale/odd */
            }
            zmq_send(s, f, n, ZMQ_DONTWAIT);
            atomic_fetch_add(&g_sent, 1);
        }
        zmq_close(s);
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    zmq_ctx_term(ctx);
    return NULL;
}

static int slow_square(jr_map_ctx *ctx, const void *in, size_t len)
{
    uint64_t v;
    memcpy(&v, in, sizeof v);
    (void)len;
    struct timespec ts = {0, 200000}; /* 0.2 ms: the run lasts a while */
    nanosleep(&ts, NULL);
    v *= v;
    return jr_write(ctx, &v, sizeof v);
}

Test(hostile, frames_from_a_fake_peer_are_rejected_and_results_stay_exact,
     .timeout = 60)
{
    char xdg[96];
    jr_test_mkdtemp(xdg, sizeof xdg, "jr-hostile");
    setenv("XDG_RUNTIME_DIR", xdg, 1);
    jr_opts o = {.workers = 2};
    jr_pool *p = NULL;
    cr_assert_eq(jr_pool_new(&p, &o), 0);
    cr_assert(find_endpoint(xdg), "no endpoint in %s", xdg);

    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, hostile, NULL), 0);
    size_t n = 3000;
    uint64_t *v = malloc(n * sizeof *v);
    jr_blob *in = malloc(n * sizeof *in), *out = malloc(n * sizeof *out);
    for (size_t i = 0; i < n; i++) {
        v[i] = i + 3;
        in[i] = (jr_blob){&v[i], sizeof v[i]};
    }
    for (int round = 0; round < 3; round++) {
        int rc = jr_pool_map(p, slow_square, in, n, 1, out);
        cr_assert_eq(rc, 0, "round %d: %s", round, jr_pool_errmsg(p));
        for (size_t i = 0; i < n; i++) {
            uint64_t r;
            cr_assert_eq(out[i].len, sizeof r);
            memcpy(&r, out[i].data, sizeof r);
            cr_assert_eq(r, v[i] * v[i], "item %zu", i);
            jr_free(out[i].data);
        }
    }
    atomic_store(&g_stop, 1);
    pthread_join(th, NULL);
    cr_assert_gt(atomic_load(&g_sent), 100, "the fake peer sent little");
    fprintf(stderr, "[T18] %ld hostile frames during 3 runs of %zu tasks: "
            "results exact\n", atomic_load(&g_sent), n);
    jr_pool_destroy(&p);
    free(v);
    free(in);
    free(out);
    cr_assert_eq(rmdir(xdg), 0, "the runtime dir was left in %s", xdg);
    jr_test_assert_clean();
}
