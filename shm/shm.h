/*
 * shm.h - POSIX shared-memory segments and robust process-shared locks.
 *
 * Owns: segment naming (/jobrun.<uid>.<master pid>.<master start>.<n>),
 * creation (O_CREAT|O_EXCL, mode 0600 whatever the umask, posix_fallocate
 * or writes through the descriptor, so a full /dev/shm is ENOSPC and never
 * SIGBUS), attach, unlink, the sweep of dead masters' segments, and the
 * robust mutex with its EOWNERDEAD recovery.  Knows nothing of tasks or
 * messages.
 */
#ifndef JR_SHM_H
#define JR_SHM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define JR_SHM_PREFIX "jobrun."
#define JR_SHM_NAME_MAX 96

/* A mapped segment.  The mapping belongs to whoever filled the struct;
 * the name belongs to the master (the runner), which alone unlinks. */
typedef struct jr_seg {
    void *base;
    size_t len;
    char name[JR_SHM_NAME_MAX]; /* "/jobrun...."; "" once unlinked */
} jr_seg;

/* Format the name of segment n of the master (pid, start time): exactly
 * "/jobrun.<getuid()>.<pid>.<start>.<n>".
 * @return 0, JR_ENAMETOOLONG when it does not fit in cap. */
int jr_shm_name(char *out, size_t cap, pid_t master, uint64_t start, uint64_t n);

/* Create, size (posix_fallocate) and map a new segment read-write.
 * name is "/" plus one component, shorter than JR_SHM_NAME_MAX; len > 0.
 * On failure nothing is left behind (a name we created is unlinked; an
 * existing one, JR_EEXIST, is untouched) and *seg is zeroed.
 * @return 0, JR_EEXIST, JR_ENOSPC, JR_ENOMEM, JR_EINVAL, or -errno. */
int jr_shm_create(jr_seg *seg, const char *name, size_t len);

/* The same, for a segment filled piecemeal: sized but not reserved (a
 * sparse object, mapped without populating, so creating a large one costs
 * next to nothing).  Every range must go through jr_shm_reserve() before
 * it is first written through the mapping; writes through *fd (a
 * jr_shm_writer) need none.  *fd is the object's descriptor, which the caller
 * owns (close it with the segment), or -1 on failure.
 * @return as jr_shm_create(). */
int jr_shm_create_sparse(jr_seg *seg, const char *name, size_t len, int *fd);

/* Reserve [off, off + len) of a sparse segment (posix_fallocate: a full
 * /dev/shm is JR_ENOSPC here, never a SIGBUS at first touch) and map its
 * pages.  fd is the one jr_shm_create_sparse() gave.  Idempotent.
 * @return 0, JR_ENOSPC, JR_EINVAL (outside the segment), or -errno. */
int jr_shm_reserve(const jr_seg *seg, int fd, size_t off, size_t len);

/* Fills a sparse segment in order through its descriptor, from a buffer
 * of its own: tmpfs allocates each page as the write reaches it, without
 * the zeroing and the page-table work that reserving and mapping it
 * first cost (a 24 MB segment: 9 ms, against 13.5 to reserve and map it
 * before writing it), and a full /dev/shm is JR_ENOSPC from the write,
 * never a SIGBUS. */
typedef struct jr_shm_writer {
    int fd;       /* not owned */
    uint64_t off; /* where buf[0] goes */
    uint8_t *buf; /* owned */
    size_t len, cap;
    int rc; /* the first error: later calls do nothing */
} jr_shm_writer;

/* Buffers larger than this gain nothing. */
#define JR_SHM_WRITER_MAX ((size_t)256 << 10)

/* Write from offset off of fd, through a buffer of cap bytes (at most
 * JR_SHM_WRITER_MAX; at least 4 KiB are taken).  @return 0, JR_ENOMEM. */
int jr_shm_writer_init(jr_shm_writer *w, int fd, uint64_t off, size_t cap);

/* Bytes past a room that may be written too: they are not written out,
 * and the next room starts on them.  A caller copies a short field as
 * whole words this way, not by a memcpy of a variable length (a call). */
#define JR_SHM_WRITER_SLACK 16

/* n bytes to fill at the next offset, and JR_SHM_WRITER_SLACK after
 * them that are scratch, valid until the next call; NULL after an error,
 * or when n is larger than the buffer (put() takes any length). */
uint8_t *jr_shm_writer_room(jr_shm_writer *w, size_t n);

/* The last room was n bytes longer than what was written in it: those
 * bytes are not written out, and the next room starts on them.  For
 * fields whose length is known once written. */
void jr_shm_writer_trim(jr_shm_writer *w, size_t n);

/* Append n bytes, of any length. */
void jr_shm_writer_put(jr_shm_writer *w, const void *p, size_t n);

/* The offset in the object of the next byte appended. */
static inline uint64_t jr_shm_writer_at(const jr_shm_writer *w)
{
    return w->off + w->len;
}

/* Write n bytes at off of fd, whole, outside any writer (a header
 * written last).  @return 0, JR_ENOSPC, -errno. */
int jr_shm_pwrite(int fd, const void *p, size_t n, uint64_t off);

/* Write what is left and free the buffer.  @return 0, the first error
 * (JR_ENOSPC, -errno, JR_ENOMEM from room()). */
int jr_shm_writer_fini(jr_shm_writer *w);

/* Map an existing segment created by this uid (checked with fstat).
 * Opens with O_NONBLOCK and O_NOFOLLOW: a FIFO or a symlink under the
 * name is refused without blocking.  On failure *seg is zeroed.
 * @return 0, JR_ENOENT, JR_EPERM (other owner, not a regular file, or
 * a symlink), JR_EINVAL (bad name, or an empty object), or -errno. */
int jr_shm_attach(jr_seg *seg, const char *name, int writable);

/* Remove the name (the mapping stays).  Idempotent. */
void jr_shm_unlink(jr_seg *seg);

/* Unmap; the name is untouched.  Idempotent, NULL-safe. */
void jr_shm_unmap(jr_seg *seg);

/* Start time of a process (field 22 of /proc/PID/stat, clock ticks since
 * boot), which tells a dead master from a reused pid.  A zombie still
 * exists.  @return 0, JR_ENOENT when the process does not exist,
 * JR_EINVAL (pid <= 0), JR_EIO (unparsable /proc line), or -errno. */
int jr_proc_start_time(pid_t pid, uint64_t *out);

/* Remove the segments in /dev/shm of this uid whose master is dead: its pid
 * does not exist, or exists with another start time.  Never touches
 * another user's entry, a symlink, a non-regular file, or a live master's
 * segment.  dir NULL means "/dev/shm"; tests pass a directory of their
 * own.  Only names jr_shm_name() could have written (no leading zeros,
 * nothing after <n>) are considered, and the uid in the name and the
 * file's owner must both be getuid().  A master whose /proc entry cannot
 * be read for another reason than ENOENT is taken as alive.
 * *nremoved (may be NULL) gets the count.  @return 0 or -errno. */
int jr_shm_sweep(const char *dir, unsigned *nremoved);

/* Leases (lease.c): every live master holds flock(LOCK_EX) on the segment
 * named (pid, start, JR_SHM_LEASE_N), one per process, so that a sweeper
 * in another pid namespace can still tell it is alive. */
#define JR_SHM_LEASE_N 0xffffffffffffull
/* Take (or share) the process's lease.  @return 0 or -errno. */
int jr_shm_lease_take(pid_t pid, uint64_t start);
/* Give it back; the last user removes it. */
void jr_shm_lease_drop(void);
/* Is the master (pid, start) certainly gone?  Not if /proc shows it, nor
 * if its lease in dirfd (the shm directory) is held.  Any doubt: no. */
int jr_shm_master_dead(int dirfd, pid_t pid, uint64_t start);

/* A robust, process-shared mutex, to live inside a segment. */
typedef struct jr_lock {
    pthread_mutex_t mu;
} jr_lock;

/* Repair the state a lock guards after its owner died holding it.
 * @return 0 if repaired, non-zero if it cannot be (the lock is then left
 * unusable: the caller restarts the phase). */
typedef int (*jr_repair_fn)(void *arg);

/* Initialise in place (PTHREAD_PROCESS_SHARED + PTHREAD_MUTEX_ROBUST).
 * @return 0 or -errno. */
int jr_lock_init(jr_lock *lk);

/* Lock, waiting at most timeout_ms.  When the previous owner died holding
 * it (EOWNERDEAD), call repair(arg) and mark the mutex consistent.
 * @return 0 (held, *recovered set to 1 if a repair ran, may be NULL),
 * JR_EBUSY on timeout, JR_EPROTO when the state could not be repaired
 * (the lock is not held).
 * repair may be NULL: the state needs no repair.  When repair fails the
 * mutex is unlocked without being marked consistent, so it becomes
 * ENOTRECOVERABLE: this and every later call return JR_EPROTO.
 * timeout_ms 0 tries once.  The deadline is on CLOCK_REALTIME (what
 * pthread_mutex_timedlock takes): a wall-clock step moves it. */
int jr_lock_acquire(jr_lock *lk, unsigned timeout_ms, jr_repair_fn repair,
                    void *arg, int *recovered);

void jr_lock_release(jr_lock *lk);
void jr_lock_fini(jr_lock *lk);

#endif /* JR_SHM_H */
