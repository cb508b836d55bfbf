/*
 * sweep.c - remove the segments that dead masters left in /dev/shm.
 *
 * A master that is SIGKILLed cannot unlink its segments, so the next
 * master sweeps them at start.  A segment's name carries its master's uid,
 * pid and start time; the segment is stale when that pid is gone or now
 * belongs to a process that started at another time.  The sweep is
 * deliberately narrow: it only removes regular files of this uid whose
 * name it would itself have written, never a symlink, never another
 * user's entry and never a live master's segment.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm/shm.h"
#include "util/util.h"

/* Parse decimal digits at *s up to max; advance *s.  Leading zeros are
 * caught later by the round trip in parse(). */
static int num(const char **s, uint64_t max, uint64_t *v)
{
    const char *p = *s;
    uint64_t x = 0;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (x > (max - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *v = x;
    *s = p;
    return 0;
}

/* Split "jobrun.<uid>.<pid>.<start>.<n>" and check that formatting the
 * fields again gives the same name, so that only names jr_shm_name()
 * could have produced are ever removed ("jobrun.0.007..." is not one). */
static int parse(const char *name, unsigned *uid, pid_t *pid, uint64_t *start)
{
    static const char pre[] = JR_SHM_PREFIX;
    if (strncmp(name, pre, sizeof pre - 1) != 0)
        return -1;
    const char *s = name + sizeof pre - 1;
    uint64_t f[4];
    static const uint64_t max[4] = {UINT_MAX, INT_MAX, UINT64_MAX, UINT64_MAX};
    for (int i = 0; i < 4; i++) {
        if (num(&s, max[i], &f[i]) < 0)
            return -1;
        if (*s != (i < 3 ? '.' : '\0'))
            return -1;
        s++;
    }
    char again[JR_SHM_NAME_MAX];
    int w = snprintf(again, sizeof again, JR_SHM_PREFIX "%u.%d.%llu.%llu",
                     (unsigned)f[0], (int)f[1], (unsigned long long)f[2],
                     (unsigned long long)f[3]);
    if (w < 0 || (size_t)w >= sizeof again || strcmp(again, name) != 0)
        return -1;
    if (f[1] == 0)
        return -1;
    *uid = (unsigned)f[0];
    *pid = (pid_t)f[1];
    *start = f[2];
    return 0;
}

int jr_shm_sweep(const char *dir, unsigned *nremoved)
{
    if (nremoved)
        *nremoved = 0;
    if (!dir)
        dir = "/dev/shm";
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    DIR *d = fdopendir(dfd);
    if (!d) {
        int rc = -errno;
        close(dfd);
        return rc;
    }

    unsigned me = (unsigned)getuid(), n = 0;
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            rc = -errno; /* 0 at the end of the directory */
            break;
        }
        unsigned uid;
        pid_t pid;
        uint64_t start;
        if (parse(e->d_name, &uid, &pid, &start) < 0 || uid != me)
            continue;
        /* The name is only a claim: lstat says what the entry is.  A
         * symlink, a FIFO or a file another user owns is left alone. */
        struct stat st;
        if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (!S_ISREG(st.st_mode) || st.st_uid != me)
            continue;
        if (!jr_shm_master_dead(dfd, pid, start))
            continue;
        /* In the sticky /dev/shm nobody else can swap our entry between
         * the lstat and here; and unlinkat never follows a link anyway.
         * ENOENT means another sweeper won the race: not ours to count. */
        if (unlinkat(dfd, e->d_name, 0) == 0)
            n++;
    }
    closedir(d);
    if (nremoved)
        *nremoved = n;
    return rc;
}
