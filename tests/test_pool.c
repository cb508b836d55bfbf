/*
 * test_pool.c - the pool through the public API: independent tasks in
 * order for several worker counts, a worker killed mid-task, pools
 * opened and closed many times without leaking fds, processes or
 * segments, descriptors given as inputs (read to their end, a failed
 * one reported), and results cut into parts that threads merge at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "jobrun.h"

/* Square a 64-bit number. */
static int square(jr_map_ctx *ctx, const void *in, size_t len)
{
    uint64_t v;
    if (len != sizeof v)
        return 1;
    memcpy(&v, in, sizeof v);
    v *= v;
    return jr_write(ctx, &v, sizeof v);
}

static void run_squares(unsigned workers, size_t n, size_t batch)
{
    jr_opts o = {.workers = workers};
    jr_pool *p = NULL;
    cr_assert_eq(jr_pool_new(&p, &o), 0);
    cr_assert_eq(jr_pool_workers(p), workers);
    uint64_t *v = malloc(n * sizeof *v);
    jr_blob *in = malloc(n * sizeof *in), *out = malloc(n * sizeof *out);
    for (size_t i = 0; i < n; i++) {
        v[i] = i * 7 + 1;
        in[i] = (jr_blob){&v[i], sizeof v[i]};
    }
    int rc = jr_pool_map(p, square, in, n, batch, out);
    cr_assert_eq(rc, 0, "jr_pool_map: %s (%s)", jr_strerror(rc),
                 jr_pool_errmsg(p));
    for (size_t i = 0; i < n; i++) {
        uint64_t r;
        cr_assert_eq(out[i].len, sizeof r, "item %zu", i);
        memcpy(&r, out[i].data, sizeof r);
        cr_assert_eq(r, v[i] * v[i], "item %zu out of order or wrong", i);
        jr_free(out[i].data);
    }
    free(v);
    free(in);
    free(out);
    jr_pool_destroy(&p);
    cr_assert_null(p);
    jr_test_assert_clean();
}

Test(pool, hundred_thousand_tiny_tasks_come_back_in_order_with_one_worker,
     .timeout = 60)
{
    run_squares(1, 100000, 1);
}

Test(pool, hundred_thousand_tiny_tasks_come_back_in_order_with_two_workers,
     .timeout = 60)
{
    run_squares(2, 100000, 1);
}

Test(pool, hundred_thousand_tiny_tasks_come_back_in_order_with_four_workers,
     .timeout = 60)
{
    run_squares(4, 100000, 1);
}

Test(pool, batched_tasks_give_the_same_results, .timeout = 30)
{
    run_squares(3, 100000, 0);
    run_squares(2, 1001, 7);
}

/* Dies (SIGKILL, as from outside) the first time it meets item 500: the
 * flag file tells later attempts it already happened. */
static char kill_flag[128];

static int square_or_die(jr_map_ctx *ctx, const void *in, size_t len)
{
    uint64_t v;
    memcpy(&v, in, sizeof v);
    if (v == 500) {
        int fd = open(kill_flag, O_CREAT | O_EXCL | O_WRONLY, 0600);
        if (fd >= 0) {
            close(fd);
            raise(SIGKILL);
        }
    }
    return square(ctx, in, len);
}

Test(pool, a_worker_killed_mid_task_changes_nothing_in_the_result,
     .timeout = 30)
{
    snprintf(kill_flag, sizeof kill_flag, "%s/jr-test-kill.%d",
             jr_test_tmpdir(), getpid());
    unlink(kill_flag);
    jr_opts o = {.workers = 2};
    jr_pool *p = NULL;
    cr_assert_eq(jr_pool_new(&p, &o), 0);
    size_t n = 2000;
    uint64_t *v = malloc(n * sizeof *v);
    jr_blob *in = malloc(n * sizeof *in), *out = malloc(n * sizeof *out);
    for (size_t i = 0; i < n; i++) {
        v[i] = i;
        in[i] = (jr_blob){&v[i], sizeof v[i]};
    }
    int rc = jr_pool_map(p, square_or_die, in, n, 1, out);
    cr_assert_eq(rc, 0, "%s", jr_pool_errmsg(p));
    struct stat st;
    cr_assert_eq(stat(kill_flag, &st), 0, "the worker was never killed");
    for (size_t i = 0; i < n; i++) {
        uint64_t r;
        memcpy(&r, out[i].data, sizeof r);
        cr_assert_eq(r, (uint64_t)i * i);
        jr_free(out[i].data);
    }
    jr_stats s;
    jr_pool_stats(p, &s);
    cr_assert_eq(s.retries, 1, "exactly one attempt failed");
    /* The pool is whole again: a second run works. */
    rc = jr_pool_map(p, square, in, 10, 1, out);
    cr_assert_eq(rc, 0);
    for (size_t i = 0; i < 10; i++)
        jr_free(out[i].data);
    free(v);
    free(in);
    free(out);
    unlink(kill_flag);
    jr_pool_destroy(&p);
    jr_test_assert_clean();
}

/* Item i leaves a mark "<dir>/i" and waits (up to 20 s) for the other
 * item's: it succeeds only while the other runs at the same time. */
static char meet_dir[96];

static int meet(jr_map_ctx *ctx, const void *in, size_t len)
{
    char mine[96], other[96];
    int i = len == 1 && *(const char *)in == '1';
    snprintf(mine, sizeof mine, "%s/%d", meet_dir, i);
    snprintf(other, sizeof other, "%s/%d", meet_dir, !i);
    cr_assert_eq(jr_test_write_file(mine, "", 0), 0);
    for (int k = 0; k < 2000; k++) {
        if (access(other, F_OK) == 0)
            return jr_write(ctx, "met", 3);
        jr_test_sleep_ms(10);
    }
    return 1;
}

/* The last tasks of a run go one to a worker: two tasks that must run
 * at once on two workers.  When every worker could hold three tasks, the
 * first to ask took both and waited on itself until the deadline. */
Test(pool, the_last_tasks_go_one_to_a_worker, .timeout = 60)
{
    snprintf(meet_dir, sizeof meet_dir, "%s/jr-test-meet.%d", jr_test_tmpdir(),
             getpid());
    jr_test_rm_rf(meet_dir);
    cr_assert_eq(mkdir(meet_dir, 0700), 0);
    jr_opts o = {.workers = 2};
    jr_pool *p = NULL;
    cr_assert_eq(jr_pool_new(&p, &o), 0);
    jr_blob in[2] = {{"0", 1}, {"1", 1}}, out[2];
    int rc = jr_pool_map(p, meet, in, 2, 1, out);
    cr_assert_eq(rc, 0, "%s", jr_pool_errmsg(p));
    for (size_t i = 0; i < 2; i++) {
        cr_assert_eq(out[i].len, 3, "item %zu", i);
        jr_free(out[i].data);
    }
    jr_pool_destroy(&p);
    jr_test_rm_rf(meet_dir);
    jr_test_assert_clean();
}

static int crash_always(jr_map_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    raise(SIGSEGV);
    return 0;
}

Test(pool, a_task_that_crashes_every_attempt_fails_the_run_with_its_story,
     .timeout = 30)
{
    jr_opts o = {.workers = 2, .max_attempts = 3};
    jr_pool *p = NULL;
    cr_assert_eq(jr_pool_new(&p, &o), 0);
    uint64_t v = 1;
    jr_blob in = {&v, sizeof v}, out;
    int rc = jr_pool_map(p, crash_always, &in, 1, 1, &out);
    cr_assert_eq(rc, JR_EWORKER, "rc %d", rc);
    cr_assert(strstr(jr_pool_errmsg(p), "failed 3/3 attempts"), "%s",
              jr_pool_errmsg(p));
    cr_assert(strstr(jr_pool_errmsg(p), "SIGSEGV"), "%s", jr_pool_errmsg(p));
    jr_pool_destroy(&p);
    jr_test_assert_clean();
}

Test(pool, opening_and_closing_200_times_leaks_nothing,
     .timeout = 120)
{
    int fds = jr_test_fd_count();
    for (int i = 0; i < 200; i++) {
        jr_opts o = {.workers = 2};
        jr_pool *p = NULL;
        cr_assert_eq(jr_pool_new(&p, &o), 0, "round %d", i);
        jr_pool_destroy(&p);
        jr_test_assert_clean();
    }
    cr_assert_eq(jr_test_fd_count(), fds, "file descriptors leaked");
    jr_pool_destroy(NULL); /* harmless */
}

Test(pool, errors_have_names_and_texts)
{
    cr_assert_str_eq(jr_err_name(JR_ENOMEM), "ENOMEM");
    cr_assert_str_eq(jr_err_name(JR_EWORKER), "EWORKER");
    cr_assert_eq(JR_ENOMEM, -ENOMEM);
    cr_assert_str_eq(jr_strerror(JR_ENOSPC), "no space left on device");
    cr_assert_str_eq(jr_strerror(12345), "unknown error");
    /* Any other -errno: the C library's text and name, not "unknown". */
    cr_assert_str_eq(jr_strerror(-EROFS), "Read-only file system");
    cr_assert_str_eq(jr_err_name(-EROFS), "EROFS");
    cr_assert_str_eq(jr_strerror(-ENOTDIR), "Not a directory");
    cr_assert_str_eq(jr_strerror(-1500), "unknown error");
    cr_assert_str_eq(jr_err_name(-1500), "UNKNOWN");
    cr_assert_str_eq(jr_strerror(-5000), "unknown error");
}

/* A pool that does not start leaves its story for jr_pool_errmsg(NULL),
 * until the thread's next jr_pool_new(). */
Test(pool, a_pool_that_cannot_start_says_why)
{
    jr_opts o = {.workers = 5000};
    jr_pool *p = NULL;
    cr_assert_str_eq(jr_pool_errmsg(NULL), "");
    cr_assert_eq(jr_pool_new(&p, &o), JR_EINVAL);
    cr_assert_null(p);
    cr_assert_str_eq(jr_pool_errmsg(NULL), "5000 workers: at most 1024");
    o.workers = 1;
    cr_assert_eq(jr_pool_new(&p, &o), 0);
    cr_assert_str_eq(jr_pool_errmsg(NULL), "");
    jr_pool_destroy(&p);
    jr_test_assert_clean();
}

/*
 * Files are mapped in place: a file cut short while a worker reads its
 * mapping must not kill the worker with SIGBUS.  The map callback below
 * truncates its own input to 100 bytes, then reads every byte of its
 * chunk: it must see those 100 bytes and zeros after them, and the run
 * must end as "some input could not be read", naming the file.
 */
static int count_after_truncate(jr_map_ctx *ctx, const jr_chunk *ch)
{
    if (ch->offset == 0 && truncate(ch->name, 100) != 0)
        return 1;
    uint64_t nonzero = 0;
    for (size_t i = 0; i < ch->len; i++)
        nonzero += ch->data[i] != 0;
    int rc = jr_emit(ctx, "nonzero", 7, nonzero);
    return rc ? rc : jr_emit(ctx, "bytes", 5, ch->len);
}

typedef struct diags {
    int n;
    char last[512];
    char all[2048]; /* "NAME: MSG\n" each, while they fit */
} diags;

/* Emits the chunk's length, zero-padded so that key order is size order. */
static int emit_len(jr_map_ctx *ctx, const jr_chunk *ch)
{
    char key[32];
    int n = snprintf(key, sizeof key, "%020zu", ch->len);
    return jr_emit(ctx, key, (size_t)n, 1);
}

/* The sizes of the tasks a pool of `workers` cuts the files under dir
 * into (chunk 0: the default), ascending, with how many tasks had each in
 * counts[]; @return how many sizes. */
static size_t task_sizes(const char *dir, unsigned workers, size_t chunk,
                         size_t sizes[64], uint64_t counts[64])
{
    jr_job job = {.name = "sizes", .map = emit_len};
    jr_opts o = {.workers = workers};
    jr_pool *p = NULL;
    jr_input *in = NULL;
    jr_result *res = NULL;
    cr_assert_eq(jr_pool_new(&p, &o), 0);
    cr_assert_eq(jr_input_new(&in), 0);
    cr_assert_eq(jr_input_add_path(in, dir, 0), 0);
    jr_run_opts ro = {.chunk_size = chunk};
    cr_assert_eq(jr_pool_run(p, &job, in, &ro, &res), 0, "%s",
                 jr_pool_errmsg(p));
    const void *key;
    size_t klen, n = 0;
    uint64_t v;
    while (jr_result_next(res, &key, &klen, &v) == 1) {
        cr_assert_lt(n, 64);
        sizes[n] = (size_t)strtoull(key, NULL, 10);
        counts[n++] = v;
    }
    jr_result_destroy(&res);
    jr_input_destroy(&in);
    jr_pool_destroy(&p);
    return n;
}

/* By default a large input is cut into 4 MiB tasks and the last ones are
 * smaller, down to 256 KiB, so that workers finish together; a chunk size
 * the caller chose is kept to the end.  Every byte is in one task. */
Test(pool, the_last_tasks_of_files_are_smaller_unless_a_chunk_size_is_given,
     .timeout = 60)
{
    char dir[96], path[128];
    jr_test_mkdtemp(dir, sizeof dir, "jr-test-tail");
    snprintf(path, sizeof path, "%s/big", dir);
    size_t len = (size_t)40 << 20;
    char *text = calloc(1, len);
    cr_assert_eq(jr_test_write_file(path, text, len), 0);
    free(text);
    size_t sizes[64];
    uint64_t counts[64], total = 0, tasks = 0;
    size_t n = task_sizes(dir, 2, 0, sizes, counts);
    for (size_t i = 0; i < n; i++) {
        total += sizes[i] * counts[i];
        tasks += counts[i];
        cr_assert_leq(sizes[i], (size_t)4 << 20);
    }
    cr_assert_eq(total, len);
    cr_assert_eq(sizes[n - 1], (size_t)4 << 20, "most tasks are 4 MiB");
    cr_assert_geq(counts[n - 1], 6);
    cr_assert_geq(n, 6, "a tail of smaller tasks: %zu sizes", n);
    cr_assert_leq(sizes[0], (size_t)256 << 10, "the last is 256 KiB or less");
    cr_assert_leq(sizes[1], (size_t)1 << 20, "the tail goes below 1 MiB");
    cr_assert_lt(tasks, 24, "and stays short: %" PRIu64 " tasks", tasks);

    n = task_sizes(dir, 2, (size_t)3 << 20, sizes, counts);
    cr_assert_eq(n, 2, "3 MiB tasks and the rest: %zu sizes", n);
    cr_assert_eq(sizes[0], (size_t)1 << 20);
    cr_assert_eq(counts[0], 1);
    cr_assert_eq(sizes[1], (size_t)3 << 20);
    cr_assert_eq(counts[1], 13);
    unlink(path);
    rmdir(dir);
}

static void keep_diag(void *arg, int kind, const char *name, uint64_t line,
                      const char *msg)
{
    diags *d = arg;
    (void)line;
    d->n++;
    snprintf(d->last, sizeof d->last, "%d %s: %s", kind, name, msg);
    size_t at = strlen(d->all);
    snprintf(d->all + at, sizeof d->all - at, "%s: %s\n", name, msg);
}

/* A run of job over path on one worker with one attempt per task (chunk
 * 0: the default), its diagnostics kept in d: a job that meddles with
 * its own input, which a retry would only repeat. */
typedef struct diag_run {
    jr_pool *p;
    jr_input *in;
    jr_result *res;
    diags d;
    int rc;
} diag_run;

static void diag_run_go(diag_run *r, const jr_job *job, const char *path,
                        size_t chunk)
{
    jr_opts o = {.workers = 1, .max_attempts = 1};
    *r = (diag_run){0};
    cr_assert_eq(jr_pool_new(&r->p, &o), 0);
    cr_assert_eq(jr_input_new(&r->in), 0);
    cr_assert_eq(jr_input_add_path(r->in, path, 0), 0);
    jr_run_opts ro = {.chunk_size = chunk, .ctx = &r->d, .on_diag = keep_diag};
    r->rc = jr_pool_run(r->p, job, r->in, &ro, &r->res);
    cr_assert_eq(r->rc, JR_EINPUT, "rc %d: %s", r->rc, jr_pool_errmsg(r->p));
}

static void diag_run_free(diag_run *r)
{
    jr_result_destroy(&r->res);
    jr_input_destroy(&r->in);
    jr_pool_destroy(&r->p);
}

Test(pool, a_file_cut_short_under_its_mapping_reads_as_zeros_and_is_reported,
     .timeout = 30)
{
    char dir[96], path[128];
    jr_test_mkdtemp(dir, sizeof dir, "jr-test-shrink");
    snprintf(path, sizeof path, "%s/in.txt", dir);
    size_t len = 1u << 20;
    char *text = malloc(len);
    memset(text, 'a', len);
    cr_assert_eq(jr_test_write_file(path, text, len), 0);
    free(text);

    jr_job job = {.name = "shrink", .map = count_after_truncate};
    diag_run r;
    diag_run_go(&r, &job, path, len);
    cr_assert_eq(r.d.n, 1, "%d diagnostics, last: %s", r.d.n, r.d.last);
    cr_assert(strstr(r.d.last, "in.txt") && strstr(r.d.last, "shrank"), "%s",
              r.d.last);
    const void *key;
    size_t klen;
    uint64_t v, nonzero = 0, bytes = 0;
    while (jr_result_next(r.res, &key, &klen, &v) == 1) {
        if (klen == 7 && memcmp(key, "nonzero", 7) == 0)
            nonzero = v;
        else if (klen == 5 && memcmp(key, "bytes", 5) == 0)
            bytes = v;
    }
    cr_assert_eq(nonzero, 100, "the bytes still in the file, then zeros");
    cr_assert_eq(bytes, len, "the chunk as it was when the task began");
    jr_stats st;
    jr_pool_stats(r.p, &st);
    cr_assert_eq(st.retries, 0, "the worker died");
    diag_run_free(&r);
    jr_test_rm_rf(dir);
    jr_test_assert_clean();
}

/*
 * A file renamed over (an editor's save, a log's rotation) or written in
 * place after the walk saw it is reported, not read as if it were the
 * file the walk sized: the worker checks device, inode and modification
 * time when it opens a piece and when it is done.  The map callback, run
 * on a.txt first (one worker, name order), replaces b.txt and rewrites
 * c.txt.
 */
static int count_then_meddle(jr_map_ctx *ctx, const jr_chunk *ch)
{
    size_t n = strlen(ch->name);
    if (n >= 5 && strcmp(ch->name + n - 5, "a.txt") == 0) {
        char dir[256], path[300], tmp[300];
        snprintf(dir, sizeof dir, "%.*s", (int)(n - 6), ch->name);
        /* Past the coarse clock's tick that stamped c.txt when written. */
        usleep(30 * 1000);
        snprintf(tmp, sizeof tmp, "%s/new", dir);
        snprintf(path, sizeof path, "%s/b.txt", dir);
        if (jr_test_write_file(tmp, "bbbb", 4) != 0 || rename(tmp, path) != 0)
            return 1;
        snprintf(path, sizeof path, "%s/c.txt", dir);
        if (jr_test_write_file(path, "CCCC", 4) != 0)
            return 1;
    }
    return jr_emit(ctx, "bytes", 5, ch->len);
}

Test(pool, a_file_replaced_or_rewritten_after_the_walk_is_reported,
     .timeout = 30)
{
    char dir[96], path[128];
    jr_test_mkdtemp(dir, sizeof dir, "jr-test-moved");
    const char *names[] = {"a.txt", "b.txt", "c.txt"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        cr_assert_eq(jr_test_write_file(path, "cccc", 4), 0);
    }
    jr_job job = {.name = "moved", .map = count_then_meddle};
    diag_run r;
    diag_run_go(&r, &job, dir, 0);
    cr_assert_eq(r.d.n, 2, "%d diagnostics, last: %s", r.d.n, r.d.last);
    cr_assert(strstr(r.d.all, "/b.txt: file replaced while being read\n") &&
                  strstr(r.d.all, "/c.txt: file changed while being read\n"),
              "%s", r.d.all);
    const void *key;
    size_t klen;
    uint64_t v, bytes = 0;
    while (jr_result_next(r.res, &key, &klen, &v) == 1)
        bytes += v;
    /* b.txt is another file now: not read.  c.txt is read (it is still
     * the file the walk sized), then reported as written meanwhile. */
    cr_assert_eq(bytes, 8, "a.txt's and c.txt's bytes, not b.txt's");
    diag_run_free(&r);
    jr_test_rm_rf(dir);
    jr_test_assert_clean();
}

/* A key longer than JR_KEY_MAX cannot be shuffled (records carry 32-bit
 * lengths; before the check it was cut to its low 32 bits).  jr_emit()
 * refuses it before reading it, so a small buffer stands in for one.
 * jr_emit_short() refuses a length over JR_EMIT_PAD, adding none of the
 * keys (the short "fine" one beside it included). */
static int emit_a_huge_key(jr_map_ctx *ctx, const jr_chunk *ch)
{
    static const uint8_t key[2][JR_EMIT_PAD] = {"fine", "huge"};
    static const uint8_t lens[2] = {4, JR_EMIT_PAD + 1};
    int rc = jr_emit(ctx, "fine", 4, ch->len);
    if (rc)
        return rc;
    if (jr_emit(ctx, key[1], JR_KEY_MAX + 1, 1) != JR_EKEYLEN ||
        jr_emit_padded(ctx, key[1], JR_KEY_MAX + 1, 1) != JR_EKEYLEN ||
        jr_emit_short(ctx, key, lens, 2, 1) != JR_EKEYLEN)
        return 1; /* JR_EJOB: the test fails on the code */
    return 0;
}

Test(pool, a_key_longer_than_jr_key_max_fails_the_run_at_once, .timeout = 30)
{
    jr_job job = {.name = "hugekey", .map = emit_a_huge_key};
    jr_opts o = {.workers = 2};
    jr_pool *p = NULL;
    jr_input *in = NULL;
    jr_result *res = NULL;
    cr_assert_eq(jr_pool_new(&p, &o), 0);
    cr_assert_eq(jr_input_new(&in), 0);
    cr_assert_eq(jr_input_add_mem(in, "some bytes", 10, "mem"), 0);
    int rc = jr_pool_run(p, &job, in, NULL, &res);
    cr_assert_eq(rc, JR_EKEYLEN, "rc %d: %s", rc, jr_pool_errmsg(p));
    cr_assert_null(res);
    cr_assert(strstr(jr_pool_errmsg(p), "longer than 4 GiB - 1 bytes"), "%s",
              jr_pool_errmsg(p));
    cr_assert(strstr(jr_pool_errmsg(p), "mem"), "%s", jr_pool_errmsg(p));
    jr_stats st;
    jr_pool_stats(p, &st);
    cr_assert_eq(st.retries, 0, "no attempt would do better");
    cr_assert_str_eq(jr_err_name(JR_EKEYLEN), "EKEYLEN");
    jr_input_destroy(&in);
    jr_pool_destroy(&p);
    jr_test_assert_clean();
}

/*-************************************
 *  Descriptors as inputs (jr_input_add_fd)
 **************************************/
Test(pool, descriptors_are_read_to_their_end_and_one_that_fails_is_reported,
     .timeout = 30)
{
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    static const char text[] = "Alpha beta\nalpha GAMMA alpha\n";
    cr_assert_eq(write(pfd[1], text, sizeof text - 1),
                 (ssize_t)(sizeof text - 1));
    cr_assert_eq(close(pfd[1]), 0);
    /* A directory opens, but read() fails on it: EISDIR. */
    int dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert_geq(dfd, 0);

    jr_opts o = {.workers = 2};
    jr_pool *p = NULL;
    jr_input *in = NULL;
    jr_result *res = NULL;
    cr_assert_eq(jr_pool_new(&p, &o), 0);
    cr_assert_eq(jr_input_new(&in), 0);
    cr_assert_eq(jr_input_add_fd(in, -1, "no descriptor"), JR_EINVAL);
    cr_assert_eq(jr_input_add_fd(in, pfd[0], "the pipe"), 0);
    cr_assert_eq(jr_input_add_fd(in, dfd, "the root directory"), 0);
    cr_assert_eq(jr_input_add_mem(in, "beta", 4, "mem"), 0);
    diags d = {0};
    jr_run_opts ro = {.ctx = &d, .on_diag = keep_diag};
    int rc = jr_pool_run(p, jr_job_find("wordcount"), in, &ro, &res);

    /* The run ends, says that an input failed, and counts the others. */
    cr_assert_eq(rc, JR_EINPUT, "rc %s: %s", jr_err_name(rc),
                 jr_pool_errmsg(p));
    char diag[160];
    snprintf(diag, sizeof diag, "%d the root directory: %s", JR_DIAG_INPUT,
             strerror(EISDIR));
    cr_assert_eq(d.n, 1, "%d diagnostics: %s", d.n, d.all);
    cr_assert_str_eq(d.last, diag);
    cr_assert_not_null(res);
    static const struct {
        const char *word;
        uint64_t n;
    } want[] = {{"alpha", 3}, {"beta", 2}, {"gamma", 1}};
    const void *key;
    size_t klen, got = 0;
    uint64_t v;
    while (jr_result_next(res, &key, &klen, &v) == 1) {
        cr_assert_lt(got, 3, "more than 3 words");
        cr_assert(klen == strlen(want[got].word) &&
                      memcmp(key, want[got].word, klen) == 0,
                  "word %zu: %.*s", got, (int)klen, (const char *)key);
        cr_assert_eq(v, want[got].n, "%s: %" PRIu64, want[got].word, v);
        got++;
    }
    cr_assert_eq(got, 3);
    jr_result_destroy(&res);
    jr_input_destroy(&in);
    jr_pool_destroy(&p);
    /* The descriptors stay the caller's: open until the caller closes them. */
    struct stat st;
    cr_assert(fstat(pfd[0], &st) == 0 && S_ISFIFO(st.st_mode),
              "the pipe was closed by the pool");
    cr_assert(fstat(dfd, &st) == 0 && S_ISDIR(st.st_mode),
              "the directory was closed by the pool");
    close(pfd[0]);
    close(dfd);
    jr_test_assert_clean();
}

/*-************************************
 *  Results cut into parts (jr_result_split)
 **************************************/
typedef struct recs {
    char (*key)[16];
    uint64_t *v;
    size_t n, cap;
} recs;

static void recs_add(recs *r, const void *key, size_t klen, uint64_t v)
{
    cr_assert_lt(klen, sizeof r->key[0], "a key of %zu bytes", klen);
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 1024;
        r->key = realloc(r->key, r->cap * sizeof r->key[0]);
        r->v = realloc(r->v, r->cap * sizeof r->v[0]);
        cr_assert(r->key && r->v);
    }
    memset(r->key[r->n], 0, sizeof r->key[0]);
    memcpy(r->key[r->n], key, klen);
    r->v[r->n++] = v;
}

/* Every record res has left, appended to r.  @return how many. */
static size_t recs_drain(recs *r, jr_result *res)
{
    const void *key;
    size_t klen, n = 0;
    uint64_t v;
    while (jr_result_next(res, &key, &klen, &v) == 1) {
        recs_add(r, key, klen, v);
        n++;
    }
    return n;
}

static void recs_free(recs *r)
{
    free(r->key);
    free(r->v);
}

/* Records [from, from + got->n) of want, exactly. */
static void recs_same(const recs *got, const recs *want, size_t from,
                      const char *what)
{
    cr_assert_eq(got->n, want->n - from, "%s: %zu records, want %zu", what,
                 got->n, want->n - from);
    for (size_t i = 0; i < got->n; i++)
        cr_assert(got->v[i] == want->v[from + i] &&
                      strcmp(got->key[i], want->key[from + i]) == 0,
                  "%s: record %zu is '%s' %llu, want '%s' %llu", what, i,
                  got->key[i], (unsigned long long)got->v[i],
                  want->key[from + i], (unsigned long long)want->v[from + i]);
}

typedef struct drainer {
    jr_result *res;
    recs out;
} drainer;

static void *drain_thread(void *arg)
{
    drainer *d = arg;
    recs_drain(&d->out, d->res);
    return NULL;
}

static jr_result *run_vocab(jr_pool *p, const jr_job *job, const char *path)
{
    jr_input *in = NULL;
    jr_result *res = NULL;
    cr_assert_eq(jr_input_new(&in), 0);
    cr_assert_eq(jr_input_add_path(in, path, 0), 0);
    jr_run_opts ro = {.chunk_size = 4096};
    int rc = jr_pool_run(p, job, in, &ro, &res);
    cr_assert_eq(rc, 0, "rc %d: %s", rc, jr_pool_errmsg(p));
    jr_input_destroy(&in);
    return res;
}

/* 60,000 distinct words, counts from 1 to hundreds: three workers' runs
 * to cut, in the wordcount order (count descending, then word) and in
 * key order. */
Test(pool, a_result_cut_into_parts_gives_every_record_once_in_order,
     .timeout = 120)
{
    char dir[96], path[128];
    jr_test_mkdtemp(dir, sizeof dir, "jr-test-split");
    snprintf(path, sizeof path, "%s/words.txt", dir);
    size_t cap = 8u << 20, len = 0;
    char *text = malloc(cap);
    uint64_t x = 88172645463325252ull;
    for (unsigned i = 0; i < 60000; i++)
        len += (size_t)snprintf(text + len, cap - len, "w%05u\n", i);
    while (len < cap - 16) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        unsigned w = (unsigned)(x % 60000) % (unsigned)(1 + x % 3000 * 20);
        len += (size_t)snprintf(text + len, cap - len, "w%05u ", w);
    }
    cr_assert_eq(jr_test_write_file(path, text, len), 0);
    free(text);

    jr_job keyed = *jr_job_find("wordcount");
    keyed.name = "wordcount-by-key";
    keyed.order = JR_ORDER_CMP;
    const jr_job *jobs[] = {jr_job_find("wordcount"), &keyed};
    jr_opts o = {.workers = 3};
    jr_pool *p = NULL;
    cr_assert_eq(jr_pool_new(&p, &o), 0);
    for (int j = 0; j < 2; j++) {
        recs all = {0};
        jr_result *res = run_vocab(p, jobs[j], path);
        recs_drain(&all, res);
        cr_assert_eq(all.n, 60000);
        cr_assert_eq(jr_result_count(res), 60000);
        for (size_t i = 1; i < all.n; i++)
            cr_assert_lt(jr_job_cmp(jobs[j], all.key[i - 1],
                                    strlen(all.key[i - 1]), all.v[i - 1],
                                    all.key[i], strlen(all.key[i]), all.v[i]),
                         0, "%s: records %zu and %zu out of order",
                         jobs[j]->name, i - 1, i);
        jr_result_destroy(&res);

        static const size_t ns[] = {1, 2, 3, 16, 1000, 100000};
        for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
            size_t n = ns[t], skip = t == 2 ? 777 : 0, nout = 0;
            res = run_vocab(p, jobs[j], path);
            recs got = {0};
            const void *key;
            size_t klen;
            uint64_t v;
            for (size_t i = 0; i < skip; i++)
                cr_assert_eq(jr_result_next(res, &key, &klen, &v), 1);
            jr_result **part = calloc(n, sizeof *part);
            cr_assert_eq(jr_result_split(res, n, part, &nout), 0);
            cr_assert(nout >= 1 && nout <= n, "%zu parts of %zu", nout, n);
            /* As many as asked, up to one a stride of the longest run:
             * about 20,000 records, so 78 strides of 256. */
            if (n <= 16)
                cr_assert_eq(nout, n, "%zu parts, %zu asked", nout, n);
            else
                cr_assert_gt(nout, 60, "%zu parts, %zu asked", nout, n);
            cr_assert_eq(jr_result_next(res, &key, &klen, &v), 0,
                         "the cut result still gives records");
            jr_result_destroy(&res); /* the parts keep the runs mapped */
            for (size_t k = 0; k < nout; k++) {
                size_t c = recs_drain(&got, part[k]);
                cr_assert_eq(jr_result_count(part[k]), c,
                             "part %zu says %llu records, gave %zu", k,
                             (unsigned long long)jr_result_count(part[k]), c);
                jr_result_destroy(&part[k]);
            }
            char what[64];
            snprintf(what, sizeof what, "%s cut in %zu after %zu",
                     jobs[j]->name, n, skip);
            recs_same(&got, &all, skip, what);
            recs_free(&got);
            free(part);
        }

        /* Four threads at once, each merging its own part. */
        res = run_vocab(p, jobs[j], path);
        jr_result *part[4];
        size_t nout;
        cr_assert_eq(jr_result_split(res, 4, part, &nout), 0);
        cr_assert_eq(nout, 4);
        drainer d[4] = {{0}};
        pthread_t tid[4];
        for (int k = 0; k < 4; k++) {
            d[k].res = part[k];
            cr_assert_eq(pthread_create(&tid[k], NULL, drain_thread, &d[k]), 0);
        }
        recs got = {0};
        for (int k = 0; k < 4; k++) {
            pthread_join(tid[k], NULL);
            for (size_t i = 0; i < d[k].out.n; i++)
                recs_add(&got, d[k].out.key[i], strlen(d[k].out.key[i]),
                         d[k].out.v[i]);
            recs_free(&d[k].out);
            jr_result_destroy(&part[k]);
        }
        recs_same(&got, &all, 0, "four threads");
        recs_free(&got);
        jr_result_destroy(&res);
        recs_free(&all);
    }
    jr_result *none = NULL;
    size_t nout = 7;
    cr_assert_eq(jr_result_split(NULL, 2, &none, &nout), JR_EINVAL);
    cr_assert_eq(nout, 0);
    jr_pool_destroy(&p);
    jr_test_rm_rf(dir);
    jr_test_assert_clean();
}
