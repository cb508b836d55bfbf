/*
 * bench_map.c - the per-word cost of wordcount's map, without the pool:
 * the tokenizer alone, the tokenizer with the hash of every word, and the
 * tokenizer feeding a worker's combining table, over one file read into
 * memory first, in this one process.  A run's map is most of its time;
 * this measures the part of it that is per word, free of task dispatch,
 * page faults on the input and the other workers.  Uses the library's
 * internal headers (worker/table.h, jobs/wordcount/wordcount.h): it is a
 * tool for work on those modules, not an example of the API.
 *
 *   bench_map FILE [RUNS] [MIB]
 *
 * Feeds the file in pieces of 4 MiB, as a worker maps its tasks, and
 * sizes the table as a worker does (jr_table_foresee after each piece).
 * Prints each stage's median and minimum over RUNS runs (default 5) of at
 * most MIB MiB of FILE (default: all of it), and the words and distinct
 * words found (the latter equals `jobrun -j 1 --stats wordcount FILE`'s).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_time.h"
#include "jobs/wordcount/wordcount.h"
#include "worker/table.h"

#define PIECE ((size_t)4 << 20)

/* Where the hashes' sum goes, so that no compiler can drop them. */
static volatile uint64_t hash_sink;

/* What a stage's emit callback adds to. */
typedef struct sinkc {
    uint64_t words, hashes;
    jr_table *table;
} sinkc;

static int emit_count(void *arg, const uint8_t *word, size_t len)
{
    (void)word;
    (void)len;
    ((sinkc *)arg)->words++;
    return 0;
}

static int emit_hash(void *arg, const uint8_t *word, size_t len)
{
    sinkc *c = arg;
    c->words++;
    c->hashes += jr_hash(word, len);
    return 0;
}

static int emit_table(void *arg, const uint8_t *word, size_t len)
{
    sinkc *c = arg;
    c->words++;
    return jr_table_add_soon_padded(c->table, word, len, 1);
}

/* The short words, in batches as the job sends them. */
static int batch_table(void *arg, const uint8_t (*keys)[JR_WC_PAD],
                       const uint8_t *lens, unsigned n)
{
    sinkc *c = arg;
    c->words += n;
    return jr_table_add_short(c->table, keys, lens, n, 1);
}

/* One run of a stage over buf.  @return seconds, or -1 on an error. */
static double run_stage(jr_wc_emit_fn emit, const uint8_t *buf, size_t len,
                        sinkc *c)
{
    memset(c, 0, sizeof *c);
    if (emit == emit_table && jr_table_new(&c->table, NULL) < 0)
        return -1;
    jr_wc_scan s;
    jr_wc_scan_init(&s, emit, c);
    if (emit == emit_table)
        jr_wc_scan_batch(&s, batch_table);
    int rc = 0;
    double t0 = now_s();
    for (size_t at = 0; at < len && rc == 0; at += PIECE) {
        size_t n = len - at < PIECE ? len - at : PIECE;
        rc = jr_wc_scan_feed(&s, buf + at, n);
        if (rc == 0 && c->table)
            rc = jr_table_foresee(c->table, at + n, len);
    }
    if (rc == 0)
        rc = jr_wc_scan_finish(&s);
    if (rc == 0 && c->table)
        rc = jr_table_drain(c->table);
    double t = now_s() - t0;
    jr_wc_scan_fini(&s);
    return rc == 0 ? t : -1;
}

static int read_file(const char *path, size_t max, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t cap = 1 << 20, n = 0, got;
    uint8_t *b = malloc(cap);
    while (b && n < max && (got = fread(b + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap && n < max) {
            uint8_t *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!b || bad) {
        fprintf(stderr, "bench_map: cannot read %s\n", path);
        free(b);
        return -1;
    }
    *buf = b;
    *len = n < max ? n : max;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: bench_map FILE [RUNS] [MIB]\n");
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    long mib = argc > 3 ? atol(argv[3]) : 0;
    if (runs < 1 || runs > 1000 || mib < 0) {
        fprintf(stderr, "bench_map: RUNS is 1 to 1000, MIB 0 or more\n");
        return 2;
    }
    uint8_t *buf;
    size_t len;
    if (read_file(argv[1], mib ? (size_t)mib << 20 : SIZE_MAX, &buf, &len) < 0)
        return 1;

    static const struct {
        const char *name;
        jr_wc_emit_fn emit;
    } stages[] = {
        {"scan", emit_count},
        {"scan+hash", emit_hash},
        {"scan+table", emit_table},
    };
    enum { NSTAGES = sizeof stages / sizeof stages[0] };
    double *t = malloc((size_t)runs * NSTAGES * sizeof *t);
    if (!t) {
        free(buf);
        return 1;
    }
    uint64_t words = 0;
    size_t distinct = 0;
    /* Stages alternate within a round, so that a busy spell of a shared
     * machine falls on all of them alike. */
    for (int r = 0; r < runs; r++)
        for (int k = 0; k < NSTAGES; k++) {
            sinkc c;
            double s = run_stage(stages[k].emit, buf, len, &c);
            if (s < 0) {
                fprintf(stderr, "bench_map: out of memory\n");
                jr_table_destroy(&c.table);
                free(t);
                free(buf);
                return 1;
            }
            t[k * runs + r] = s;
            words = c.words;
            hash_sink += c.hashes;
            if (c.table)
                distinct = jr_table_count(c.table);
            jr_table_destroy(&c.table);
        }
    printf("%zu bytes, %llu words, %zu distinct, %d runs\n", len,
           (unsigned long long)words, distinct, runs);
    for (int k = 0; k < NSTAGES; k++) {
        double *v = t + k * runs;
        double med = median(v, runs);
        printf("%-10s median %.3f s  min %.3f s  %.1f ns/word\n",
               stages[k].name, med, v[0],
               words ? med * 1e9 / (double)words : 0.0);
    }
    free(t);
    free(buf);
    return 0;
}
