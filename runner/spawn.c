/*
 * spawn.c - the fork server.
 *
 * jr_pool_new() forks this small process before the pool creates its
 * ZeroMQ context; every worker, the first ones and every replacement, is
 * forked from it, so no worker ever inherits a context (RELIABILITY rule
 * 1) and a respawn never forks the master.  It speaks fixed-size records
 * over a SOCK_SEQPACKET socketpair: SPAWN, KILL and QUIT from the master;
 * SPAWNED and EXITED back, EXITED as soon as SIGCHLD says a worker died.
 * When the master goes away (EOF on the socket, or PR_SET_PDEATHSIG) it
 * kills its workers and exits; its workers die with it the same way.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner/runner.h"
#include "worker/fault.h"

enum { OP_SPAWN = 1, OP_KILL, OP_QUIT, OP_SPAWNED, OP_EXITED, OP_READY };

typedef struct rec {
    uint32_t op;
    uint32_t slot;
    uint32_t gen;
    int32_t pid;
    int32_t arg; /* signal for KILL, wait status for EXITED, grace ms */
} rec;

#define MAX_CHILDREN 4096

static int send_rec(int fd, const rec *r)
{
    ssize_t n;
    do
        n = send(fd, r, sizeof *r, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof *r ? 0 : -errno;
}

/* ---- the fork server process ------------------------------------------ */

typedef struct server {
    int fd, sfd;
    pid_t kids[MAX_CHILDREN];
    unsigned nkids;
    jr_worker_args args;
} server;

static void forget(server *s, pid_t pid)
{
    for (unsigned i = 0; i < s->nkids; i++)
        if (s->kids[i] == pid) {
            s->kids[i] = s->kids[--s->nkids];
            return;
        }
}

static int known(const server *s, pid_t pid)
{
    for (unsigned i = 0; i < s->nkids; i++)
        if (s->kids[i] == pid)
            return 1;
    return 0;
}

static void reap(server *s, int report)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        forget(s, pid);
        if (report) {
            rec r = {.op = OP_EXITED, .pid = pid, .arg = st};
            send_rec(s->fd, &r);
        }
    }
}

/* TERM, wait up to grace_ms, then KILL; reap everything.  SIGKILL also
 * ends stopped workers, so this is bounded whatever state they are in. */
static void stop_all(server *s, int grace_ms)
{
    for (unsigned i = 0; i < s->nkids; i++)
        kill(s->kids[i], grace_ms > 0 ? SIGTERM : SIGKILL);
    uint64_t end = jr_now_ms() + (uint64_t)(grace_ms > 0 ? grace_ms : 0);
    while (s->nkids > 0 && jr_now_ms() < end) {
        struct pollfd p = {.fd = s->sfd, .events = POLLIN};
        poll(&p, 1, 10);
        struct signalfd_siginfo si;
        while (read(s->sfd, &si, sizeof si) > 0)
            ;
        reap(s, 0);
    }
    for (unsigned i = 0; i < s->nkids; i++)
        kill(s->kids[i], SIGKILL);
    while (s->nkids > 0) {
        int st;
        pid_t pid = waitpid(-1, &st, 0);
        if (pid < 0 && errno != EINTR)
            break;
        if (pid > 0)
            forget(s, pid);
    }
}

static void spawn_one(server *s, const rec *req)
{
    if (s->nkids >= MAX_CHILDREN)
        return;
    /* Taken before the fork: the child's own getppid() would name its
     * new parent (a subreaper, init) if we died before it asked, and its
     * check that we are still there would pass forever. */
    pid_t self = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        JR_FAULT_POINT("born", req->slot, req->gen);
        close(s->fd);
        close(s->sfd);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        jr_worker_args a = s->args;
        a.slot = req->slot;
        a.gen = req->gen;
        a.spawner = self;
        jr_worker_main(&a);
    }
    rec r = {.op = OP_SPAWNED, .slot = req->slot, .gen = req->gen,
             .pid = pid > 0 ? pid : -errno};
    if (pid > 0)
        s->kids[s->nkids++] = pid;
    send_rec(s->fd, &r);
}

static __attribute__((noreturn)) void
server_main(int fd, pid_t parent, const jr_worker_args *args)
{
    server s = {.fd = fd, .args = *args};
    pid_t master = parent;

    /* Keep only what the server and its workers need: the socket to the
     * master and the standard streams.  Inherited sockets of the host
     * (its own ZeroMQ, its listeners) must not live on in workers. */
    if (fd > 3)
        close_range(3, (unsigned)fd - 1, 0);
    close_range((unsigned)fd + 1, ~0u, 0);

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != master)
        _exit(JR_WEXIT_ORPHAN);
    /* Ctrl-C reaches the whole process group; the master decides what
     * happens to workers, in order. */
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_DFL); /* the zygote ignores it; we reap */

    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    s.sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
    if (s.sfd < 0)
        _exit(JR_WEXIT_SETUP);
    rec ready = {.op = OP_READY, .pid = getpid()};
    if (send_rec(fd, &ready) < 0)
        _exit(JR_WEXIT_ORPHAN);

    for (;;) {
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
                              {.fd = s.sfd, .events = POLLIN}};
        if (poll(p, 2, 1000) < 0 && errno != EINTR)
            break;
        if (getppid() != master)
            break;
        if (p[1].revents) {
            struct signalfd_siginfo si;
            while (read(s.sfd, &si, sizeof si) > 0)
                ;
            reap(&s, 1);
        }
        if (p[0].revents & POLLIN) {
            rec r;
            ssize_t n = recv(fd, &r, sizeof r, 0);
            if (n == 0)
                break;
            if (n != (ssize_t)sizeof r)
                continue;
            if (r.op == OP_SPAWN)
                spawn_one(&s, &r);
            else if (r.op == OP_KILL && known(&s, r.pid))
                kill(r.pid, r.arg);
            else if (r.op == OP_QUIT) {
                stop_all(&s, r.arg);
                _exit(0);
            }
        } else if (p[0].revents & (POLLHUP | POLLERR)) {
            break;
        }
    }
    stop_all(&s, 0); /* the master is gone: no grace */
    _exit(JR_WEXIT_ORPHAN);
}

/* ---- the master's side ------------------------------------------------ */

void jr_spawn_serve(int fd, pid_t parent, const jr_worker_args *args)
{
    server_main(fd, parent, args);
}

/* Wait (bounded) for the server's READY: from then on it has what it
 * needs (the control segment mapped), and the master may unlink names. */
static int wait_ready(jr_spawner *sp)
{
    struct pollfd p = {.fd = sp->fd, .events = POLLIN};
    int n;
    do
        n = poll(&p, 1, 5000);
    while (n < 0 && errno == EINTR);
    rec r;
    if (n <= 0 || recv(sp->fd, &r, sizeof r, 0) != (ssize_t)sizeof r ||
        r.op != OP_READY)
        return JR_ESPAWN;
    return 0;
}

int jr_spawn_start(jr_spawner *sp, const jr_worker_args *args,
                   const char *ctl_name)
{
    sp->pid = 0;
    sp->fd = -1;
    sp->child = 0;
    int rc;
    if (jr_zygote_active()) {
        /* jr_init() ran: the server comes from the zygote, an early copy
         * of this process with no threads, not from us. */
        rc = jr_zygote_spawner(args, ctl_name, &sp->pid, &sp->fd);
        if (rc == 0 && (rc = wait_ready(sp)) < 0)
            jr_spawn_stop(sp, 0);
        return rc;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    pid_t master = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = -errno;
        close(sv[0]);
        close(sv[1]);
        return e;
    }
    if (pid == 0) {
        close(sv[0]);
        server_main(sv[1], master, args);
    }
    close(sv[1]);
    sp->pid = pid;
    sp->fd = sv[0];
    sp->child = 1;
    if ((rc = wait_ready(sp)) < 0)
        jr_spawn_stop(sp, 0);
    return rc;
}

int jr_spawn_worker(jr_spawner *sp, unsigned slot, unsigned gen)
{
    rec r = {.op = OP_SPAWN, .slot = slot, .gen = gen};
    return send_rec(sp->fd, &r);
}

int jr_spawn_kill(jr_spawner *sp, pid_t pid, int sig)
{
    rec r = {.op = OP_KILL, .pid = pid, .arg = sig};
    return send_rec(sp->fd, &r);
}

int jr_spawn_read(jr_spawner *sp, jr_spawn_event *ev)
{
    rec r;
    ssize_t n;
    do
        n = recv(sp->fd, &r, sizeof r, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN ? 0 : -errno;
    if (n == 0)
        return JR_ESPAWN; /* the fork server died */
    if (n != (ssize_t)sizeof r)
        return JR_EPROTO;
    ev->spawned = r.op == OP_SPAWNED;
    ev->slot = r.slot;
    ev->gen = r.gen;
    ev->pid = r.pid;
    ev->status = r.arg;
    return 1;
}

void jr_spawn_stop(jr_spawner *sp, unsigned grace_ms)
{
    if (sp->pid <= 0)
        return;
    rec r = {.op = OP_QUIT, .arg = (int32_t)grace_ms};
    send_rec(sp->fd, &r);
    /* The server needs grace_ms plus the time to reap; past that it is
     * stuck (or stopped) and is killed: its workers follow through
     * PR_SET_PDEATHSIG.  Its exit closes its end: EOF here. */
    uint64_t end = jr_now_ms() + grace_ms + 1000;
    for (;;) {
        struct pollfd p = {.fd = sp->fd, .events = POLLIN};
        int64_t left = (int64_t)end - (int64_t)jr_now_ms();
        if (left <= 0) {
            kill(sp->pid, SIGKILL);
            break;
        }
        if (poll(&p, 1, (int)left) > 0) {
            char buf[64];
            ssize_t n = recv(sp->fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                break;
        }
    }
    if (sp->child) {
        int st;
        while (waitpid(sp->pid, &st, 0) < 0 && errno == EINTR)
            ;
    }
    close(sp->fd);
    sp->fd = -1;
    sp->pid = 0;
}
