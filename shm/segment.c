/*
 * segment.c - POSIX shared-memory segments: their names, creation, attach,
 * unlink and unmap, and the process start time that makes a name unique to
 * one master (a pid can be reused; a pid plus its start time cannot).
 *
 * The runner creates every segment and alone unlinks it; workers attach
 * what they are told to.  Creation is O_EXCL with mode 0600 whatever the
 * umask, and the size is committed with posix_fallocate, so that a full
 * /dev/shm shows up here as JR_ENOSPC instead of a SIGBUS at first touch.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm/shm.h"
#include "util/util.h"

int jr_shm_name(char *out, size_t cap, pid_t master, uint64_t start,
                uint64_t n)
{
    int w = snprintf(out, cap, "/" JR_SHM_PREFIX "%u.%d.%llu.%llu",
                     (unsigned)getuid(), (int)master,
                     (unsigned long long)start, (unsigned long long)n);
    if (w < 0 || (size_t)w >= cap)
        return JR_ENAMETOOLONG;
    return 0;
}

/* A segment name is "/" and one path component that fits jr_seg.name:
 * anything else would let a caller reach outside /dev/shm or be cut. */
static int name_ok(const char *name)
{
    if (!name || name[0] != '/' || name[1] == '\0')
        return 0;
    if (strchr(name + 1, '/'))
        return 0;
    return strlen(name) < JR_SHM_NAME_MAX;
}

static void seg_clear(jr_seg *seg)
{
    seg->base = NULL;
    seg->len = 0;
    seg->name[0] = '\0';
}

/* posix_fallocate returns its error instead of setting errno, and may be
 * interrupted by a signal before it has committed the whole range. */
static int reserve(int fd, size_t off, size_t len)
{
    int rc;
    do
        rc = posix_fallocate(fd, (off_t)off, (off_t)len);
    while (rc == EINTR);
    if (rc == EINVAL || rc == EOPNOTSUPP) {
        /* off and len were checked, so EINVAL here means a file system
         * without fallocate.  ftruncate gives the size but not the
         * promise: there a full device can still SIGBUS on first touch. */
        struct stat st;
        if (fstat(fd, &st) < 0)
            return -errno;
        if ((uint64_t)st.st_size < (uint64_t)off + len &&
            ftruncate(fd, (off_t)(off + len)) < 0)
            return -errno;
        return 0;
    }
    return -rc; /* ENOSPC becomes JR_ENOSPC */
}

/* Create the object; with fd_out, leave its pages unreserved and give the
 * descriptor to the caller (jr_shm_create_sparse). */
static int create(jr_seg *seg, const char *name, size_t len, int *fd_out)
{
    seg_clear(seg);
    if (!name_ok(name) || len == 0 || len > (uint64_t)INT64_MAX)
        return JR_EINVAL;

    /* O_EXCL: a name that exists (a stale segment, another master, a
     * hostile file) is never reused; 0600 is narrowed by the umask, so
     * fchmod sets it again once the file is ours. */
    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;

    int rc;
    if (fchmod(fd, 0600) < 0) {
        rc = -errno;
        goto fail;
    }
    rc = fd_out ? (ftruncate(fd, (off_t)len) < 0 ? -errno : 0)
                : reserve(fd, 0, len);
    if (rc < 0)
        goto fail;
    /* Populated: the creator writes it all, and one call maps every page
     * where a fault per page would. */
    void *base = mmap(NULL, len, PROT_READ | PROT_WRITE,
                      MAP_SHARED | (fd_out ? 0 : MAP_POPULATE), fd, 0);
    if (base == MAP_FAILED) {
        rc = -errno;
        goto fail;
    }
    if (fd_out)
        *fd_out = fd;
    else
        close(fd); /* the mapping keeps the object alive */
    seg->base = base;
    seg->len = len;
    strcpy(seg->name, name); /* fits: name_ok() */
    return 0;

fail:
    /* Only reached after our O_EXCL open succeeded: the name is ours to
     * remove, and leaving it would leak a (possibly huge) segment. */
    close(fd);
    shm_unlink(name);
    return rc;
}

int jr_shm_create(jr_seg *seg, const char *name, size_t len)
{
    return create(seg, name, len, NULL);
}

int jr_shm_create_sparse(jr_seg *seg, const char *name, size_t len, int *fd)
{
    *fd = -1;
    return create(seg, name, len, fd);
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

int jr_shm_reserve(const jr_seg *seg, int fd, size_t off, size_t len)
{
    if (!seg->base || off > seg->len || len > seg->len - off)
        return JR_EINVAL;
    int rc = reserve(fd, off, len);
    if (rc < 0)
        return rc;
    /* Map the range's pages now, in one call; only an optimisation (older
     * kernels say EINVAL), the reservation is what makes writes safe. */
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t from = (uintptr_t)seg->base + off;
    uintptr_t start = from & ~(uintptr_t)(page - 1);
    (void)madvise((void *)start, len + (from - start), MADV_POPULATE_WRITE);
    return 0;
}

/*-************************************
 *  Writing through the descriptor
 **************************************/
int jr_shm_writer_init(jr_shm_writer *w, int fd, uint64_t off, size_t cap)
{
    cap = cap < 4096 ? 4096 : cap > JR_SHM_WRITER_MAX ? JR_SHM_WRITER_MAX : cap;
    *w = (jr_shm_writer){.fd = fd, .off = off, .cap = cap};
    w->buf = malloc(cap + JR_SHM_WRITER_SLACK);
    if (!w->buf)
        w->rc = JR_ENOMEM;
    return w->rc;
}

int jr_shm_pwrite(int fd, const void *p, size_t n, uint64_t off)
{
    const uint8_t *b = p;
    size_t done = 0;
    while (done < n) {
        ssize_t k = pwrite(fd, b + done, n - done, (off_t)(off + done));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno; /* ENOSPC becomes JR_ENOSPC */
        if (k == 0)
            return JR_ENOSPC; /* no progress and no error: do not spin */
        done += (size_t)k;
    }
    return 0;
}

static void writer_flush(jr_shm_writer *w)
{
    if (w->rc == 0)
        w->rc = jr_shm_pwrite(w->fd, w->buf, w->len, w->off);
    w->off += w->len;
    w->len = 0;
}

uint8_t *jr_shm_writer_room(jr_shm_writer *w, size_t n)
{
    if (w->rc == 0 && w->cap - w->len < n && n <= w->cap)
        writer_flush(w);
    if (w->rc < 0 || n > w->cap)
        return NULL;
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}

void jr_shm_writer_trim(jr_shm_writer *w, size_t n)
{
    w->len -= n < w->len ? n : w->len;
}

void jr_shm_writer_put(jr_shm_writer *w, const void *p, size_t n)
{
    const uint8_t *from = p;
    while (w->rc == 0 && n > 0) {
        size_t k = n < w->cap ? n : w->cap;
        uint8_t *to = jr_shm_writer_room(w, k);
        if (!to)
            return;
        memcpy(to, from, k);
        from += k;
        n -= k;
    }
}

int jr_shm_writer_fini(jr_shm_writer *w)
{
    if (w->rc == 0)
        writer_flush(w);
    free(w->buf);
    w->buf = NULL;
    return w->rc;
}

int jr_shm_attach(jr_seg *seg, const char *name, int writable)
{
    seg_clear(seg);
    if (!name_ok(name))
        return JR_EINVAL;

    /* O_NONBLOCK: a FIFO planted under the name must not hang us before
     * fstat can refuse it.  glibc's shm_open adds O_NOFOLLOW itself, so a
     * symbolic link fails with ELOOP. */
    int fd = shm_open(name, (writable ? O_RDWR : O_RDONLY) | O_NONBLOCK |
                                O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0)
        return errno == ELOOP ? JR_EPERM : -errno;

    int rc;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        goto fail;
    }
    if (!S_ISREG(st.st_mode) || st.st_uid != getuid()) {
        rc = JR_EPERM;
        goto fail;
    }
    if (st.st_size <= 0 || (uint64_t)st.st_size > SIZE_MAX) {
        rc = JR_EINVAL; /* not sized yet, or cannot be mapped whole */
        goto fail;
    }
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    void *base = mmap(NULL, (size_t)st.st_size, prot, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        rc = -errno;
        goto fail;
    }
    close(fd);
    seg->base = base;
    seg->len = (size_t)st.st_size;
    strcpy(seg->name, name);
    return 0;

fail:
    close(fd);
    return rc;
}

void jr_shm_unlink(jr_seg *seg)
{
    if (!seg || seg->name[0] == '\0')
        return;
    /* ENOENT (someone swept it already) is as good as done. */
    shm_unlink(seg->name);
    seg->name[0] = '\0';
}

void jr_shm_unmap(jr_seg *seg)
{
    if (!seg || !seg->base)
        return;
    munmap(seg->base, seg->len);
    seg->base = NULL;
    seg->len = 0;
}

int jr_proc_start_time(pid_t pid, uint64_t *out)
{
    if (pid <= 0)
        return JR_EINVAL;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ESRCH ? JR_ENOENT : -errno;
    /* Fields up to the 22nd take at most ~500 bytes even with a 64-byte
     * comm; a longer line is cut, which is harmless. */
    char buf[1024];
    ssize_t n = jr_read_full(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0)
        return n == -ESRCH ? JR_ENOENT : (int)n; /* exited meanwhile */
    buf[n] = '\0';

    /* Field 2, the command, is in parentheses and may hold spaces and
     * ')' itself: the fields resume after the last ')'. */
    const char *p = strrchr(buf, ')');
    if (!p)
        return JR_EIO;
    p++;
    for (int field = 3; field < 22; field++) {
        p = strchr(p + 1, ' ');
        if (!p)
            return JR_EIO;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p + 1, &end, 10);
    if (errno || end == p + 1 || (*end != ' ' && *end != '\0'))
        return JR_EIO;
    *out = v;
    return 0;
}
