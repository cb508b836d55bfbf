/*
 * inmap.c - input pieces mapped in place, and the SIGBUS guard (see
 * inmap.h).
 *
 * The guard knows one window: the piece mapped now.  A fault inside it
 * can only mean the file lost those pages (truncated under us), so the
 * handler maps anonymous zero pages from the faulting page to the end of
 * the window with MAP_FIXED and returns; the faulting read is retried and
 * sees zeros.  A fault outside the window is not ours: the default action
 * is restored and the retried access kills the worker as it always would.
 * The handler calls only mmap() and signal(), raw system calls on Linux.
 */
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "worker/inmap.h"

static _Atomic uintptr_t win_base; /* 0: no window */
static _Atomic size_t win_span;
static atomic_int win_hit; /* the window got zero pages */
static int guarded;
static size_t page;

static void on_sigbus(int sig, siginfo_t *si, void *uctx)
{
    (void)uctx;
    uintptr_t a = (uintptr_t)si->si_addr;
    uintptr_t base = atomic_load(&win_base);
    size_t span = atomic_load(&win_span);
    if (base && si->si_code == BUS_ADRERR && a >= base && a - base < span) {
        uintptr_t from = a & ~(uintptr_t)(page - 1);
        void *z = mmap((void *)from, base + span - from, PROT_READ,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (z != MAP_FAILED) {
            atomic_store(&win_hit, 1);
            return;
        }
    }
    signal(sig, SIG_DFL);
}

int jr_inmap_guard(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    if (ps <= 0)
        return -1;
    page = (size_t)ps;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, NULL) < 0)
        return -1;
    guarded = 1;
    return 0;
}

int jr_inmap_open(jr_inmap *m, int fd, uint64_t off, uint64_t len,
                  uint64_t st_size)
{
    memset(m, 0, sizeof *m);
    if (!guarded)
        return -1;
    if (off >= st_size || len == 0) {
        m->data = (const uint8_t *)"";
        return 0;
    }
    if (len > st_size - off)
        len = st_size - off;
    uint64_t start = off & ~(uint64_t)(page - 1);
    uint64_t span = off - start + len;
    if (span > SIZE_MAX || (uint64_t)(off_t)start != start)
        return -1;
    /* MAP_POPULATE: one call maps every page of the page cache now, where
     * first touches would fault them in a few at a time. */
    void *b = mmap(NULL, (size_t)span, PROT_READ, MAP_PRIVATE | MAP_POPULATE,
                   fd, (off_t)start);
    if (b == MAP_FAILED)
        return -1;
    m->base = b;
    m->span = (size_t)span;
    m->data = (const uint8_t *)b + (off - start);
    m->len = (size_t)len;
    atomic_store(&win_hit, 0);
    atomic_store(&win_span, m->span);
    atomic_store(&win_base, (uintptr_t)b);
    return 0;
}

int jr_inmap_close(jr_inmap *m)
{
    if (!m || !m->base)
        return 0;
    atomic_store(&win_base, 0);
    int hit = atomic_load(&win_hit);
    munmap(m->base, m->span);
    memset(m, 0, sizeof *m);
    return hit;
}
