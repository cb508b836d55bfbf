/*
 * cli_factor.c - `jobrun factor`: numbers from files, standard input,
 * operands or a seeded generator; output byte-identical to coreutils
 * factor, in input order, streamed as soon as the next chunk is done
 * (spec/factor.md).
 *
 * Operands: with --numbers every operand is a number, with --files every
 * operand is a file.  Otherwise an operand made only of digits (with one
 * optional leading '+') is a number and anything else is a file; an
 * operand that is both a number and an existing path is refused (exit 2)
 * rather than guessed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runner/cli.h"

typedef struct fstats {
    uint64_t numbers, primes;
    char largest[48];
    size_t largest_len;
} fstats;

typedef struct fctx {
    cli *c;
    int stats;
    fstats st;
} fctx;

static void help(void)
{
    printf(
"Usage: jobrun [OPTIONS] factor [--numbers|--files] [NUMBER...|FILE...]\n"
"       jobrun [OPTIONS] factor --random COUNT [--min A] [--max B] [--seed S]\n"
"Print the prime factors of each number, like coreutils factor: one line\n"
"'N: P1 P2 ...' per number, in input order.  Numbers come from the\n"
"operands, from files (whitespace-separated), or from standard input\n"
"when there is no operand or for '-'.  Numbers must be below 2^128.\n"
"\n"
"  --numbers       every operand is a number\n"
"  --files         every operand is a file\n"
"  --random COUNT  factor COUNT pseudo-random numbers drawn uniformly\n"
"                  from [A, B]; the i-th depends only on the seed and i\n"
"  --min A         (default 20000)\n"
"  --max B         (default 100000000; at most 2^64-1)\n"
"  --seed S        (default 1)\n"
"  -h, --help      this help\n");
}

static int is_number(const char *s)
{
    if (*s == '+')
        s++;
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

static void note_line(fstats *st, const char *l, size_t n)
{
    /* "N: p1 p2 ...": a prime has exactly one factor, equal to N. */
    const char *colon = memchr(l, ':', n);
    if (!colon)
        return;
    st->numbers++;
    size_t nlen = (size_t)(colon - l);
    const char *f = colon + 1;
    size_t flen = n - nlen - 1;
    if (flen > 1 && flen - 1 == nlen && memcmp(f + 1, l, nlen) == 0)
        st->primes++;
    const char *last = l + n;
    const char *sp = last;
    while (sp > f && sp[-1] != ' ')
        sp--;
    size_t llen = (size_t)(last - sp);
    if (llen == 0 || llen >= sizeof st->largest)
        return;
    if (llen > st->largest_len ||
        (llen == st->largest_len && memcmp(sp, st->largest, llen) > 0)) {
        memcpy(st->largest, sp, llen);
        st->largest_len = llen;
    }
}

static int on_output(void *ctx, const void *data, size_t len)
{
    fctx *x = ctx;
    if (x->stats) {
        const char *p = data, *end = p + len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
            note_line(&x->st, p, n);
            p += n + 1;
        }
    }
    if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
        if (errno == EPIPE)
            return 128 + 13; /* the reader went away: die of SIGPIPE */
        cli_progress_end(x->c);
        fprintf(stderr, "jobrun: factor: standard output: %s\n",
                strerror(errno));
        return EXIT_FAILED;
    }
    return 0;
}

static void on_diag(void *ctx, int kind, const char *name, uint64_t line,
                    const char *msg)
{
    fctx *x = ctx;
    cli_diag(x->c, kind, name, line, msg);
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    fctx *x = ctx;
    cli_progress(x->c, done, total);
}

/* Add consecutive number operands as one in-memory input. */
static int add_numbers(jr_input *in, char **v, int n)
{
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += strlen(v[i]) + 1;
    char *buf = malloc(len + 1), *p = buf;
    if (!buf)
        return JR_ENOMEM;
    for (int i = 0; i < n; i++)
        p += sprintf(p, "%s\n", v[i]);
    int rc = jr_input_add_mem(in, buf, len, "operand");
    free(buf);
    return rc;
}

int cli_factor(cli *c, int argc, char **argv)
{
    static const struct option longs[] = {
        {"numbers", no_argument, NULL, 'n'},
        {"files", no_argument, NULL, 'F'},
        {"random", required_argument, NULL, 'r'},
        {"min", required_argument, NULL, 'a'},
        {"max", required_argument, NULL, 'b'},
        {"seed", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int mode = 0; /* 0: tell by the operand, 'n': numbers, 'F': files */
    int random = 0;
    /* The job's params: seed, min, max (host-order u64, see jobs/factor). */
    uint64_t count = 0, params[3] = {1, 20000, 100000000};
    char **ops = calloc((size_t)argc + 1, sizeof *ops);
    int nops = 0, opt, status = 0;
    if (!ops)
        return EXIT_FAILED;
    /* "-": operands come back as opt 1, in order, mixed with options. */
    while ((opt = getopt_long(argc, argv, "-h", longs, NULL)) != -1) {
        uint64_t *dst = NULL;
        switch (opt) {
        case 1:
            ops[nops++] = optarg;
            continue;
        case 'n':
        case 'F':
            mode = opt;
            continue;
        case 'r':
            random = 1;
            dst = &count;
            break;
        case 'a':
            dst = &params[1];
            break;
        case 'b':
            dst = &params[2];
            break;
        case 's':
            dst = &params[0];
            break;
        case 'h':
            help();
            free(ops);
            return 0;
        default:
            fprintf(stderr, "Try 'jobrun factor --help'.\n");
            free(ops);
            return EXIT_USAGE;
        }
        if (cli_uint(optarg, dst) < 0) {
            fprintf(stderr, "jobrun: factor: '%s' is not a number from 0 "
                    "to 2^64-1\n", optarg);
            free(ops);
            return EXIT_USAGE;
        }
    }
    while (optind < argc) /* after "--" */
        ops[nops++] = argv[optind++];
    if (random && (nops > 0 || params[1] > params[2])) {
        fprintf(stderr, "jobrun: factor: %s\n",
                nops ? "--random takes no operands"
                     : "--min must not be above --max");
        free(ops);
        return EXIT_USAGE;
    }

    if (cli_closed_stdout(c)) {
        free(ops);
        return EXIT_FAILED;
    }
    jr_input *in = NULL;
    int closed_in = 0;
    int rc = jr_input_new(&in);
    if (rc == 0 && random) {
        rc = jr_input_add_count(in, count, "random");
    } else if (rc == 0 && nops == 0) {
        if (cli_closed_stdin(c, "-"))
            closed_in = 1;
        else
            rc = jr_input_add_path(in, "-", 0);
    }
    for (int i = 0; rc == 0 && i < nops;) {
        if (cli_closed_stdin(c, ops[i])) {
            closed_in = 1;
            i++;
            continue;
        }
        struct stat st;
        int num = mode == 'n' || (mode == 0 && is_number(ops[i]));
        if (mode == 0 && num && stat(ops[i], &st) == 0) {
            fprintf(stderr, "jobrun: factor: '%s' is both a number and a "
                    "file; say which with --numbers or --files\n", ops[i]);
            status = EXIT_USAGE;
            break;
        }
        if (!num) {
            rc = jr_input_add_path(in, ops[i++], 0);
            continue;
        }
        int j = i;
        while (j < nops && (mode == 'n' || is_number(ops[j])) &&
               (mode == 'n' || stat(ops[j], &st) != 0))
            j++;
        rc = add_numbers(in, ops + i, j - i);
        i = j;
    }
    free(ops);
    if (rc < 0 || status) {
        jr_input_destroy(&in);
        return status ? status : EXIT_FAILED;
    }

    fctx x = {.c = c, .stats = c->stats};
    jr_run_opts ro = c->ro;
    ro.ctx = &x;
    ro.on_output = on_output;
    ro.on_diag = on_diag;
    ro.on_progress = on_progress;
    ro.params = params;
    ro.params_len = sizeof params;
    /* Factoring costs ~1000x more per byte than counting words: 64 KiB
     * (some 3,000 numbers) is work enough for a task, and a file of a
     * few MB still spreads over every worker. */
    if (!ro.chunk_size)
        ro.chunk_size = 64u << 10;
    status = cli_pool(c);
    if (status) {
        jr_input_destroy(&in);
        return status;
    }
    rc = jr_pool_run(c->pool, jr_job_find("factor"), in, &ro, NULL);
    jr_input_destroy(&in);
    cli_progress_end(c);
    if (rc > 0)
        return rc; /* on_output: the reader went away, or a write failed */
    if (rc < 0 && rc != JR_EINPUT)
        return cli_fail(c, rc);
    if (fflush(stdout) != 0) {
        if (errno == EPIPE)
            return 128 + 13;
        fprintf(stderr, "jobrun: factor: standard output: %s\n",
                strerror(errno));
        return EXIT_FAILED;
    }
    if (c->stats) {
        jr_stats st;
        jr_pool_stats(c->pool, &st);
        fprintf(stderr,
                "jobrun: stats: %llu numbers, %llu primes, largest factor "
                "%.*s\njobrun: stats: map %.3f s, %llu tasks, %llu "
                "retries\n",
                (unsigned long long)x.st.numbers,
                (unsigned long long)x.st.primes, (int)x.st.largest_len,
                x.st.largest, st.map_s + st.flush_s, /* no table to flush */
                (unsigned long long)st.tasks, (unsigned long long)st.retries);
    }
    return cli_status(rc == 0 && closed_in ? JR_EINPUT : rc);
}
