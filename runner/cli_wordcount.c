/*
 * cli_wordcount.c - `jobrun wordcount`: options, running the built-in
 * wordcount job and handing its result to cli_result.c (spec/wordcount.md).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "runner/cli.h"

static void help(void)
{
    printf(
"Usage: jobrun [OPTIONS] wordcount [--top N] [--format tsv|json] [-o FILE]\n"
"                                  [--follow] PATH...\n"
"Count words (runs of Unicode letters, marks, numbers and connector\n"
"punctuation, lowercased) in files, directories (recursively) and '-'.\n"
"Output: COUNT<TAB>WORD per line, by count descending then word bytes.\n"
"\n"
"  -n, --top N          only the first N lines\n"
"  -f, --format FORMAT  tsv (default) or json\n"
"  -o, --output FILE    write FILE (whole, or not at all) instead of stdout\n"
"  -L, --follow         follow symbolic links inside directories\n"
"  -h, --help           this help\n");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* out_s: the time of the merge of the reducers' runs, which happens as
 * the output is written, and of the writing. */
static void print_stats(cli *c, const jr_result *res, uint64_t words,
                        double out_s)
{
    jr_stats st;
    jr_pool_stats(c->pool, &st);
    fprintf(stderr,
            "jobrun: stats: map %.3f s, flush %.3f s, reduce %.3f s, merge "
            "and output %.3f s\n"
            "jobrun: stats: %llu bytes, %llu words, %llu distinct words, "
            "%llu tasks, %llu retries\n",
            st.map_s, st.flush_s, st.reduce_s, st.merge_s + out_s,
            (unsigned long long)st.bytes, (unsigned long long)words,
            (unsigned long long)jr_result_count(res),
            (unsigned long long)st.tasks, (unsigned long long)st.retries);
    fprintf(stderr, "jobrun: stats: tasks per worker:");
    for (uint64_t i = 0; i < st.nworkers && i < 64; i++)
        fprintf(stderr, " %llu", (unsigned long long)st.tasks_per_worker[i]);
    fputc('\n', stderr);
}

int cli_wordcount(cli *c, int argc, char **argv)
{
    static const struct option longs[] = {
        {"top", required_argument, NULL, 'n'},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"follow", no_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    uint64_t top = 0;
    int json = 0;
    unsigned flags = 0;
    const char *out = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "n:f:o:Lh", longs, NULL)) != -1) {
        switch (opt) {
        case 'n':
            /* All digits but too many: as many lines as there are (head
             * -n takes such a count too). */
            if (cli_uint(optarg, &top) < 0)
                top = optarg[strspn(optarg, "0123456789")] == '\0' &&
                              strspn(optarg, "0") < strlen(optarg)
                          ? UINT64_MAX
                          : 0;
            if (top == 0) {
                fprintf(stderr, "jobrun: wordcount: --top: '%s' is not a "
                        "positive number\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'f':
            if (strcmp(optarg, "json") == 0)
                json = 1;
            else if (strcmp(optarg, "tsv") == 0)
                json = 0;
            else {
                fprintf(stderr, "jobrun: wordcount: --format: '%s' is not "
                        "tsv or json\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'o':
            out = optarg;
            break;
        case 'L':
            flags |= JR_INPUT_FOLLOW;
            break;
        case 'h':
            help();
            return 0;
        default:
            fprintf(stderr, "Try 'jobrun wordcount --help'.\n");
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "jobrun: wordcount: no PATH given (use '-' for "
                "standard input)\n");
        return EXIT_USAGE;
    }
    if (!out && cli_closed_stdout(c))
        return EXIT_FAILED;
    /* Opened before the run: an output that cannot be written (a typo in
     * its directory, a full disk's quota, a directory) fails now, not
     * after the whole corpus was counted. */
    FILE *f = cli_out_open(c, out);
    if (!f)
        return cli_signal() ? 128 + cli_signal() : EXIT_FAILED;
    jr_input *in = NULL;
    int closed_in = 0;
    if (jr_input_new(&in) < 0) {
        (void)cli_out_close(c, f, out, 0);
        return EXIT_FAILED;
    }
    for (int i = optind; i < argc; i++) {
        if (cli_closed_stdin(c, argv[i])) {
            closed_in = 1;
            continue;
        }
        if (jr_input_add_path(in, argv[i], flags) < 0) {
            jr_input_destroy(&in);
            (void)cli_out_close(c, f, out, 0);
            return EXIT_FAILED;
        }
    }

    int status = cli_pool(c);
    if (status) {
        jr_input_destroy(&in);
        (void)cli_out_close(c, f, out, 0);
        return status;
    }
    jr_result *res = NULL;
    int rc = jr_pool_run(c->pool, jr_job_find("wordcount"), in, &c->ro, &res);
    jr_input_destroy(&in);
    cli_progress_end(c);
    if (rc < 0 && rc != JR_EINPUT) {
        jr_result_destroy(&res);
        (void)cli_out_close(c, f, out, 0); /* no output file */
        return cli_fail(c, rc);
    }
    double t0 = now_s();
    uint64_t words;
    int ok = cli_write_result(res, f, json, top, c->stats,
                              jr_pool_workers(c->pool), &words) == 0;
    int wr_errno = errno;
    if (ok && c->stats) {
        fflush(f); /* the output's time includes handing it over */
        print_stats(c, res, words, now_s() - t0);
    }
    jr_result_destroy(&res);
    int closed = cli_out_close(c, f, out, ok);
    if (cli_signal())
        return 128 + cli_signal(); /* stopped: the file was not made */
    if (closed < 0 || !ok) {
        if (f == stdout && (wr_errno == EPIPE || errno == EPIPE))
            return 128 + 13;
        if (closed == 0) /* a write failed; closing had nothing to say */
            fprintf(stderr, "jobrun: wordcount: %s: %s\n",
                    out ? out : "standard output",
                    strerror(wr_errno ? wr_errno : EIO));
        return EXIT_FAILED;
    }
    return cli_status(rc == 0 && closed_in ? JR_EINPUT : rc);
}
