/*
 * wordfreq.c - running the built-in wordcount job from an application:
 * the ten most frequent words of the given paths, with their share.
 *
 *   example_wordfreq PATH...
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>

#include <jobrun.h>

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
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH...\n", argv[0]);
        return 2;
    }
    jr_input *in = NULL;
    jr_pool *pool = NULL;
    jr_result *res = NULL;
    static char me[] = "wordfreq";
    jr_run_opts ro = {.ctx = me, .on_diag = on_diag};
    int rc = jr_input_new(&in);
    for (int i = 1; rc == 0 && i < argc; i++)
        rc = jr_input_add_path(in, argv[i], 0);
    if (rc == 0)
        rc = jr_pool_new(&pool, NULL); /* NULL: defaults, one per CPU */
    if (rc == 0)
        rc = jr_pool_run(pool, jr_job_find("wordcount"), in, &ro, &res);
    if (rc < 0 && rc != JR_EINPUT) {
        /* No pool (it did not start): NULL asks why. */
        fprintf(stderr, "wordfreq: %s\n",
                *jr_pool_errmsg(pool) ? jr_pool_errmsg(pool) : jr_strerror(rc));
    } else {
        printf("%llu distinct words\n",
               (unsigned long long)jr_result_count(res));
        const void *word;
        size_t len;
        uint64_t n;
        for (int k = 0; k < 10 && jr_result_next(res, &word, &len, &n); k++)
            printf("%8llu  %.*s\n", (unsigned long long)n, (int)len,
                   (const char *)word);
    }
    jr_result_destroy(&res);
    jr_pool_destroy(&pool);
    jr_input_destroy(&in);
    return rc == 0 ? 0 : rc == JR_EINPUT ? 1 : 3;
}
