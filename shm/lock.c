/*
 * lock.c - the robust, process-shared mutex that guards shared state in a
 * segment, and the one place where a dead owner is recovered from.
 *
 * A worker can die at any instruction, including inside a critical
 * section.  A plain mutex would then deadlock every other process for
 * good (boost.interprocess #65).  A robust mutex instead hands the next
 * locker EOWNERDEAD: it holds the lock, repairs or discards the half-made
 * state, and only then marks the mutex consistent (PostgreSQL's rule: if
 * the state cannot be trusted, do not pretend it can).
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "shm/shm.h"
#include "util/util.h"

int jr_lock_init(jr_lock *lk)
{
    pthread_mutexattr_t a;
    int rc = pthread_mutexattr_init(&a);
    if (rc)
        return -rc;
    rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (rc == 0)
        rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (rc == 0)
        rc = pthread_mutex_init(&lk->mu, &a);
    pthread_mutexattr_destroy(&a);
    return -rc;
}

/* The absolute CLOCK_REALTIME deadline pthread_mutex_timedlock wants.  A
 * wall-clock step during the wait shortens or stretches it; the waits here
 * are short (about a second), and POSIX.1-2008 has no monotonic variant
 * (pthread_mutex_clocklock came later). */
static struct timespec deadline(unsigned timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(timeout_ms / 1000);
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* We hold the lock, but its last owner died inside the critical section.
 * Repair the state first: until pthread_mutex_consistent() every other
 * locker would also see EOWNERDEAD, so nobody can observe it half-made. */
static int recover(jr_lock *lk, jr_repair_fn repair, void *arg)
{
    if (repair && repair(arg) != 0)
        goto unusable;
    if (pthread_mutex_consistent(&lk->mu) != 0)
        goto unusable;
    return 0;

unusable:
    /* Unlocking without marking it consistent makes the mutex
     * ENOTRECOVERABLE for everyone: each later locker gets JR_EPROTO and
     * the runner restarts the phase with fresh segments. */
    pthread_mutex_unlock(&lk->mu);
    return JR_EPROTO;
}

int jr_lock_acquire(jr_lock *lk, unsigned timeout_ms, jr_repair_fn repair,
                    void *arg, int *recovered)
{
    if (recovered)
        *recovered = 0;
    struct timespec ts = deadline(timeout_ms);
    int rc = pthread_mutex_timedlock(&lk->mu, &ts);
    switch (rc) {
    case 0:
        return 0;
    case ETIMEDOUT:
        return JR_EBUSY;
    case EOWNERDEAD:
        rc = recover(lk, repair, arg);
        if (rc == 0 && recovered)
            *recovered = 1;
        return rc;
    case ENOTRECOVERABLE:
        return JR_EPROTO;
    default:
        return -rc; /* EDEADLK, EINVAL: misuse by the caller */
    }
}

void jr_lock_release(jr_lock *lk)
{
    pthread_mutex_unlock(&lk->mu);
}

void jr_lock_fini(jr_lock *lk)
{
    if (lk)
        pthread_mutex_destroy(&lk->mu);
}
