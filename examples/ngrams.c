/*
 * ngrams.c - a custom map-reduce job: the histogram of character
 * trigrams (3 consecutive bytes that are letters, folded to lower case)
 * over files and directories.
 *
 * Shows a jr_job written from scratch: a map callback that emits keys,
 * the default combine (sum) that merges them in each worker and across
 * workers, and a result order of our own (count descending).
 *
 *   example_ngrams [-j N] [--top N] PATH...
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jobrun.h>

/* Runs in a worker, once per chunk of input.  A trigram belongs to the
 * chunk where it starts, so the last two starts may need up to two bytes
 * past the end: jr_chunk_more() reads them. */
static int map_trigrams(jr_map_ctx *ctx, const jr_chunk *ch)
{
    uint8_t tail[2];
    size_t ntail = 0;
    const uint8_t *more;
    size_t nmore;
    while (ntail < 2 && jr_chunk_more(ctx, &more, &nmore) == 1)
        for (size_t k = 0; k < nmore && ntail < 2; k++)
            tail[ntail++] = more[k];

    for (size_t i = 0; i < ch->len; i++) {
        uint8_t gram[3];
        int k;
        for (k = 0; k < 3; k++) {
            size_t j = i + (size_t)k;
            int c = j < ch->len ? ch->data[j]
                    : j - ch->len < ntail ? tail[j - ch->len]
                                          : ' ';
            if (!isalpha(c))
                break;
            gram[k] = (uint8_t)tolower(c);
        }
        if (k == 3 && jr_emit(ctx, gram, 3, 1) < 0)
            return -1;
    }
    return 0;
}

/* Count descending, then the trigram's bytes. */
static int by_count(const void *ka, size_t kalen, uint64_t va, const void *kb,
                    size_t kblen, uint64_t vb)
{
    if (va != vb)
        return va > vb ? -1 : 1;
    (void)kblen;
    return memcmp(ka, kb, kalen);
}

/* Jobs are static: workers are forked copies, so they see this table. */
static const jr_job trigram_job = {
    .name = "trigrams",
    .map = map_trigrams,
    .cmp = by_count,
};

/* An input the run could not read, said as the run goes on without it
 * (it then ends with JR_EINPUT); line is 0 for inputs. */
static void on_diag(void *ctx, int kind, const char *name, uint64_t line,
                    const char *msg)
{
    (void)kind, (void)line;
    fprintf(stderr, "%s: %s: %s\n", (const char *)ctx, name, msg);
}

int main(int argc, char **argv)
{
    jr_opts opts = {0};
    unsigned long top = 20;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (strcmp(argv[i], "-j") == 0 && i + 1 < argc)
            opts.workers = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--top") == 0 && i + 1 < argc)
            top = strtoul(argv[++i], NULL, 10);
        else
            break;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: %s [-j N] [--top N] PATH...\n", argv[0]);
        return 2;
    }

    jr_input *in = NULL;
    jr_pool *pool = NULL;
    jr_result *res = NULL;
    static char me[] = "ngrams";
    jr_run_opts ro = {.ctx = me, .on_diag = on_diag};
    int rc = jr_input_new(&in);
    for (; rc == 0 && i < argc; i++)
        rc = jr_input_add_path(in, argv[i], 0);
    if (rc == 0)
        rc = jr_pool_new(&pool, &opts);
    if (rc == 0)
        rc = jr_pool_run(pool, &trigram_job, in, &ro, &res);
    if (rc < 0 && rc != JR_EINPUT) {
        /* No pool (it did not start): NULL asks why. */
        fprintf(stderr, "ngrams: %s\n",
                *jr_pool_errmsg(pool) ? jr_pool_errmsg(pool) : jr_strerror(rc));
    } else {
        const void *key;
        size_t klen;
        uint64_t n;
        for (unsigned long k = 0; k < top && jr_result_next(res, &key, &klen, &n);
             k++)
            printf("%llu\t%.*s\n", (unsigned long long)n, (int)klen,
                   (const char *)key);
    }
    jr_result_destroy(&res);
    jr_pool_destroy(&pool);
    jr_input_destroy(&in);
    return rc == 0 ? 0 : rc == JR_EINPUT ? 1 : 3;
}
