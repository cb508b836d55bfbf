/*
 * util.c - the small helpers of util.h: the growable byte buffer, the
 * bounds-checked reader over untrusted bytes, the monotonic clock, I/O
 * that survives EINTR and short counts, signal names, and the escaping of
 * file names before they reach a terminal or a log.
 *
 * Nothing here keeps global state except the thread-local buffer behind
 * jr_signame()'s fallback for signals without a name.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/mman.h>
#include <sys/stat.h>

#include "util/util.h"

/*-************************************
 *  Growable arrays and the byte buffer
 **************************************/
int jr_array_reserve(void *arrayp, size_t *cap, size_t need, size_t size,
                     size_t first)
{
    if (need <= *cap)
        return 0;
    if (size == 0 || need > SIZE_MAX / size)
        return JR_ENOMEM;
    /* Double, so that n appends cost O(n) copies in all; where doubling
     * would pass what a size_t can count, take exactly what is needed. */
    size_t most = SIZE_MAX / size; /* elements whose bytes a size_t counts */
    size_t c = *cap ? *cap : first ? first : 1;
    if (c > most)
        c = need;
    while (c < need)
        c = c > most / 2 ? need : c * 2;
    void *old; /* the caller's pointer, whatever its type: copied, not cast */
    memcpy(&old, arrayp, sizeof old);
    void *p = realloc(old, c * size);
    if (!p)
        return JR_ENOMEM;
    memcpy(arrayp, &p, sizeof p);
    *cap = c;
    return 0;
}

int jr_buf_reserve(jr_buf *b, size_t more)
{
    if (more <= b->cap - b->len)
        return 0;
    if (more > SIZE_MAX - b->len)
        return JR_ENOMEM;
    return jr_array_reserve(&b->data, &b->cap, b->len + more, 1, 64);
}

int jr_buf_append(jr_buf *b, const void *p, size_t len)
{
    int rc = jr_buf_reserve(b, len);
    if (rc < 0)
        return rc;
    if (len) /* memcpy from NULL is undefined even for 0 bytes */
        memcpy(b->data + b->len, p, len);
    b->len += len;
    return 0;
}

int jr_buf_put_u32(jr_buf *b, uint32_t v)
{
    uint8_t le[4];
    jr_put_u32(le, v);
    return jr_buf_append(b, le, sizeof le);
}

int jr_buf_put_u64(jr_buf *b, uint64_t v)
{
    uint8_t le[8];
    jr_put_u64(le, v);
    return jr_buf_append(b, le, sizeof le);
}

void jr_buf_fini(jr_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

/*-************************************
 *  Reader over untrusted bytes
 **************************************/
int jr_rd_bytes(jr_rd *r, size_t n, const uint8_t **p)
{
    if (n > r->len)
        return JR_EPROTO;
    *p = r->p;
    r->p += n;
    r->len -= n;
    return 0;
}

int jr_rd_u32(jr_rd *r, uint32_t *v)
{
    const uint8_t *p;
    int rc = jr_rd_bytes(r, 4, &p);
    if (rc == 0)
        *v = jr_get_u32(p);
    return rc;
}

int jr_rd_u64(jr_rd *r, uint64_t *v)
{
    const uint8_t *p;
    int rc = jr_rd_bytes(r, 8, &p);
    if (rc == 0)
        *v = jr_get_u64(p);
    return rc;
}

/*-************************************
 *  Clock and I/O
 **************************************/
uint64_t jr_mtime_ns(const struct stat *st)
{
    return (uint64_t)st->st_mtim.tv_sec * 1000000000u +
           (uint64_t)st->st_mtim.tv_nsec;
}

uint64_t jr_now_ns(void)
{
    struct timespec ts;
    /* CLOCK_MONOTONIC cannot fail with a valid pointer; it also never
     * jumps with the wall clock, which is what timeouts need. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

ssize_t jr_read_full(int fd, void *buf, size_t len)
{
    if (len > SSIZE_MAX)
        return -EINVAL;
    size_t done = 0;
    while (done < len) {
        ssize_t n = read(fd, (uint8_t *)buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break; /* EOF: the caller sees the short count */
        done += (size_t)n;
    }
    return (ssize_t)done;
}

ssize_t jr_write_full(int fd, const void *buf, size_t len)
{
    if (len > SSIZE_MAX)
        return -EINVAL;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, (const uint8_t *)buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO; /* no progress and no error: do not spin */
        done += (size_t)n;
    }
    return (ssize_t)done;
}

ssize_t jr_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    /* off_t is signed: an offset past its range, or one the read would
     * carry past it, is refused rather than wrapped. */
    if (len > SSIZE_MAX || off > (uint64_t)INT64_MAX ||
        len > (uint64_t)INT64_MAX - off)
        return -EINVAL;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + done, len - done,
                          (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

/*-************************************
 *  Signal names
 **************************************/
static const char *const signames[] = {
    [SIGHUP] = "SIGHUP",   [SIGINT] = "SIGINT",     [SIGQUIT] = "SIGQUIT",
    [SIGILL] = "SIGILL",   [SIGTRAP] = "SIGTRAP",   [SIGABRT] = "SIGABRT",
    [SIGBUS] = "SIGBUS",   [SIGFPE] = "SIGFPE",     [SIGKILL] = "SIGKILL",
    [SIGUSR1] = "SIGUSR1", [SIGSEGV] = "SIGSEGV",   [SIGUSR2] = "SIGUSR2",
    [SIGPIPE] = "SIGPIPE", [SIGALRM] = "SIGALRM",   [SIGTERM] = "SIGTERM",
    [SIGCHLD] = "SIGCHLD", [SIGCONT] = "SIGCONT",   [SIGSTOP] = "SIGSTOP",
    [SIGTSTP] = "SIGTSTP", [SIGTTIN] = "SIGTTIN",   [SIGTTOU] = "SIGTTOU",
    [SIGURG] = "SIGURG",   [SIGXCPU] = "SIGXCPU",   [SIGXFSZ] = "SIGXFSZ",
    [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF",
    [SIGSYS] = "SIGSYS",
};

const char *jr_signame(int sig)
{
    if (sig > 0 && (size_t)sig < sizeof signames / sizeof signames[0] &&
        signames[sig])
        return signames[sig];
    /* Thread-local, so two threads naming odd signals do not race; the
     * text stays valid until this thread's next fallback. */
    static _Thread_local char other[24];
    snprintf(other, sizeof other, "SIG%d", sig);
    return other;
}

/*-************************************
 *  Escaping names
 **************************************/
/* Length of the valid UTF-8 sequence at s (1..4), or 0 when s does not
 * start one: stray continuation bytes, overlong forms, surrogates, code
 * points past U+10FFFF and sequences cut by the end of the string. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned lo = 0x80, hi = 0xbf; /* range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* UTF-16 surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* past U+10FFFF */
    } else {
        return 0;
    }
    if (s[1] < lo || s[1] > hi)
        return 0; /* also stops at the NUL terminator */
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

/* A byte, or a sequence, that must not reach a terminal as it is. */
static int needs_escape(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 1;
    if (n == 1)
        return s[0] < 0x20 || s[0] == 0x7f || s[0] == '\\';
    /* C1 controls (U+0080..U+009F) are valid UTF-8, yet some terminals
     * obey U+009B as CSI: escape them like C0. */
    return n == 2 && s[0] == 0xc2 && s[1] < 0xa0;
}

void jr_escape_name(char *out, size_t cap, const char *name)
{
    static const char hex[] = "0123456789abcdef";
    if (cap == 0)
        return;
    const unsigned char *s = (const unsigned char *)(name ? name : "");
    size_t o = 0;
    while (*s) {
        size_t n = utf8_len(s);
        if (needs_escape(s, n)) {
            /* Escape one byte at a time: the bytes of an escaped C1
             * sequence each get their own \xHH, as do invalid ones. */
            size_t k = n ? n : 1;
            if (o + 4 * k >= cap)
                break; /* never cut an escape in half */
            for (size_t i = 0; i < k; i++) {
                out[o++] = '\\';
                out[o++] = 'x';
                out[o++] = hex[s[i] >> 4];
                out[o++] = hex[s[i] & 0xf];
            }
            s += k;
        } else {
            if (o + n >= cap)
                break; /* never cut a UTF-8 sequence in half */
            memcpy(out + o, s, n);
            o += n;
            s += n;
        }
    }
    out[o] = '\0';
}

void *jr_big_alloc(size_t bytes)
{
    if (bytes < JR_BIG_BYTES)
        return calloc(1, bytes ? bytes : 1);
    if (bytes > SIZE_MAX - JR_BIG_BYTES)
        return NULL;
    size_t span = bytes + JR_BIG_BYTES;
    uint8_t *m = mmap(NULL, span, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    uint8_t *a = (uint8_t *)(((uintptr_t)m + JR_BIG_BYTES - 1) &
                             ~(uintptr_t)(JR_BIG_BYTES - 1));
    if (a > m)
        munmap(m, (size_t)(a - m));
    if (m + span > a + bytes)
        munmap(a + bytes, (size_t)(m + span - (a + bytes)));
    (void)madvise(a, bytes, MADV_HUGEPAGE); /* a hint: may be off */
    return a;
}

void jr_big_free(void *p, size_t bytes)
{
    if (!p)
        return;
    if (bytes < JR_BIG_BYTES)
        free(p);
    else
        munmap(p, bytes);
}

void jr_big_zero(void *p, size_t bytes, size_t off, size_t len)
{
    uint8_t *b = p;
    if (bytes >= JR_BIG_BYTES && len > 0) {
        /* Linux's MADV_DONTNEED: private anonymous pages read as zeros
         * after it (POSIX leaves that open; jobrun needs Linux anyway). */
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        size_t lo = (off + page - 1) / page * page,
               hi = (off + len) / page * page;
        if (lo < hi && madvise(b + lo, hi - lo, MADV_DONTNEED) == 0) {
            memset(b + off, 0, lo - off);
            memset(b + hi, 0, off + len - hi);
            return;
        }
    }
    memset(b + off, 0, len);
}
