/*
 * cli.c - the jobrun command: global options, signals, the progress bar,
 * -o FILE written atomically, and exit statuses.  Uses only <jobrun.h>;
 * each job's options and output live in cli_<job>.c.
 *
 * SIGINT, SIGTERM and SIGHUP become jr_pool_cancel(): the run returns
 * JR_ECANCELED, the pool is torn down in order (no process, segment or
 * socket file left, no partial output file), and the command exits
 * 128 + the signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "runner/cli.h"

static jr_pool *volatile g_pool;
static volatile sig_atomic_t g_signal;

static void on_signal(int sig)
{
    if (!g_signal)
        g_signal = sig;
    if (g_pool)
        jr_pool_cancel(g_pool);
}

static void usage(FILE *f)
{
    fprintf(f,
"Usage: jobrun [OPTIONS] JOB [JOB OPTIONS] [ARGS...]\n"
"Run a map-reduce job on a pool of worker processes.\n"
"\n"
"Jobs:\n"
"  wordcount [--top N] [--format tsv|json] [-o FILE] [--follow] PATH...\n"
"              count Unicode words in files, directories or '-'\n"
"  factor [--numbers|--files] [NUMBER...|FILE...]\n"
"  factor --random COUNT [--min A] [--max B] [--seed S]\n"
"              prime factors, like coreutils factor\n"
"\n"
"Options:\n"
"  -j, --workers N       worker processes (default: the usable CPUs)\n"
"      --max-attempts N  tries per task before the job fails (default 4)\n"
"      --task-timeout S  kill a task running longer than S seconds\n"
"      --chunk-size SIZE bytes per task of a file (default 4M; k, M, G)\n"
"      --progress        show a progress bar (default: on a terminal)\n"
"      --no-progress     never show one\n"
"      --stats           print phase times and counts on stderr\n"
"  -h, --help            this help\n"
"  -V, --version         the version\n"
"\n"
"Run 'jobrun JOB --help' for a job's own options.\n"
"Exit status: 0 ok, 1 some input unreadable or invalid, 2 usage,\n"
"3 the job failed (task attempts, resources), 4 internal error,\n"
"128+N killed by signal N after a clean teardown.\n");
}

int cli_signal(void)
{
    return g_signal;
}

int cli_uint(const char *s, uint64_t *out)
{
    char *end;
    if (!*s || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int cli_size(const char *s, uint64_t *out)
{
    char *end;
    if (!*s || *s == '-')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case '\0':
        break;
    case 'k': case 'K':
        shift = 10;
        break;
    case 'm': case 'M':
        shift = 20;
        break;
    case 'g': case 'G':
        shift = 30;
        break;
    default:
        return -1;
    }
    if (*end && end[1] && !(end[1] == 'B' && !end[2]) &&
        !(end[1] == 'i' && end[2] == 'B' && !end[3]))
        return -1;
    if (v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

int cli_status(int rc)
{
    if (rc == 0)
        return 0;
    if (rc == JR_ECANCELED && g_signal)
        return 128 + g_signal;
    switch (rc) {
    case JR_EINPUT:
        return EXIT_INPUT;
    case JR_EINVAL:
        return EXIT_USAGE;
    case JR_EWORKER: case JR_ESPAWN: case JR_ENOSPC: case JR_ENOMEM:
    case JR_EMFILE:
    case JR_EKEYLEN:
        return EXIT_FAILED;
    default:
        if (rc > 0)
            return rc;
        /* Any other -errno is the system refusing something (a read-only
         * /dev/shm, a full disk): not a bug of ours, which exit 4 says. */
        return rc > -1000 ? EXIT_FAILED : EXIT_INTERNAL;
    }
}

/* For a run that ran out of shared memory: where that is, and how big.
 * In a container /dev/shm is often 64 MiB, and the message alone
 * ("no space left on device") sends people to look at their disks. */
static void shm_hint(char *out, size_t cap)
{
    struct statvfs sv;
    if (statvfs("/dev/shm", &sv) != 0) {
        snprintf(out, cap, " (shared memory, in /dev/shm)");
        return;
    }
    unsigned long long kib =
        (unsigned long long)sv.f_blocks * sv.f_frsize >> 10;
    snprintf(out, cap,
             " (shared memory: /dev/shm holds %llu %s; give it more, e.g. "
             "docker run --shm-size, or use fewer workers)",
             kib < 1024 ? kib : kib >> 10, kib < 1024 ? "KiB" : "MiB");
}

int cli_fail(cli *c, int rc)
{
    cli_progress_end(c);
    if (rc == JR_ECANCELED && g_signal)
        return 128 + g_signal;
    const char *msg = c->pool ? jr_pool_errmsg(c->pool) : "";
    char hint[160] = "";
    if (rc == JR_ENOSPC)
        shm_hint(hint, sizeof hint);
    fprintf(stderr, "jobrun: %s: %s%s\n", c->job,
            msg && *msg ? msg : jr_strerror(rc), hint);
    return cli_status(rc);
}

int cli_pool(cli *c)
{
    /* Each worker takes a descriptor in the master: use what the hard
     * limit allows (the soft one is often 1,024 under a far higher hard
     * one), as a command may; the library leaves a program's limits be. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    int rc = jr_pool_new(&c->pool, &c->opts);
    if (rc == 0)
        g_pool = c->pool;
    if (rc == 0 && g_signal)
        jr_pool_cancel(c->pool);
    if (rc < 0) {
        if (g_signal)
            return 128 + g_signal;
        /* The library's story says what failed where, the hints what to
         * do about it. */
        const char *story = jr_pool_errmsg(NULL);
        char why[160] = "";
        if (rc == JR_EMFILE && getrlimit(RLIMIT_NOFILE, &rl) == 0)
            snprintf(why, sizeof why,
                     " (this process may open %llu: raise ulimit -n, or use "
                     "fewer workers)",
                     (unsigned long long)rl.rlim_cur);
        else if (rc == JR_ENOSPC)
            shm_hint(why, sizeof why);
        fprintf(stderr, "jobrun: cannot start %u workers: %s%s\n",
                c->opts.workers ? c->opts.workers : jr_cpu_count(),
                *story ? story : jr_strerror(rc), why);
        return cli_status(rc == JR_EINVAL ? JR_ESPAWN : rc);
    }
    return 0;
}

/* ---- diagnostics and progress ------------------------------------------- */

void cli_diag(void *ctx, int kind, const char *name, uint64_t line,
              const char *msg)
{
    cli *c = ctx;
    cli_progress_end(c);
    if (kind == JR_DIAG_SKIP)
        fprintf(stderr, "jobrun: %s: warning: %s: %s\n", c->job, name, msg);
    else if (line && strcmp(name, "operand") != 0)
        fprintf(stderr, "jobrun: %s: %s:%llu: %s\n", c->job, name,
                (unsigned long long)line, msg);
    else if (kind == JR_DIAG_RECORD)
        fprintf(stderr, "jobrun: %s: %s\n", c->job, msg);
    else
        fprintf(stderr, "jobrun: %s: %s: %s\n", c->job, name, msg);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void cli_progress(void *ctx, uint64_t done, uint64_t total)
{
    cli *c = ctx;
    if (!c->progress)
        return;
    uint64_t el = now_ms() - c->t0_ms;
    if (el < 300 || total == 0)
        return; /* quick runs: no flicker */
    if (done > total)
        done = total;
    double frac = (double)done / (double)total;
    double rate = (double)done / ((double)el / 1000.0);
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    char bar[31];
    int fill = (int)(frac * 30);
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    if (done == total) /* mapped: the reduce and merge remain */
        fprintf(stderr, "\r[%s] 100%% %.0f MB mapped, merging...\033[K", bar,
                (double)total / 1e6);
    else
        fprintf(stderr, "\r[%s] %3d%% %.0f/%.0f MB %.0f MB/s ETA %ds\033[K",
                bar, (int)(frac * 100), (double)done / 1e6,
                (double)total / 1e6, rate / 1e6, (int)eta);
    c->bar_shown = 1;
}

void cli_progress_end(cli *c)
{
    if (c->bar_shown) {
        fputs("\r\033[K", stderr);
        c->bar_shown = 0;
    }
}

/* ---- closed standard streams ----------------------------------------------- */

/* A descriptor 0, 1 or 2 closed by whoever started us would be reused by
 * our own pipes and sockets: we would read our own control traffic as
 * input, or call output written that went into a socket.  Hold them
 * with /dev/null and remember which were closed. */
static void hold_std_fds(cli *c)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        int got = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (got != fd && got >= 0)
            close(got);
        if (fd == 0)
            c->stdin_closed = 1;
        else if (fd == 1)
            c->stdout_closed = 1;
    }
}

int cli_closed_stdin(cli *c, const char *path)
{
    if (!c->stdin_closed || strcmp(path, "-") != 0)
        return 0;
    fprintf(stderr, "jobrun: %s: -: %s\n", c->job, strerror(EBADF));
    return 1;
}

int cli_closed_stdout(cli *c)
{
    if (!c->stdout_closed)
        return 0;
    fprintf(stderr, "jobrun: %s: standard output: %s\n", c->job,
            strerror(EBADF));
    return 1;
}

/* ---- output --------------------------------------------------------------- */

/* path with the symbolic links that it names followed, link to link (at
 * most 40), to a file that may not exist yet: -o replaces the file a link
 * names, never the link.  NULL with errno set on failure. */
static char *follow_links(const char *path)
{
    char *p = strdup(path);
    for (int hops = 0; p && hops <= 40; hops++) {
        struct stat st;
        if (lstat(p, &st) != 0 || !S_ISLNK(st.st_mode))
            return p;
        char target[4096];
        ssize_t n = readlink(p, target, sizeof target - 1);
        if (n < 0) {
            free(p);
            return NULL;
        }
        target[n] = '\0';
        /* A relative target is relative to the link's directory. */
        const char *slash = strrchr(p, '/');
        size_t dl = target[0] == '/' || !slash ? 0 : (size_t)(slash - p) + 1;
        char *next = malloc(dl + (size_t)n + 1);
        if (next) {
            memcpy(next, p, dl);
            memcpy(next + dl, target, (size_t)n + 1);
        }
        free(p);
        p = next;
    }
    if (p) {
        free(p);
        errno = ELOOP;
    }
    return NULL;
}

static FILE *out_failed(cli *c, const char *path, int err)
{
    fprintf(stderr, "jobrun: %s: %s: %s\n", c->job, path, strerror(err));
    return NULL;
}

FILE *cli_out_open(cli *c, const char *path)
{
    if (!path || strcmp(path, "-") == 0)
        return stdout;
    struct stat st;
    int exists = stat(path, &st) == 0;
    if (exists && S_ISDIR(st.st_mode))
        return out_failed(c, path, EISDIR);
    if (exists && !S_ISREG(st.st_mode)) {
        /* -o /dev/null, /dev/stdout, a FIFO: written where it is.  (The
         * rename made /dev/null a regular file.)  A FIFO's open waits for
         * its reader, as `> fifo` does, and a signal ends the wait. */
        int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
        if (!f) {
            int err = errno;
            if (fd >= 0)
                close(fd);
            if (err == EINTR && g_signal)
                return NULL; /* the caller exits 128 + the signal */
            return out_failed(c, path, err);
        }
        return f;
    }
    char *target = follow_links(path);
    if (!target)
        return out_failed(c, path, errno);
    /* Beside the target, so the final rename stays on one file system. */
    size_t n = strlen(target) + 16;
    char *tmp = malloc(n);
    if (!tmp) {
        free(target);
        return out_failed(c, path, ENOMEM);
    }
    snprintf(tmp, n, "%s.tmp.XXXXXX", target);
    int fd = mkstemp(tmp);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
    if (!f) {
        int err = errno;
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        free(target);
        return out_failed(c, path, err);
    }
    c->tmp_path = tmp;
    c->out_target = target;
    /* mkstemp() makes the file 0600: give it what open(2) would have, or
     * keep the mode of the file it replaces. */
    if (exists)
        c->out_mode = (unsigned)(st.st_mode & 07777);
    return f;
}

int cli_out_close(cli *c, FILE *f, const char *path, int ok)
{
    int err = 0;
    if (f == stdout) {
        if (fflush(stdout) != 0)
            err = errno;
    } else if (!c->tmp_path) { /* a device or a FIFO */
        if (fflush(f) != 0)
            err = errno;
        if (fclose(f) != 0 && !err)
            err = errno;
    } else {
        if (ok && (fflush(f) != 0 || fchmod(fileno(f), c->out_mode) != 0 ||
                   fsync(fileno(f)) != 0))
            err = errno;
        if (fclose(f) != 0 && !err)
            err = errno;
        /* A signal before the rename means no output file at all. */
        if (ok && !err && g_signal)
            ok = 0;
        if (ok && !err && rename(c->tmp_path, c->out_target) != 0)
            err = errno;
        if (!ok || err)
            unlink(c->tmp_path);
        free((char *)c->tmp_path);
        c->tmp_path = NULL;
        free(c->out_target);
        c->out_target = NULL;
    }
    if (err && err != EPIPE)
        fprintf(stderr, "jobrun: %s: %s: %s\n", c->job,
                path ? path : "standard output", strerror(err));
    return err ? -1 : 0;
}

/* ---- main ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"workers", required_argument, NULL, 'j'},
        {"max-attempts", required_argument, NULL, 'A'},
        {"task-timeout", required_argument, NULL, 'T'},
        {"chunk-size", required_argument, NULL, 'C'},
        {"progress", no_argument, NULL, 'P'},
        {"no-progress", no_argument, NULL, 'N'},
        {"stats", no_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    cli c = {.progress = -1};
    hold_std_fds(&c);
    /* Read now, before any thread could create a file while it is 0. */
    mode_t mask = umask(0);
    umask(mask);
    c.out_mode = 0666 & ~(unsigned)mask;
    /* A signal while the pool starts cancels the start too. */
    _Static_assert(sizeof(sig_atomic_t) == sizeof(int), "sig_atomic_t");
    c.opts.cancel = (const volatile int *)&g_signal;
    c.ro.ctx = &c;
    c.ro.on_diag = cli_diag;
    c.ro.on_progress = cli_progress;
    c.t0_ms = now_ms();

    int opt;
    uint64_t v;
    /* '+': stop at the job's name; the job parses the rest. */
    while ((opt = getopt_long(argc, argv, "+j:hV", longs, NULL)) != -1) {
        switch (opt) {
        case 'j':
            if (cli_uint(optarg, &v) < 0 || v == 0 || v > 1024) {
                fprintf(stderr, "jobrun: --workers: '%s' is not a number "
                        "from 1 to 1024\n", optarg);
                return EXIT_USAGE;
            }
            c.opts.workers = (unsigned)v;
            break;
        case 'A':
            if (cli_uint(optarg, &v) < 0 || v == 0 || v > 1000) {
                fprintf(stderr, "jobrun: --max-attempts: '%s' is not a "
                        "number from 1 to 1000\n", optarg);
                return EXIT_USAGE;
            }
            c.opts.max_attempts = (unsigned)v;
            break;
        case 'T': {
            char *end;
            double s = strtod(optarg, &end);
            if (*end || !(s > 0) || s > 86400 * 7) {
                fprintf(stderr, "jobrun: --task-timeout: '%s' is not a "
                        "number of seconds\n", optarg);
                return EXIT_USAGE;
            }
            c.opts.task_timeout_ms = (unsigned)(s * 1000 + 0.5);
            break;
        }
        case 'C':
            if (cli_size(optarg, &v) < 0 || v == 0 || v > (1ull << 32)) {
                fprintf(stderr, "jobrun: --chunk-size: '%s' is not a size "
                        "from 1 byte to 4G\n", optarg);
                return EXIT_USAGE;
            }
            c.ro.chunk_size = (size_t)v;
            break;
        case 'P':
            c.progress = 1;
            break;
        case 'N':
            c.progress = 0;
            break;
        case 'S':
            c.stats = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("jobrun %s\n", jr_version_string());
            return 0;
        default:
            fprintf(stderr, "Try 'jobrun --help'.\n");
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (c.progress < 0)
        c.progress = isatty(STDERR_FILENO);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    /* A closed stdout (| head) is an EPIPE from write, handled in order. */
    signal(SIGPIPE, SIG_IGN);

    c.job = argv[optind];
    int jargc = argc - optind;
    char **jargv = argv + optind;
    optind = 0; /* glibc: restart getopt for the job's options */
    int status;
    if (strcmp(c.job, "wordcount") == 0) {
        status = cli_wordcount(&c, jargc, jargv);
    } else if (strcmp(c.job, "factor") == 0) {
        status = cli_factor(&c, jargc, jargv);
    } else {
        fprintf(stderr, "jobrun: '%s' is not a job (try 'jobrun --help')\n",
                c.job);
        return EXIT_USAGE;
    }
    cli_progress_end(&c);
    g_pool = NULL;
    jr_pool_destroy(&c.pool);
    if (status == 128 + SIGPIPE) {
        /* Die of SIGPIPE like any filter whose reader went away, but only
         * now, after the teardown. */
        signal(SIGPIPE, SIG_DFL);
        raise(SIGPIPE);
    }
    return status;
}
