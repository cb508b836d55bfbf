/*
 * lease.c - how a sweeper tells a live master from a dead one, even
 * across pid namespaces.
 *
 * /proc answers for masters in our pid namespace: the pid exists and
 * started when the name says.  A master in another pid namespace that
 * shares /dev/shm has a pid that means nothing here, so every live master
 * also holds flock(LOCK_EX) on its lease, a segment named for it with
 * index JR_SHM_LEASE_N; the kernel drops the lock when the process dies,
 * however it dies.  A name whose master is not alive by /proc and whose
 * lease nobody holds is stale.  One lease per process, shared by its
 * pools (counted), removed with the last one.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobrun.h"
#include "shm/shm.h"

static pthread_mutex_t lease_mu = PTHREAD_MUTEX_INITIALIZER;
static int lease_fd = -1;
static unsigned lease_users;
static char lease_name[JR_SHM_NAME_MAX];

int jr_shm_lease_take(pid_t pid, uint64_t start)
{
    pthread_mutex_lock(&lease_mu);
    int rc = 0;
    if (lease_users > 0 && lease_fd >= 0) {
        lease_users++;
        goto out;
    }
    rc = jr_shm_name(lease_name, sizeof lease_name, pid, start,
                     JR_SHM_LEASE_N);
    if (rc < 0)
        goto out;
    /* Locked before it has its name: a sweeper must never see our lease
     * unheld.  Made under a name no sweep parses, then linked into place
     * (link fails if the name exists: then it is a dead process's with
     * our pid and start, which the sweep removes, or ours). */
    char tmp[JR_SHM_NAME_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.new", lease_name);
    int fd = shm_open(tmp, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    fchmod(fd, 0600);
    char from[JR_SHM_NAME_MAX + 16], to[JR_SHM_NAME_MAX + 16];
    snprintf(from, sizeof from, "/dev/shm%s", tmp);
    snprintf(to, sizeof to, "/dev/shm%s", lease_name);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0 || link(from, to) < 0) {
        rc = -errno;
        shm_unlink(tmp);
        close(fd);
        goto out;
    }
    shm_unlink(tmp);
    lease_fd = fd;
    lease_users = 1;
out:
    pthread_mutex_unlock(&lease_mu);
    return rc;
}

void jr_shm_lease_drop(void)
{
    pthread_mutex_lock(&lease_mu);
    if (lease_users > 0 && --lease_users == 0 && lease_fd >= 0) {
        shm_unlink(lease_name);
        close(lease_fd);
        lease_fd = -1;
    }
    pthread_mutex_unlock(&lease_mu);
}

int jr_shm_master_dead(int dirfd, pid_t pid, uint64_t start)
{
    uint64_t now;
    int rc = jr_proc_start_time(pid, &now);
    if (rc == 0 && now == start)
        return 0; /* alive here */
    if (rc != 0 && rc != JR_ENOENT)
        return 0; /* any doubt keeps it */
    char name[JR_SHM_NAME_MAX];
    if (jr_shm_name(name, sizeof name, pid, start, JR_SHM_LEASE_N) < 0)
        return 0;
    int fd = openat(dirfd, name + 1,
                    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT; /* no lease at all: dead */
    int held = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
    close(fd);
    return !held; /* held: alive in another pid namespace */
}
