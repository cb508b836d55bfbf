/*
 * worker.c - a worker process: connect to the master, then serve JOB,
 * TASK, FLUSH and REDUCE messages one at a time until STOP.
 *
 * The master sends at most a small window of tasks ahead (credit), so
 * whatever waits in this worker's queue is little, and the master always
 * knows which tasks this worker holds.  While idle the worker wakes up
 * every quarter of the liveness window to prove it is alive; while busy
 * the map callback does it through jr_progress().
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "ipc/ipc.h"
#include "worker/fault.h"
#include "worker/inmap.h"
#include "worker/table.h"
#include "worker/worker.h"

typedef struct worker {
    const jr_worker_args *args;
    jr_ctl_worker *me;
    void *zctx, *sock;
    /* The current job, from the last JOB message. */
    const jr_job *job;
    jr_map_one_fn map_one;
    uint32_t nparts, flags;
    uint64_t slot_size;
    uint64_t expect_bytes; /* of files this worker may map (0: unknown) */
    uint64_t mapped;       /* bytes mapped since the job began */
    jr_buf params;
    jr_seg slots; /* the master's stream slots, attached on first use */
    char slots_name[JR_SHM_NAME_MAX];
    struct jr_map_ctx ctx;
    jr_buf data, prev, reply, frame;
    jr_buf dones; /* DONE records waiting to go back together */
    uint64_t avg_ns; /* moving average of a task's run time, this job */
    uint16_t pack;   /* flags for bulk payloads: jr_ipc_pack_flag() */
#ifdef JR_FAULT
    const char *bad_lz4; /* "corrupt" or "bomb": the next DONE(S) is */
#endif
} worker;

#ifdef JR_PGO_GEN
/* A training build (JOBRUN_PGO=GEN, see CMakeLists.txt) writes its
 * profile in exit(), which a worker never reaches: it ends by _exit() or
 * by the fork server's SIGTERM, while it waits for a message.  Both write
 * the profile first (not async-signal-safe in general; the worker is idle
 * then, and this is a build for training runs only). */
void __gcov_dump(void);
static _Noreturn void stop_worker(int status)
{
    __gcov_dump();
    _exit(status);
}
static void on_term(int sig)
{
    (void)sig;
    stop_worker(JR_WEXIT_OK);
}
#else
#define stop_worker _exit
#endif

static void beat(worker *w)
{
    atomic_store_explicit(&w->me->beat_ns, jr_now_ns(), memory_order_relaxed);
}

/* The heartbeat: proves the process runs (a SIGSTOPped or frozen worker
 * stops beating, and the master kills it after the liveness window).  A
 * task that runs forever while the process is fine is the task timeout's
 * business, not this. */
static void *heartbeat(void *arg)
{
    worker *w = arg;
    unsigned ms = w->args->liveness_ms / 4 ? w->args->liveness_ms / 4 : 250;
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000L};
    for (;;) {
        beat(w);
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static int send_msg(worker *w, uint8_t type, uint64_t task, uint32_t attempt,
                    const jr_buf *payload, uint16_t flags)
{
    jr_msg m = {.type = type, .flags = flags, .worker = w->args->slot,
                .task = task, .attempt = attempt,
                .payload = payload ? payload->data : NULL,
                .len = payload ? payload->len : 0};
#ifdef JR_FAULT
    if (w->bad_lz4 && (type == JR_MSG_DONE || type == JR_MSG_DONES)) {
        /* T20: a block that cannot decompress, or one announcing more
         * than any frame may hold. */
        uint8_t bad[64];
        memset(bad, 0xa5, sizeof bad);
        jr_put_u32(bad, strcmp(w->bad_lz4, "bomb") == 0 ? UINT32_MAX
                                                        : (uint32_t)m.len + 64);
        m.payload = bad;
        m.len = sizeof bad;
        m.flags |= JR_MSGF_LZ4;
        w->bad_lz4 = NULL;
        return jr_ipc_send_as_is(w->sock, NULL, 0, &m);
    }
#endif
    return jr_ipc_send(w->sock, NULL, 0, &m);
}

static void send_fail(worker *w, uint64_t task, uint32_t attempt, int code,
                      const char *what)
{
    jr_buf b = {0};
    char text[256];
    snprintf(text, sizeof text, "%s: %s", what, jr_strerror(code));
    jr_buf_put_u32(&b, (uint32_t)-code);
    jr_buf_append(&b, text, strlen(text));
    send_msg(w, JR_MSG_FAIL, task, attempt, &b, 0);
    jr_buf_fini(&b);
}

/* Append one piece's results to the DONE payload. */
static int put_piece(worker *w, const char *err)
{
    jr_buf *r = &w->reply;
    struct jr_map_ctx *c = &w->ctx;
    int rc = jr_buf_put_u64(r, c->nlines);
    rc = rc ? rc : jr_buf_put_u32(r, c->nreports);
    rc = rc ? rc : jr_buf_append(r, c->reports.data, c->reports.len);
    rc = rc ? rc : jr_buf_put_u32(r, err ? 1 : 0);
    if (err && rc == 0) {
        rc = jr_buf_put_u32(r, (uint32_t)strlen(err));
        rc = rc ? rc : jr_buf_append(r, err, strlen(err));
    }
    rc = rc ? rc : jr_buf_put_u32(r, (uint32_t)c->out.len);
    rc = rc ? rc : jr_buf_append(r, c->out.data, c->out.len);
    return rc;
}

static int run_map(worker *w, jr_chunk *ch)
{
    ch->params = w->params.data;
    ch->params_len = w->params.len;
    int rc = w->job->map(&w->ctx, ch);
    int failed = jr_mapctx_end(&w->ctx);
    if (failed)
        rc = failed;
    /* Count the chunk once: what the callback did not report itself. */
    if (ch->len > w->ctx.reported)
        atomic_fetch_add_explicit(&w->me->progress, ch->len - w->ctx.reported,
                                  memory_order_relaxed);
    w->mapped += ch->len;
    if (rc == 0 && w->ctx.table) /* only faster: a table that cannot grow */
        (void)jr_table_foresee(w->ctx.table, w->mapped, w->expect_bytes);
    return rc;
}

/* What the master's walk saw of a file. */
typedef struct file_id {
    uint64_t dev, ino, mtime_ns;
} file_id;

/* Whether the file open as st is another than the one the walk saw: a
 * file renamed over its name (an editor's save, a log's rotation). */
static int replaced(const struct stat *st, const file_id *id)
{
    return (uint64_t)st->st_dev != id->dev || (uint64_t)st->st_ino != id->ino;
}

/* Whether it was written since the walk, as far as its modification time
 * tells: the kernel stamps it from a coarse clock, so a write within a few
 * milliseconds of the walk can go unseen. */
static int changed(const struct stat *st, const file_id *id)
{
    return jr_mtime_ns(st) != id->mtime_ns;
}

/* One piece of a file: map it in place (inmap.h; read it where the file
 * cannot be mapped) and run the map callback on it.  Problems with the
 * file become the piece's error text; they do not fail the task. */
static int file_piece(worker *w, const char *name, uint64_t off, uint64_t len,
                      const file_id *id, char *err, size_t errcap)
{
    err[0] = '\0';
    jr_mapctx_begin(&w->ctx, -1, 0);
    int fd = open(name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errcap, "%s", strerror(errno));
        return 0;
    }
    struct stat st;
    int rc = 0;
    jr_inmap in = {0};
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errcap, "not a regular file");
        goto out;
    }
    if (replaced(&st, id)) { /* not the file of this task: leave it */
        snprintf(err, errcap, "file replaced while being read");
        goto out;
    }
    unsigned lb = w->job->lookback > 64 ? 64 : w->job->lookback;
    size_t plen = off < lb ? (size_t)off : lb;
    if (jr_buf_reserve(&w->prev, 64) < 0) {
        rc = JR_ENOMEM;
        goto out;
    }
    ssize_t pn = plen ? jr_pread_full(fd, w->prev.data, plen, off - plen) : 0;
    if (pn < 0) {
        snprintf(err, errcap, "%s", strerror((int)-pn));
        goto out;
    }
    const uint8_t *data;
    size_t n;
    if (jr_inmap_open(&in, fd, off, len, (uint64_t)st.st_size) == 0) {
        data = in.data;
        n = in.len;
    } else {
        if (jr_buf_reserve(&w->data, (size_t)len + 1) < 0) {
            rc = JR_ENOMEM;
            goto out;
        }
        ssize_t got = jr_pread_full(fd, w->data.data, (size_t)len, off);
        if (got < 0) {
            snprintf(err, errcap, "%s", strerror((int)-got));
            goto out;
        }
        data = w->data.data;
        n = (size_t)got;
    }
    jr_mapctx_begin(&w->ctx, fd, off + (uint64_t)n);
    jr_chunk ch = {.data = data,
                   .len = n,
                   .prev = w->prev.data,
                   .prev_len = (size_t)pn,
                   .name = name,
                   .offset = off};
    rc = run_map(w, &ch);
    /* Shorter now than the piece: some bytes were never there to read,
     * or (mapped) the reader met zeros in their place. */
    int shrank = jr_inmap_close(&in) || (uint64_t)n < len, written = 0;
    if (fstat(fd, &st) == 0) {
        shrank |= (uint64_t)st.st_size < off + n;
        written = changed(&st, id); /* since the walk, before or during */
    }
    if (shrank)
        snprintf(err, errcap, "file shrank while being read");
    else if (written)
        snprintf(err, errcap, "file changed while being read");
out:
    jr_inmap_close(&in);
    close(fd);
    return rc;
}

static int attach_slots(worker *w)
{
    if (w->slots.base && strcmp(w->slots.name, w->slots_name) == 0)
        return 0;
    jr_shm_unmap(&w->slots);
    return jr_shm_attach(&w->slots, w->slots_name, 0);
}

/* Run one task; fill w->reply with the DONE payload. */
static int run_task(worker *w, const jr_msg *m)
{
    jr_rd r = {m->payload, m->len};
    uint32_t kind, n;
    /* DONE starts with the "dirty" word, patched in handle(). */
    w->reply.len = 0;
    if (jr_buf_put_u32(&w->reply, 0) < 0)
        return JR_ENOMEM;
    if (jr_rd_u32(&r, &kind) < 0 || (!w->job && !w->map_one))
        return JR_EPROTO;
    if (kind == JR_TASK_ITEMS) {
        if (jr_rd_u32(&r, &n) < 0 || !w->map_one)
            return JR_EPROTO;
        jr_buf_put_u32(&w->reply, n);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t len;
            const uint8_t *p;
            if (jr_rd_u32(&r, &len) < 0 || jr_rd_bytes(&r, len, &p) < 0)
                return JR_EPROTO;
            jr_mapctx_begin(&w->ctx, -1, 0);
            int rc = w->map_one(&w->ctx, p, len);
            int failed = jr_mapctx_end(&w->ctx);
            if (failed)
                rc = failed;
            if (rc != 0)
                return rc < 0 ? rc : JR_EJOB;
            if (put_piece(w, NULL) < 0)
                return JR_ENOMEM;
        }
        return 0;
    }
    if (!w->job)
        return JR_EPROTO;
    uint32_t namelen;
    const uint8_t *name;
    char path[4097];
    if (kind == JR_TASK_FILE) {
        if (jr_rd_u32(&r, &n) < 0)
            return JR_EPROTO;
        jr_buf_put_u32(&w->reply, n);
        for (uint32_t i = 0; i < n; i++) {
            uint64_t off, len;
            file_id id;
            if (jr_rd_u32(&r, &namelen) < 0 || namelen >= sizeof path ||
                jr_rd_bytes(&r, namelen, &name) < 0 ||
                jr_rd_u64(&r, &off) < 0 || jr_rd_u64(&r, &len) < 0 ||
                len > ((uint64_t)1 << 40) || jr_rd_u64(&r, &id.dev) < 0 ||
                jr_rd_u64(&r, &id.ino) < 0 || jr_rd_u64(&r, &id.mtime_ns) < 0)
                return JR_EPROTO;
            memcpy(path, name, namelen);
            path[namelen] = '\0';
            char err[256];
            int rc = file_piece(w, path, off, len, &id, err, sizeof err);
            if (rc != 0)
                return rc < 0 ? rc : JR_EJOB;
            if (put_piece(w, err[0] ? err : NULL) < 0)
                return JR_ENOMEM;
        }
        return 0;
    }
    if (jr_rd_u32(&r, &namelen) < 0 || namelen >= sizeof path ||
        jr_rd_bytes(&r, namelen, &name) < 0)
        return JR_EPROTO;
    memcpy(path, name, namelen);
    path[namelen] = '\0';
    jr_chunk ch = {.name = path};
    if (kind == JR_TASK_COUNT) {
        if (jr_rd_u64(&r, &ch.first) < 0 || jr_rd_u64(&r, &ch.count) < 0)
            return JR_EPROTO;
    } else if (kind == JR_TASK_SLOT || kind == JR_TASK_SEG) {
        uint32_t slot, prevlen;
        uint64_t len;
        if (jr_rd_u32(&r, &slot) < 0 || jr_rd_u64(&r, &len) < 0 ||
            jr_rd_u64(&r, &ch.offset) < 0 || jr_rd_u32(&r, &prevlen) < 0 ||
            jr_rd_bytes(&r, prevlen, &ch.prev) < 0)
            return JR_EPROTO;
        if (kind == JR_TASK_SEG) {
            /* A record longer than a slot, in a segment of its own. */
            char sname[JR_SHM_NAME_MAX];
            jr_seg big = {0};
            int rc = jr_ctl_seg_name(w->args->ctl, slot, sname, sizeof sname);
            if (rc == 0)
                rc = jr_shm_attach(&big, sname, 0);
            if (rc < 0)
                return rc;
            if (len > big.len) {
                jr_shm_unmap(&big);
                return JR_EPROTO;
            }
            ch.data = big.base;
            ch.len = (size_t)len;
            ch.prev_len = prevlen;
            jr_buf_put_u32(&w->reply, 1);
            jr_mapctx_begin(&w->ctx, -1, 0);
            rc = run_map(w, &ch);
            jr_shm_unmap(&big);
            if (rc != 0)
                return rc < 0 ? rc : JR_EJOB;
            return put_piece(w, NULL);
        }
        int rc = attach_slots(w);
        if (rc < 0)
            return rc;
        /* The slot must lie inside the arena we mapped. */
        if (w->slot_size == 0 || len > w->slot_size ||
            slot >= w->slots.len / w->slot_size)
            return JR_EPROTO;
        ch.data = (const uint8_t *)w->slots.base + slot * w->slot_size;
        ch.len = (size_t)len;
        ch.prev_len = prevlen;
    } else {
        return JR_EPROTO;
    }
    jr_buf_put_u32(&w->reply, 1);
    jr_mapctx_begin(&w->ctx, -1, 0);
    int rc = run_map(w, &ch);
    if (rc != 0)
        return rc < 0 ? rc : JR_EJOB;
    return put_piece(w, NULL);
}

static int on_job(worker *w, const jr_msg *m)
{
    jr_rd r = {m->payload, m->len};
    uint64_t job, fn;
    uint32_t namelen;
    const uint8_t *name;
    if (jr_rd_u64(&r, &job) < 0 || jr_rd_u64(&r, &fn) < 0 ||
        jr_rd_u32(&r, &w->nparts) < 0 || jr_rd_u32(&r, &w->flags) < 0 ||
        jr_rd_u64(&r, &w->slot_size) < 0 ||
        jr_rd_u64(&r, &w->expect_bytes) < 0 || jr_rd_u32(&r, &namelen) < 0 ||
        namelen >= JR_SHM_NAME_MAX || jr_rd_bytes(&r, namelen, &name) < 0 ||
        w->nparts == 0)
        return JR_EPROTO;
    /* The pointers are the master's, and valid here: this process is a
     * fork of the fork server, a copy of the master's image as it was when
     * the pool started, which is when jobs must already exist. */
    w->job = (const jr_job *)(uintptr_t)job;
    w->map_one = (jr_map_one_fn)(uintptr_t)fn;
    memcpy(w->slots_name, name, namelen);
    w->slots_name[namelen] = '\0';
    w->params.len = 0;
    if (jr_buf_append(&w->params, r.p, r.len) < 0)
        return JR_ENOMEM;
    w->mapped = 0;
    w->avg_ns = 0; /* a new job: its tasks may take any time */
    atomic_store_explicit(&w->me->avg_ns, 0, memory_order_relaxed);
    jr_table_destroy(&w->ctx.table);
    int rc = jr_table_new(&w->ctx.table, w->job ? w->job->combine : NULL);
    return rc ? rc : jr_table_count_parts(w->ctx.table, w->nparts);
}

static int on_reduce(worker *w, const jr_msg *m, uint32_t *idx)
{
    jr_rd r = {m->payload, m->len};
    uint32_t part, nsegs;
    const uint8_t *raw;
    if (!w->job || jr_rd_u32(&r, &part) < 0 || jr_rd_u32(&r, &nsegs) < 0 ||
        nsegs > JR_CTL_SEGS || jr_rd_bytes(&r, (size_t)nsegs * 4, &raw) < 0)
        return JR_EPROTO;
    uint32_t segs[JR_CTL_SEGS];
    for (uint32_t i = 0; i < nsegs; i++)
        segs[i] = jr_get_u32(raw + 4 * (size_t)i);
    /* The map phase is over and the table flushed: give its memory (tens
     * of MB for a large vocabulary) back before the reduce takes its own. */
    if (w->ctx.table)
        (void)jr_table_trim(w->ctx.table); /* only memory: the reduce goes on */
    return jr_shuffle_reduce(w->job, w->args->ctl, w->args->slot, part, segs,
                             nsegs, idx);
}

/* Run one task and leave its DONE payload in w->reply.  @return 0, or a
 * negative code: the caller sends the FAIL. */
static int do_task(worker *w, uint64_t task, uint32_t attempt,
                   const uint8_t *payload, size_t len)
{
    atomic_store_explicit(&w->me->attempt, attempt, memory_order_relaxed);
    atomic_store_explicit(&w->me->task_ns, jr_now_ns(), memory_order_relaxed);
    atomic_store_explicit(&w->me->task, task + 1, memory_order_relaxed);
    JR_FAULT_POINT("map", task, attempt);
    jr_msg m = {.type = JR_MSG_TASK, .task = task, .attempt = attempt,
                .payload = payload, .len = len};
    uint64_t t0 = jr_now_ns();
    int rc = run_task(w, &m);
    /* The master sizes its credit from this: deeper queues for tiny
     * tasks, the minimum for real ones. */
    uint64_t dur = jr_now_ns() - t0 + 1;
    w->avg_ns = w->avg_ns ? (w->avg_ns * 7 + dur) / 8 : dur;
    atomic_store_explicit(&w->me->avg_ns, w->avg_ns, memory_order_relaxed);
    JR_FAULT_POINT("done", task, attempt);
#ifdef JR_FAULT
    if (JR_FAULT_MATCH("corrupt", "done", task, attempt))
        w->bad_lz4 = "corrupt";
    else if (JR_FAULT_MATCH("bomb", "done", task, attempt))
        w->bad_lz4 = "bomb";
#endif
    atomic_store_explicit(&w->me->task, 0, memory_order_relaxed);
    if (rc == JR_EPROTO)
        _exit(JR_WEXIT_PROTO);
    if (rc < 0)
        return rc;
    /* Dirty: this worker's table holds emits not yet flushed, so the task
     * is not safe until the next FLUSHED. */
    jr_put_u32(w->reply.data, w->ctx.table && !jr_table_empty(w->ctx.table));
    return 0;
}

static void send_dones(worker *w, unsigned n)
{
    if (n > 0)
        send_msg(w, JR_MSG_DONES, 0, 0, &w->dones, w->pack);
    w->dones.len = 0;
}

/* Several tasks in one frame.  Results of quick tasks go back together;
 * after a millisecond what is done goes back at once, so a slow task never
 * holds back the results (and credit) of the quick ones before it. */
static void on_tasks(worker *w, const jr_msg *m)
{
    jr_rd r = {m->payload, m->len};
    unsigned n = 0;
    uint64_t t0 = jr_now_ns();
    w->dones.len = 0;
    while (r.len > 0) {
        uint64_t task;
        uint32_t attempt, len;
        const uint8_t *p;
        if (jr_rd_u64(&r, &task) < 0 || jr_rd_u32(&r, &attempt) < 0 ||
            jr_rd_u32(&r, &len) < 0 || jr_rd_bytes(&r, len, &p) < 0)
            _exit(JR_WEXIT_PROTO);
        int rc = do_task(w, task, attempt, p, len);
        if (rc < 0) {
            /* In order: the DONEs before it, then the FAIL. */
            send_dones(w, n);
            n = 0;
            send_fail(w, task, attempt, rc, "map");
            continue;
        }
        if (jr_buf_put_u64(&w->dones, task) < 0 ||
            jr_buf_put_u32(&w->dones, attempt) < 0 ||
            jr_buf_put_u32(&w->dones, (uint32_t)w->reply.len) < 0 ||
            jr_buf_append(&w->dones, w->reply.data, w->reply.len) < 0)
            _exit(JR_WEXIT_NOMEM);
        n++;
        if (jr_now_ns() - t0 > 1000000u) {
            send_dones(w, n);
            n = 0;
            t0 = jr_now_ns();
        }
    }
    send_dones(w, n);
}

static void handle(worker *w, const jr_msg *m)
{
    int rc = 0;
    uint32_t idx;
    jr_buf b = {0};

    switch (m->type) {
    case JR_MSG_JOB:
        rc = on_job(w, m);
        if (rc < 0)
            _exit(rc == JR_ENOMEM ? JR_WEXIT_NOMEM : JR_WEXIT_PROTO);
        return;
    case JR_MSG_TASK:
        rc = do_task(w, m->task, m->attempt, m->payload, m->len);
        if (rc < 0)
            send_fail(w, m->task, m->attempt, rc, "map");
        else
            send_msg(w, JR_MSG_DONE, m->task, m->attempt, &w->reply, w->pack);
        break;
    case JR_MSG_TASKS:
        on_tasks(w, m);
        break;
    case JR_MSG_FLUSH:
        JR_FAULT_POINT("flush", m->task, m->attempt);
        rc = jr_shuffle_flush(&w->ctx, w->args->ctl, w->args->slot,
                              w->nparts, &idx);
        goto reply_idx;
    case JR_MSG_REDUCE:
        atomic_store_explicit(&w->me->task_ns, jr_now_ns(),
                              memory_order_relaxed);
        atomic_store_explicit(&w->me->task, m->task + 1,
                              memory_order_relaxed);
        JR_FAULT_POINT("reduce", m->task, m->attempt);
        rc = on_reduce(w, m, &idx);
        atomic_store_explicit(&w->me->task, 0, memory_order_relaxed);
    reply_idx:
        if (rc == JR_EPROTO)
            _exit(JR_WEXIT_PROTO);
        if (rc < 0) {
            send_fail(w, m->task, m->attempt, rc,
                      m->type == JR_MSG_FLUSH ? "flush" : "reduce");
            break;
        }
        jr_buf_put_u32(&b, idx);
        send_msg(w, m->type == JR_MSG_FLUSH ? JR_MSG_FLUSHED : JR_MSG_REDUCED,
                 m->task, m->attempt, &b, 0);
        jr_buf_fini(&b);
        break;
    case JR_MSG_STOP:
        stop_worker(JR_WEXIT_OK);
    default:
        _exit(JR_WEXIT_PROTO);
    }
    beat(w);
}

void jr_worker_main(const jr_worker_args *args)
{
    worker w = {.args = args, .me = &args->ctl->w[args->slot]};

    /* Die with the fork server, and check it did not die already, before
     * the death signal was armed. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != args->spawner)
        _exit(JR_WEXIT_ORPHAN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
#ifdef JR_PGO_GEN
    signal(SIGTERM, on_term);
#else
    signal(SIGTERM, SIG_DFL);
#endif
    /* Without the guard, pieces are read, not mapped: slower, as safe. */
    (void)jr_inmap_guard();

    atomic_store_explicit(&w.me->pid, (uint32_t)getpid(),
                          memory_order_relaxed);
    atomic_store_explicit(&w.me->task, 0, memory_order_relaxed);
    beat(&w);
    w.ctx.me = w.me;
    w.ctx.fd = -1;
    JR_FAULT_POINT("start", 0, 0);
#ifdef JR_FAULT
    extern jr_ctl *jr_fault_ctl;
    jr_fault_ctl = args->ctl;
#endif
    pthread_t hb;
    if (pthread_create(&hb, NULL, heartbeat, &w) != 0)
        _exit(JR_WEXIT_SETUP);

    w.pack = jr_ipc_pack_flag(args->endpoint);
    w.zctx = zmq_ctx_new();
    if (!w.zctx)
        _exit(JR_WEXIT_SETUP);
    zmq_ctx_set(w.zctx, ZMQ_IO_THREADS, 1);
    w.sock = zmq_socket(w.zctx, ZMQ_DEALER);
    uint8_t id[8];
    jr_put_u32(id, args->slot);
    jr_put_u32(id + 4, args->gen);
    if (!w.sock || jr_ipc_sockopts(w.sock) < 0 ||
        zmq_setsockopt(w.sock, ZMQ_ROUTING_ID, id, sizeof id) < 0 ||
        zmq_connect(w.sock, args->endpoint) < 0)
        _exit(JR_WEXIT_SETUP);
    jr_buf hello = {0};
    jr_buf_put_u32(&hello, (uint32_t)getpid());
    if (send_msg(&w, JR_MSG_HELLO, 0, args->gen, &hello, 0) < 0)
        _exit(JR_WEXIT_SETUP);
    jr_buf_fini(&hello);

    long tick = args->liveness_ms / 4 ? (long)(args->liveness_ms / 4) : 250;
    jr_buf unpacked = {0};
    for (;;) {
        zmq_pollitem_t it = {.socket = w.sock, .events = ZMQ_POLLIN};
        int n = zmq_poll(&it, 1, tick);
        if (n < 0 && zmq_errno() != EINTR)
            _exit(JR_WEXIT_ORPHAN);
        beat(&w);
        if (getppid() != args->spawner)
            _exit(JR_WEXIT_ORPHAN);
        while (n > 0) {
            zmq_msg_t msg;
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, w.sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&msg);
                break;
            }
            jr_msg m;
            if (jr_msg_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &m) < 0)
                _exit(JR_WEXIT_PROTO);
            if (m.flags & JR_MSGF_LZ4) {
                unpacked.len = 0;
                if (jr_lz4_unpack(m.payload, m.len, JR_MSG_MAX, &unpacked) < 0)
                    _exit(JR_WEXIT_PROTO);
                m.payload = unpacked.data;
                m.len = unpacked.len;
            }
            handle(&w, &m);
            zmq_msg_close(&msg);
        }
    }
}
