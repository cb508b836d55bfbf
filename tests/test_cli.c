/*
 * test_cli.c - the jobrun command as a user runs it: the built binary
 * (JR_CLI_PATH) is started with fork/exec in a process group of its own,
 * with stdout and stderr captured, and every run is checked to leave
 * nothing behind: no process of its group, no /dev/shm/jobrun.*.<pid>.*
 * segment, no file in its runtime directory ($XDG_RUNTIME_DIR, one per
 * test).
 *
 * wordcount: every rule of spec/wordcount.md "Inputs" (recursion, hidden
 * files, links on the command line and inside directories, --follow and
 * loops, FIFOs, sockets and devices, '-' (one that fails to read too),
 * missing and unreadable paths, escaped names), the output (order, --top,
 * json, empty input, -o), byte-identical output for any worker count and
 * chunk size, checked against tests/ref/wordcount_ref.py (and
 * tests/ref/gen_corpus.py corpora), usage errors, and SIGINT / SIGTERM /
 * SIGHUP (to the master, or to the whole group as Ctrl-C does).
 * factor: operands, files and stdin against coreutils factor, invalid
 * tokens with their file and line, --random, and a reader that goes away
 * (| head).
 * Both: standard descriptors that start closed or full (/dev/full), and,
 * in -DJOBRUN_FAULT=ON builds, tasks that crash once (retried, same
 * output) or always (exit 3, no -o FILE).
 *
 * Each test works in its own directory under /tmp (the cwd), removed by
 * .fini; leak checks are asserted in the test body, as Criterion 2.4
 * ignores failed asserts in .fini.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

typedef jr_test_proc proc;

/* Sanitizer builds run slower: scripts/soak.sh scales every limit. */
#ifndef JR_REL_TIMEOUT_SCALE
#define JR_REL_TIMEOUT_SCALE 1
#endif
#define T(secs) ((secs) * JR_REL_TIMEOUT_SCALE)

/*-************************************
 *  Fixture: a directory of our own
 **************************************/
static char g_top[256];  /* $TMPDIR/jr-cli.XXXXXX */
static char g_dir[264];  /* g_top/w: the cwd, where test data goes */
static char g_run[264];  /* g_top/run: the child's XDG_RUNTIME_DIR */

static void teardown(void);

static void setup(void)
{
    jr_test_on_skip(teardown);
    int n = snprintf(g_top, sizeof g_top, "%s/jr-cli.XXXXXX", jr_test_tmpdir());
    cr_assert(n > 0 && (size_t)n < sizeof g_top, "TMPDIR too long");
    cr_assert(mkdtemp(g_top), "mkdtemp %s: %s", g_top, strerror(errno));
    snprintf(g_dir, sizeof g_dir, "%s/w", g_top);
    snprintf(g_run, sizeof g_run, "%s/run", g_top);
    cr_assert_eq(mkdir(g_dir, 0700), 0);
    cr_assert_eq(mkdir(g_run, 0700), 0);
    cr_assert_eq(chdir(g_dir), 0);
    setenv("XDG_RUNTIME_DIR", g_run, 1);
    unsetenv("JOBRUN_FAULT");
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        chmod(path, 0700);
    remove(path);
    return 0;
}

static int chmod_entry(const char *path, const struct stat *st, int flag,
                       struct FTW *ftw)
{
    (void)ftw;
    if (flag == FTW_D || flag == FTW_DNR || (flag == FTW_F &&
                                             S_ISREG(st->st_mode)))
        chmod(path, 0700);
    return 0;
}

static void teardown(void)
{
    if (chdir("/") != 0)
        return;
    nftw(g_top, chmod_entry, 16, FTW_PHYS);
    nftw(g_top, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(cli, .init = setup, .fini = teardown, .timeout = T(30));

/*-************************************
 *  Helpers
 **************************************/
#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static int entries_in(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* What every run of jobrun must leave: nothing. */
static void assert_left_nothing(const proc *p)
{
    cr_assert(!p->left, "a process of jobrun's group %d outlived it",
              (int)p->pid);
    cr_assert_eq(jr_test_segments_of_any_uid(p->pid), 0,
                 "jobrun (pid %d) left a /dev/shm/jobrun.*.%d.* segment",
                 (int)p->pid, (int)p->pid);
    cr_assert_eq(entries_in(g_run), 0,
                 "jobrun left a file in its runtime directory %s", g_run);
}

/* Run jobrun with args (no argv[0]) and the inputs set in t (stdin,
 * signal, uid...), and check it left nothing behind. */
static proc jobrun_with(proc t, const char *const *args)
{
    const char *argv[128];
    int n = 0;
    argv[n++] = JR_CLI_PATH;
    while (*args) {
        cr_assert(n < 126);
        argv[n++] = *args++;
    }
    argv[n] = NULL;
    t.argv = argv;
    jr_test_proc_run(&t);
    t.argv = NULL;
    if (!(t.signalled && t.sig == SIGKILL))
        assert_left_nothing(&t); /* else killed by our watchdog */
    return t;
}

static proc jobrun_ex(const char *in, size_t in_len, const char *const *args,
                      int sig, unsigned sig_ms, int sig_group, uid_t uid,
                      const char *in_path)
{
    proc t = {.in = in, .in_len = in_len, .sig = sig, .sig_ms = sig_ms,
              .sig_group = sig_group, .uid = uid, .in_path = in_path};
    return jobrun_with(t, args);
}

static proc jobrun(const char *const *args)
{
    return jobrun_ex(NULL, 0, args, 0, 0, 0, 0, NULL);
}

static proc jobrun_in(const char *in, size_t len, const char *const *args)
{
    return jobrun_ex(in, len, args, 0, 0, 0, 0, NULL);
}

/* Any other program (the references), PATH searched. */
static proc program(const char *in, size_t in_len, const char *const *argv)
{
    proc p = {.argv = argv, .in = in, .in_len = in_len};
    jr_test_proc_run(&p);
    p.argv = NULL;
    return p;
}

/* Fail with the first line where got and want differ. */
static void same_bytes(const char *what, const char *got, size_t glen,
                       const char *want, size_t wlen)
{
    if (glen == wlen && memcmp(got, want, glen) == 0)
        return;
    size_t i = 0, line = 1, bol = 0;
    while (i < glen && i < wlen && got[i] == want[i]) {
        if (got[i] == '\n') {
            line++;
            bol = i + 1;
        }
        i++;
    }
    const char *ge = memchr(got + bol, '\n', glen - bol);
    const char *we = memchr(want + bol, '\n', wlen - bol);
    int gl = (int)((ge ? (size_t)(ge - got) : glen) - bol);
    int wl = (int)((we ? (size_t)(we - want) : wlen) - bol);
    cr_assert_fail("%s: differs at byte %zu, line %zu (got %zu bytes, "
                   "want %zu):\n  got:  '%.*s'\n  want: '%.*s'",
                   what, i, line, glen, wlen, gl > 200 ? 200 : gl,
                   got + bol, wl > 200 ? 200 : wl, want + bol);
}

static void same_str(const char *what, const char *got, size_t glen,
                     const char *want)
{
    same_bytes(what, got, glen, want, strlen(want));
}

/* Exact exit status, stdout and stderr (NULL: not checked). */
static void expect(const proc *p, int code, const char *out, const char *err)
{
    cr_assert_eq(p->code, code, "exit status %d, want %d; stderr:\n%s",
                 p->code, code, p->err);
    if (out)
        same_bytes("stdout", p->out, p->out_len, out, strlen(out));
    if (err)
        same_bytes("stderr", p->err, p->err_len, err, strlen(err));
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

static void write_str(const char *path, const char *s)
{
    write_file(path, s, strlen(s));
}

static char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *s = jr_test_slurp_file(f, len);
    fclose(f);
    return s;
}

static void mkdirs(const char *path)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    cr_assert(mkdir(buf, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", buf,
              strerror(errno));
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Files in the cwd whose name starts with prefix. */
static int files_starting(const char *prefix)
{
    DIR *d = opendir(".");
    cr_assert(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

/* Sort the lines of s in place (for diagnostics whose order between
 * different paths is not specified). */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *sorted_lines(const char *s)
{
    size_t n = strlen(s), k = 0;
    char *copy = strdup(s), *out = calloc(n + 1, 1);
    char **v = calloc(n + 1, sizeof *v);
    for (char *tok = strtok(copy, "\n"); tok; tok = strtok(NULL, "\n"))
        v[k++] = tok;
    qsort(v, k, sizeof *v, cmp_str);
    for (size_t i = 0; i < k; i++) {
        strcat(out, v[i]);
        strcat(out, "\n");
    }
    free(v);
    free(copy);
    return out;
}

static int have_python(void)
{
    return JR_PYTHON[0] == '/' && access(JR_PYTHON, X_OK) == 0;
}

/* tests/ref/wordcount_ref.py's output for args (its own options and
 * paths), stdin `in`. */
static char *ref_wordcount(const char *in, size_t in_len,
                           const char *const *args, size_t *len)
{
    if (!have_python())
        jr_test_skip("no Python interpreter (JR_PYTHON '%s')", JR_PYTHON);
    const char *argv[64];
    int n = 0;
    argv[n++] = JR_PYTHON;
    argv[n++] = JR_SOURCE_DIR "/tests/ref/wordcount_ref.py";
    while (*args)
        argv[n++] = *args++;
    argv[n] = NULL;
    proc p = program(in, in_len, argv);
    cr_assert_eq(p.code, 0, "wordcount_ref.py failed (%d):\n%s", p.code,
                 p.err);
    free(p.err);
    *len = p.out_len;
    return p.out;
}

static int is_ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
}

/* The whitespace-separated tokens of s, one a line. */
static char *tokens_lines(const char *s, size_t len)
{
    char *out = malloc(2 * len + 2), *o = out;
    size_t i = 0;
    while (i < len) {
        while (i < len && is_ascii_space(s[i]))
            i++;
        if (i >= len)
            break;
        while (i < len && !is_ascii_space(s[i]))
            *o++ = s[i++];
        *o++ = '\n';
    }
    *o = '\0';
    return out;
}

static char *coreutils_run(const char *lines, size_t *len)
{
    proc p = program(lines, strlen(lines), ARGS("factor"));
    if (p.code == 127)
        jr_test_skip("coreutils factor is not installed");
    free(p.err);
    *len = p.out_len;
    return p.out;
}

/* coreutils factor's stdout for the numbers in text (tokens separated by
 * any ASCII whitespace; coreutils itself splits only on space, tab and
 * newline, so they go to it one a line).  coreutils 9.1 prints numbers
 * of 2^64 and more (GMP) ahead of its own buffered lines when stdout is
 * not a terminal, so each of those gets a run of its own. */
static char *coreutils_factor(const char *text, size_t len, size_t *out_len)
{
    char *lines = tokens_lines(text, len);
    size_t cap = 4096, n = 0;
    char *out = malloc(cap);
    char *batch = malloc(strlen(lines) + 1);
    size_t blen = 0;
    for (char *l = lines; *l;) {
        char *nl = strchr(l, '\n');
        const char *d = l;
        while (*d == '+' || *d == '0')
            d++;
        int big = nl - d > 19;
        if (big || !nl[1]) {
            if (!big) {
                memcpy(batch + blen, l, (size_t)(nl + 1 - l));
                blen += (size_t)(nl + 1 - l);
            }
            for (int pass = 0; pass < 2; pass++) {
                if (pass == 0 && blen == 0)
                    continue;
                if (pass == 1 && !big)
                    break;
                if (pass == 1) {
                    memcpy(batch, l, (size_t)(nl + 1 - l));
                    blen = (size_t)(nl + 1 - l);
                }
                batch[blen] = '\0';
                size_t k;
                char *o = coreutils_run(batch, &k);
                while (n + k + 1 > cap)
                    cap *= 2;
                out = realloc(out, cap);
                memcpy(out + n, o, k);
                n += k;
                free(o);
                blen = 0;
            }
        } else {
            memcpy(batch + blen, l, (size_t)(nl + 1 - l));
            blen += (size_t)(nl + 1 - l);
        }
        l = nl + 1;
    }
    out[n] = '\0';
    free(batch);
    free(lines);
    *out_len = n;
    return out;
}

/* A text of many scripts, with marks, invalid UTF-8, digits, underscores
 * and apostrophes; about 12 KB, one huge word, ending inside a sequence. */
static char *multilingual(size_t *len)
{
    static const char *const lines[] = {
        "Le français, généralement, a été où déjà — L'homme ÉTÉ Été cœur "
        "Œuvre naïve garçon À côté.\n",
        "Процесс процесс ПРОЦЕСС поток Москва ёлка Ёж слово, «процесс».\n",
        "ΟΔΥΣΣΕΥΣ Σίσυφος σοφος σοφοσ ΣΟΦΟΣ λόγος ἄνθρωπος ΆΈΉΊΌΎΏ ς Σ.\n",
        "線程與进程：中文漢字，汉字。資料 数据\xe3\x80\x80線程\n",
        /* combining marks: e + U+0301, a lone U+0301, A + U+0308,
         * a + U+20DD, U+0327 */
        "e\xcc\x81te\xcc\x81 \xcc\x81 A\xcc\x88 a\xe2\x83\x9d "
        "combining\xcc\xa7marks\n",
        "don't it's don’t l'homme 3.14 2024 x86_64 thread_task foo_bar "
        "__init__ _ a‿b 007 ٣٤ १२ ½ x² Ⅰ\n",
        /* invalid: 0xFF, truncated, overlong, surrogate, above U+10FFFF,
         * stray continuation bytes, 0xFE */
        "bad\xffword trunc\xc3 x\xe2\x82 over\xc0\xaf" "fong sur\xed\xa0\x80"
        "rogate big\xf4\x90\x80\x80z \x80\xbf stray\xfe tail\n",
        "İstanbul İ STRAẞE ẞ Ⱥx 𐐀𐐁 Ä\n",
        "\xc2\xa0nbsp\xe3\x80\x80ideo\xf0\x9f\x98\x80grin\r\nCRLF end\n",
    };
    size_t n = sizeof lines / sizeof *lines;
    size_t cap = 64 * 1024, o = 0;
    char *buf = malloc(cap);
    for (int round = 0; round < 18; round++) {
        for (size_t i = 0; i < n; i++) {
            size_t l = strlen(lines[(i + (size_t)round) % n]);
            memcpy(buf + o, lines[(i + (size_t)round) % n], l);
            o += l;
        }
        o += (size_t)sprintf(buf + o, "w%d n%d ", round % 5, round);
    }
    /* One word of 2000 mixed letters, then a sequence cut at the end. */
    static const char *const parts[] = {"a", "B", "é", "Ж", "σ", "線",
                                        "\xcc\x81", "_", "7"};
    for (int i = 0; i < 2000; i++) {
        const char *s = parts[(i * 7 + i / 3) % 9];
        memcpy(buf + o, s, strlen(s));
        o += strlen(s);
    }
    memcpy(buf + o, " end \xe2\x82", 7);
    o += 7;
    cr_assert(o < cap);
    *len = o;
    return buf;
}

/* Numbers laid out every odd way, all valid. */
static char *odd_layout(size_t *len)
{
    char *buf = malloc(8192), *o = buf;
    o += sprintf(o, "007\n+5 12\t\t13\n\n\n  18 19 20\r\n0 1\r\n\t\t\n");
    for (int i = 2; i <= 120; i++)
        o += sprintf(o, "%d%s", i, i % 40 ? " " : "\n");
    o += sprintf(o, "\n000\n+0000000000000000000000000000000000012\n"
                    "18446744073709551615 18446744073709551616\n"
                    "170141183460469231731687303715884105727\r\n"
                    "340282366920938463463374607431768211455\n"
                    "4611686014132420609 1000000007000000063\n"
                    "   \v\f 97\v98\f99");
    *len = (size_t)(o - buf);
    return buf;
}

/*-************************************
 *  wordcount: inputs
 **************************************/
Test(cli, directories_are_walked_recursively_with_hidden_files)
{
    mkdirs("d/sub/deeper");
    mkdirs("d/.hdir");
    write_str("d/a.txt", "alpha beta");
    write_str("d/.hidden", "gamma");
    write_str("d/.hdir/x", "delta alpha");
    write_str("d/sub/deeper/y.txt", "alpha epsilon");
    write_str("d/sub/empty", "");
    proc p = jobrun(ARGS("wordcount", "d"));
    expect(&p, 0,
           "3\talpha\n1\tbeta\n1\tdelta\n1\tepsilon\n1\tgamma\n", "");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, a_symlink_named_on_the_command_line_is_followed)
{
    mkdirs("realdir/sub");
    write_str("real.txt", "one two");
    write_str("realdir/sub/f", "two three");
    cr_assert_eq(symlink("real.txt", "flink"), 0);
    cr_assert_eq(symlink("realdir", "dlink"), 0);
    proc p = jobrun(ARGS("wordcount", "flink", "dlink"));
    expect(&p, 0, "2\ttwo\n1\tone\n1\tthree\n", "");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, a_symlink_inside_a_directory_is_skipped_without_follow)
{
    mkdirs("d");
    mkdirs("odir");
    write_str("d/a.txt", "alpha");
    write_str("other.txt", "other");
    write_str("odir/b.txt", "beta");
    cr_assert_eq(symlink("../other.txt", "d/flink"), 0);
    cr_assert_eq(symlink("../odir", "d/dlink"), 0);
    cr_assert_eq(symlink("nowhere", "d/dangling"), 0);
    proc p = jobrun(ARGS("wordcount", "d"));
    expect(&p, 0, "1\talpha\n", "");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, follow_follows_symlinks_inside_a_directory)
{
    mkdirs("d");
    mkdirs("odir/deep");
    write_str("d/a.txt", "alpha");
    write_str("other.txt", "other");
    write_str("odir/deep/b.txt", "beta");
    cr_assert_eq(symlink("../other.txt", "d/flink"), 0);
    cr_assert_eq(symlink("../odir", "d/dlink"), 0);
    proc p = jobrun(ARGS("wordcount", "--follow", "d"));
    expect(&p, 0, "1\talpha\n1\tbeta\n1\tother\n", "");
    jr_test_proc_free(&p);
    p = jobrun(ARGS("wordcount", "-L", "d"));
    expect(&p, 0, "1\talpha\n1\tbeta\n1\tother\n", "");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, follow_with_a_symlink_loop_terminates_and_counts_each_file_once,
     .timeout = T(20))
{
    mkdirs("d/sub");
    write_str("d/a.txt", "aaa");
    write_str("d/sub/b.txt", "bbb");
    cr_assert_eq(symlink("..", "d/sub/up"), 0);      /* to its parent */
    cr_assert_eq(symlink("../sub", "d/sub/loop"), 0); /* to itself */
    cr_assert_eq(symlink(".", "d/self"), 0);
    proc p = jobrun(ARGS("wordcount", "--follow", "d"));
    expect(&p, 0, "1\taaa\n1\tbbb\n", "");
    jr_test_proc_free(&p);
    /* Entered from below: the parent is reached through the link. */
    p = jobrun(ARGS("wordcount", "--follow", "d/sub"));
    expect(&p, 0, "1\taaa\n1\tbbb\n", "");
    jr_test_proc_free(&p);
    /* Without --follow the links are not entered at all. */
    p = jobrun(ARGS("wordcount", "d/sub"));
    expect(&p, 0, "1\tbbb\n", "");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

/* Directories seen are kept in a set that grows (from 64): 300 of them,
 * each with links to its parent and to the next, are each entered once. */
Test(cli, follow_enters_each_of_many_linked_directories_once, .timeout = T(30))
{
    char path[64], target[64];
    mkdirs("d");
    for (int k = 0; k < 300; k++) {
        snprintf(path, sizeof path, "d/%d", k);
        mkdirs(path);
        snprintf(path, sizeof path, "d/%d/f.txt", k);
        write_str(path, "x");
        snprintf(path, sizeof path, "d/%d/up", k);
        cr_assert_eq(symlink("..", path), 0);
        snprintf(path, sizeof path, "d/%d/next", k);
        snprintf(target, sizeof target, "../%d", (k + 1) % 300);
        cr_assert_eq(symlink(target, path), 0);
    }
    proc p = jobrun(ARGS("wordcount", "--follow", "d"));
    expect(&p, 0, "300\tx\n", "");
    jr_test_proc_free(&p);
    p = jobrun(ARGS("wordcount", "--follow", "d/7"));
    expect(&p, 0, "300\tx\n", "");
    jr_test_proc_free(&p);
    /* A directory named twice, or inside another named: entered once. */
    p = jobrun(ARGS("wordcount", "d", "d/5", "d"));
    expect(&p, 0, "300\tx\n", "");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, follow_reports_a_dangling_link_inside_a_directory)
{
    mkdirs("d");
    write_str("d/a.txt", "alpha");
    cr_assert_eq(symlink("nowhere", "d/dangling"), 0);
    proc p = jobrun(ARGS("wordcount", "--follow", "d"));
    expect(&p, 1, "1\talpha\n",
           "jobrun: wordcount: d/dangling: No such file or directory\n");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, a_fifo_inside_a_directory_is_skipped_with_a_warning, .timeout = T(20))
{
    mkdirs("d");
    write_str("d/a.txt", "alpha alpha");
    cr_assert_eq(mkfifo("d/ff", 0600), 0);
    /* Nobody ever writes: opening it would hang until the timeout. */
    proc p = jobrun(ARGS("wordcount", "d"));
    expect(&p, 0, "2\talpha\n",
           "jobrun: wordcount: warning: d/ff: skipped: a FIFO\n");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, sockets_and_devices_inside_a_directory_are_skipped_with_a_warning,
     .timeout = T(20))
{
    mkdirs("d");
    write_str("d/a.txt", "alpha");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert(s >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, "d/sock");
    cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    /* A device, met through a link with --follow. */
    cr_assert_eq(symlink("/dev/zero", "d/zero"), 0);
    proc p = jobrun(ARGS("wordcount", "--follow", "d"));
    close(s);
    cr_assert_eq(p.code, 0, "stderr:\n%s", p.err);
    same_str("stdout", p.out, p.out_len, "1\talpha\n");
    char *got = sorted_lines(p.err);
    const char *want =
        "jobrun: wordcount: warning: d/sock: skipped: a socket\n"
        "jobrun: wordcount: warning: d/zero: skipped: a device\n";
    same_bytes("stderr", got, strlen(got), want, strlen(want));
    free(got);
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

/* A child that writes pieces into a FIFO, pausing between them. */
static pid_t fifo_writer(const char *path, const char *const *pieces)
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        alarm(20);
        int fd = open(path, O_WRONLY);
        if (fd < 0)
            _exit(1);
        for (; *pieces; pieces++) {
            size_t n = strlen(*pieces);
            if (write(fd, *pieces, n) != (ssize_t)n)
                _exit(2);
            usleep(30000);
        }
        close(fd);
        _exit(0);
    }
    return pid;
}

Test(cli, a_fifo_named_on_the_command_line_is_read_as_a_stream,
     .timeout = T(30))
{
    write_str("file.txt", "world");
    cr_assert_eq(mkfifo("pipe", 0600), 0);
    const char *const pieces[] = {"hel", "lo fifo\nhello wor", "ld\n", NULL};
    const char *const *runs[] = {
        ARGS("wordcount", "pipe", "file.txt"),
        ARGS("-j", "3", "--chunk-size", "1", "wordcount", "file.txt", "pipe"),
        ARGS("-j", "1", "--chunk-size", "2", "wordcount", "pipe"),
    };
    const char *const want[] = {
        "2\thello\n2\tworld\n1\tfifo\n",
        "2\thello\n2\tworld\n1\tfifo\n",
        "2\thello\n1\tfifo\n1\tworld\n",
    };
    for (int i = 0; i < 3; i++) {
        pid_t w = fifo_writer("pipe", pieces);
        proc p = jobrun(runs[i]);
        int st;
        cr_assert_eq(waitpid(w, &st, 0), w);
        expect(&p, 0, want[i], "");
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "the FIFO writer failed (status %#x)", st);
        jr_test_proc_free(&p);
    }
    jr_test_assert_clean();
}

Test(cli, a_dash_reads_standard_input)
{
    write_str("file.txt", "y z");
    const char *in = "x y x\nX\n";
    proc p = jobrun_in(in, strlen(in), ARGS("wordcount", "-"));
    expect(&p, 0, "3\tx\n1\ty\n", "");
    jr_test_proc_free(&p);
    p = jobrun_in(in, strlen(in), ARGS("wordcount", "file.txt", "-"));
    expect(&p, 0, "3\tx\n2\ty\n1\tz\n", "");
    jr_test_proc_free(&p);
    /* A device named on the command line is a stream too. */
    p = jobrun(ARGS("wordcount", "/dev/null", "file.txt"));
    expect(&p, 0, "1\ty\n1\tz\n", "");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

/* The contents of the regular files directly in dir, each followed by a
 * newline, or NULL when dir cannot be listed or holds no such file. */
static char *files_of_dir(const char *dir, size_t *len)
{
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char *text = NULL;
    *len = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[512];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        size_t n;
        char *f = read_whole(path, &n);
        cr_assert(f, "%s: %s", path, strerror(errno));
        text = realloc(text, *len + n + 1);
        cr_assert(text);
        memcpy(text + *len, f, n);
        text[*len + n] = '\n';
        *len += n + 1;
        free(f);
    }
    closedir(d);
    return text;
}

/* procfs files say they hold 0 bytes and sysfs ones a page, whatever they
 * hold: jobrun used to count nothing of the first (exit 0) and call the
 * second shrunk (exit 1).  They count as their contents read to the end,
 * which the test reads itself and gives jobrun on stdin. */
Test(cli, files_whose_size_says_nothing_are_read_to_their_end, .timeout = T(30))
{
    const char *const files[] = {"/proc/sys/kernel/ostype", "/proc/version",
                                 "/sys/devices/system/cpu/online"};
    int tried = 0;
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        size_t n;
        char *text = read_whole(files[i], &n);
        if (!text)
            continue;
        tried++;
        /* Twice, a newline between: named twice, the file counts twice. */
        char *twice = malloc(2 * n + 1);
        cr_assert(twice);
        memcpy(twice, text, n);
        twice[n] = '\n';
        memcpy(twice + n + 1, text, n);
        proc want = jobrun_in(text, n, ARGS("wordcount", "-"));
        proc want2 = jobrun_in(twice, 2 * n + 1, ARGS("wordcount", "-"));
        cr_assert_eq(want.code, 0, "%s on stdin: %s", files[i], want.err);
        cr_assert_gt(want.out_len, 0, "%s holds no word", files[i]);
        proc p = jobrun(ARGS("wordcount", files[i]));
        expect(&p, 0, want.out, "");
        jr_test_proc_free(&p);
        p = jobrun(ARGS("-j", "3", "--chunk-size", "1", "wordcount", files[i],
                        files[i]));
        expect(&p, 0, want2.out, "");
        jr_test_proc_free(&p);
        jr_test_proc_free(&want);
        jr_test_proc_free(&want2);
        free(twice);
        free(text);
    }
    cr_assert_gt(tried, 0, "none of the pseudo files could be read");

    /* A directory on sysfs: its files are streams too. */
    const char *dir = "/sys/devices/system/cpu/cpu0/topology";
    size_t n;
    char *text = files_of_dir(dir, &n);
    if (text) {
        proc want = jobrun_in(text, n, ARGS("wordcount", "-"));
        proc p = jobrun(ARGS("-j", "2", "wordcount", dir));
        expect(&p, 0, want.out, "");
        jr_test_proc_free(&p);
        jr_test_proc_free(&want);
        free(text);
    }

    /* factor reads them the same way. */
    text = read_whole("/proc/sys/kernel/pid_max", &n);
    if (text) {
        size_t wlen;
        char *want = coreutils_run(text, &wlen);
        proc p = jobrun(ARGS("factor", "/proc/sys/kernel/pid_max"));
        same_bytes("factor of pid_max", p.out, p.out_len, want, wlen);
        cr_assert_eq(p.code, 0);
        jr_test_proc_free(&p);
        free(want);
        free(text);
    }
    jr_test_assert_clean();
}

/* /dev/fd/5 names the master's descriptor 5: workers, which open a
 * file's path themselves, have no such descriptor (they used to fail
 * with "No such device or address", exit 1).  The master reads it. */
Test(cli, a_file_named_through_a_descriptor_is_read_by_the_master,
     .timeout = T(30))
{
    write_str("in.txt", "b a b\n");
    const char *const argv[] = {
        "/bin/sh", "-c",
        "exec \"$0\" -j 2 wordcount /dev/fd/5 /proc/self/fd/5 5<in.txt",
        JR_CLI_PATH, NULL};
    proc p = program(NULL, 0, argv);
    expect(&p, 0, "4\tb\n2\ta\n", "");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

/* Files of 0 bytes are read as streams too (an unknown filesystem may
 * report 0 for a file that holds something), each opened only when its
 * turn comes: a directory of more of them than the fd limit allows open
 * at once is counted whole. */
Test(cli, many_empty_files_are_counted_with_few_fds, .timeout = T(30))
{
    mkdirs("empties");
    for (int i = 0; i < 300; i++) {
        char name[64];
        snprintf(name, sizeof name, "empties/e%03d", i);
        write_str(name, "");
    }
    write_str("empties/words", "b a b");
    struct rlimit old, low;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = 256; /* jobrun's own pool needs a few dozen */
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    proc p = jobrun(ARGS("-j", "2", "wordcount", "empties"));
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    expect(&p, 0, "2\tb\n1\ta\n", "");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, standard_input_in_tiny_chunks_matches_the_reference, .timeout = T(60))
{
    size_t len, rlen;
    char *text = multilingual(&len);
    char *ref = ref_wordcount(text, len, ARGS("-"), &rlen);
    static const char *const ws[] = {"1", "3"};
    static const char *const cs[] = {"1", "7", "4M"};
    for (int w = 0; w < 2; w++)
        for (int c = 0; c < 3; c++) {
            proc p = jobrun_in(text, len,
                               ARGS("-j", ws[w], "--chunk-size", cs[c],
                                    "wordcount", "-"));
            cr_assert_eq(p.code, 0, "-j %s --chunk-size %s: %d\n%s", ws[w],
                         cs[c], p.code, p.err);
            same_bytes(cs[c], p.out, p.out_len, ref, rlen);
            jr_test_proc_free(&p);
        }
    free(ref);
    free(text);
    jr_test_assert_clean();
}

Test(cli, a_missing_path_is_reported_and_the_rest_is_counted)
{
    write_str("a.txt", "alpha beta");
    write_str("b.txt", "beta");
    proc p = jobrun(ARGS("wordcount", "a.txt", "nonexistent", "b.txt"));
    expect(&p, 1, "2\tbeta\n1\talpha\n",
           "jobrun: wordcount: nonexistent: No such file or directory\n");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, a_dangling_symlink_named_on_the_command_line_is_reported)
{
    write_str("a.txt", "alpha");
    cr_assert_eq(symlink("nowhere", "dangling"), 0);
    proc p = jobrun(ARGS("wordcount", "dangling", "a.txt"));
    expect(&p, 1, "1\talpha\n",
           "jobrun: wordcount: dangling: No such file or directory\n");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, an_unreadable_file_or_directory_is_reported_and_the_rest_counted)
{
    uid_t uid = 0;
    if (geteuid() == 0) {
        /* root reads anything: run jobrun as nobody instead. */
        uid = 65534;
        cr_assert_eq(chmod(g_top, 0755), 0);
        cr_assert_eq(chmod(g_dir, 0777), 0);
        cr_assert_eq(chmod(g_run, 01777), 0);
    }
    mkdirs("d/locked");
    write_str("ok.txt", "fine words");
    write_str("secret.txt", "hidden");
    write_str("d/inner.txt", "fine");
    write_str("d/locked/x.txt", "hidden");
    cr_assert_eq(chmod("secret.txt", 0), 0);
    cr_assert_eq(chmod("d/locked", 0), 0);
    proc p = jobrun_ex(NULL, 0,
                       ARGS("wordcount", "-o", "out.tsv", "ok.txt",
                            "secret.txt", "d"),
                       0, 0, 0, uid, NULL);
    if (uid && (p.code == 125 || p.code == 127))
        jr_test_skip("cannot run %s as uid %u (%d)", JR_CLI_PATH, (unsigned)uid,
                     p.code);
    cr_assert_eq(p.code, 1, "exit %d; stderr:\n%s", p.code, p.err);
    cr_assert_eq(p.out_len, 0);
    char *got = sorted_lines(p.err);
    const char *want = "jobrun: wordcount: d/locked: Permission denied\n"
                       "jobrun: wordcount: secret.txt: Permission denied\n";
    same_bytes("stderr", got, strlen(got), want, strlen(want));
    free(got);
    /* Exit 1: the output covers the rest, and -o is written. */
    size_t n;
    char *out = read_whole("out.tsv", &n);
    cr_assert(out, "out.tsv was not written");
    same_str("out.tsv", out, n, "2\tfine\n1\twords\n");
    free(out);
    cr_assert_eq(files_starting("out.tsv.tmp"), 0);
    jr_test_proc_free(&p);
    chmod("d/locked", 0700);
    chmod("secret.txt", 0600);
    jr_test_assert_clean();
}

Test(cli, a_standard_input_that_fails_to_read_is_reported_and_the_rest_counted)
{
    /* A directory as standard input opens, and every read() of it fails
     * (EISDIR): a stream's read error, after the stream was taken. */
    write_str("ok.txt", "fine words fine");
    proc p =
        jobrun_ex(NULL, 0, ARGS("wordcount", "-", "ok.txt"), 0, 0, 0, 0, "/");
    expect(&p, 1, "2\tfine\n1\twords\n",
           "jobrun: wordcount: -: Is a directory\n");
    jr_test_proc_free(&p);
}

Test(cli, odd_file_names_are_escaped_in_warnings, .timeout = T(20))
{
    mkdirs("d");
    write_str("d/ok", "fine");
    cr_assert_eq(mkfifo("d/f\nx\x01", 0600), 0);
    cr_assert_eq(mkfifo("d/caf\xc3\xa9\xc2\x9b", 0600), 0);
    proc p = jobrun(ARGS("wordcount", "d"));
    cr_assert_eq(p.code, 0, "stderr:\n%s", p.err);
    same_str("stdout", p.out, p.out_len, "1\tfine\n");
    char *got = sorted_lines(p.err);
    const char *want =
        "jobrun: wordcount: warning: d/caf\xc3\xa9\\xc2\\x9b: skipped: "
        "a FIFO\n"
        "jobrun: wordcount: warning: d/f\\x0ax\\x01: skipped: a FIFO\n";
    same_bytes("stderr", got, strlen(got), want, strlen(want));
    free(got);
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, odd_missing_names_are_escaped_in_errors)
{
    write_str("ok", "fine");
    proc p = jobrun(ARGS("wordcount", "ok", "no\nsuch\\file\x1b[31m"));
    expect(&p, 1, "1\tfine\n",
           "jobrun: wordcount: no\\x0asuch\\x5cfile\\x1b[31m: No such file "
           "or directory\n");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

/*-************************************
 *  wordcount: output
 **************************************/
static const char ORDER_IN[] =
    "b a c b A B don't 3.14 thread_task \xc3\xa9 z\n";
static const char ORDER_TSV[] =
    "3\tb\n2\ta\n1\t14\n1\t3\n1\tc\n1\tdon\n1\tt\n1\tthread_task\n1\tz\n"
    "1\t\xc3\xa9\n";

Test(cli, tsv_output_is_sorted_by_count_then_by_bytes)
{
    write_str("in.txt", ORDER_IN);
    proc p = jobrun(ARGS("wordcount", "in.txt"));
    expect(&p, 0, ORDER_TSV, "");
    jr_test_proc_free(&p);
    p = jobrun(ARGS("wordcount", "--format", "tsv", "in.txt"));
    expect(&p, 0, ORDER_TSV, "");
    jr_test_proc_free(&p);
    /* Simple lowercase, no final-sigma context. */
    write_str("greek.txt", "ΟΔΥΣΣΕΥΣ σοφος ΣΟΦΟΣ σοφοσ Σίσυφος");
    p = jobrun(ARGS("wordcount", "greek.txt"));
    expect(&p, 0, "2\tσοφοσ\n1\tοδυσσευσ\n1\tσίσυφος\n1\tσοφος\n", "");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, top_keeps_the_first_lines_of_that_order)
{
    write_str("in.txt", ORDER_IN);
    proc p = jobrun(ARGS("wordcount", "--top", "3", "in.txt"));
    expect(&p, 0, "3\tb\n2\ta\n1\t14\n", "");
    jr_test_proc_free(&p);
    p = jobrun(ARGS("wordcount", "-n", "1", "in.txt"));
    expect(&p, 0, "3\tb\n", "");
    jr_test_proc_free(&p);
    p = jobrun(ARGS("wordcount", "--top", "1000", "in.txt"));
    expect(&p, 0, ORDER_TSV, "");
    jr_test_proc_free(&p);
    /* More than 64 bits of lines: all of them, as head -n would. */
    p = jobrun(ARGS("wordcount", "--top", "99999999999999999999999", "in.txt"));
    expect(&p, 0, ORDER_TSV, "");
    jr_test_proc_free(&p);
    p = jobrun(ARGS("wordcount", "--top", "2", "--format", "json",
                    "in.txt"));
    expect(&p, 0, "[{\"word\":\"b\",\"count\":3},{\"word\":\"a\",\"count\":2}]"
                  "\n", "");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, json_output_is_exact)
{
    write_str("in.txt", ORDER_IN);
    proc p = jobrun(ARGS("wordcount", "--format", "json", "in.txt"));
    expect(&p, 0,
           "[{\"word\":\"b\",\"count\":3},{\"word\":\"a\",\"count\":2},"
           "{\"word\":\"14\",\"count\":1},{\"word\":\"3\",\"count\":1},"
           "{\"word\":\"c\",\"count\":1},{\"word\":\"don\",\"count\":1},"
           "{\"word\":\"t\",\"count\":1},"
           "{\"word\":\"thread_task\",\"count\":1},"
           "{\"word\":\"z\",\"count\":1},"
           "{\"word\":\"\xc3\xa9\",\"count\":1}]\n",
           "");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, json_output_matches_the_reference_on_a_multilingual_text)
{
    size_t len, rlen;
    char *text = multilingual(&len);
    write_file("ml.txt", text, len);
    char *ref = ref_wordcount(NULL, 0, ARGS("--format", "json", "ml.txt"),
                              &rlen);
    proc p = jobrun(ARGS("-j", "2", "--chunk-size", "64", "wordcount",
                         "--format", "json", "ml.txt"));
    cr_assert_eq(p.code, 0, "%s", p.err);
    same_bytes("json", p.out, p.out_len, ref, rlen);
    jr_test_proc_free(&p);
    free(ref);
    free(text);
    jr_test_assert_clean();
}

Test(cli, empty_input_gives_empty_output)
{
    mkdirs("emptydir/sub");
    write_str("empty.txt", "");
    write_str("seps.txt", " \t\n,.;!?-- \xff\xfe\x80 \xe2\x82 «» — \r\n");
    const char *const *runs[] = {
        ARGS("wordcount", "empty.txt"),
        ARGS("wordcount", "emptydir"),
        ARGS("wordcount", "seps.txt", "empty.txt", "emptydir"),
        ARGS("wordcount", "-"),
        ARGS("-j", "3", "--chunk-size", "1", "wordcount", "seps.txt"),
    };
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
        proc p = jobrun(runs[i]);
        expect(&p, 0, "", "");
        jr_test_proc_free(&p);
    }
    proc p = jobrun(ARGS("wordcount", "--format", "json", "empty.txt"));
    expect(&p, 0, "[]\n", "");
    jr_test_proc_free(&p);
    p = jobrun(ARGS("wordcount", "--format", "json", "-o", "out.json",
                    "emptydir"));
    expect(&p, 0, "", "");
    size_t n;
    char *out = read_whole("out.json", &n);
    cr_assert(out, "out.json was not written");
    same_str("out.json", out, n, "[]\n");
    free(out);
    jr_test_proc_free(&p);
    p = jobrun(ARGS("wordcount", "-o", "out.tsv", "empty.txt"));
    expect(&p, 0, "", "");
    cr_assert(exists("out.tsv"), "an empty result still writes -o FILE");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, output_file_is_written_whole_instead_of_stdout)
{
    write_str("in.txt", ORDER_IN);
    write_str("out.tsv", "old content that must go away\n");
    proc p = jobrun(ARGS("wordcount", "-o", "out.tsv", "in.txt"));
    expect(&p, 0, "", "");
    size_t n;
    char *out = read_whole("out.tsv", &n);
    cr_assert(out);
    same_bytes("out.tsv", out, n, ORDER_TSV, strlen(ORDER_TSV));
    free(out);
    jr_test_proc_free(&p);
    p = jobrun(ARGS("wordcount", "--output", "out.json", "--format", "json",
                    "--top", "1", "in.txt"));
    expect(&p, 0, "", "");
    out = read_whole("out.json", &n);
    cr_assert(out);
    same_str("out.json", out, n, "[{\"word\":\"b\",\"count\":3}]\n");
    free(out);
    jr_test_proc_free(&p);
    /* "-o -" is stdout. */
    p = jobrun(ARGS("wordcount", "-o", "-", "in.txt"));
    expect(&p, 0, ORDER_TSV, "");
    jr_test_proc_free(&p);
    cr_assert_eq(files_starting("out.tsv.tmp"), 0);
    cr_assert_eq(files_starting("out.json.tmp"), 0);
    jr_test_assert_clean();
}

static void expect_file(const char *path, const char *want)
{
    size_t n;
    char *got = read_whole(path, &n);
    cr_assert(got, "%s: %s", path, strerror(errno));
    same_str(path, got, n, want);
    free(got);
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    cr_assert_eq(lstat(path, &st), 0, "%s: %s", path, strerror(errno));
    return st.st_mode;
}

/* -o replaced its target by renaming a temporary file over it: -o
 * /dev/null made /dev/null a regular file (as root), -o on a link replaced
 * the link, and every output file was left 0600, mkstemp's mode. */
Test(cli, output_through_a_fifo_or_links_keeps_them_and_modes_are_usual,
     .timeout = T(30))
{
    write_str("in.txt", ORDER_IN);

    /* A FIFO (a device is the same case) is written in place. */
    cr_assert_eq(mkfifo("fifo", 0600), 0);
    pid_t reader = fork();
    cr_assert_geq(reader, 0);
    if (reader == 0) {
        int in = open("fifo", O_RDONLY), out = creat("fifo.out", 0600);
        char buf[4096];
        ssize_t n;
        while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n)
                _exit(2);
        _exit(in >= 0 && out >= 0 ? 0 : 1);
    }
    proc p = jobrun(ARGS("wordcount", "-o", "fifo", "in.txt"));
    int fifo = S_ISFIFO(mode_of("fifo")), st;
    if (!fifo) /* the reader waits for a writer that will not come */
        kill(reader, SIGKILL);
    cr_assert_eq(waitpid(reader, &st, 0), reader);
    cr_assert(fifo, "the FIFO was replaced");
    expect(&p, 0, "", "");
    jr_test_proc_free(&p);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "reader: %#x", st);
    expect_file("fifo.out", ORDER_TSV);

    /* A link to a link to a file: the file is replaced, its mode kept. */
    write_str("real", "old\n");
    cr_assert_eq(chmod("real", 0640), 0);
    cr_assert_eq(symlink("real", "link"), 0);
    cr_assert_eq(symlink("link", "link2"), 0);
    p = jobrun(ARGS("wordcount", "-o", "link2", "in.txt"));
    expect(&p, 0, "", "");
    jr_test_proc_free(&p);
    cr_assert(S_ISLNK(mode_of("link2")) && S_ISLNK(mode_of("link")),
              "a link was replaced");
    expect_file("real", ORDER_TSV);
    cr_assert_eq(mode_of("real") & 07777, 0640, "mode %o",
                 mode_of("real") & 07777);

    /* A dangling relative link: the file it names is made. */
    mkdirs("sub");
    cr_assert_eq(symlink("newfile", "sub/dangling"), 0);
    p = jobrun(ARGS("wordcount", "-o", "sub/dangling", "in.txt"));
    expect(&p, 0, "", "");
    jr_test_proc_free(&p);
    cr_assert(S_ISLNK(mode_of("sub/dangling")));
    expect_file("sub/newfile", ORDER_TSV);

    /* A new file gets 0666 less the umask, as from open(2). */
    mode_t old = umask(027);
    p = jobrun(ARGS("wordcount", "-o", "new.tsv", "in.txt"));
    umask(old);
    expect(&p, 0, "", "");
    jr_test_proc_free(&p);
    cr_assert_eq(mode_of("new.tsv") & 07777, 0640, "mode %o",
                 mode_of("new.tsv") & 07777);

    /* A loop of links is an error, and leaves nothing. */
    cr_assert_eq(symlink("loop1", "loop2"), 0);
    cr_assert_eq(symlink("loop2", "loop1"), 0);
    p = jobrun(ARGS("wordcount", "-o", "loop1", "in.txt"));
    expect(&p, 3, "",
           "jobrun: wordcount: loop1: Too many levels of symbolic "
           "links\n");
    jr_test_proc_free(&p);
    cr_assert_eq(files_starting("loop"), 2);
    cr_assert_eq(files_starting("real.tmp"), 0);
    jr_test_assert_clean();
}

Test(cli, output_into_a_missing_directory_fails_and_creates_nothing)
{
    write_str("in.txt", "alpha");
    proc p = jobrun(ARGS("wordcount", "-o", "nodir/out.tsv", "in.txt"));
    expect(&p, 3, "",
           "jobrun: wordcount: nodir/out.tsv: No such file or directory\n");
    cr_assert(!exists("nodir"));
    jr_test_proc_free(&p);
    /* Onto an existing directory: refused, and nothing left beside it. */
    mkdirs("odir");
    p = jobrun(ARGS("wordcount", "-o", "odir", "in.txt"));
    expect(&p, 3, "", "jobrun: wordcount: odir: Is a directory\n");
    cr_assert_eq(files_starting("odir"), 1);
    cr_assert_eq(entries_in("odir"), 0);
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

/* The output is opened before the input is read: a wrong -o fails at
 * once, before a long job's work, and alone on stderr. */
Test(cli, an_output_that_cannot_be_written_fails_before_the_input_is_read)
{
    write_str("in.txt", "alpha");
    proc p = jobrun(
        ARGS("wordcount", "-o", "nodir/out.tsv", "in.txt", "missing.txt"));
    expect(&p, 3, "",
           "jobrun: wordcount: nodir/out.tsv: No such file or directory\n");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, output_file_is_not_created_on_a_usage_error)
{
    write_str("in.txt", "alpha");
    proc p = jobrun(ARGS("wordcount", "-o", "out.tsv", "--top", "abc",
                         "in.txt"));
    cr_assert_eq(p.code, 2);
    cr_assert(!exists("out.tsv"));
    cr_assert_eq(files_starting("out.tsv"), 0);
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

/*-************************************
 *  wordcount: the same output for any W and chunk size
 **************************************/
/* jobrun wordcount over `paths` for every -j in ws and --chunk-size in cs
 * (NULL: the default) must print exactly ref. */
static void same_for_all(const char *const *paths, const char *ref,
                         size_t rlen, const char *const *ws, int nw,
                         const char *const *cs, int nc)
{
    for (int w = 0; w < nw; w++)
        for (int c = 0; c < nc; c++) {
            const char *argv[64];
            int n = 0;
            argv[n++] = "-j";
            argv[n++] = ws[w];
            if (cs[c]) {
                argv[n++] = "--chunk-size";
                argv[n++] = cs[c];
            }
            argv[n++] = "wordcount";
            for (const char *const *q = paths; *q; q++)
                argv[n++] = *q;
            argv[n] = NULL;
            proc p = jobrun(argv);
            cr_assert_eq(p.code, 0, "-j %s --chunk-size %s: exit %d\n%s",
                         ws[w], cs[c] ? cs[c] : "default", p.code, p.err);
            char what[64];
            snprintf(what, sizeof what, "-j %s --chunk-size %s", ws[w],
                     cs[c] ? cs[c] : "default");
            same_bytes(what, p.out, p.out_len, ref, rlen);
            jr_test_proc_free(&p);
        }
}

static const char *const W123[] = {"1", "2", "3"};

Test(cli, multilingual_output_is_identical_for_any_workers_and_chunk_size,
     .timeout = T(60))
{
    size_t len, rlen;
    char *text = multilingual(&len);
    mkdirs("corpus/.hidden");
    write_file("corpus/ml.txt", text, len);
    write_file("corpus/.hidden/ml2.txt", text, len / 3);
    write_str("corpus/small.txt", "Σίσυφος don't 3.14 thread_task");
    char *ref = ref_wordcount(NULL, 0, ARGS("corpus"), &rlen);
    cr_assert(rlen > 1000, "the reference counted almost nothing");
    static const char *const cs[] = {"1", "7", "64", NULL};
    same_for_all(ARGS("corpus"), ref, rlen, W123, 3, cs, 4);
    free(ref);
    free(text);
    jr_test_assert_clean();
}

static const char *seeds_dir(void)
{
    static const char *const dirs[] = {"/work/shared/seeds",
                                       JR_SOURCE_DIR "/../shared/seeds"};
    struct stat st;
    for (size_t i = 0; i < 2; i++)
        if (stat(dirs[i], &st) == 0 && S_ISDIR(st.st_mode))
            return dirs[i];
    return NULL;
}

Test(cli, seed_corpus_output_is_identical_for_any_workers_and_chunk_size,
     .timeout = T(120))
{
    const char *seeds = seeds_dir();
    if (!seeds)
        jr_test_skip("no shared/seeds directory");
    size_t rlen;
    char *ref = ref_wordcount(NULL, 0, ARGS(seeds), &rlen);
    static const char *const cs[] = {"7", "64", NULL};
    same_for_all(ARGS(seeds), ref, rlen, W123, 3, cs, 3);
    free(ref);
    /* Chunks of one byte, on the smaller seeds only (one task a byte). */
    DIR *d = opendir(seeds);
    cr_assert(d);
    struct dirent *e;
    int small = 0;
    while ((e = readdir(d)) != NULL && small < 2) {
        char path[1024];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", seeds, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
            st.st_size > 6000)
            continue;
        small++;
        ref = ref_wordcount(NULL, 0, ARGS(path), &rlen);
        static const char *const one[] = {"1"};
        static const char *const w13[] = {"1", "3"};
        same_for_all(ARGS(path), ref, rlen, w13, 2, one, 1);
        free(ref);
    }
    closedir(d);
    jr_test_assert_clean();
}

Test(cli, generated_corpora_match_the_reference_for_tiny_chunks,
     .timeout = T(120))
{
    if (!have_python())
        jr_test_skip("no Python interpreter");
    const char *gen = JR_SOURCE_DIR "/tests/ref/gen_corpus.py";
    if (access(gen, R_OK) != 0)
        jr_test_skip("no tests/ref/gen_corpus.py");
    static const char *const seeds[] = {"1", "2", "3"};
    static const char *const cs[] = {"1", "3", "13"};
    for (int s = 0; s < 3; s++) {
        char dir[32];
        snprintf(dir, sizeof dir, "corpus%s", seeds[s]);
        proc g = program(NULL, 0, ARGS(JR_PYTHON, gen, "--seed", seeds[s],
                                       "--size", "6000", "--huge", "3000",
                                       dir));
        cr_assert_eq(g.code, 0, "gen_corpus.py: %s", g.err);
        jr_test_proc_free(&g);
        size_t rlen;
        char *ref = ref_wordcount(NULL, 0, ARGS(dir), &rlen);
        same_for_all(ARGS(dir), ref, rlen, W123, 3, cs, 3);
        free(ref);
    }
    jr_test_assert_clean();
}

/* A result of tens of thousands of words is cut into parts that threads
 * merge and format at once (runner/cli_result.c); one worker writes it
 * whole.  Both must give the reference's bytes, TSV and JSON, to stdout
 * and to -o. */
/* Words longer than the 12 bytes a reducer's records hold of a key,
 * alike in those 12, in every task of both workers: the reducers must
 * combine them by all their bytes (a merge that took equal keys for
 * different ones printed each word twice). */
Test(cli, long_words_alike_in_their_first_12_bytes_combine_across_workers,
     .timeout = T(30))
{
    static const char *const w[] = {"internationalization",
                                    "internationalisation", "abcabcabcabcx",
                                    "abcabcabcabcy", "abcabcabcabcabcx"};
    enum { N = 5, WORDS = 200000 };
    size_t count[N] = {0}, len = 0, cap = (size_t)WORDS * 22;
    char *text = malloc(cap);
    cr_assert_not_null(text);
    uint32_t x = 12345;
    for (int i = 0; i < WORDS; i++) {
        x = x * 1103515245u + 12345u;
        unsigned k = (x >> 16) % N;
        count[k]++;
        len += (size_t)sprintf(text + len, "%s ", w[k]);
    }
    write_file("long.txt", text, len);
    free(text);
    /* The expected lines: count descending, then bytes. */
    int order[N] = {0, 1, 2, 3, 4};
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            if (count[order[j]] > count[order[i]] ||
                (count[order[j]] == count[order[i]] &&
                 strcmp(w[order[j]], w[order[i]]) < 0)) {
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    char want[512];
    size_t wl = 0;
    for (int i = 0; i < N; i++)
        wl += (size_t)snprintf(want + wl, sizeof want - wl, "%zu\t%s\n",
                               count[order[i]], w[order[i]]);
    proc p =
        jobrun(ARGS("-j", "2", "--chunk-size", "4k", "wordcount", "long.txt"));
    expect(&p, 0, want, "");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, a_large_vocabulary_written_in_parallel_parts_matches_the_reference,
     .timeout = T(180))
{
    if (!have_python())
        jr_test_skip("no Python interpreter");
    const char *gen = JR_SOURCE_DIR "/tests/ref/gen_corpus.py";
    proc g = program(NULL, 0,
                     ARGS(JR_PYTHON, gen, "--seed", "7", "--size", "3000000",
                          "--huge", "3000", "vocab"));
    cr_assert_eq(g.code, 0, "gen_corpus.py: %s", g.err);
    jr_test_proc_free(&g);
    size_t tlen, jlen;
    char *tsv = ref_wordcount(NULL, 0, ARGS("vocab"), &tlen);
    char *json =
        ref_wordcount(NULL, 0, ARGS("--format", "json", "vocab"), &jlen);
    size_t lines = 0;
    for (size_t i = 0; i < tlen; i++)
        lines += tsv[i] == '\n';
    cr_assert_gt(lines, 50000, "%zu words: too few to be cut in parts", lines);
    static const char *const ws[] = {"1", "2", "3", "5"};
    for (int w = 0; w < 4; w++) {
        char what[64];
        proc p = jobrun(ARGS("-j", ws[w], "wordcount", "vocab"));
        cr_assert_eq(p.code, 0, "-j %s: %s", ws[w], p.err);
        snprintf(what, sizeof what, "-j %s, tsv", ws[w]);
        same_bytes(what, p.out, p.out_len, tsv, tlen);
        jr_test_proc_free(&p);
        p = jobrun(ARGS("-j", ws[w], "wordcount", "--format", "json", "vocab"));
        cr_assert_eq(p.code, 0, "-j %s json: %s", ws[w], p.err);
        snprintf(what, sizeof what, "-j %s, json", ws[w]);
        same_bytes(what, p.out, p.out_len, json, jlen);
        jr_test_proc_free(&p);
    }
    proc p = jobrun(ARGS("-j", "3", "wordcount", "-o", "out.tsv", "vocab"));
    expect(&p, 0, "", "");
    jr_test_proc_free(&p);
    size_t olen = 0;
    char *out = jr_test_read_file("out.tsv", &olen);
    cr_assert_not_null(out);
    same_bytes("-j 3 -o out.tsv", out, olen, tsv, tlen);
    free(out);
    free(tsv);
    free(json);
    jr_test_assert_clean();
}

Test(cli, a_large_stream_counts_like_the_same_file, .timeout = T(60))
{
    /* Streams are cut by the master as they come: several MB through a
     * pipe must give what the file gives. */
    size_t len;
    char *text = multilingual(&len);
    size_t total = 0, cap = 6u << 20;
    char *big = malloc(cap + len);
    while (total < cap) {
        memcpy(big + total, text, len);
        total += len;
        total += (size_t)sprintf(big + total, " r%zu\n", total % 977);
    }
    write_file("big.txt", big, total);
    proc f = jobrun(ARGS("-j", "1", "wordcount", "big.txt"));
    cr_assert_eq(f.code, 0, "%s", f.err);
    cr_assert(f.out_len > 1000);
    static const char *const cs[] = {"1000", "64k", "4M"};
    for (int c = 0; c < 3; c++) {
        proc p = jobrun_in(big, total, ARGS("-j", "3", "--chunk-size", cs[c],
                                            "wordcount", "-"));
        cr_assert_eq(p.code, 0, "%s", p.err);
        same_bytes(cs[c], p.out, p.out_len, f.out, f.out_len);
        jr_test_proc_free(&p);
    }
    jr_test_proc_free(&f);
    free(big);
    free(text);
    jr_test_assert_clean();
}

/* A word of 4 MiB on a pipe that runs dry three times on the way: the
 * master looks for a place to cut at the pauses, finds none, gathers on
 * (in a segment of its own once past a slot) and cuts at the end.  Those
 * searches once went over the whole word at every pause (13 s for a
 * word of 50 MB); now not again before the bytes double or the pipe has
 * been quiet a while. */
Test(cli, a_long_word_on_a_pipe_that_pauses_is_one_word, .timeout = T(60))
{
    static const char script[] =
        "a() { head -c 1048576 /dev/zero | tr '\\0' a; }; "
        "(a; sleep 0.05; a; sleep 0.15; a; sleep 0.05; a; printf ' b\\n') | "
        "\"$0\" -j 2 --no-progress wordcount -";
    const char *argv[] = {"/bin/sh", "-c", script, JR_CLI_PATH, NULL};
    proc p = {.argv = argv};
    jr_test_proc_run(&p);
    size_t n = (size_t)4 << 20;
    cr_assert_eq(p.code, 0, "%s", p.err);
    cr_assert_eq(p.out_len, 2 + n + 1 + 4, "%zu bytes", p.out_len);
    cr_assert(memcmp(p.out, "1\t", 2) == 0 && p.out[2 + n] == '\n');
    for (size_t i = 0; i < n; i++)
        if (p.out[2 + i] != 'a')
            cr_assert_fail("byte %zu of the word is %d", i, p.out[2 + i]);
    cr_assert_str_eq(p.out + 2 + n + 1, "1\tb\n");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

/*-************************************
 *  Closed and failing standard descriptors
 **************************************/
/* A program started with fd 0, 1 or 2 closed gets its first pipes and
 * sockets there: '-' must not read jobrun's own pipe, and the output must
 * not go into one. */
Test(cli, wordcount_of_a_closed_stdin_fails_instead_of_hanging,
     .timeout = T(20))
{
    proc t = {.close_fds = 1, .sig = SIGKILL, .sig_ms = T(5000),
              .sig_group = 1};
    proc p = jobrun_with(t, ARGS("wordcount", "-"));
    cr_assert_neq(p.code, 128 + SIGKILL,
                  "jobrun wordcount - <&- still ran after 5 s: it reads "
                  "its own descriptor 0");
    expect(&p, 1, "", "jobrun: wordcount: -: Bad file descriptor\n");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, factor_of_a_closed_stdin_fails_instead_of_hanging, .timeout = T(20))
{
    proc t = {.close_fds = 1, .sig = SIGKILL, .sig_ms = T(5000),
              .sig_group = 1};
    proc p = jobrun_with(t, ARGS("factor"));
    cr_assert_neq(p.code, 128 + SIGKILL,
                  "jobrun factor <&- still ran after 5 s: it reads its own "
                  "descriptor 0");
    expect(&p, 1, "", "jobrun: factor: -: Bad file descriptor\n");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, wordcount_to_a_closed_stdout_is_an_error, .timeout = T(20))
{
    write_str("in.txt", "alpha beta");
    proc t = {.close_fds = 2};
    proc p = jobrun_with(t, ARGS("wordcount", "in.txt"));
    expect(&p, 3, NULL,
           "jobrun: wordcount: standard output: Bad file descriptor\n");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, factor_to_a_closed_stdout_is_an_error, .timeout = T(20))
{
    proc t = {.close_fds = 2};
    proc p = jobrun_with(t, ARGS("factor", "12"));
    expect(&p, 3, NULL,
           "jobrun: factor: standard output: Bad file descriptor\n");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

/* stdin and stdout closed: jobrun's first pipe lands on 0 and 1.  Exit 0
 * would claim the output was written, when it went into that pipe. */
Test(cli, output_is_not_lost_when_stdin_and_stdout_start_closed,
     .timeout = T(20))
{
    write_str("in.txt", "alpha beta");
    proc t = {.close_fds = 1 | 2};
    proc p = jobrun_with(t, ARGS("wordcount", "in.txt"));
    expect(&p, 3, NULL,
           "jobrun: wordcount: standard output: Bad file descriptor\n");
    jr_test_proc_free(&p);
    p = jobrun_with(t, ARGS("factor", "12"));
    expect(&p, 3, NULL,
           "jobrun: factor: standard output: Bad file descriptor\n");
    jr_test_proc_free(&p);
    /* All three closed: nothing to say it on, but not exit 0. */
    t.close_fds = 7;
    p = jobrun_with(t, ARGS("wordcount", "in.txt"));
    cr_assert_eq(p.code, 3, "wordcount <&- >&- 2>&-: exit %d, want 3",
                 p.code);
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, wordcount_to_a_full_stdout_is_reported_with_exit_3, .timeout = T(20))
{
    if (access("/dev/full", W_OK) != 0)
        jr_test_skip("no /dev/full");
    write_str("in.txt", "alpha beta");
    proc t = {.out_path = "/dev/full"};
    proc p = jobrun_with(t, ARGS("wordcount", "in.txt"));
    expect(&p, 3, NULL,
           "jobrun: wordcount: standard output: No space left on device\n");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

/* Output larger than stdio's buffer fails in a write before the end,
 * written by one thread (-j 1) or in parts (-j 3): said all the same. */
Test(cli, a_large_wordcount_to_a_full_stdout_is_reported_with_exit_3,
     .timeout = T(30))
{
    if (access("/dev/full", W_OK) != 0)
        jr_test_skip("no /dev/full");
    size_t cap = 1u << 20, len = 0;
    char *text = malloc(cap);
    for (unsigned i = 0; i < 100000; i++)
        len += (size_t)snprintf(text + len, cap - len, "w%06u\n", i);
    write_file("words.txt", text, len);
    free(text);
    static const char *const ws[] = {"1", "3"};
    for (int w = 0; w < 2; w++) {
        proc t = {.out_path = "/dev/full"};
        proc p = jobrun_with(t, ARGS("-j", ws[w], "wordcount", "words.txt"));
        expect(&p, 3, NULL,
               "jobrun: wordcount: standard output: No space left on "
               "device\n");
        jr_test_proc_free(&p);
    }
    jr_test_assert_clean();
}

Test(cli, factor_to_a_full_stdout_is_reported_with_exit_3, .timeout = T(20))
{
    if (access("/dev/full", W_OK) != 0)
        jr_test_skip("no /dev/full");
    proc t = {.out_path = "/dev/full"};
    proc p = jobrun_with(t, ARGS("factor", "12"));
    expect(&p, 3, NULL,
           "jobrun: factor: standard output: No space left on device\n");
    jr_test_proc_free(&p);
    p = jobrun_with(t, ARGS("factor", "--random", "100000"));
    expect(&p, 3, NULL,
           "jobrun: factor: standard output: No space left on device\n");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

/*-************************************
 *  Failing tasks (JOBRUN_FAULT builds)
 **************************************/
Test(cli, a_task_failing_every_attempt_exits_3_and_writes_no_output_file)
{
    jr_test_need_faults();
    write_str("in.txt", "a b a\n");
    setenv("JOBRUN_FAULT", "segv@map:task=0", 1);
    proc p = jobrun(ARGS("--max-attempts", "2", "wordcount", "-o",
                         "out.tsv", "in.txt"));
    expect(&p, 3, "",
           "jobrun: wordcount: task 0 (in.txt @ 0+6) failed 2/2 attempts: "
           "worker killed by signal 11 (SIGSEGV)\n");
    cr_assert(!exists("out.tsv"), "-o FILE written by a failed job");
    cr_assert_eq(files_starting("out.tsv"), 0);
    jr_test_proc_free(&p);
    /* The same in the reduce phase. */
    setenv("JOBRUN_FAULT", "exit@reduce", 1);
    p = jobrun(ARGS("-j", "1", "--max-attempts", "2", "wordcount", "-o",
                    "out.tsv", "in.txt"));
    expect(&p, 3, "",
           "jobrun: wordcount: reduce task 0 (partition 0) failed 2/2 "
           "attempts: worker exited with status 1\n");
    cr_assert_eq(files_starting("out.tsv"), 0);
    jr_test_proc_free(&p);
    unsetenv("JOBRUN_FAULT");
    jr_test_assert_clean();
}

/* The master cuts a large result with the index each run ends with; a
 * run whose index is out of order is not cut (its offsets would make
 * ranges that end before they begin) and the output does not change. */
/* words.txt: 200,000 words, 100,977 distinct: large map outputs and
 * runs. */
static void write_many_words(void)
{
    size_t cap = 4u << 20, len = 0;
    char *text = malloc(cap);
    cr_assert(text);
    for (unsigned i = 0; i < 100000; i++)
        len += (size_t)snprintf(text + len, cap - len, "w%06u w%06u\n", i,
                                i % 977);
    write_file("words.txt", text, len);
    free(text);
}

Test(cli, a_run_index_out_of_order_is_not_used_and_the_output_is_unchanged,
     .timeout = T(60))
{
    jr_test_need_faults();
    write_many_words();
    proc base = jobrun(ARGS("-j", "1", "wordcount", "words.txt"));
    cr_assert_eq(base.code, 0, "%s", base.err);
    setenv("JOBRUN_FAULT", "corrupt@index", 1);
    proc p = jobrun(ARGS("-j", "3", "wordcount", "words.txt"));
    unsetenv("JOBRUN_FAULT");
    expect(&p, 0, NULL, "");
    same_bytes("-j 3, indexes backwards", p.out, p.out_len, base.out,
               base.out_len);
    jr_test_proc_free(&p);
    jr_test_proc_free(&base);
    jr_test_assert_clean();
}

/* Reducers merge the map outputs as runs sorted by key hash, and check
 * them as they read: a map output out of order (its partition's first
 * record written after its second), or one whose header says a record
 * more than it holds, fails the run with exit 3, no output, and nothing
 * left behind, where a merge that trusted the order would count one word
 * twice. */
Test(cli, a_map_output_out_of_order_or_miscounted_fails_the_run,
     .timeout = T(60))
{
    jr_test_need_faults();
    write_many_words();
    static const char *const rules[] = {"corrupt@order:task=1",
                                        "corrupt@count:task=1"};
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
        setenv("JOBRUN_FAULT", rules[i], 1);
        proc p = jobrun(ARGS("-j", "2", "--max-attempts", "2", "wordcount",
                             "-o", "out.tsv", "words.txt"));
        unsetenv("JOBRUN_FAULT");
        expect(&p, 3, "",
               "jobrun: wordcount: reduce task 1 (partition 1) failed 2/2 "
               "attempts: worker exited with status 72 (protocol error)\n");
        cr_assert_eq(files_starting("out.tsv"), 0);
        jr_test_proc_free(&p);
        jr_test_assert_clean();
    }
}

Test(cli, a_task_that_fails_once_is_retried_and_the_output_is_unchanged,
     .timeout = T(60))
{
    jr_test_need_faults();
    size_t len;
    char *text = multilingual(&len);
    write_file("ml.txt", text, len);
    proc base = jobrun(ARGS("wordcount", "ml.txt"));
    cr_assert_eq(base.code, 0);
    static const char *const rules[] = {"kill@map:task=3:attempt=1",
                                        "segv@map:task=0:attempt=1",
                                        "exit@done:task=5:attempt=1",
                                        "kill@reduce:attempt=1"};
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
        setenv("JOBRUN_FAULT", rules[i], 1);
        proc p = jobrun(ARGS("-j", "2", "--chunk-size", "512", "--stats",
                             "wordcount", "ml.txt"));
        cr_assert_eq(p.code, 0, "%s: exit %d\n%s", rules[i], p.code, p.err);
        same_bytes(rules[i], p.out, p.out_len, base.out, base.out_len);
        const char *r = strstr(p.err, " retries");
        cr_assert(r, "%s: no stats:\n%s", rules[i], p.err);
        while (r > p.err && r[-1] >= '0' && r[-1] <= '9')
            r--;
        cr_assert(atoi(r) >= 1, "%s: the fault did not fire:\n%s",
                  rules[i], p.err);
        jr_test_proc_free(&p);
    }
    /* factor streams in order across a retried task. */
    size_t clen;
    char *nums = odd_layout(&len);
    write_file("nums.txt", nums, len);
    char *want = coreutils_factor(nums, len, &clen);
    setenv("JOBRUN_FAULT", "kill@map:task=4:attempt=1", 1);
    proc p = jobrun(ARGS("-j", "3", "--chunk-size", "16", "factor",
                         "nums.txt"));
    cr_assert_eq(p.code, 0, "%s", p.err);
    same_bytes("factor", p.out, p.out_len, want, clen);
    jr_test_proc_free(&p);
    unsetenv("JOBRUN_FAULT");
    free(want);
    free(nums);
    jr_test_proc_free(&base);
    free(text);
    jr_test_assert_clean();
}

Test(cli, workers_that_cannot_start_fail_the_job_with_exit_3,
     .timeout = T(20))
{
    jr_test_need_faults();
    write_str("in.txt", "alpha");
    setenv("JOBRUN_FAULT", "segv@start", 1);
    proc p = jobrun(ARGS("-j", "2", "wordcount", "-o", "out.tsv",
                         "in.txt"));
    /* The pool's story, kept after it was gone (this said only "workers
     * could not be started or kept alive"). */
    expect(&p, 3, "",
           "jobrun: cannot start 2 workers: every worker died and the "
           "restart limit (12) is used up; last: killed by signal 11 "
           "(SIGSEGV)\n");
    cr_assert_eq(files_starting("out.tsv"), 0);
    jr_test_proc_free(&p);
    unsetenv("JOBRUN_FAULT");
    jr_test_assert_clean();
}

/* libzmq aborts the process when its listener finds no descriptor left
 * (-j 300 under ulimit -n 256 died of SIGABRT, "Too many open files
 * (src/ipc_listener.cpp:325)"): a pool the limit cannot hold is refused
 * before it starts, with the limit and what to do; one it can hold runs. */
Test(cli, more_workers_than_the_fd_limit_holds_is_a_clear_error,
     .timeout = T(30))
{
    write_str("in.txt", "b a b\n");
    const char *const big[] = {
        "/bin/sh", "-c", "ulimit -n 128 && exec \"$0\" -j 150 wordcount in.txt",
        JR_CLI_PATH, NULL};
    proc p = program(NULL, 0, big);
    expect(&p, 3, "",
           "jobrun: cannot start 150 workers: too many open files (this "
           "process may open 128: raise ulimit -n, or use fewer workers)\n");
    jr_test_proc_free(&p);
    const char *const fits[] = {
        "/bin/sh", "-c", "ulimit -n 128 && exec \"$0\" -j 60 wordcount in.txt",
        JR_CLI_PATH, NULL};
    p = program(NULL, 0, fits);
    expect(&p, 0, "2\tb\n1\ta\n", "");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, a_task_over_its_timeout_fails_the_job, .timeout = T(20))
{
    jr_test_need_faults();
    setenv("JOBRUN_FAULT", "spin@map", 1);
    proc p = jobrun(ARGS("--max-attempts", "2", "--task-timeout", "0.3",
                         "factor", "12"));
    expect(&p, 3, "",
           "jobrun: factor: task 0 (operand @ 0+3) failed 2/2 attempts: "
           "worker task timed out after 300 ms\n");
    cr_assert(p.secs < T(5.0), "took %.1f s", p.secs);
    jr_test_proc_free(&p);
    unsetenv("JOBRUN_FAULT");
    jr_test_assert_clean();
}

/*-************************************
 *  Usage errors
 **************************************/
static void usage_error(const char *const *args, const char *err)
{
    write_str("in.txt", "alpha");
    proc p = jobrun(args);
    cr_assert_eq(p.code, 2, "exit %d, want 2; stderr:\n%s", p.code, p.err);
    cr_assert_eq(p.out_len, 0, "stdout: %s", p.out);
    if (err)
        same_bytes("stderr", p.err, p.err_len, err, strlen(err));
    else
        cr_assert(p.err_len > 0, "a usage error says so on stderr");
    jr_test_proc_free(&p);
}

Test(cli, an_unknown_global_option_is_a_usage_error)
{
    usage_error(ARGS("--bogus", "wordcount", "in.txt"), NULL);
    usage_error(ARGS("-x", "wordcount", "in.txt"), NULL);
    jr_test_assert_clean();
}

Test(cli, an_unknown_job_option_is_a_usage_error)
{
    usage_error(ARGS("wordcount", "--bogus", "in.txt"), NULL);
    usage_error(ARGS("factor", "--bogus", "12"), NULL);
    jr_test_assert_clean();
}

Test(cli, an_unknown_job_is_a_usage_error)
{
    usage_error(ARGS("frobnicate", "in.txt"),
                "jobrun: 'frobnicate' is not a job (try 'jobrun --help')\n");
    usage_error(ARGS("-j", "2"), NULL); /* no job at all */
    jr_test_assert_clean();
}

Test(cli, a_bad_top_is_a_usage_error)
{
    usage_error(ARGS("wordcount", "--top", "abc", "in.txt"),
                "jobrun: wordcount: --top: 'abc' is not a positive number\n");
    usage_error(ARGS("wordcount", "--top", "-3", "in.txt"),
                "jobrun: wordcount: --top: '-3' is not a positive number\n");
    usage_error(ARGS("wordcount", "--top", "5x", "in.txt"),
                "jobrun: wordcount: --top: '5x' is not a positive number\n");
    usage_error(ARGS("wordcount", "--top", "000", "in.txt"),
                "jobrun: wordcount: --top: '000' is not a positive number\n");
    usage_error(ARGS("wordcount", "--top", "", "in.txt"),
                "jobrun: wordcount: --top: '' is not a positive number\n");
    usage_error(ARGS("wordcount", "--top", "5", "--top", "x", "in.txt"),
                "jobrun: wordcount: --top: 'x' is not a positive number\n");
    jr_test_assert_clean();
}

Test(cli, a_bad_format_is_a_usage_error)
{
    usage_error(ARGS("wordcount", "--format", "xml", "in.txt"),
                "jobrun: wordcount: --format: 'xml' is not tsv or json\n");
    jr_test_assert_clean();
}

Test(cli, wordcount_without_a_path_is_a_usage_error)
{
    usage_error(ARGS("wordcount"),
                "jobrun: wordcount: no PATH given (use '-' for standard "
                "input)\n");
    usage_error(ARGS("wordcount", "--top", "3"), NULL);
    jr_test_assert_clean();
}

Test(cli, bad_worker_counts_and_chunk_sizes_are_usage_errors)
{
    usage_error(ARGS("-j", "0", "wordcount", "in.txt"),
                "jobrun: --workers: '0' is not a number from 1 to 1024\n");
    usage_error(ARGS("-j", "abc", "wordcount", "in.txt"),
                "jobrun: --workers: 'abc' is not a number from 1 to 1024\n");
    usage_error(ARGS("--workers", "-1", "wordcount", "in.txt"), NULL);
    usage_error(ARGS("--chunk-size", "0", "wordcount", "in.txt"),
                "jobrun: --chunk-size: '0' is not a size from 1 byte to "
                "4G\n");
    usage_error(ARGS("--chunk-size", "12Q", "wordcount", "in.txt"), NULL);
    jr_test_assert_clean();
}

Test(cli, help_and_version_exit_0)
{
    proc p = jobrun(ARGS("--help"));
    cr_assert_eq(p.code, 0);
    cr_assert(strncmp(p.out, "Usage: jobrun", 13) == 0, "%s", p.out);
    jr_test_proc_free(&p);
    p = jobrun(ARGS("wordcount", "--help"));
    cr_assert_eq(p.code, 0);
    cr_assert(strstr(p.out, "wordcount"), "%s", p.out);
    jr_test_proc_free(&p);
    p = jobrun(ARGS("factor", "--help"));
    cr_assert_eq(p.code, 0);
    cr_assert(strstr(p.out, "factor"), "%s", p.out);
    jr_test_proc_free(&p);
    p = jobrun(ARGS("--version"));
    cr_assert_eq(p.code, 0);
    cr_assert(strncmp(p.out, "jobrun ", 7) == 0, "%s", p.out);
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, stats_go_to_stderr_and_leave_the_output_unchanged)
{
    write_str("in.txt", "a b a\n");
    proc p = jobrun(ARGS("--stats", "wordcount", "in.txt"));
    expect(&p, 0, "2\ta\n1\tb\n", NULL);
    cr_assert(strstr(p.err, "jobrun: stats: 6 bytes, 3 words, 2 distinct "
                            "words, "),
              "%s", p.err);
    /* Every phase, in order, none negative. */
    double ph[4];
    int end = 0;
    cr_assert_eq(sscanf(p.err,
                        "jobrun: stats: map %lf s, flush %lf s, reduce %lf s, "
                        "merge and output %lf s\n%n",
                        &ph[0], &ph[1], &ph[2], &ph[3], &end),
                 4, "%s", p.err);
    cr_assert(end > 0, "%s", p.err);
    for (int i = 0; i < 4; i++)
        cr_assert(ph[i] >= 0, "%s", p.err);
    jr_test_proc_free(&p);
    /* Past --top the counts are still summed: every word is counted. */
    p = jobrun(ARGS("--stats", "wordcount", "--top", "1", "in.txt"));
    expect(&p, 0, "2\ta\n", NULL);
    cr_assert(strstr(p.err, " 3 words, 2 distinct words, "), "%s", p.err);
    for (const char *l = p.err; *l; l = strchr(l, '\n') + 1)
        cr_assert(strncmp(l, "jobrun: stats: ", 15) == 0, "%s", p.err);
    jr_test_proc_free(&p);
    p = jobrun(ARGS("--stats", "factor", "12", "13"));
    expect(&p, 0, "12: 2 2 3\n13: 13\n", NULL);
    cr_assert(strstr(p.err, "jobrun: stats: 2 numbers, 1 primes, largest "
                            "factor 13\n"),
              "%s", p.err);
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

/*-************************************
 *  Signals
 **************************************/
/* About mb MiB of words, many of them distinct. */
static void write_big(const char *path, int mb)
{
    size_t cap = 1 << 20, o = 0;
    char *buf = malloc(cap + 64);
    uint64_t x = 88172645463325252ull;
    static const char *const words[] = {"alpha", "épée", "процесс", "線程",
                                        "σοφος", "thread_task"};
    while (o < cap) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (x % 4 == 0)
            o += (size_t)sprintf(buf + o, "%s ", words[(x >> 8) % 6]);
        else
            o += (size_t)sprintf(buf + o, "w%u\n",
                                 (unsigned)((x >> 16) % 60000));
    }
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    for (int i = 0; i < mb; i++)
        cr_assert_eq(fwrite(buf, 1, cap, f), cap);
    cr_assert_eq(fclose(f), 0);
    free(buf);
}

static void interrupted_cleanly(int sig, int group)
{
    write_big("big.txt", 64);
    proc p = jobrun_ex(NULL, 0,
                       ARGS("-j", "2", "--no-progress", "wordcount", "-o",
                            "out.tsv", "big.txt"),
                       sig, 200, group, 0, NULL);
    cr_assert(p.signalled, "the job ended within 200 ms, before the signal "
              "(exit %d): give it more input", p.code);
    cr_assert_eq(p.code, 128 + sig,
                 "exit %d after signal %d, want %d; stderr:\n%s", p.code,
                 sig, 128 + sig, p.err);
    cr_assert(WIFEXITED(p.status),
              "jobrun must exit after its teardown, not die of the signal");
    cr_assert(p.sig_secs < T(2.0), "teardown took %.2f s after the signal",
              p.sig_secs);
    cr_assert(!exists("out.tsv"), "-o FILE written by an interrupted job");
    cr_assert_eq(files_starting("out.tsv"), 0,
                 "a temporary -o file was left");
    cr_assert_eq(p.out_len, 0);
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, sigint_during_a_long_wordcount_tears_down_cleanly, .timeout = T(60))
{
    interrupted_cleanly(SIGINT, 0);
}

Test(cli, sigterm_during_a_long_wordcount_tears_down_cleanly, .timeout = T(60))
{
    interrupted_cleanly(SIGTERM, 0);
}

/* Ctrl-C on a terminal: every process of the group gets SIGINT, the
 * workers included. */
Test(cli, sigint_to_the_whole_process_group_tears_down_cleanly,
     .timeout = T(60))
{
    interrupted_cleanly(SIGINT, 1);
}

Test(cli, sigterm_during_factor_random_tears_down_cleanly, .timeout = T(60))
{
    proc p = jobrun_ex(NULL, 0,
                       ARGS("-j", "2", "factor", "--random", "4000000000"),
                       SIGTERM, 200, 0, 0, NULL);
    cr_assert(p.signalled, "the job ended before the signal");
    cr_assert_eq(p.code, 143, "exit %d; stderr:\n%s", p.code, p.err);
    cr_assert(WIFEXITED(p.status));
    cr_assert(p.sig_secs < T(2.0), "teardown took %.2f s after the signal",
              p.sig_secs);
    /* What was printed is whole lines, in order from the first number. */
    cr_assert(p.out_len == 0 || p.out[p.out_len - 1] == '\n');
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, sighup_during_a_long_wordcount_tears_down_cleanly, .timeout = T(60))
{
    interrupted_cleanly(SIGHUP, 0);
}

/* jobrun waiting to open a FIFO, stopped by SIGTERM: exit 143, and not a
 * word on stderr (the wait's EINTR is no error of the FIFO's). */
static void stopped_quietly_while_opening(const char *const *args)
{
    proc p = jobrun_ex(NULL, 0, args, SIGTERM, 300, 0, 0, NULL);
    cr_assert(p.signalled, "jobrun ended before the signal (exit %d):\n%s",
              p.code, p.err);
    expect(&p, 143, "", "");
    cr_assert(p.sig_secs < T(2.0), "jobrun took %.2f s to stop", p.sig_secs);
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

/* Opening a FIFO operand waits for a writer: a signal then ends the run
 * as any other, and leaves no -o file. */
Test(cli, sigterm_while_a_fifo_operand_waits_for_its_writer_is_quiet,
     .timeout = T(30))
{
    cr_assert_eq(mkfifo("nowriter", 0600), 0);
    stopped_quietly_while_opening(
        ARGS("wordcount", "-o", "out.tsv", "nowriter"));
    cr_assert_eq(files_starting("out.tsv"), 0, "a temporary -o file was left");
}

/* -o FIFO waits for the FIFO's reader before the run, as `> fifo` would. */
Test(cli, sigterm_while_an_output_fifo_waits_for_its_reader_is_quiet,
     .timeout = T(30))
{
    write_str("in.txt", "alpha");
    cr_assert_eq(mkfifo("noreader", 0600), 0);
    stopped_quietly_while_opening(
        ARGS("wordcount", "-o", "noreader", "in.txt"));
}

/* A child that writes `data` into the FIFO, then holds it open, idle, for
 * `hold_ms` before closing it. */
static pid_t idle_writer(const char *path, const char *data,
                         unsigned hold_ms)
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        alarm(30);
        int fd = open(path, O_WRONLY);
        if (fd < 0 || write(fd, data, strlen(data)) < 0)
            _exit(1);
        usleep(hold_ms * 1000);
        _exit(0);
    }
    return pid;
}

/* The master waits on an input that sends nothing: a signal must still
 * end the run at once, not when the input ends. */
static void interrupted_while_reading_an_idle_pipe(const char *const *args,
                                                   int sig, int group)
{
    cr_assert_eq(mkfifo("idle", 0600), 0);
    pid_t w = idle_writer("idle", "6\n7\n", 6000);
    proc p = jobrun_ex(NULL, 0, args, sig, 300, group, 0, "idle");
    kill(w, SIGKILL);
    int st;
    cr_assert_eq(waitpid(w, &st, 0), w);
    cr_assert(p.signalled, "jobrun ended before the signal (exit %d):\n%s",
              p.code, p.err);
    cr_assert_eq(p.code, 128 + sig, "exit %d; stderr:\n%s", p.code, p.err);
    cr_assert(p.sig_secs < T(2.0),
              "jobrun took %.2f s to stop after the signal (the writer "
              "held the pipe open 6 s)", p.sig_secs);
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, sigint_stops_factor_waiting_on_an_idle_stdin_pipe, .timeout = T(30))
{
    interrupted_while_reading_an_idle_pipe(ARGS("factor"), SIGINT, 0);
}

Test(cli, sigterm_stops_factor_waiting_on_an_idle_fifo_operand,
     .timeout = T(30))
{
    /* The FIFO is also stdin here: name it through /dev/stdin. */
    interrupted_while_reading_an_idle_pipe(ARGS("factor", "/dev/stdin"),
                                           SIGTERM, 0);
}

Test(cli, sigint_stops_wordcount_waiting_on_an_idle_stdin_pipe,
     .timeout = T(30))
{
    interrupted_while_reading_an_idle_pipe(ARGS("wordcount", "-"), SIGINT,
                                           0);
}

/* Ctrl-C on `jobrun factor` typed at a terminal, waiting for numbers. */
Test(cli, ctrl_c_stops_factor_waiting_on_stdin, .timeout = T(30))
{
    interrupted_while_reading_an_idle_pipe(ARGS("factor"), SIGINT, 1);
}

/*-************************************
 *  factor
 **************************************/
Test(cli, factor_operands_are_factored_like_coreutils)
{
    static const char nums[] =
        "12 007 +5 0 1 2 97 1000000007 4611686014132420609 "
        "18446744073709551615 18446744073709551616 "
        "170141183460469231731687303715884105727 "
        "340282366920938463463374607431768211455";
    size_t clen;
    char *want = coreutils_factor(nums, strlen(nums), &clen);
    proc p = jobrun(ARGS("factor", "12", "007", "+5", "0", "1", "2", "97",
                         "1000000007", "4611686014132420609",
                         "18446744073709551615", "18446744073709551616",
                         "170141183460469231731687303715884105727",
                         "340282366920938463463374607431768211455"));
    cr_assert_eq(p.code, 0, "%s", p.err);
    same_bytes("stdout", p.out, p.out_len, want, clen);
    cr_assert_eq(p.err_len, 0, "%s", p.err);
    jr_test_proc_free(&p);
    /* The same with --numbers. */
    p = jobrun(ARGS("factor", "--numbers", "12", "007", "+5", "0", "1", "2",
                    "97", "1000000007", "4611686014132420609",
                    "18446744073709551615", "18446744073709551616",
                    "170141183460469231731687303715884105727",
                    "340282366920938463463374607431768211455"));
    cr_assert_eq(p.code, 0, "%s", p.err);
    same_bytes("stdout", p.out, p.out_len, want, clen);
    jr_test_proc_free(&p);
    free(want);
    jr_test_assert_clean();
}

Test(cli, factor_reads_standard_input_without_operands_or_for_a_dash)
{
    const char *in = "12 13\n\n  14\t15\n";
    proc p = jobrun_in(in, strlen(in), ARGS("factor"));
    expect(&p, 0, "12: 2 2 3\n13: 13\n14: 2 7\n15: 3 5\n", "");
    jr_test_proc_free(&p);
    write_str("a.txt", "6\n");
    write_str("b.txt", "10\n");
    /* Files and stdin, in operand order; numbers mixed in. */
    p = jobrun_in(in, strlen(in),
                  ARGS("factor", "a.txt", "-", "7", "b.txt", "8"));
    expect(&p, 0,
           "6: 2 3\n12: 2 2 3\n13: 13\n14: 2 7\n15: 3 5\n7: 7\n"
           "10: 2 5\n8: 2 2 2\n",
           "");
    jr_test_proc_free(&p);
    p = jobrun_in(in, strlen(in), ARGS("factor", "--files", "b.txt", "-"));
    expect(&p, 0, "10: 2 5\n12: 2 2 3\n13: 13\n14: 2 7\n15: 3 5\n", "");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, factor_files_match_coreutils_for_any_workers_and_chunk_size,
     .timeout = T(60))
{
    size_t len, clen;
    char *text = odd_layout(&len);
    write_file("nums.txt", text, len);
    write_str("more.txt", "1\n2\n3\n");
    char *all = malloc(len + 8);
    memcpy(all, text, len);
    memcpy(all + len, "\n1\n2\n3\n", 7);
    char *want = coreutils_factor(all, len + 7, &clen);
    static const char *const cs[] = {"1", "3", "16", NULL};
    for (int w = 0; w < 3; w++)
        for (int c = 0; c < 4; c++) {
            proc p = cs[c] ? jobrun(ARGS("-j", W123[w], "--chunk-size",
                                         cs[c], "factor", "nums.txt",
                                         "more.txt"))
                           : jobrun(ARGS("-j", W123[w], "factor",
                                         "nums.txt", "more.txt"));
            char what[64];
            snprintf(what, sizeof what, "-j %s --chunk-size %s", W123[w],
                     cs[c] ? cs[c] : "default");
            cr_assert_eq(p.code, 0, "%s: exit %d\n%s", what, p.code, p.err);
            cr_assert_eq(p.err_len, 0, "%s: %s", what, p.err);
            same_bytes(what, p.out, p.out_len, want, clen);
            jr_test_proc_free(&p);
        }
    /* The same numbers from stdin, in small chunks. */
    proc p = jobrun_in(all, len + 7,
                       ARGS("-j", "3", "--chunk-size", "3", "factor"));
    cr_assert_eq(p.code, 0, "%s", p.err);
    same_bytes("stdin", p.out, p.out_len, want, clen);
    jr_test_proc_free(&p);
    free(want);
    free(all);
    free(text);
    jr_test_assert_clean();
}

Test(cli, a_long_stream_of_numbers_matches_coreutils, .timeout = T(60))
{
    size_t cap = 2u << 20, n = 0, clen;
    char *in = malloc(cap);
    for (unsigned long long v = 1; n + 32 < cap && v <= 200000; v++)
        n += (size_t)sprintf(in + n, "%llu%s", v * 7919ull,
                             v % 9 ? " " : "\n");
    char *want = coreutils_factor(in, n, &clen);
    static const char *const cs[] = {"4k", "100", NULL};
    for (int c = 0; c < 3; c++) {
        proc p = cs[c] ? jobrun_in(in, n, ARGS("-j", "3", "--chunk-size",
                                               cs[c], "factor"))
                       : jobrun_in(in, n, ARGS("-j", "2", "factor"));
        cr_assert_eq(p.code, 0, "%s", p.err);
        same_bytes(cs[c] ? cs[c] : "default", p.out, p.out_len, want, clen);
        jr_test_proc_free(&p);
    }
    free(want);
    free(in);
    jr_test_assert_clean();
}

Test(cli, signs_zeros_and_long_tokens_match_coreutils, .timeout = T(30))
{
    char in[4096], *o = in;
    o += sprintf(o, "+0 00 +00012 0000000000000000000000000000000000000001 "
                    "000340282366920938463463374607431768211455\n"
                    "1267650600228229401496703205376 "
                    "999999999999999999999999999999 "
                    "+18446744073709551617\n");
    write_str("n.txt", in);
    size_t clen;
    char *want = coreutils_factor(in, strlen(in), &clen);
    proc p = jobrun(ARGS("--chunk-size", "3", "factor", "n.txt"));
    expect(&p, 0, NULL, "");
    same_bytes("stdout", p.out, p.out_len, want, clen);
    jr_test_proc_free(&p);
    free(want);
    /* Malformed signs, and a 1000-digit token split over many chunks. */
    o = in;
    o += sprintf(o, "+ ++5 5+ 1e5 7 ");
    for (int i = 0; i < 1000; i++)
        *o++ = '1';
    o += sprintf(o, " 8\n");
    write_str("m.txt", in);
    p = jobrun(ARGS("-j", "3", "--chunk-size", "3", "factor", "m.txt"));
    expect(&p, 1, "7: 7\n8: 2 2 2\n", NULL);
    const char *want_err =
        "jobrun: factor: m.txt:1: '+' is not a valid positive integer\n"
        "jobrun: factor: m.txt:1: '++5' is not a valid positive integer\n"
        "jobrun: factor: m.txt:1: '5+' is not a valid positive integer\n"
        "jobrun: factor: m.txt:1: '1e5' is not a valid positive integer\n"
        "jobrun: factor: m.txt:1: '1111111111111111111111111111111111111111"
        "111111111111111111111111...' (1000 bytes) is too large to factor "
        "(2^128 or more)\n";
    same_bytes("stderr", p.err, p.err_len, want_err, strlen(want_err));
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, invalid_tokens_are_reported_with_their_file_and_line,
     .timeout = T(60))
{
    write_str("bad.txt", "6 -5\n12abc 7\n\n1.5 0x10\n"
                         "abc 340282366920938463463374607431768211456\n8");
    const char *want_err =
        "jobrun: factor: bad.txt:1: '-5' is not a valid positive integer\n"
        "jobrun: factor: bad.txt:2: '12abc' is not a valid positive "
        "integer\n"
        "jobrun: factor: bad.txt:4: '1.5' is not a valid positive integer\n"
        "jobrun: factor: bad.txt:4: '0x10' is not a valid positive "
        "integer\n"
        "jobrun: factor: bad.txt:5: 'abc' is not a valid positive integer\n"
        "jobrun: factor: bad.txt:5: "
        "'340282366920938463463374607431768211456' is too large to factor "
        "(2^128 or more)\n";
    static const char *const cs[] = {"1", "3", "16", "4M"};
    for (int w = 0; w < 3; w++)
        for (int c = 0; c < 4; c++) {
            proc p = jobrun(ARGS("-j", W123[w], "--chunk-size", cs[c],
                                 "factor", "bad.txt"));
            expect(&p, 1, "6: 2 3\n7: 7\n8: 2 2 2\n", want_err);
            jr_test_proc_free(&p);
        }
    jr_test_assert_clean();
}

Test(cli, line_numbers_stay_right_across_chunk_boundaries, .timeout = T(60))
{
    /* 60 lines; invalid tokens at lines 17, 33 (after a long line) and
     * 60 (the last, no newline); chunks of 3 bytes cut lines anywhere. */
    char buf[8192], *o = buf;
    for (int line = 1; line <= 60; line++) {
        if (line == 17)
            o += sprintf(o, "%d x17\n", line);
        else if (line == 32) {
            for (int k = 0; k < 50; k++)
                o += sprintf(o, "%d ", 1000 + k);
            o += sprintf(o, "\n");
        } else if (line == 33)
            o += sprintf(o, "  y33z %d\r\n", line);
        else if (line == 60)
            o += sprintf(o, "60 -60");
        else if (line % 5 == 0)
            o += sprintf(o, "\n");
        else
            o += sprintf(o, "%d\n", line);
    }
    write_str("lines.txt", buf);
    size_t clen;
    char *want = coreutils_factor(buf, strlen(buf), &clen);
    /* coreutils skips the invalid tokens the same way. */
    const char *want_err =
        "jobrun: factor: lines.txt:17: 'x17' is not a valid positive "
        "integer\n"
        "jobrun: factor: lines.txt:33: 'y33z' is not a valid positive "
        "integer\n"
        "jobrun: factor: lines.txt:60: '-60' is not a valid positive "
        "integer\n";
    static const char *const cs[] = {"1", "3", "7"};
    for (int w = 0; w < 3; w++)
        for (int c = 0; c < 3; c++) {
            proc p = jobrun(ARGS("-j", W123[w], "--chunk-size", cs[c],
                                 "factor", "lines.txt"));
            expect(&p, 1, NULL, want_err);
            same_bytes("stdout", p.out, p.out_len, want, clen);
            jr_test_proc_free(&p);
        }
    /* From stdin the name is '-'. */
    proc p = jobrun_in(buf, strlen(buf),
                       ARGS("-j", "2", "--chunk-size", "3", "factor"));
    cr_assert_eq(p.code, 1);
    cr_assert(strstr(p.err, "jobrun: factor: -:33: 'y33z' is not a valid "
                            "positive integer\n"),
              "%s", p.err);
    same_bytes("stdout", p.out, p.out_len, want, clen);
    jr_test_proc_free(&p);
    free(want);
    jr_test_assert_clean();
}

Test(cli, invalid_operands_are_reported_without_a_line)
{
    proc p = jobrun(ARGS("factor", "--numbers", "--", "6", "-5", "1.5", "7"));
    expect(&p, 1, "6: 2 3\n7: 7\n",
           "jobrun: factor: '-5' is not a valid positive integer\n"
           "jobrun: factor: '1.5' is not a valid positive integer\n");
    jr_test_proc_free(&p);
    /* Without --numbers, an operand that is not all digits is a file. */
    p = jobrun(ARGS("factor", "6", "12abc", "7"));
    expect(&p, 1, "6: 2 3\n7: 7\n",
           "jobrun: factor: 12abc: No such file or directory\n");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, a_number_operand_that_is_also_a_file_is_refused)
{
    write_str("12", "100\n");
    proc p = jobrun(ARGS("factor", "7", "12"));
    expect(&p, 2, "",
           "jobrun: factor: '12' is both a number and a file; say which "
           "with --numbers or --files\n");
    jr_test_proc_free(&p);
    p = jobrun(ARGS("factor", "--numbers", "7", "12"));
    expect(&p, 0, "7: 7\n12: 2 2 3\n", "");
    jr_test_proc_free(&p);
    p = jobrun(ARGS("factor", "--files", "12"));
    expect(&p, 0, "100: 2 2 5 5\n", "");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

/* The number before ':' of each line, one a line. */
static char *numbers_of(const char *out)
{
    char *res = malloc(strlen(out) + 1), *o = res;
    for (const char *l = out; *l;) {
        const char *colon = strchr(l, ':'), *nl = strchr(l, '\n');
        cr_assert(colon && nl && colon < nl, "bad line: %.40s", l);
        memcpy(o, l, (size_t)(colon - l));
        o += colon - l;
        *o++ = '\n';
        l = nl + 1;
    }
    *o = '\0';
    return res;
}

Test(cli, random_output_is_identical_for_any_workers_and_like_coreutils,
     .timeout = T(60))
{
    char *first = NULL;
    size_t first_len = 0;
    for (int w = 0; w < 3; w++) {
        proc p = jobrun(ARGS("-j", W123[w], "factor", "--random", "1000"));
        cr_assert_eq(p.code, 0, "%s", p.err);
        cr_assert_eq(p.err_len, 0, "%s", p.err);
        if (!first) {
            first = p.out;
            first_len = p.out_len;
            p.out = NULL;
        } else {
            same_bytes(W123[w], p.out, p.out_len, first, first_len);
        }
        jr_test_proc_free(&p);
    }
    char *nums = numbers_of(first);
    size_t lines = 0;
    for (char *s = nums; *s; s++)
        lines += *s == '\n';
    cr_assert_eq(lines, 1000);
    for (char *s = nums; *s; s = strchr(s, '\n') + 1) {
        unsigned long long v = strtoull(s, NULL, 10);
        cr_assert(v >= 20000 && v <= 100000000, "%llu out of range", v);
    }
    size_t clen;
    char *want = coreutils_factor(nums, strlen(nums), &clen);
    same_bytes("coreutils", first, first_len, want, clen);
    free(want);
    free(nums);
    /* Another seed, and 64-bit numbers in tiny chunks of the count. */
    proc p = jobrun(ARGS("factor", "--random", "1000", "--seed", "2"));
    cr_assert_eq(p.code, 0);
    cr_assert(p.out_len != first_len || memcmp(p.out, first, first_len),
              "--seed changes nothing");
    jr_test_proc_free(&p);
    free(first);
    first = NULL;
    for (int w = 0; w < 3; w++) {
        p = jobrun(ARGS("-j", W123[w], "--chunk-size", "3", "factor",
                        "--random", "300", "--min", "0", "--max",
                        "18446744073709551615", "--seed", "7"));
        cr_assert_eq(p.code, 0, "%s", p.err);
        if (!first) {
            first = p.out;
            first_len = p.out_len;
            p.out = NULL;
        } else {
            same_bytes(W123[w], p.out, p.out_len, first, first_len);
        }
        jr_test_proc_free(&p);
    }
    nums = numbers_of(first);
    want = coreutils_factor(nums, strlen(nums), &clen);
    same_bytes("coreutils 64-bit", first, first_len, want, clen);
    free(want);
    free(nums);
    free(first);
    /* A one-number range. */
    p = jobrun(ARGS("factor", "--random", "3", "--min", "12", "--max",
                    "12"));
    expect(&p, 0, "12: 2 2 3\n12: 2 2 3\n12: 2 2 3\n", "");
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

Test(cli, random_usage_errors_exit_2)
{
    proc p = jobrun(ARGS("factor", "--random", "10", "--min", "50", "--max",
                         "40"));
    expect(&p, 2, "", "jobrun: factor: --min must not be above --max\n");
    jr_test_proc_free(&p);
    p = jobrun(ARGS("factor", "--random", "abc"));
    expect(&p, 2, "",
           "jobrun: factor: 'abc' is not a number from 0 to 2^64-1\n");
    jr_test_proc_free(&p);
    p = jobrun(ARGS("factor", "--random", "10", "12"));
    expect(&p, 2, "", "jobrun: factor: --random takes no operands\n");
    jr_test_proc_free(&p);
    p = jobrun(ARGS("factor", "--random", "10", "--max",
                    "18446744073709551616"));
    cr_assert_eq(p.code, 2);
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

/* `cmd | head -n 5` in bash; jobrun's pid in ./pid; the output of head,
 * then PIPESTATUS. */
static void stops_when_the_reader_goes_away(const char *producer,
                                            const char *jobrun_args)
{
    if (access("/bin/bash", X_OK) != 0)
        jr_test_skip("no /bin/bash");
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "%s | (echo $BASHPID > pid; exec '%s' %s) | head -n 5; "
             "echo \"${PIPESTATUS[*]}\"",
             producer, JR_CLI_PATH, jobrun_args);
    proc p = program(NULL, 0, ARGS("/bin/bash", "-c", cmd));
    cr_assert_eq(p.code, 0, "bash: %s", p.err);
    cr_assert(p.secs < T(8.0), "took %.1f s to stop", p.secs);
    cr_assert(!p.left, "a process of the pipeline outlived it");
    size_t n;
    char *pid = read_whole("pid", &n);
    cr_assert(pid);
    cr_assert_eq(jr_test_segments_of_any_uid((pid_t)atoi(pid)), 0,
                 "a /dev/shm segment of jobrun (pid %s) was left", pid);
    free(pid);
    cr_assert_eq(entries_in(g_run), 0, "a runtime file was left");
    /* Five lines, then the statuses: producer, jobrun, head. */
    const char *l = p.out;
    for (int i = 0; i < 5; i++) {
        l = strchr(l, '\n');
        cr_assert(l, "fewer than 5 lines:\n%s", p.out);
        l++;
    }
    int st_prod, st_jr, st_head;
    cr_assert_eq(sscanf(l, "%d %d %d", &st_prod, &st_jr, &st_head), 3,
                 "%s", p.out);
    cr_assert(st_jr == 141 || st_jr == 0,
              "jobrun's status %d: want 141 (SIGPIPE) or 0; stderr:\n%s",
              st_jr, p.err);
    cr_assert_eq(st_head, 0);
    cr_assert_eq(strstr(p.err, "jobrun"), NULL, "jobrun said: %s", p.err);
    char *five = strndup(p.out, (size_t)(l - p.out));
    cr_assert_str_eq(five, "1:\n2: 2\n3: 3\n4: 2 2\n5: 5\n");
    free(five);
    jr_test_proc_free(&p);
}

Test(cli, factor_stops_quickly_when_head_closes_the_pipe, .timeout = T(20))
{
    stops_when_the_reader_goes_away("seq 1 100000000", "factor");
    jr_test_assert_clean();
}

Test(cli, factor_random_stops_quickly_when_head_closes_the_pipe,
     .timeout = T(20))
{
    if (access("/bin/bash", X_OK) != 0)
        jr_test_skip("no /bin/bash");
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "(echo $BASHPID > pid; exec '%s' factor --random 4000000000 "
             "--min 0 --max 5) | head -n 2 >/dev/null; "
             "echo \"${PIPESTATUS[*]}\"", JR_CLI_PATH);
    proc p = program(NULL, 0, ARGS("/bin/bash", "-c", cmd));
    cr_assert_eq(p.code, 0);
    cr_assert(p.secs < T(8.0), "took %.1f s to stop", p.secs);
    cr_assert(!p.left);
    int st_jr, st_head;
    cr_assert_eq(sscanf(p.out, "%d %d", &st_jr, &st_head), 2, "%s", p.out);
    cr_assert(st_jr == 141 || st_jr == 0, "jobrun's status %d\n%s", st_jr,
              p.err);
    size_t n;
    char *pid = read_whole("pid", &n);
    cr_assert(pid);
    cr_assert_eq(jr_test_segments_of_any_uid((pid_t)atoi(pid)), 0);
    free(pid);
    jr_test_proc_free(&p);
    jr_test_assert_clean();
}

/*-************************************
 *  The suites' own scratch
 **************************************/
/* Run a test binary of this build on one test that skips (as a build
 * without fault injection would), with TMPDIR a fresh directory: the
 * skip must leave that directory empty.  Criterion 2.4 does not run a
 * skipped test's .fini, which left a scratch directory in /tmp for every
 * skipped test until the skips went through jr_test_skip(). */
static void skip_leaves_nothing(const char *binary, const char *filter)
{
    /* In /tmp, not under g_top: the binaries take a TMPDIR of at most 40
     * bytes (jr_test_tmpdir), and a longer one would send their scratch
     * to /tmp, leaving this directory empty whatever the skip does. */
    char tmp[] = "/tmp/jr-skip.XXXXXX", filter_arg[300];
    cr_assert(mkdtemp(tmp), "mkdtemp: %s", strerror(errno));
    snprintf(filter_arg, sizeof filter_arg, "--filter=%s", filter);
    /* BXFI_MAP tells a Criterion binary that it is a test's sandbox, run
     * by its runner (BoxFort): the one started here is a runner itself. */
    char *bxfi = getenv("BXFI_MAP"), *tmpdir = getenv("TMPDIR");
    bxfi = bxfi ? strdup(bxfi) : NULL;
    tmpdir = tmpdir ? strdup(tmpdir) : NULL;
    unsetenv("BXFI_MAP");
    setenv("TMPDIR", tmp, 1);
    cr_assert_str_eq(jr_test_tmpdir(), tmp, "the binaries would not use it");
    setenv("JR_TEST_NO_FAULTS", "1", 1);
    unsetenv("JR_CLI");
    proc p =
        program(NULL, 0, ARGS(binary, "--jobs", "1", "--verbose", filter_arg));
    unsetenv("JR_TEST_NO_FAULTS");
    if (bxfi)
        setenv("BXFI_MAP", bxfi, 1);
    if (tmpdir)
        setenv("TMPDIR", tmpdir, 1);
    else
        unsetenv("TMPDIR");
    free(bxfi);
    free(tmpdir);
    cr_assert_eq(p.code, 0, "%s: status %d\n%s", binary, p.code, p.err);
    cr_assert(strstr(p.err, "[SKIP]") && strstr(p.err, "JOBRUN_FAULT"),
              "%s did not skip %s:\n%s", binary, filter, p.err);
    int left = entries_in(tmp);
    jr_test_rm_rf(tmp);
    cr_assert_eq(left, 0, "%s left scratch in TMPDIR after a skip", binary);
    jr_test_proc_free(&p);
}

Test(cli, a_skipped_test_leaves_no_scratch_directory, .timeout = T(60))
{
    skip_leaves_nothing(JR_BUILD_DIR "/tests/test_cli",
                        "cli/a_task_failing_every_attempt_exits_3_and_writes_"
                        "no_output_file");
    skip_leaves_nothing(JR_BUILD_DIR "/tests/test_reliability",
                        "reliability/t17_segments_are_0600_and_the_runtime_"
                        "dir_0700_whatever_the_umask");
    jr_test_assert_clean();
}
