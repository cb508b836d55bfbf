/*
 * helpers.h - what every test file shares: leak checks for processes and
 * shared-memory segments, and running the CLI with captured output.
 */
#ifndef JR_TEST_HELPERS_H
#define JR_TEST_HELPERS_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Where tests make their scratch directories: $TMPDIR when it is an
 * absolute path of at most 40 bytes (scripts/test.sh gives the suite a
 * fresh directory and checks that it is empty afterwards), else /tmp.
 * Short, because the masters the tests start make their sockets under
 * runtime directories inside it, and a socket's path must fit in
 * sun_path (108 bytes) for jobrun to use the directory it was given. */
static inline const char *jr_test_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    return t && t[0] == '/' && strlen(t) <= 40 ? t : "/tmp";
}

/* Criterion 2.4 ends a skipped test without running its .fini, which
 * would leave the scratch its .init made.  A suite with such a fixture
 * names its cleanup here (from .init), and its tests skip through
 * jr_test_skip(), which runs the cleanup first.  Running it twice, where
 * a Criterion runs .fini too, must be harmless. */
static void (*jr_test_cleanup_)(void);

static inline void jr_test_on_skip(void (*cleanup)(void))
{
    jr_test_cleanup_ = cleanup;
}

#define jr_test_skip(...)                                                      \
    do {                                                                       \
        if (jr_test_cleanup_)                                                  \
            jr_test_cleanup_();                                                \
        cr_skip_test(__VA_ARGS__);                                             \
    } while (0)

/* Count /dev/shm entries whose name holds this process's pid as master,
 * i.e. "jobrun.<uid>.<pid>.". */
/* In a forked child before exec: the signal mask and dispositions the
 * test process may have changed go back to their defaults. */
static inline void jr_test_child_defaults(void)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
}

static inline int jr_test_segments_of(pid_t pid)
{
    char pre[64];
    snprintf(pre, sizeof pre, "jobrun.%u.%d.", (unsigned)getuid(), (int)pid);
    DIR *d = opendir("/dev/shm");
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, pre, strlen(pre)) == 0)
            n++;
    closedir(d);
    return n;
}

/* Assert that this process has no child left and no segment.  Call it at
 * the end of a test body: Criterion 2.4 ignores failed asserts in .fini. */
static inline void jr_test_assert_clean(void)
{
    errno = 0;
    pid_t w = waitpid(-1, NULL, WNOHANG);
    cr_assert(w == -1 && errno == ECHILD, "a child process was left");
    cr_assert_eq(jr_test_segments_of(getpid()), 0,
                 "a shared-memory segment was left");
}

/* Number of open file descriptors of this process. */
static inline int jr_test_fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n - 3; /* ".", "..", and the DIR's own fd */
}

/*-************************************
 *  Running a program (the jobrun command) with captured output
 **************************************/
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

/* One run of a program: what to give it, and what came back.  Set the
 * inputs, call jr_test_proc_run(), read the outputs, jr_test_proc_free(). */
typedef struct jr_test_proc {
    /* In. */
    const char *const *argv; /* argv[0] is the program (PATH searched) */
    const void *in;          /* standard input bytes; NULL: see in_path */
    size_t in_len;
    const char *in_path;     /* standard input from this file; neither:
                              * /dev/null */
    const char *out_path;    /* stdout into this file instead (not read
                              * back) */
    int close_fds;           /* 1 | 2 | 4: start it with stdin, stdout,
                              * stderr closed */
    uid_t uid;               /* nonzero: run as uid:uid (needs root) */
    int sig;                 /* nonzero: send it sig_ms after the start, */
    unsigned sig_ms;
    int sig_group;           /* to the child's whole process group */
    /* Out. */
    pid_t pid;               /* the child (also its process group) */
    int status;              /* as from waitpid */
    int code;                /* the exit status, or 128 + the signal */
    char *out, *err;         /* NUL-terminated, caller frees (proc_free) */
    size_t out_len, err_len;
    double secs;             /* start to reaped */
    int signalled;           /* the signal was sent (it still ran) */
    double sig_secs;         /* signal sent to reaped */
    int left;                /* a process of its group outlived it */
} jr_test_proc;

static inline double jr_test_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The whole content of f (rewound first); NUL-terminated, caller frees. */
static inline char *jr_test_slurp_file(FILE *f, size_t *len)
{
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    rewind(f);
    do {
        if (cap - n < 65536) {
            cap = cap ? 2 * cap : 65536 * 2;
            buf = realloc(buf, cap + 1);
            cr_assert(buf);
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* Run p->argv in a new process group, stdout and stderr into temporary
 * files, wait for it and fill in the outputs.  The child is reaped. */
static inline void jr_test_proc_run(jr_test_proc *p)
{
    FILE *fo = tmpfile(), *fe = tmpfile(), *fi = NULL;
    cr_assert(fo && fe, "tmpfile: %s", strerror(errno));
    if (p->in) {
        fi = tmpfile();
        cr_assert(fi);
        cr_assert_eq(fwrite(p->in, 1, p->in_len, fi), p->in_len);
        cr_assert_eq(fflush(fi), 0);
        rewind(fi);
    }
    fflush(NULL);
    double t0 = jr_test_now();
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        int in = fi ? dup(fileno(fi))
                    : open(p->in_path ? p->in_path : "/dev/null", O_RDONLY);
        int out = p->out_path ? open(p->out_path, O_WRONLY | O_CREAT |
                                     O_TRUNC, 0600)
                              : dup(fileno(fo));
        if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
            dup2(fileno(fe), 2) < 0)
            _exit(126);
        /* Only 0, 1 and 2 go to the program. */
        int extra[] = {in, out, fileno(fo), fileno(fe),
                       fi ? fileno(fi) : -1};
        for (size_t i = 0; i < sizeof extra / sizeof *extra; i++)
            if (extra[i] > 2)
                close(extra[i]);
        for (int fd = 0; fd < 3; fd++)
            if (p->close_fds & (1 << fd))
                close(fd);
        jr_test_child_defaults();
        if (p->uid && (setgroups(0, NULL) < 0 || setgid(p->uid) < 0 ||
                       setuid(p->uid) < 0))
            _exit(125);
        execvp(p->argv[0], (char *const *)p->argv);
        _exit(127);
    }
    setpgid(pid, pid); /* as the child does: no race with kill(-pid) */
    p->pid = pid;
    p->sig_secs = 0;
    p->signalled = 0;
    int st;
    pid_t w = 0;
    if (p->sig) {
        /* Wait sig_ms for it; send the signal only if it still runs. */
        double until = t0 + p->sig_ms / 1000.0;
        while ((w = waitpid(pid, &st, WNOHANG)) == 0 && jr_test_now() < until)
            usleep(2000);
        if (w == 0) {
            p->sig_secs = -jr_test_now(); /* finished below */
            kill(p->sig_group ? -pid : pid, p->sig);
            p->signalled = 1;
        }
    }
    if (w == 0)
        while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
            ;
    cr_assert_eq(w, pid, "waitpid: %s", strerror(errno));
    double t1 = jr_test_now();
    p->secs = t1 - t0;
    if (p->signalled)
        p->sig_secs += t1;
    /* Workers stay in the master's process group: nothing may be left. */
    errno = 0;
    p->left = !(kill(-pid, 0) < 0 && errno == ESRCH);
    p->status = st;
    p->code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    p->out = jr_test_slurp_file(fo, &p->out_len);
    p->err = jr_test_slurp_file(fe, &p->err_len);
    fclose(fo);
    fclose(fe);
    if (fi)
        fclose(fi);
}

static inline void jr_test_proc_free(jr_test_proc *p)
{
    free(p->out);
    free(p->err);
    p->out = p->err = NULL;
}

/* /dev/shm entries "jobrun.<any uid>.<pid>." of the master pid. */
static inline int jr_test_segments_of_any_uid(pid_t pid)
{
    char tail[32];
    snprintf(tail, sizeof tail, ".%d.", (int)pid);
    DIR *d = opendir("/dev/shm");
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "jobrun.", 7) != 0)
            continue;
        const char *dot = strchr(e->d_name + 7, '.');
        if (dot && strncmp(dot, tail, strlen(tail)) == 0)
            n++;
    }
    closedir(d);
    return n;
}

#endif

/*-************************************
 *  Process, file and CLI helpers (added with test_reliability.c)
 **************************************/
/* Black-box helpers: run the jobrun command in its own process group with
 * captured output, watch and signal its processes through /proc, and
 * prove afterwards that nothing of it is left.  A test that uses them
 * should make itself a child subreaper (PR_SET_CHILD_SUBREAPER), so that
 * orphans of a dead master come back to it and can be reaped and
 * counted instead of vanishing into init. */
#ifndef JR_TEST_PROC_HELPERS
#define JR_TEST_PROC_HELPERS

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#ifndef JR_CLI_PATH
#define JR_CLI_PATH "jobrun"
#endif

/* The jobrun command to test: $JR_CLI when set (say, a TSan build of it
 * driven by a plain test binary), else the one built beside the tests. */
static inline const char *jr_test_cli_path(void)
{
    const char *p = getenv("JR_CLI");
    return p && p[0] ? p : JR_CLI_PATH;
}

static inline uint64_t jr_test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline void jr_test_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Parent pid and state letter of pid from /proc/PID/stat.
 * @return 0, or -1 when the process is gone. */
static inline int jr_test_pid_stat(pid_t pid, pid_t *ppid, char *state)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    char st;
    int pp;
    if (!p || sscanf(p + 1, " %c %d", &st, &pp) != 2)
        return -1;
    if (ppid)
        *ppid = (pid_t)pp;
    if (state)
        *state = st;
    return 0;
}

/* Up to cap children of parent (zombies included) into out.
 * @return how many there are (may exceed cap). */
static inline int jr_test_children(pid_t parent, pid_t *out, int cap)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        pid_t pp;
        if (*end || pid <= 0 || jr_test_pid_stat((pid_t)pid, &pp, NULL) < 0 ||
            pp != parent)
            continue;
        if (n < cap)
            out[n] = (pid_t)pid;
        n++;
    }
    closedir(d);
    return n;
}

/* Live or zombie processes whose chain of parents reaches root (root
 * itself excluded).  Up to cap of them go to out (may be NULL).
 * @return how many there are. */
static inline int jr_test_descendants(pid_t root, pid_t *out, int cap)
{
    enum { MAXP = 65536 };
    static pid_t pids[MAXP], ppids[MAXP];
    int np = 0;
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && np < MAXP) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        if (jr_test_pid_stat((pid_t)pid, &ppids[np], NULL) == 0)
            pids[np++] = (pid_t)pid;
    }
    closedir(d);
    int n = 0;
    for (int i = 0; i < np; i++) {
        pid_t p = ppids[i];
        for (int hops = 0; p > 1 && p != root && hops < 64; hops++) {
            int k;
            for (k = 0; k < np && pids[k] != p; k++)
                ;
            p = k < np ? ppids[k] : 0;
        }
        if (p == root && pids[i] != root) {
            if (out && n < cap)
                out[n] = pids[i];
            n++;
        }
    }
    return n;
}

/* A "Name: N kB" field of a live process's /proc/PID/status (VmHWM,
 * VmRSS, ...), in KiB, or -1. */
static inline long jr_test_status_kb(pid_t pid, const char *name)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    long kb = -1;
    size_t n = strlen(name);
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, n) == 0 && line[n] == ':' &&
            sscanf(line + n + 1, " %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* Peak resident size (VmHWM) of a live process in KiB, or -1. */
static inline long jr_test_vm_hwm_kb(pid_t pid)
{
    return jr_test_status_kb(pid, "VmHWM");
}

/* Entries of dir whose name starts with prefix ("" for all). */
static inline int jr_test_count_prefix(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    }
    closedir(d);
    return n;
}

static inline int jr_test_rm_one_(const char *p, const struct stat *st,
                                  int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(p);
    else
        unlink(p);
    return 0;
}

/* Make a fresh directory "NAME.XXXXXX" under jr_test_tmpdir() and put
 * its path in dir (cap bytes): the test's scratch, which the suite's
 * TMPDIR check then sees.  Fails the test when it cannot. */
static inline void jr_test_mkdtemp(char *dir, size_t cap, const char *name)
{
    int n = snprintf(dir, cap, "%s/%s.XXXXXX", jr_test_tmpdir(), name);
    cr_assert(n > 0 && (size_t)n < cap, "scratch path too long: %s", dir);
    cr_assert_not_null(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
}

/* rm -rf path (links are removed, never followed).  NULL/"" is a no-op. */
static inline void jr_test_rm_rf(const char *path)
{
    if (path && path[0])
        nftw(path, jr_test_rm_one_, 64, FTW_DEPTH | FTW_PHYS);
}

static inline int jr_test_write_file(const char *path, const void *data,
                                     size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return close(fd);
}

/* The whole file, NUL-terminated; caller frees.  NULL when unreadable. */
static inline char *jr_test_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

#ifdef JR_BUILD_DIR
/* Skip the test unless this build compiled fault injection in (cmake
 * -DJOBRUN_FAULT=ON).  Call it in the test's own process, before any
 * fork: a skip is that process's to make.  Another jobrun (JR_CLI, as the
 * soak's TSan build) brings its own faults: nothing is skipped then.
 * JR_TEST_NO_FAULTS skips as if they were not built (the check that a
 * skip leaves no scratch behind). */
static inline void jr_test_need_faults(void)
{
    if (getenv("JR_CLI"))
        return;
    char *cache = jr_test_read_file(JR_BUILD_DIR "/CMakeCache.txt", NULL);
    int on = cache && strstr(cache, "JOBRUN_FAULT:BOOL=ON") != NULL;
    free(cache);
    if (!on || getenv("JR_TEST_NO_FAULTS"))
        jr_test_skip("built without -DJOBRUN_FAULT=ON");
}
#endif

/* Lines in a buffer (a last line without '\n' counts). */
static inline int jr_test_count_lines(const char *s)
{
    int n = 0;
    for (const char *p = s; *p; p++)
        if (*p == '\n' || p[1] == '\0')
            n++;
    return n;
}

/* The filesystem paths of the unix sockets pid holds open (from
 * /proc/PID/fd and /proc/net/unix), '\n'-separated into out.
 * @return how many were found. */
static inline int jr_test_unix_paths(pid_t pid, char *out, size_t cap)
{
    char path[64];
    unsigned long inodes[256];
    int ni = 0, found = 0;
    out[0] = '\0';
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && ni < 256) {
        char lp[320], target[128];
        snprintf(lp, sizeof lp, "%s/%s", path, e->d_name);
        ssize_t n = readlink(lp, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        unsigned long ino;
        if (sscanf(target, "socket:[%lu]", &ino) == 1)
            inodes[ni++] = ino;
    }
    closedir(d);
    FILE *f = fopen("/proc/net/unix", "re");
    if (!f)
        return 0;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        unsigned long ino;
        char sp[512] = "";
        /* Num RefCount Protocol Flags Type St Inode Path */
        if (sscanf(line, "%*s %*s %*s %*s %*s %*s %lu %511s", &ino, sp) < 2 ||
            sp[0] != '/')
            continue;
        for (int i = 0; i < ni; i++)
            if (inodes[i] == ino) {
                size_t used = strlen(out);
                snprintf(out + used, cap - used, "%s\n", sp);
                found++;
                break;
            }
    }
    fclose(f);
    return found;
}

/* How to run the command: argv without argv[0]; env entries "K=V" are
 * set, "K" alone is unset.  in/out/err: paths (NULL: /dev/null).  exe:
 * NULL for the jobrun command (jr_test_cli_path()), or another program
 * (unshare) whose own argv follows.  drop_dac: as root, drop
 * CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH so that file modes apply to
 * the child. */
typedef struct jr_test_cli_opts {
    const char *const *argv;
    const char *const *env;
    const char *in, *out, *err;
    const char *exe;
    int umask_; /* -1: inherited */
    int drop_dac;
} jr_test_cli_opts;

/* A running command.  pid is the master, leader of its own process
 * group (pgid == pid). */
typedef struct jr_test_cli {
    pid_t pid;
    int status;     /* waitpid status once done */
    int done;
    int timed_out;  /* killed by jr_test_cli_wait's deadline */
    uint64_t t0_ms, end_ms;
    long hwm_kb;    /* the master's VmHWM at the last sample */
    uint64_t hwm_at;
} jr_test_cli;

static inline int jr_test_cli_start(jr_test_cli *c, const jr_test_cli_opts *o)
{
    memset(c, 0, sizeof *c);
    c->hwm_kb = -1;
    size_t n = 0;
    while (o->argv && o->argv[n])
        n++;
    const char **av = calloc(n + 2, sizeof *av);
    const char *exe = o->exe ? o->exe : jr_test_cli_path();
    const char *slash = strrchr(exe, '/');
    av[0] = slash ? slash + 1 : exe;
    for (size_t i = 0; i < n; i++)
        av[i + 1] = o->argv[i];
    fflush(NULL);
    c->t0_ms = jr_test_now_ms();
    pid_t pid = fork();
    if (pid < 0) {
        free(av);
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        /* In its own process group, the command would outlive a test
         * that Criterion kills on timeout: make it die with the test. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
            _exit(125);
        /* Undo what the test process may have set for itself. */
        jr_test_child_defaults();
        struct rlimit core = {0, 0};
        setrlimit(RLIMIT_CORE, &core);
        int fin = open(o->in ? o->in : "/dev/null", O_RDONLY);
        int fout = open(o->out ? o->out : "/dev/null",
                        O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int ferr = open(o->err ? o->err : "/dev/null",
                        O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fin < 0 || fout < 0 || ferr < 0)
            _exit(126);
        dup2(fin, 0);
        dup2(fout, 1);
        dup2(ferr, 2);
        for (const char *const *e = o->env; e && *e; e++) {
            const char *eq = strchr(*e, '=');
            if (eq) {
                char k[256];
                snprintf(k, sizeof k, "%.*s", (int)(eq - *e), *e);
                setenv(k, eq + 1, 1);
            } else {
                unsetenv(*e);
            }
        }
        if (o->umask_ >= 0)
            umask((mode_t)o->umask_);
        if (o->drop_dac && getuid() == 0) {
            prctl(PR_CAPBSET_DROP, 1 /* CAP_DAC_OVERRIDE */, 0, 0, 0);
            prctl(PR_CAPBSET_DROP, 2 /* CAP_DAC_READ_SEARCH */, 0, 0, 0);
        }
        execv(exe, (char *const *)av);
        _exit(127);
    }
    setpgid(pid, pid); /* both sides: no window where pgid is ours */
    free(av);
    c->pid = pid;
    return 0;
}

/* Reap the command if it has ended; sample its VmHWM now and then.
 * @return 1 when done. */
static inline int jr_test_cli_poll(jr_test_cli *c)
{
    if (c->done)
        return 1;
    uint64_t now = jr_test_now_ms();
    if (now >= c->hwm_at) {
        long kb = jr_test_vm_hwm_kb(c->pid);
        if (kb > c->hwm_kb)
            c->hwm_kb = kb;
        c->hwm_at = now + 20;
    }
    int st;
    pid_t w = waitpid(c->pid, &st, WNOHANG);
    if (w == c->pid) {
        c->status = st;
        c->done = 1;
        c->end_ms = jr_test_now_ms();
    }
    return c->done;
}

/* Wait for the command, at most timeout_ms; past it the whole process
 * group is SIGKILLed and timed_out set.  @return the wait status. */
static inline int jr_test_cli_wait(jr_test_cli *c, unsigned timeout_ms)
{
    uint64_t end = c->t0_ms + timeout_ms;
    while (!jr_test_cli_poll(c)) {
        if (jr_test_now_ms() >= end) {
            c->timed_out = 1;
            kill(-c->pid, SIGKILL);
            int st;
            while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
                ;
            c->status = st;
            c->done = 1;
            c->end_ms = jr_test_now_ms();
            break;
        }
        jr_test_sleep_ms(2);
    }
    return c->status;
}

/* Elapsed milliseconds of a finished command. */
static inline unsigned jr_test_cli_ms(const jr_test_cli *c)
{
    return (unsigned)(c->end_ms - c->t0_ms);
}

/* Is process group pgid empty within ms?  Reaps members that are our
 * children (orphans come back to a subreaper) while it waits, so reap
 * the leader (jr_test_cli_wait) first if its status matters.
 * *left (may be NULL) gets how many were still there at the end. */
static inline int jr_test_group_gone(pid_t pgid, unsigned ms, int *left)
{
    uint64_t end = jr_test_now_ms() + ms;
    for (;;) {
        int st;
        while (waitpid(-pgid, &st, WNOHANG) > 0)
            ;
        if (kill(-pgid, 0) < 0 && errno == ESRCH) {
            if (left)
                *left = 0;
            return 1;
        }
        if (jr_test_now_ms() >= end)
            break;
        jr_test_sleep_ms(5);
    }
    if (left) {
        /* Count them for the message. */
        int n = 0;
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            char *endp;
            long pid = strtol(e->d_name, &endp, 10);
            if (*endp || pid <= 0)
                continue;
            if (getpgid((pid_t)pid) == pgid)
                n++;
        }
        if (d)
            closedir(d);
        *left = n;
    }
    return 0;
}

#endif /* JR_TEST_PROC_HELPERS */
