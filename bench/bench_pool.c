/*
 * bench_pool.c - the pool's own costs: start + stop of a pool, and the
 * throughput of empty tasks through jr_pool_map(), unbatched (one message
 * per task) and batched.  Prints medians; bench/pool.sh puts them beside
 * Python's multiprocessing.Pool measured in the same run.
 *
 *   bench_pool [WORKERS] [TASKS] [RUNS]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jobrun.h>

#include "bench_time.h"

static int empty(jr_map_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    return 0;
}

int main(int argc, char **argv)
{
    unsigned workers = argc > 1 ? (unsigned)atoi(argv[1]) : 2;
    size_t n = argc > 2 ? (size_t)atol(argv[2]) : 200000;
    int runs = argc > 3 ? atoi(argv[3]) : 5;
    if (runs < 1 || runs > 100)
        runs = 5;
    jr_opts o = {.workers = workers};
    double t[100];

    for (int i = 0; i < 20 && i < 100; i++) {
        jr_pool *p;
        double a = now_s();
        if (jr_pool_new(&p, &o) != 0) {
            fprintf(stderr, "bench_pool: cannot start a pool\n");
            return 1;
        }
        jr_pool_destroy(&p);
        t[i] = now_s() - a;
    }
    printf("start+stop (W=%u)\t%.2f ms\n", workers, median(t, 20) * 1e3);

    jr_blob *in = calloc(n, sizeof *in), *out = calloc(n, sizeof *out);
    char one = 0;
    for (size_t i = 0; i < n; i++)
        in[i] = (jr_blob){&one, 1};
    jr_pool *p;
    if (!in || !out || jr_pool_new(&p, &o) != 0)
        return 1;
    size_t batches[2] = {1, 0};
    const char *names[2] = {"unbatched", "batched"};
    for (int b = 0; b < 2; b++) {
        for (int i = 0; i < runs; i++) {
            double a = now_s();
            int rc = jr_pool_map(p, empty, in, n, batches[b], out);
            t[i] = now_s() - a;
            if (rc != 0) {
                fprintf(stderr, "bench_pool: %s\n", jr_pool_errmsg(p));
                return 1;
            }
        }
        printf("empty tasks %s (W=%u)\t%.0f tasks/s\n", names[b], workers,
               (double)n / median(t, runs));
    }
    jr_pool_destroy(&p);
    free(in);
    free(out);
    return 0;
}
