/*
 * test_shm.c - segments, the sweep of dead masters' segments, and the
 * robust mutex, each tested by failing on purpose: a child that dies
 * holding the lock, a name that exists, a symlink planted under a
 * segment's name, a /dev/shm too small for the request.
 *
 * Segments of the process under test are named for it (pid and start
 * time), so jr_test_assert_clean() at the end of each test proves that
 * none was left behind.  Sweep tests work in a directory of their own.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "shm/shm.h"
#include "tests/helpers.h"
#include "util/util.h"

static uint64_t my_start;

static void setup(void)
{
    cr_assert_eq(jr_proc_start_time(getpid(), &my_start), 0);
}

/* Criterion 2.4 prints a failed assertion in .fini but still counts the
 * test as passed, so each test ends with jr_test_assert_clean() itself.
 * This only removes what a test that failed midway left behind. */
static void teardown(void)
{
    char pre[64];
    snprintf(pre, sizeof pre, "jobrun.%u.%d.", (unsigned)getuid(),
             (int)getpid());
    DIR *d = opendir("/dev/shm");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, pre, strlen(pre)) == 0) {
            char path[300];
            snprintf(path, sizeof path, "/dev/shm/%s", e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

TestSuite(shm, .init = setup, .fini = teardown, .timeout = 10);

/* Name segment n of this process, as the runner would. */
static void my_name(char *out, size_t cap, uint64_t n)
{
    cr_assert_eq(jr_shm_name(out, cap, getpid(), my_start, n), 0);
}

/* A master that has just died: a child that exits at once, reaped, with
 * the start time it had while alive. */
static void dead_master(pid_t *pid, uint64_t *start)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t c = fork();
    cr_assert(c >= 0);
    if (c == 0) {
        char b;
        close(p[1]);
        (void)!read(p[0], &b, 1); /* wait for the parent to look */
        _exit(0);
    }
    close(p[0]);
    cr_assert_eq(jr_proc_start_time(c, start), 0);
    close(p[1]);
    cr_assert_eq(waitpid(c, NULL, 0), c);
    *pid = c;
}

/* Path of a segment in /dev/shm. */
static void shm_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "/dev/shm%s", name);
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/*-************************************
 *  Names and start times
 **************************************/
Test(shm, name_has_the_documented_format)
{
    char got[JR_SHM_NAME_MAX], want[JR_SHM_NAME_MAX];
    cr_assert_eq(jr_shm_name(got, sizeof got, 1234, 5678, 9), 0);
    snprintf(want, sizeof want, "/jobrun.%u.1234.5678.9", (unsigned)getuid());
    cr_assert_str_eq(got, want);
    cr_assert_eq(jr_shm_name(got, 8, 1234, 5678, 9), JR_ENAMETOOLONG);
    jr_test_assert_clean();
}

Test(shm, start_time_tells_a_live_process_from_a_dead_one)
{
    uint64_t t;
    cr_assert_gt(my_start, 0);
    cr_assert_eq(jr_proc_start_time(getpid(), &t), 0);
    cr_assert_eq(t, my_start);
    pid_t dead;
    dead_master(&dead, &t);
    /* The pid could be reused at once, but then by a process started
     * later: either way the old (pid, start) is gone. */
    uint64_t now;
    int rc = jr_proc_start_time(dead, &now);
    cr_assert(rc == JR_ENOENT || (rc == 0 && now != t));
    cr_assert_eq(jr_proc_start_time(0, &t), JR_EINVAL);
    jr_test_assert_clean();
}

/*-************************************
 *  Segments
 **************************************/
Test(shm, segment_is_mode_0600_whatever_the_umask)
{
    static const mode_t masks[] = {0, 022, 0277};
    for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
        mode_t old = umask(masks[i]);
        char name[JR_SHM_NAME_MAX], path[128];
        my_name(name, sizeof name, i);
        jr_seg seg;
        int rc = jr_shm_create(&seg, name, 4096);
        umask(old);
        cr_assert_eq(rc, 0, "umask %o: %s", (unsigned)masks[i],
                     jr_strerror(rc));
        shm_path(path, sizeof path, name);
        struct stat st;
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_eq(st.st_mode & 07777, 0600, "umask %o gave %o",
                     (unsigned)masks[i], (unsigned)(st.st_mode & 07777));
        cr_assert_eq(st.st_size, 4096);
        jr_shm_unlink(&seg);
        jr_shm_unmap(&seg);
    }
    jr_test_assert_clean();
}

Test(shm, creating_an_existing_name_fails_with_eexist_and_keeps_it)
{
    char name[JR_SHM_NAME_MAX], path[128];
    my_name(name, sizeof name, 0);
    jr_seg a, b;
    cr_assert_eq(jr_shm_create(&a, name, 4096), 0);
    memset(a.base, 0x5a, 4096);
    cr_assert_eq(jr_shm_create(&b, name, 8192), JR_EEXIST);
    cr_assert_null(b.base);
    /* The failed create must not have unlinked the first one's name. */
    shm_path(path, sizeof path, name);
    cr_assert(exists(path));
    jr_seg c;
    cr_assert_eq(jr_shm_attach(&c, name, 0), 0);
    cr_assert_eq(c.len, 4096);
    cr_assert_eq(((unsigned char *)c.base)[4095], 0x5a);
    jr_shm_unmap(&c);
    jr_shm_unlink(&a);
    jr_shm_unmap(&a);
    jr_test_assert_clean();
}

Test(shm, unlink_removes_the_dev_shm_entry_and_keeps_the_mapping)
{
    char name[JR_SHM_NAME_MAX], path[128];
    my_name(name, sizeof name, 0);
    shm_path(path, sizeof path, name);
    jr_seg seg;
    cr_assert_eq(jr_shm_create(&seg, name, 1 << 16), 0);
    cr_assert(exists(path));
    jr_shm_unlink(&seg);
    cr_assert_not(exists(path));
    cr_assert_str_eq(seg.name, "");
    ((char *)seg.base)[(1 << 16) - 1] = 1; /* still mapped */
    jr_shm_unlink(&seg);                   /* idempotent */
    jr_shm_unmap(&seg);
    cr_assert_null(seg.base);
    jr_shm_unmap(&seg);
    jr_shm_unmap(NULL);
    jr_shm_unlink(NULL);
    jr_test_assert_clean();
}

Test(shm, attach_sees_the_creators_bytes_both_ways)
{
    char name[JR_SHM_NAME_MAX];
    my_name(name, sizeof name, 0);
    jr_seg w, r;
    cr_assert_eq(jr_shm_create(&w, name, 3 * 4096), 0);
    strcpy(w.base, "hello");
    cr_assert_eq(jr_shm_attach(&r, name, 1), 0);
    cr_assert_eq(r.len, 3 * 4096);
    cr_assert_str_eq(r.base, "hello");
    strcpy(r.base, "world");
    cr_assert_str_eq(w.base, "world");
    jr_shm_unmap(&r);
    jr_shm_unlink(&w);
    jr_shm_unmap(&w);
    cr_assert_eq(jr_shm_attach(&r, name, 0), JR_ENOENT);
    jr_test_assert_clean();
}

Test(shm, create_and_attach_refuse_bad_names_and_sizes)
{
    jr_seg seg;
    char name[JR_SHM_NAME_MAX];
    my_name(name, sizeof name, 0);
    cr_assert_eq(jr_shm_create(&seg, name, 0), JR_EINVAL);
    cr_assert_eq(jr_shm_create(&seg, "jobrun.nosla.sh", 4096), JR_EINVAL);
    cr_assert_eq(jr_shm_create(&seg, "/a/b", 4096), JR_EINVAL);
    cr_assert_eq(jr_shm_create(&seg, "/", 4096), JR_EINVAL);
    cr_assert_eq(jr_shm_create(&seg, NULL, 4096), JR_EINVAL);
    char longname[JR_SHM_NAME_MAX + 8];
    memset(longname, 'a', sizeof longname - 1);
    longname[0] = '/';
    longname[sizeof longname - 1] = '\0';
    cr_assert_eq(jr_shm_create(&seg, longname, 4096), JR_EINVAL);
    cr_assert_eq(jr_shm_attach(&seg, "/../etc/passwd", 0), JR_EINVAL);
    jr_test_assert_clean();
}

Test(shm, attach_refuses_a_symlink_a_fifo_and_another_users_file)
{
    char name[JR_SHM_NAME_MAX], path[128], target[JR_SHM_NAME_MAX];
    my_name(name, sizeof name, 7);
    shm_path(path, sizeof path, name);
    my_name(target, sizeof target, 8);
    char tpath[128];
    shm_path(tpath, sizeof tpath, target);
    jr_seg t, seg;
    cr_assert_eq(jr_shm_create(&t, target, 4096), 0);

    cr_assert_eq(symlink(tpath, path), 0);
    cr_assert_eq(jr_shm_attach(&seg, name, 1), JR_EPERM);
    cr_assert_eq(unlink(path), 0);

    /* A FIFO must be refused, not block the open (.timeout catches it). */
    cr_assert_eq(mkfifo(path, 0600), 0);
    cr_assert_eq(jr_shm_attach(&seg, name, 0), JR_EPERM);
    cr_assert_eq(unlink(path), 0);

    if (geteuid() == 0) {
        cr_assert_eq(chown(tpath, 65534, 65534), 0);
        cr_assert_eq(jr_shm_attach(&seg, target, 1), JR_EPERM);
    }
    jr_shm_unlink(&t);
    jr_shm_unmap(&t);
    jr_test_assert_clean();
}

/* The size of /dev/shm, or the test is skipped where it has no limit or
 * one too large to exceed.  tmpfs refuses a range larger than the whole
 * file system before it allocates a page, so asking for more than this
 * asks for nothing it could half-grant. */
static size_t dev_shm_size_or_skip(void)
{
    struct statvfs vs;
    cr_assert_eq(statvfs("/dev/shm", &vs), 0);
    if (vs.f_blocks == 0)
        cr_skip_test("/dev/shm has no size limit");
    uint64_t total = (uint64_t)vs.f_blocks * vs.f_frsize;
    if (total > SIZE_MAX / 2)
        cr_skip_test("/dev/shm too large to overflow");
    return (size_t)total;
}

Test(shm, a_segment_larger_than_dev_shm_fails_with_enospc_and_leaves_nothing)
{
    size_t total = dev_shm_size_or_skip();
    char name[JR_SHM_NAME_MAX], path[128];
    my_name(name, sizeof name, 0);
    jr_seg seg;
    cr_assert_eq(jr_shm_create(&seg, name, total + (1u << 30)), JR_ENOSPC);
    cr_assert_null(seg.base);
    shm_path(path, sizeof path, name);
    cr_assert_not(exists(path), "a failed create left its name");
    jr_test_assert_clean();
}

/* A sparse segment holds no memory until a range is reserved; a reserved
 * range is written like any segment; ranges outside it are refused. */
Test(shm, a_sparse_segment_takes_memory_only_where_reserved)
{
    char name[JR_SHM_NAME_MAX];
    my_name(name, sizeof name, 0);
    jr_seg seg;
    int fd = -1;
    size_t len = (size_t)64 << 20, mib = (size_t)1 << 20;
    cr_assert_eq(jr_shm_create_sparse(&seg, name, len, &fd), 0);
    cr_assert(fd >= 0);
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq((size_t)st.st_size, len);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(st.st_blocks, 0, "%lld blocks before any reserve",
                 (long long)st.st_blocks);
    cr_assert_eq(jr_shm_reserve(&seg, fd, mib + 100, mib), 0);
    cr_assert_eq(jr_shm_reserve(&seg, fd, mib + 100, mib), 0); /* again */
    cr_assert_eq(fstat(fd, &st), 0);
    size_t held = (size_t)st.st_blocks * 512;
    cr_assert(held >= mib && held <= 3 * mib, "%zu bytes held", held);
    memset((uint8_t *)seg.base + mib + 100, 0x5a, mib);
    cr_assert_eq(jr_shm_reserve(&seg, fd, len - 10, 11), JR_EINVAL);
    cr_assert_eq(jr_shm_reserve(&seg, fd, len + 1, 0), JR_EINVAL);
    close(fd);
    jr_seg other;
    cr_assert_eq(jr_shm_attach(&other, name, 0), 0);
    cr_assert_eq(((uint8_t *)other.base)[2 * mib + 99], 0x5a);
    jr_shm_unmap(&other);
    jr_shm_unlink(&seg);
    jr_shm_unmap(&seg);
    jr_test_assert_clean();
}

/* Reserving more than /dev/shm holds is JR_ENOSPC, not a SIGBUS later. */
Test(shm, reserving_more_than_dev_shm_fails_with_enospc)
{
    size_t total = dev_shm_size_or_skip();
    char name[JR_SHM_NAME_MAX];
    my_name(name, sizeof name, 0);
    jr_seg seg;
    int fd = -1;
    size_t len = total + ((size_t)1 << 30);
    cr_assert_eq(jr_shm_create_sparse(&seg, name, len, &fd), 0);
    cr_assert_eq(jr_shm_reserve(&seg, fd, 0, len), JR_ENOSPC);
    close(fd);
    jr_shm_unlink(&seg);
    jr_shm_unmap(&seg);
    jr_test_assert_clean();
}

/* A writer lays its bytes down in order from its offset, through a buffer
 * smaller than some of the pieces: what the segment reads back is exactly
 * what went in, and tmpfs holds memory only for the pages written.  The
 * slack after each room is scribbled on: none of it is written out (and
 * under ASan, none of it lies outside the buffer). */
Test(shm, a_writer_fills_a_sparse_segment_in_order_through_its_descriptor)
{
    char name[JR_SHM_NAME_MAX];
    my_name(name, sizeof name, 0);
    jr_seg seg;
    int fd = -1;
    size_t len = (size_t)8 << 20, from = 100, n = 0;
    cr_assert_eq(jr_shm_create_sparse(&seg, name, len, &fd), 0);
    uint8_t *want = malloc(len);
    cr_assert_not_null(want);
    jr_shm_writer w;
    cr_assert_eq(jr_shm_writer_init(&w, fd, from, 1), 0);
    cr_assert_eq(w.cap, 4096); /* the least it takes */
    uint32_t x = 12345;
    for (size_t k = 0; n < (size_t)3 << 20; k++) {
        size_t piece = k % 7 == 6 ? 9000 : k % 5; /* some larger than cap */
        uint8_t bytes[9000];
        for (size_t i = 0; i < piece; i++)
            bytes[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 24);
        if (k % 2) {
            jr_shm_writer_put(&w, bytes, piece);
        } else {
            uint8_t *p = jr_shm_writer_room(&w, piece);
            if (piece > w.cap) {
                cr_assert_null(p);
                jr_shm_writer_put(&w, bytes, piece);
            } else {
                cr_assert_not_null(p);
                memcpy(p, bytes, piece);
                memset(p + piece, 0xee, JR_SHM_WRITER_SLACK);
            }
        }
        memcpy(want + n, bytes, piece);
        n += piece;
    }
    /* Small rooms only, over a few buffers: some end at the buffer's end,
     * where the slack is all that lies after them. */
    for (size_t k = 0; k < 3 * w.cap; k++) {
        size_t piece = 1 + k % 5;
        uint8_t *p = jr_shm_writer_room(&w, piece);
        cr_assert_not_null(p);
        for (size_t i = 0; i < piece; i++)
            p[i] = want[n + i] =
                (uint8_t)((x = x * 1103515245u + 12345u) >> 24);
        memset(p + piece, 0xee, JR_SHM_WRITER_SLACK);
        n += piece;
    }
    cr_assert_eq(jr_shm_writer_fini(&w), 0);
    cr_assert_null(w.buf);
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    size_t held = (size_t)st.st_blocks * 512;
    cr_assert(held >= n && held <= n + ((size_t)1 << 20),
              "%zu bytes held "
              "for %zu written",
              held, n);
    close(fd);
    const uint8_t *got = seg.base;
    for (size_t i = 0; i < from; i++)
        cr_assert_eq(got[i], 0, "byte %zu before the start", i);
    cr_assert_eq(memcmp(got + from, want, n), 0);
    cr_assert_eq(got[from + n], 0);
    free(want);
    jr_shm_unlink(&seg);
    jr_shm_unmap(&seg);
    jr_test_assert_clean();
}

/* A device that is full says so from the write, and the writer keeps the
 * first error: every later call does nothing. */
Test(shm, a_writer_returns_enospc_from_a_full_device)
{
    int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        cr_skip_test("no /dev/full: %s", strerror(errno));
    jr_shm_writer w;
    cr_assert_eq(jr_shm_writer_init(&w, fd, 0, 4096), 0);
    uint8_t bytes[5000] = {1};
    jr_shm_writer_put(&w, bytes, 100); /* buffered: no error yet */
    cr_assert_eq(w.rc, 0);
    jr_shm_writer_put(&w, bytes, sizeof bytes);
    cr_assert_eq(w.rc, JR_ENOSPC);
    cr_assert_null(jr_shm_writer_room(&w, 10));
    cr_assert_eq(jr_shm_writer_fini(&w), JR_ENOSPC);
    close(fd);
}

/* A room may be asked for longer than what goes in it (a header whose
 * length is known once written): trimmed, the rest is not written, the
 * next byte lands right after, and the writer says where that is.  A
 * header written last goes in by jr_shm_pwrite(). */
Test(shm, a_trimmed_room_writes_only_what_was_kept)
{
    char name[JR_SHM_NAME_MAX];
    my_name(name, sizeof name, 0);
    jr_seg seg;
    int fd = -1;
    cr_assert_eq(jr_shm_create_sparse(&seg, name, 1 << 16, &fd), 0);
    jr_shm_writer w;
    cr_assert_eq(jr_shm_writer_init(&w, fd, 8, 4096), 0);
    uint8_t want[1 << 15] = {0};
    size_t n = 0;
    for (size_t k = 0; n + 40 < sizeof want; k++) {
        cr_assert_eq(jr_shm_writer_at(&w), 8 + n);
        uint8_t *p = jr_shm_writer_room(&w, 20);
        cr_assert_not_null(p);
        size_t keep = k % 21; /* 0 to all 20 */
        memset(p, 0xee, 20);
        for (size_t i = 0; i < keep; i++)
            p[i] = want[n + i] = (uint8_t)(1 + (k + i) % 251);
        jr_shm_writer_trim(&w, 20 - keep);
        n += keep;
    }
    cr_assert_eq(jr_shm_writer_at(&w), 8 + n);
    cr_assert_eq(jr_shm_writer_fini(&w), 0);
    cr_assert_eq(jr_shm_pwrite(fd, "headhead", 8, 0), 0);
    close(fd);
    const uint8_t *got = seg.base;
    cr_assert_eq(memcmp(got, "headhead", 8), 0);
    cr_assert_eq(memcmp(got + 8, want, n), 0);
    cr_assert_eq(got[8 + n], 0, "a trimmed byte was written");
    jr_shm_unlink(&seg);
    jr_shm_unmap(&seg);
    jr_test_assert_clean();
}

/*-************************************
 *  Sweep
 **************************************/
/* Create an empty regular file dir/name. */
static void touch(const char *dir, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
    close(fd);
}

static int in_dir(const char *dir, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return exists(path);
}

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    struct dirent *e;
    char path[PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) < 0)
            cr_assert_eq(rmdir(path), 0, "%s", path);
    }
    closedir(d);
    cr_assert_eq(rmdir(dir), 0);
}

Test(shm, sweep_removes_only_dead_masters_segments)
{
    char dir[96];
    jr_test_mkdtemp(dir, sizeof dir, "jr-sweep");
    unsigned uid = (unsigned)getuid();
    pid_t dead;
    uint64_t ds;
    dead_master(&dead, &ds);
    unsigned long long me = my_start;
    enum { FILE_, LINK, FIFO, DIR_, FOREIGN };
    static const int kind[10] = {FILE_, FILE_, FILE_, FILE_, FILE_,
                                 FILE_, LINK,  FIFO,  DIR_,  FOREIGN};
    static const int swept[10] = {1, 1};
    char name[10][96];
#define NAME(i, ...) snprintf(name[i], sizeof name[i], __VA_ARGS__)
    NAME(0, "jobrun.%u.%d.%llu.0", uid, (int)dead, (unsigned long long)ds);
    /* Our own pid with another start time: whoever had it before us. */
    NAME(1, "jobrun.%u.%d.%llu.1", uid, (int)getpid(), me + 1);
    NAME(2, "jobrun.%u.%d.%llu.0", uid, (int)getpid(), me); /* live */
    /* Dead master, but another uid in the name, a leading zero, a tail. */
    NAME(3, "jobrun.%u.%d.%llu.0", uid + 1, (int)dead, (unsigned long long)ds);
    NAME(4, "jobrun.%u.0%d.%llu.0", uid, (int)dead, (unsigned long long)ds);
    NAME(5, "jobrun.%u.%d.%llu.0.x", uid, (int)dead, (unsigned long long)ds);
    /* Dead master's names on a symlink, a FIFO, a directory, and a file
     * another user owns. */
    for (int i = 6; i < 10; i++)
        NAME(i, "jobrun.%u.%d.%llu.%d", uid, (int)dead,
             (unsigned long long)ds, i);
#undef NAME
    touch(dir, "target");
    int n_entries = geteuid() == 0 ? 10 : 9; /* chown needs root */
    for (int i = 0; i < n_entries; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, name[i]);
        if (kind[i] == LINK)
            cr_assert_eq(symlink("target", path), 0);
        else if (kind[i] == FIFO)
            cr_assert_eq(mkfifo(path, 0600), 0);
        else if (kind[i] == DIR_)
            cr_assert_eq(mkdir(path, 0700), 0);
        else
            touch(dir, name[i]);
        if (kind[i] == FOREIGN)
            cr_assert_eq(chown(path, 65534, 65534), 0);
    }

    unsigned n = 99;
    cr_assert_eq(jr_shm_sweep(dir, &n), 0);
    cr_assert_eq(n, 2);
    for (int i = 0; i < n_entries; i++)
        cr_assert_eq(in_dir(dir, name[i]), !swept[i], "%s", name[i]);
    cr_assert(in_dir(dir, "target"));

    /* A second sweep finds nothing more. */
    cr_assert_eq(jr_shm_sweep(dir, NULL), 0);
    cr_assert_eq(jr_shm_sweep(dir, &n), 0);
    cr_assert_eq(n, 0);
    rm_tree(dir);
    jr_test_assert_clean();
}

Test(shm, sweep_leaves_a_symlink_named_like_a_dead_masters_segment)
{
    char dir[96];
    jr_test_mkdtemp(dir, sizeof dir, "jr-sweep");
    pid_t dead;
    uint64_t dstart;
    dead_master(&dead, &dstart);
    char name[96], path[512], target[512];
    snprintf(name, sizeof name, "jobrun.%u.%d.%llu.0", (unsigned)getuid(),
             (int)dead, (unsigned long long)dstart);
    /* The link points at a file that is itself a dead master's segment
     * by name, in another directory: neither may be touched. */
    char tdir[96];
    jr_test_mkdtemp(tdir, sizeof tdir, "jr-target");
    touch(tdir, name);
    snprintf(target, sizeof target, "%s/%s", tdir, name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(symlink(target, path), 0);

    unsigned n = 99;
    cr_assert_eq(jr_shm_sweep(dir, &n), 0);
    cr_assert_eq(n, 0);
    cr_assert(exists(path));
    cr_assert(exists(target));
    rm_tree(dir);
    rm_tree(tdir);
    jr_test_assert_clean();
}

Test(shm, sweep_of_dev_shm_removes_a_dead_masters_segment_next_to_ours)
{
    pid_t dead;
    uint64_t dstart;
    dead_master(&dead, &dstart);
    char dname[JR_SHM_NAME_MAX], lname[JR_SHM_NAME_MAX], path[128];
    cr_assert_eq(jr_shm_name(dname, sizeof dname, dead, dstart, 0), 0);
    my_name(lname, sizeof lname, 0);
    jr_seg d, l;
    cr_assert_eq(jr_shm_create(&d, dname, 4096), 0);
    cr_assert_eq(jr_shm_create(&l, lname, 4096), 0);

    unsigned n = 0;
    int rc = jr_shm_sweep("/dev/shm", &n);
    shm_path(path, sizeof path, dname);
    int dead_left = exists(path);
    jr_shm_unlink(&d); /* clean up before asserting */
    jr_shm_unmap(&d);
    cr_assert_eq(rc, 0);
    /* n is not asserted: other dead masters' segments may be swept too,
     * and a sweep running beside this test (ctest -j) may take ours. */
    (void)n;
    cr_assert_not(dead_left);
    shm_path(path, sizeof path, lname);
    cr_assert(exists(path), "the live master's segment was swept");
    jr_shm_unlink(&l);
    jr_shm_unmap(&l);
    jr_test_assert_clean();
}

Test(shm, sweep_of_a_missing_directory_fails_with_enoent)
{
    unsigned n = 99;
    cr_assert_eq(jr_shm_sweep("/nonexistent/jr-sweep", &n), JR_ENOENT);
    cr_assert_eq(n, 0);
    jr_test_assert_clean();
}

/*-************************************
 *  Robust lock
 **************************************/
/* State guarded by the lock: a and b move together; busy is set while
 * they differ.  Lives in a segment, shared with children. */
typedef struct guarded {
    jr_lock lk;
    uint64_t a, b;
    int busy;
    int repairs;
} guarded;

static int repair(void *arg)
{
    guarded *g = arg;
    g->repairs++;
    if (g->busy) {
        g->b = g->a; /* finish the half-done update */
        g->busy = 0;
    }
    return 0;
}

static int refuse(void *arg)
{
    ((guarded *)arg)->repairs++;
    return -1;
}

static guarded *guarded_new(jr_seg *seg)
{
    char name[JR_SHM_NAME_MAX];
    my_name(name, sizeof name, 0);
    cr_assert_eq(jr_shm_create(seg, name, sizeof(guarded)), 0);
    jr_shm_unlink(seg); /* children inherit the mapping, not the name */
    guarded *g = seg->base;
    cr_assert_eq(jr_lock_init(&g->lk), 0);
    return g;
}

/* Fork a child that takes the lock, starts an update, and dies. */
static void die_holding(guarded *g)
{
    pid_t c = fork();
    cr_assert(c >= 0);
    if (c == 0) {
        if (jr_lock_acquire(&g->lk, 1000, repair, g, NULL) != 0)
            _exit(1);
        g->busy = 1;
        g->a++;
        _exit(0); /* never reaches b++ nor the unlock */
    }
    int st;
    cr_assert_eq(waitpid(c, &st, 0), c);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

Test(shm, lock_is_recovered_after_its_holder_dies_holding_it)
{
    jr_seg seg;
    guarded *g = guarded_new(&seg);
    die_holding(g);
    cr_assert_eq(g->busy, 1);

    int recovered = 0;
    uint64_t t0 = jr_now_ms();
    cr_assert_eq(jr_lock_acquire(&g->lk, 1000, repair, g, &recovered), 0);
    cr_assert_lt(jr_now_ms() - t0, 500, "recovery waited for the timeout");
    cr_assert_eq(recovered, 1);
    cr_assert_eq(g->repairs, 1);
    cr_assert_eq(g->busy, 0);
    cr_assert_eq(g->a, 1);
    cr_assert_eq(g->b, 1);
    g->a++;
    g->b++;
    jr_lock_release(&g->lk);

    /* Consistent again: a plain lock, no repair. */
    cr_assert_eq(jr_lock_acquire(&g->lk, 1000, repair, g, &recovered), 0);
    cr_assert_eq(recovered, 0);
    cr_assert_eq(g->repairs, 1);
    cr_assert_eq(g->a, 2);
    cr_assert_eq(g->b, 2);
    jr_lock_release(&g->lk);
    jr_lock_fini(&g->lk);
    jr_shm_unmap(&seg);
    jr_test_assert_clean();
}

Test(shm, lock_times_out_with_ebusy_while_a_live_child_holds_it)
{
    jr_seg seg;
    guarded *g = guarded_new(&seg);
    int held[2], go[2];
    cr_assert_eq(pipe(held), 0);
    cr_assert_eq(pipe(go), 0);
    pid_t c = fork();
    cr_assert(c >= 0);
    if (c == 0) {
        char b = 'x';
        if (jr_lock_acquire(&g->lk, 1000, NULL, NULL, NULL) != 0)
            _exit(1);
        (void)!write(held[1], &b, 1);
        (void)!read(go[0], &b, 1);
        jr_lock_release(&g->lk);
        _exit(0);
    }
    char b;
    cr_assert_eq(read(held[0], &b, 1), 1);

    int recovered = 7;
    uint64_t t0 = jr_now_ms();
    cr_assert_eq(jr_lock_acquire(&g->lk, 100, repair, g, &recovered),
                 JR_EBUSY);
    uint64_t waited = jr_now_ms() - t0;
    cr_assert_geq(waited, 90);
    cr_assert_lt(waited, 1000);
    cr_assert_eq(recovered, 0);
    cr_assert_eq(jr_lock_acquire(&g->lk, 0, repair, g, NULL), JR_EBUSY);

    cr_assert_eq(write(go[1], "g", 1), 1);
    int st;
    cr_assert_eq(waitpid(c, &st, 0), c);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    cr_assert_eq(jr_lock_acquire(&g->lk, 1000, repair, g, &recovered), 0);
    cr_assert_eq(recovered, 0);
    cr_assert_eq(g->repairs, 0);
    jr_lock_release(&g->lk);
    jr_lock_fini(&g->lk);
    jr_shm_unmap(&seg);
    close(held[0]);
    close(held[1]);
    close(go[0]);
    close(go[1]);
    jr_test_assert_clean();
}

Test(shm, an_unrepairable_lock_fails_with_eproto_from_then_on)
{
    jr_seg seg;
    guarded *g = guarded_new(&seg);
    die_holding(g);
    int recovered = 7;
    cr_assert_eq(jr_lock_acquire(&g->lk, 1000, refuse, g, &recovered),
                 JR_EPROTO);
    cr_assert_eq(recovered, 0);
    cr_assert_eq(g->repairs, 1);
    /* Not held, and never again: the runner must restart the phase. */
    cr_assert_eq(jr_lock_acquire(&g->lk, 100, repair, g, NULL), JR_EPROTO);
    cr_assert_eq(g->repairs, 1);
    jr_lock_fini(&g->lk);
    jr_shm_unmap(&seg);
    jr_test_assert_clean();
}

Test(shm, lock_serialises_updates_from_several_processes)
{
    enum { NPROC = 4, NITER = 20000 };
    jr_seg seg;
    guarded *g = guarded_new(&seg);
    pid_t kids[NPROC];
    for (int i = 0; i < NPROC; i++) {
        kids[i] = fork();
        cr_assert(kids[i] >= 0);
        if (kids[i] == 0) {
            for (int k = 0; k < NITER; k++) {
                if (jr_lock_acquire(&g->lk, 5000, repair, g, NULL) != 0)
                    _exit(1);
                g->a++;
                g->b = g->a;
                jr_lock_release(&g->lk);
            }
            _exit(0);
        }
    }
    for (int i = 0; i < NPROC; i++) {
        int st;
        cr_assert_eq(waitpid(kids[i], &st, 0), kids[i]);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    cr_assert_eq(g->a, (uint64_t)NPROC * NITER);
    cr_assert_eq(g->b, g->a);
    cr_assert_eq(g->repairs, 0);
    jr_lock_fini(&g->lk);
    jr_shm_unmap(&seg);
    jr_test_assert_clean();
}
