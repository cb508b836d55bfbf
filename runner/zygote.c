/*
 * zygote.c - jr_init(): a process-wide fork server for threaded hosts.
 *
 * Forking a process that has threads and then running ordinary code in
 * the child is unsafe: a lock another thread held at fork time stays
 * locked forever in the child.  So an application that will have threads
 * calls jr_init() first thing in main(), while it has only one; the
 * zygote forked then stays single-threaded and, for every later pool,
 * forks that pool's fork server (runner/spawn.c) and hands its socket to
 * the pool over SCM_RIGHTS.  Workers are copies of the application as it
 * was at jr_init(): jobs must exist by then (static code and data).
 *
 * The zygote dies with the application (PR_SET_PDEATHSIG, or EOF on its
 * socket) and ignores SIGCHLD, so the fork servers it forks never linger
 * as zombies.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner/runner.h"

typedef struct zreq {
    char endpoint[300];
    char ctl[JR_SHM_NAME_MAX];
    uint32_t liveness_ms;
} zreq;

static pthread_mutex_t zmu = PTHREAD_MUTEX_INITIALIZER;
static pid_t zpid;
static int zfd = -1;

static void serve_one(int fd, const zreq *q)
{
    int sp[2];
    int32_t pid = 0;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
        pid = -errno;
        send(fd, &pid, sizeof pid, MSG_NOSIGNAL);
        return;
    }
    pid_t self = getpid(); /* before the fork: see spawn_one() */
    pid_t child = fork();
    if (child == 0) {
        close(fd);
        close(sp[0]);
        signal(SIGCHLD, SIG_DFL);
        jr_seg ctl = {0};
        if (jr_shm_attach(&ctl, q->ctl, 1) < 0)
            _exit(JR_WEXIT_SETUP);
        jr_worker_args a = {.endpoint = q->endpoint, .ctl = ctl.base,
                            .liveness_ms = q->liveness_ms};
        jr_spawn_serve(sp[1], self, &a);
    }
    close(sp[1]);
    pid = child > 0 ? child : -errno;
    char cbuf[CMSG_SPACE(sizeof(int))];
    memset(cbuf, 0, sizeof cbuf);
    struct iovec iov = {.iov_base = &pid, .iov_len = sizeof pid};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (child > 0) {
        mh.msg_control = cbuf;
        mh.msg_controllen = sizeof cbuf;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &sp[0], sizeof(int));
    }
    sendmsg(fd, &mh, MSG_NOSIGNAL);
    close(sp[0]);
}

static void zygote_main(int fd, pid_t parent)
{
    if (fd > 3)
        close_range(3, (unsigned)fd - 1, 0);
    close_range((unsigned)fd + 1, ~0u, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(JR_WEXIT_ORPHAN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_IGN); /* fork servers are reaped by the kernel */
    for (;;) {
        zreq q;
        ssize_t n = recv(fd, &q, sizeof q, 0);
        if (n == 0 || (n < 0 && errno != EINTR))
            _exit(0);
        if (n != (ssize_t)sizeof q)
            continue;
        q.endpoint[sizeof q.endpoint - 1] = '\0';
        q.ctl[sizeof q.ctl - 1] = '\0';
        serve_one(fd, &q);
    }
}

JR_API int jr_init(void)
{
    pthread_mutex_lock(&zmu);
    int rc = 0;
    if (zpid > 0)
        goto out;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        rc = -errno;
        goto out;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        rc = -errno;
        close(sv[0]);
        close(sv[1]);
        goto out;
    }
    if (pid == 0) {
        close(sv[0]);
        zygote_main(sv[1], parent);
    }
    close(sv[1]);
    zpid = pid;
    zfd = sv[0];
out:
    pthread_mutex_unlock(&zmu);
    return rc;
}

JR_API void jr_fini(void)
{
    pthread_mutex_lock(&zmu);
    if (zpid > 0) {
        /* EOF tells it to go; it has no state worth a grace period. */
        close(zfd);
        uint64_t end = jr_now_ms() + 1000;
        int st;
        while (waitpid(zpid, &st, WNOHANG) == 0) {
            if (jr_now_ms() >= end) {
                kill(zpid, SIGKILL);
                waitpid(zpid, &st, 0);
                break;
            }
            poll(NULL, 0, 1);
        }
        zpid = 0;
        zfd = -1;
    }
    pthread_mutex_unlock(&zmu);
}

int jr_zygote_active(void)
{
    pthread_mutex_lock(&zmu);
    int on = zpid > 0;
    pthread_mutex_unlock(&zmu);
    return on;
}

int jr_zygote_spawner(const jr_worker_args *args, const char *ctl_name,
                      pid_t *pid, int *fd)
{
    zreq q;
    memset(&q, 0, sizeof q);
    if (strlen(args->endpoint) >= sizeof q.endpoint ||
        strlen(ctl_name) >= sizeof q.ctl)
        return JR_ENAMETOOLONG;
    strcpy(q.endpoint, args->endpoint);
    strcpy(q.ctl, ctl_name);
    q.liveness_ms = args->liveness_ms;

    /* One request at a time: pools may start from several threads. */
    pthread_mutex_lock(&zmu);
    int rc = JR_ESPAWN;
    if (zpid <= 0 || send(zfd, &q, sizeof q, MSG_NOSIGNAL) != sizeof q)
        goto out;
    int32_t got;
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = &got, .iov_len = sizeof got};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    struct pollfd p = {.fd = zfd, .events = POLLIN};
    if (poll(&p, 1, 5000) <= 0 ||
        recvmsg(zfd, &mh, MSG_CMSG_CLOEXEC) != sizeof got)
        goto out;
    if (got < 0) {
        rc = got;
        goto out;
    }
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    if (!cm || cm->cmsg_type != SCM_RIGHTS)
        goto out;
    memcpy(fd, CMSG_DATA(cm), sizeof(int));
    *pid = got;
    rc = 0;
out:
    pthread_mutex_unlock(&zmu);
    return rc;
}
