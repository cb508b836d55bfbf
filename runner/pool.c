/*
 * pool.c - pool lifecycle and the worker slots.
 *
 * jr_pool_new() sweeps dead masters' segments, makes the runtime
 * directory, the control segment and the fork server, then (and only
 * then) its ZeroMQ context and ROUTER, asks for the workers, and returns
 * once each has said HELLO.  jr_pool_poll() is the one place that waits:
 * on the ROUTER, the fork server's socket and the cancel pipe together.
 * jr_pool_destroy() undoes all of it in reverse, in bounded time.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "ipc/ipc.h"
#include "runner/runner.h"

#define START_TIMEOUT_MS 10000
#define STOP_GRACE_MS 300
#define MAX_WORKERS 1024

int jr_pool_fail(jr_pool *p, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->errmsg, sizeof p->errmsg, fmt, ap);
    va_end(ap);
    return code;
}

void jr_describe_status(int status, char *out, size_t cap)
{
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        snprintf(out, cap, "killed by signal %d (%s)", sig, jr_signame(sig));
    } else if (WIFEXITED(status)) {
        int code = WEXITSTATUS(status);
        const char *what = code == JR_WEXIT_NOMEM   ? " (out of memory)"
                           : code == JR_WEXIT_PROTO ? " (protocol error)"
                           : code == JR_WEXIT_SETUP ? " (could not connect)"
                                                    : "";
        snprintf(out, cap, "exited with status %d%s", code, what);
    } else {
        snprintf(out, cap, "ended with wait status %d", status);
    }
}

static unsigned default_max_respawns(unsigned nworkers)
{
    return 8 + 2 * nworkers;
}

static int make_ctl(jr_pool *p)
{
    size_t len = jr_ctl_size(p->nworkers);
    char name[JR_SHM_NAME_MAX];
    int rc = jr_shm_name(name, sizeof name, p->master_pid, p->master_start,
                         JR_SEG_N(p->seq, 0));
    if (rc == 0)
        rc = jr_shm_create(&p->ctl_seg, name, len);
    if (rc < 0)
        return rc;
    jr_ctl *c = p->ctl_seg.base;
    memset(c, 0, len);
    c->magic = JR_CTL_MAGIC;
    c->version = JR_CTL_VERSION;
    c->nworkers = p->nworkers;
    c->master_pid = (uint32_t)p->master_pid;
    c->master_start = p->master_start;
    c->seq = p->seq;
    rc = jr_lock_init(&c->lock);
    if (rc < 0)
        return rc;
    p->ctl = c;
    return 0;
}

static int make_router(jr_pool *p)
{
    p->zctx = zmq_ctx_new();
    if (!p->zctx)
        return -errno;
    zmq_ctx_set(p->zctx, ZMQ_IO_THREADS, 1);
    /* A context that blocks at term would hang jr_pool_destroy() if some
     * message could not go out; LINGER 0 everywhere, and no blocky. */
    zmq_ctx_set(p->zctx, ZMQ_BLOCKY, 0);
    p->router = zmq_socket(p->zctx, ZMQ_ROUTER);
    if (!p->router)
        return -zmq_errno();
    int one = 1;
    if (jr_ipc_sockopts(p->router) < 0 ||
        zmq_setsockopt(p->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one) < 0 ||
        zmq_bind(p->router, p->endpoint) < 0)
        return -zmq_errno();
    return 0;
}

static int spawn_slot(jr_pool *p, unsigned i)
{
    jr_wslot *w = &p->w[i];
    w->gen++;
    w->state = JR_W_STARTING;
    w->pid = 0;
    w->nheld = 0;
    w->busy = 0;
    w->run = 0;
    w->kill_why = NULL;
    w->done.len = 0;
    w->spawned_ms = jr_now_ms();
    return jr_spawn_worker(&p->sp, i, w->gen);
}

/* Whether this process may open the descriptors a pool of nworkers
 * needs.  libzmq aborts the whole process when its listener's accept(2)
 * finds none left ("Too many open files (src/ipc_listener.cpp:325)", at
 * -j 300 under ulimit -n 256), so a pool too big for the limit is refused
 * before it starts.  The master holds about 17 of its own and one per
 * worker; a run opens a few more, and the margin is for those. */
static int fds_allow(unsigned nworkers)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 1;
    rlim_t open_now = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        while (readdir(d))
            open_now++;
        closedir(d);
    }
    return rl.rlim_cur >= open_now + 32 + nworkers + nworkers / 8;
}

/* Why the calling thread's last jr_pool_new() failed, kept past the
 * pool it was building: jr_pool_errmsg(NULL). */
static _Thread_local char start_story[sizeof((jr_pool *)0)->errmsg];

JR_API int jr_pool_new(jr_pool **out, const jr_opts *opts)
{
    *out = NULL;
    start_story[0] = '\0';
    jr_pool *p = calloc(1, sizeof *p);
    if (!p)
        return JR_ENOMEM;
    if (opts)
        p->opts = *opts;
    p->wake[0] = p->wake[1] = -1;
    p->poll_fd = -1;
    p->sp.fd = -1;
    p->nworkers = p->opts.workers ? p->opts.workers : jr_cpu_count();
    int rc = JR_EINVAL;
    if (p->nworkers > MAX_WORKERS) {
        jr_pool_fail(p, rc, "%u workers: at most %d", p->nworkers, MAX_WORKERS);
        goto fail;
    }
    rc = JR_EMFILE;
    if (!fds_allow(p->nworkers))
        goto fail;
    if (!p->opts.max_attempts)
        p->opts.max_attempts = 4;
    if (!p->opts.liveness_ms)
        p->opts.liveness_ms = 5000;
    if (!p->opts.max_respawns)
        p->opts.max_respawns = default_max_respawns(p->nworkers);
    if (!p->opts.slot_size)
        p->opts.slot_size = (size_t)1 << 20;
    p->master_pid = getpid();
    rc = jr_proc_start_time(p->master_pid, &p->master_start);
    if (rc < 0) {
        jr_pool_fail(p, rc,
                     "/proc/%d/stat: cannot read the master's start "
                     "time: %s",
                     (int)p->master_pid, jr_strerror(rc));
        goto fail;
    }
    static _Atomic uint64_t pools;
    p->seq = atomic_fetch_add(&pools, 1);
    /* Our lease first, so no sweeper (ours included) can take us for a
     * dead master; then remove what dead masters left. */
    rc = jr_shm_lease_take(p->master_pid, p->master_start);
    if (rc < 0) {
        jr_pool_fail(p, rc, "/dev/shm: cannot create the master's lease: %s",
                     jr_strerror(rc));
        goto fail;
    }
    p->leased = 1;
    jr_shm_sweep("/dev/shm", NULL);
    jr_ipc_sweep();

    rc = JR_ENOMEM;
    p->w = calloc(p->nworkers, sizeof *p->w);
    if (!p->w)
        goto fail;
    rc = jr_ipc_rundir(p->rundir, sizeof p->rundir, p->master_pid,
                       p->master_start);
    if (rc < 0) {
        /* It names the directory it could not make, in its parent. */
        char *slash = strrchr(p->rundir, '/');
        if (slash)
            *slash = '\0';
        jr_pool_fail(p, rc, "%s: cannot create the endpoint's directory: %s",
                     slash && p->rundir[0] ? p->rundir : "/", jr_strerror(rc));
        p->rundir[0] = '\0';
        goto fail;
    }
    rc = jr_ipc_endpoint(p->endpoint, sizeof p->endpoint, p->rundir);
    if (rc < 0)
        goto fail;
    p->pack = jr_ipc_pack_flag(p->endpoint);
    rc = make_ctl(p);
    if (rc < 0) {
        jr_pool_fail(p, rc, "/dev/shm: cannot create the control segment: %s",
                     jr_strerror(rc));
        goto fail;
    }
    if (pipe2(p->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        rc = -errno;
        goto fail;
    }

    /* The fork server first: it must not inherit our ZeroMQ context. */
    jr_worker_args args = {.endpoint = p->endpoint, .ctl = p->ctl,
                           .liveness_ms = p->opts.liveness_ms};
    rc = jr_spawn_start(&p->sp, &args, p->ctl_seg.name);
    if (rc < 0) {
        jr_pool_fail(p, rc, "cannot start the fork server: %s",
                     jr_strerror(rc));
        goto fail;
    }
    /* The fork server has the control segment mapped (inherited, or
     * attached when it came from the zygote), and every worker inherits
     * it from there: the name can go, so no crash can leak it. */
    jr_shm_unlink(&p->ctl_seg);
    rc = make_router(p);
    if (rc < 0) {
        jr_pool_fail(p, rc, "cannot listen on %s: %s", p->endpoint,
                     zmq_strerror(-rc));
        goto fail;
    }
    for (unsigned i = 0; i < p->nworkers; i++)
        if ((rc = spawn_slot(p, i)) < 0) {
            jr_pool_fail(p, rc, "cannot start worker %u: %s", i,
                         jr_strerror(rc));
            goto fail;
        }

    unsigned ready = 0;
    uint64_t end = jr_now_ms() + START_TIMEOUT_MS;
    while (ready < p->nworkers) {
        if (jr_now_ms() >= end) {
            rc = jr_pool_fail(p, JR_ESPAWN,
                              "workers did not start within %d ms",
                              START_TIMEOUT_MS);
            goto fail;
        }
        jr_event ev;
        rc = jr_pool_poll(p, 100, &ev);
        if (rc < 0)
            goto fail;
        if (ev.kind == JR_EV_READY)
            ready++;
        else if (ev.kind == JR_EV_CANCEL) {
            rc = JR_ECANCELED;
            goto fail;
        }
    }
    p->respawns = 0;
    *out = p;
    return 0;
fail:
    snprintf(start_story, sizeof start_story, "%s", p->errmsg);
    jr_pool_destroy(&p);
    return rc;
}

void jr_pool_drop_segments(jr_pool *p, int settled)
{
    jr_ctl *c = p->ctl;
    if (!c)
        return;
    if (jr_lock_acquire(&c->lock, 1000, jr_ctl_repair, c, NULL) < 0)
        return;
    uint32_t n = c->nsegs <= JR_CTL_SEGS ? c->nsegs : JR_CTL_SEGS;
    for (uint32_t i = 0; i < n; i++) {
        if (c->segs[i].state != JR_SEG_FREE) {
            jr_seg seg = {0};
            if (jr_ctl_seg_name(c, i, seg.name, sizeof seg.name) == 0)
                jr_shm_unlink(&seg);
            c->segs[i].state = settled ? JR_SEG_FREE : JR_SEG_DROPPED;
        }
    }
    if (settled)
        c->nsegs = 0;
    jr_lock_release(&c->lock);
}

JR_API void jr_pool_destroy(jr_pool **pp)
{
    if (!pp || !*pp)
        return;
    jr_pool *p = *pp;
    /* Sockets first (LINGER 0: nothing waits on them), then the workers:
     * the fork server TERMs them, waits a short grace, KILLs the rest
     * (stopped ones too) and reaps them; then the segments they may have
     * left, then the directory. */
    if (p->in_held) {
        zmq_msg_close(&p->in_id);
        zmq_msg_close(&p->in_msg);
    }
    if (p->router)
        zmq_close(p->router);
    if (p->zctx)
        zmq_ctx_term(p->zctx);
    jr_spawn_stop(&p->sp, STOP_GRACE_MS);
    /* Workers created segments up to the moment they died. */
    jr_pool_drop_segments(p, 1);
    jr_shm_unlink(&p->slots);
    if (p->slots.base)
        close(p->slots_fd);
    jr_shm_unmap(&p->slots);
    free(p->slot_ready);
    p->slot_ready = NULL;
    if (p->ctl)
        jr_lock_fini(&p->ctl->lock);
    jr_shm_unlink(&p->ctl_seg);
    jr_shm_unmap(&p->ctl_seg);
    if (p->rundir[0])
        jr_ipc_rmdir(p->rundir);
    if (p->leased)
        jr_shm_lease_drop();
    if (p->wake[0] >= 0)
        close(p->wake[0]);
    if (p->wake[1] >= 0)
        close(p->wake[1]);
    if (p->w)
        for (unsigned i = 0; i < p->nworkers; i++)
            jr_buf_fini(&p->w[i].done);
    free(p->w);
    jr_buf_fini(&p->frame);
    free(p);
    *pp = NULL;
}

JR_API unsigned jr_pool_workers(const jr_pool *p)
{
    return p->nworkers;
}

JR_API const char *jr_pool_errmsg(const jr_pool *p)
{
    return p ? p->errmsg : start_story;
}

JR_API void jr_pool_cancel(jr_pool *p)
{
    /* Async-signal-safe: a flag and a write(2). */
    int saved = errno;
    p->cancel = 1;
    if (p->wake[1] >= 0) {
        ssize_t n = write(p->wake[1], "x", 1);
        (void)n;
    }
    errno = saved;
}

void jr_pool_kill(jr_pool *p, unsigned i, const char *why)
{
    jr_wslot *w = &p->w[i];
    if (w->state == JR_W_DEAD || w->pid <= 0)
        return;
    if (!w->kill_why) {
        snprintf(w->why, sizeof w->why, "%s", why);
        w->kill_why = w->why;
    }
    jr_spawn_kill(&p->sp, w->pid, SIGKILL);
}

int jr_pool_send(jr_pool *p, unsigned i, uint8_t type, uint64_t task,
                 uint32_t attempt, const void *payload, size_t len,
                 uint16_t flags)
{
    uint8_t id[8];
    jr_put_u32(id, i);
    jr_put_u32(id + 4, p->w[i].gen);
    jr_msg m = {.type = type, .flags = flags, .worker = i, .task = task,
                .attempt = attempt, .payload = payload, .len = len};
    return jr_ipc_send(p->router, id, sizeof id, &m);
}

/* A report from the fork server. */
static int on_spawn_event(jr_pool *p, const jr_spawn_event *se, jr_event *ev)
{
    if (se->spawned) {
        if (se->slot >= p->nworkers || p->w[se->slot].gen != se->gen)
            return 0;
        if (se->pid > 0) {
            p->w[se->slot].pid = se->pid;
            return 0;
        }
        /* fork() failed in the server: count it as a death. */
        p->w[se->slot].pid = 0;
    }
    unsigned i;
    for (i = 0; i < p->nworkers; i++)
        if (p->w[i].pid == se->pid && p->w[i].state != JR_W_DEAD)
            break;
    if (se->spawned)
        i = se->slot;
    if (i >= p->nworkers)
        return 0; /* an earlier generation, already accounted for */
    jr_wslot *w = &p->w[i];
    w->state = JR_W_DEAD;
    /* The kill we asked for names the death only when it is what the
     * worker died of: one that crashed first (a send to it failed, say,
     * before its death was reported) died of its own signal. */
    int ours = w->kill_why && !se->spawned && WIFSIGNALED(se->status) &&
               WTERMSIG(se->status) == SIGKILL;
    if (!ours) {
        if (se->spawned)
            snprintf(w->why, sizeof w->why, "could not fork: %s",
                     strerror(-se->pid));
        else
            jr_describe_status(se->status, w->why, sizeof w->why);
    }
    ev->kind = JR_EV_DEAD;
    ev->slot = i;
    ev->status = se->status;
    return 1;
}

int jr_pool_await_kills(jr_pool *p, unsigned ms)
{
    uint64_t end = jr_now_ms() + ms;
    for (;;) {
        int alive = 0;
        for (unsigned i = 0; i < p->nworkers; i++) {
            const jr_wslot *w = &p->w[i];
            alive |= w->kill_why && w->state != JR_W_DEAD && w->pid > 0;
        }
        if (!alive)
            return 1;
        uint64_t now = jr_now_ms();
        if (now >= end)
            return 0;
        struct pollfd pfd = {.fd = p->sp.fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)(end - now)) < 0 && errno != EINTR)
            return 0;
        jr_spawn_event se;
        jr_event ev;
        int rc;
        while ((rc = jr_spawn_read(&p->sp, &se)) > 0)
            if (on_spawn_event(p, &se, &ev))
                p->w[ev.slot].respawn = 1; /* as jr_pool_poll() would */
        if (rc < 0)
            return 0;
    }
}

/* Start a replacement for dead slot i if the budget allows. */
static int respawn(jr_pool *p, unsigned i)
{
    if (p->cancel || p->respawns >= p->opts.max_respawns)
        return 0;
    p->respawns++;
    return spawn_slot(p, i);
}

static int live_workers(const jr_pool *p)
{
    int n = 0;
    for (unsigned i = 0; i < p->nworkers; i++)
        n += p->w[i].state != JR_W_DEAD;
    return n;
}

/* One frame from the ROUTER: identity, then the message.  The frames
 * stay in the pool (in_id, in_msg) until the next call, so the event's
 * payload can point into them without a copy. */
static int on_frame(jr_pool *p, jr_event *ev)
{
    zmq_msg_t *idm = &p->in_id, *fm = &p->in_msg;
    if (p->in_held) {
        zmq_msg_close(idm);
        zmq_msg_close(fm);
    }
    zmq_msg_init(idm);
    zmq_msg_init(fm);
    p->in_held = 1;
    if (zmq_msg_recv(idm, p->router, ZMQ_DONTWAIT) < 0)
        return 0;
    if (!zmq_msg_more(idm) || zmq_msg_recv(fm, p->router, 0) < 0)
        return 0;
    /* Drop anything glued after: our workers send one frame. */
    while (zmq_msg_more(fm)) {
        zmq_msg_t junk;
        zmq_msg_init(&junk);
        zmq_msg_recv(&junk, p->router, 0);
        int more = zmq_msg_more(&junk);
        zmq_msg_close(&junk);
        if (!more)
            return 0;
    }
    if (zmq_msg_size(idm) != 8)
        return 0;
    const uint8_t *id = zmq_msg_data(idm);
    uint32_t slot = jr_get_u32(id), gen = jr_get_u32(id + 4);
    if (slot >= p->nworkers || p->w[slot].gen != gen ||
        p->w[slot].state == JR_W_DEAD)
        return 0; /* a superseded worker: fenced off */
    jr_msg *m = &ev->msg;
    if (jr_msg_decode(zmq_msg_data(fm), zmq_msg_size(fm), m) < 0 ||
        m->worker != slot) {
        jr_pool_kill(p, slot, "sent a malformed message");
        return 0;
    }
    if (m->flags & JR_MSGF_LZ4) {
        p->frame.len = 0;
        if (jr_lz4_unpack(m->payload, m->len, JR_MSG_MAX, &p->frame) < 0) {
            jr_pool_kill(p, slot, "sent a corrupt LZ4 payload");
            return 0;
        }
        m->payload = p->frame.data;
        m->len = p->frame.len;
    }
    ev->slot = slot;
    if (m->type == JR_MSG_HELLO) {
        if (p->w[slot].state != JR_W_STARTING)
            return 0;
        p->w[slot].state = JR_W_READY;
        ev->kind = JR_EV_READY;
        return 1;
    }
    if (p->w[slot].state != JR_W_READY)
        return 0;
    ev->kind = JR_EV_MSG;
    return 1;
}

int jr_pool_poll(jr_pool *p, int timeout_ms, jr_event *ev)
{
    memset(ev, 0, sizeof *ev);
    uint64_t end = jr_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        if (p->cancel || (p->opts.cancel && *p->opts.cancel)) {
            /* Also during jr_pool_new(), before the caller has a pool to
             * jr_pool_cancel(): a SIGTERM then must not wait out the
             * start timeout. */
            p->cancel = 1;
            ev->kind = JR_EV_CANCEL;
            return 1;
        }
        for (unsigned i = 0; i < p->nworkers; i++)
            if (p->w[i].respawn) {
                p->w[i].respawn = 0;
                if (respawn(p, i) < 0)
                    return jr_pool_fail(p, JR_ESPAWN,
                                        "cannot reach the fork server");
            }
        /* The fork server's reports when poll said so, and every 64th
         * time anyway so a busy ROUTER cannot hide a death for long.
         * Order does not matter for correctness: messages are fenced by
         * (worker generation, task, attempt). */
        if (p->spawn_ready || (++p->npolls & 63) == 0) {
            jr_spawn_event se;
            int rc = jr_spawn_read(&p->sp, &se);
            if (rc < 0)
                return jr_pool_fail(p, JR_ESPAWN, "the fork server died");
            if (rc > 0) {
                p->spawn_ready = 1;
                if (on_spawn_event(p, &se, ev)) {
                    /* Replaced at the next poll: the caller must first see
                     * what the dead worker held. */
                    p->w[ev->slot].respawn = 1;
                    return 1;
                }
                continue;
            }
            p->spawn_ready = 0;
        }
        if (live_workers(p) == 0)
            return jr_pool_fail(p, JR_ESPAWN,
                                "every worker died and the restart limit "
                                "(%u) is used up; last: %s",
                                p->opts.max_respawns, p->w[0].why);
        if (on_frame(p, ev))
            return 1;

        int64_t left = (int64_t)end - (int64_t)jr_now_ms();
        if (left < 0)
            left = 0;
        zmq_pollitem_t it[4] = {
            {.socket = p->router, .events = ZMQ_POLLIN},
            {.fd = p->sp.fd, .events = ZMQ_POLLIN},
            {.fd = p->wake[0], .events = ZMQ_POLLIN},
            {.fd = p->poll_fd, .events = ZMQ_POLLIN},
        };
        int n = zmq_poll(it, p->poll_fd >= 0 ? 4 : 3, (long)left);
        if (p->poll_fd >= 0 && it[3].revents) {
            ev->kind = JR_EV_NONE; /* the caller's stream has data */
            return 1;
        }
        if (n < 0 && zmq_errno() != EINTR)
            return jr_pool_fail(p, JR_EPROTO, "zmq_poll: %s",
                                zmq_strerror(zmq_errno()));
        if (it[1].revents)
            p->spawn_ready = 1;
        if (it[2].revents) {
            char buf[64];
            while (read(p->wake[0], buf, sizeof buf) > 0)
                ;
        }
        if (n <= 0 && left == 0 && !p->cancel) {
            /* ROUTER readiness is edge-like: check once more before
             * calling it a timeout. */
            if (on_frame(p, ev))
                return 1;
            ev->kind = JR_EV_NONE;
            return 1;
        }
    }
}
