/*
 * cli_wordcount.c - `jobrun wordcount`: options, running the built-in
 * wordcount job, and writing its result as TSV or JSON (spec/wordcount.md).
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

static void json_string(FILE *f, const unsigned char *s, size_t n)
{
    putc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = s[i];
        switch (ch) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (ch < 0x20)
                fprintf(f, "\\u%04x", ch);
            else
                putc(ch, f);
        }
    }
    putc('"', f);
}

/* TSV lines gather here and reach stdio a block at a time: a million
 * lines through a stdio call each cost more than the merge that made
 * them. */
typedef struct tsv_out {
    FILE *f;
    size_t len;
    char buf[1 << 18];
} tsv_out;

static void tsv_flush(tsv_out *o)
{
    if (o->len)
        fwrite(o->buf, 1, o->len, o->f);
    o->len = 0;
}

static void tsv_line(tsv_out *o, uint64_t v, const void *key, size_t klen)
{
    if (sizeof o->buf - o->len < 21 + klen + 1) {
        tsv_flush(o);
        if (sizeof o->buf < 21 + klen + 1) { /* a word longer than buf */
            fprintf(o->f, "%llu\t", (unsigned long long)v);
            fwrite(key, 1, klen, o->f);
            putc('\n', o->f);
            return;
        }
    }
    char num[21];
    int i = (int)sizeof num;
    num[--i] = '\t';
    do
        num[--i] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    char *p = o->buf + o->len;
    memcpy(p, num + i, sizeof num - (size_t)i);
    p += sizeof num - (size_t)i;
    memcpy(p, key, klen);
    p[klen] = '\n';
    o->len = (size_t)(p + klen + 1 - o->buf);
}

/* Write the result (the first top records; 0: all) and sum its counts
 * into *words: over every record when all is set (for --stats), else over
 * those written. */
static int write_result(jr_result *res, FILE *f, int json, uint64_t top,
                        int all, uint64_t *words)
{
    const void *key;
    size_t klen;
    uint64_t v, n = 0, seen = 0;
    static char buf[1 << 16];
    static tsv_out tsv;
    tsv.f = f;
    tsv.len = 0;
    setvbuf(f, buf, _IOFBF, sizeof buf);
    if (json)
        putc('[', f);
    *words = 0;
    while ((top == 0 || n < top || all) &&
           jr_result_next(res, &key, &klen, &v)) {
        *words += v;
        if ((++seen & 4095) == 0 && cli_signal())
            return -1;
        if (top && n >= top)
            continue; /* past --top: counted, not written */
        if (json) {
            if (n)
                putc(',', f);
            fputs("{\"word\":", f);
            json_string(f, key, klen);
            fprintf(f, ",\"count\":%llu}", (unsigned long long)v);
        } else {
            tsv_line(&tsv, v, key, klen);
        }
        n++;
        if ((n & 4095) == 0 && ferror(f))
            return -1;
    }
    tsv_flush(&tsv);
    if (json)
        fputs("]\n", f);
    return ferror(f) ? -1 : 0;
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
            "jobrun: stats: map %.3f s, reduce %.3f s, merge and output "
            "%.3f s\n"
            "jobrun: stats: %llu bytes, %llu words, %llu distinct words, "
            "%llu tasks, %llu retries\n",
            st.map_s, st.reduce_s, st.merge_s + out_s,
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
            if (cli_uint(optarg, &top) < 0 || top == 0) {
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
    jr_input *in = NULL;
    int closed_in = 0;
    if (jr_input_new(&in) < 0)
        return EXIT_FAILED;
    for (int i = optind; i < argc; i++) {
        if (cli_closed_stdin(c, argv[i])) {
            closed_in = 1;
            continue;
        }
        if (jr_input_add_path(in, argv[i], flags) < 0) {
            jr_input_destroy(&in);
            return EXIT_FAILED;
        }
    }

    int status = cli_pool(c);
    if (status) {
        jr_input_destroy(&in);
        return status;
    }
    jr_result *res = NULL;
    int rc = jr_pool_run(c->pool, jr_job_find("wordcount"), in, &c->ro, &res);
    jr_input_destroy(&in);
    cli_progress_end(c);
    if (rc < 0 && rc != JR_EINPUT) {
        jr_result_destroy(&res);
        return cli_fail(c, rc);
    }
    FILE *f = cli_out_open(c, out);
    if (!f) {
        jr_result_destroy(&res);
        return EXIT_FAILED;
    }
    double t0 = now_s();
    uint64_t words;
    int ok = write_result(res, f, json, top, c->stats, &words) == 0;
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
        return EXIT_FAILED;
    }
    return cli_status(rc == 0 && closed_in ? JR_EINPUT : rc);
}
