/*
 * bench_mem.c - how fast this machine's memory is right now: the latency
 * of a random walk over a buffer far larger than the caches, and the
 * bandwidth of reading it through, on the CPU it runs on.
 *
 *   bench_mem [MIB]    (default 64) prints "latency N ns, read N GB/s"
 *
 * bench/wordcount.sh prints it before and after its timings.  On a shared
 * host the memory's speed changes from one minute to the next, and jobrun
 * (hash tables of tens of MB, fresh pages) follows it more than a CPU loop
 * does: a loop of integer arithmetic timed the same at 0.12 s while
 * `jobrun -j 2` on the bench corpus took 0.46-0.59 s instead of 0.40-0.42.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_time.h"

#define STEPS 4000000
#define READS 4

int main(int argc, char **argv)
{
    long mib = argc > 1 ? strtol(argv[1], NULL, 10) : 64;
    if (argc > 2 || mib < 1 || mib > 65536) {
        fprintf(stderr, "usage: bench_mem [MIB]\n");
        return 2;
    }
    size_t n = (size_t)mib << 17; /* 8-byte slots */
    uint64_t *a = malloc(n * sizeof *a);
    if (!a) {
        fprintf(stderr, "bench_mem: no memory for %ld MiB\n", mib);
        return 1;
    }
    /* One cycle through every slot (Sattolo), so that the walk never
     * settles in a short loop the caches could hold. */
    for (size_t i = 0; i < n; i++)
        a[i] = i;
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (size_t i = n - 1; i > 0; i--) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t j = (size_t)(x % i);
        uint64_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
    double t0 = now_s();
    uint64_t p = 0;
    for (long k = 0; k < STEPS; k++)
        p = a[p];
    double lat = (now_s() - t0) / STEPS * 1e9;
    t0 = now_s();
    uint64_t sum = 0;
    for (int r = 0; r < READS; r++)
        for (size_t i = 0; i < n; i++)
            sum += a[i];
    double gbs = (double)READS * (double)(n * sizeof *a) / (now_s() - t0) / 1e9;
    volatile uint64_t sink = p + sum; /* neither loop may be dropped */
    (void)sink;
    printf("latency %.0f ns, read %.1f GB/s\n", lat, gbs);
    free(a);
    return 0;
}
