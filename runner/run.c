/*
 * run.c - the engine: one run of a job (or of jr_pool_map) on the pool.
 *
 * Tasks go to workers with credit (3 each, more only for tiny tasks, one
 * at the tail of a run), so a slow task never strands work and the master
 * always knows who holds what.  Every task
 * carries (index, attempt); only the first DONE of the live attempt
 * counts, so a superseded or dead worker's late message changes nothing.
 * A task's emits live in its worker's table until that worker's FLUSHED
 * says they are in shared memory: only then is the task committed, and a
 * worker that dies before that gives all of its uncommitted tasks back to
 * the queue.  Results (ordered output, reports) are delivered strictly in
 * task order.  After the map phase, one reduce task per partition merges
 * the map outputs into sorted runs, and the result merges those.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/ipc.h"
#include "runner/engine.h"

#define TICK_MS 50
/* How long the end of a failed run waits for the workers it killed: a
 * SIGKILLed process is gone within milliseconds unless the kernel holds
 * it (uninterruptible I/O); past this the drop assumes the worst. */
#define KILL_WAIT_MS 500

long jr_run_add_task(jr_run *r, uint8_t kind)
{
    if (jr_array_reserve(&r->t, &r->capt, r->nt + 1, sizeof *r->t, 256) < 0)
        return -1;
    task *t = &r->t[r->nt];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->worker = -1;
    return (long)r->nt++;
}

int jr_run_queue(jr_run *r, size_t i, int front)
{
    if (r->qlen == r->qcap) {
        size_t cap = r->qcap ? 2 * r->qcap : 256;
        size_t *q = malloc(cap * sizeof *q);
        if (!q)
            return JR_ENOMEM;
        for (size_t k = 0; k < r->qlen; k++)
            q[k] = r->q[(r->qhead + k) % r->qcap];
        free(r->q);
        r->q = q;
        r->qcap = cap;
        r->qhead = 0;
    }
    if (front) {
        r->qhead = (r->qhead + r->qcap - 1) % r->qcap;
        r->q[r->qhead] = i;
    } else {
        r->q[(r->qhead + r->qlen) % r->qcap] = i;
    }
    r->qlen++;
    return 0;
}

static size_t unqueue(jr_run *r)
{
    size_t i = r->q[r->qhead];
    r->qhead = (r->qhead + 1) % r->qcap;
    r->qlen--;
    return i;
}

static int fatal(jr_run *r, int code)
{
    if (r->rc == 0)
        r->rc = code;
    return code;
}

/* ---- messages to workers ------------------------------------------------ */

/* The bytes of files a worker can expect to map in this run (0: not
 * known, as for streams): its table sizes itself from it. */
static uint64_t bytes_per_worker(const jr_run *r)
{
    uint64_t bytes = 0;
    for (size_t i = 0; i < r->nsrcs; i++)
        if (r->srcs[i].kind == JR_SRC_FILE)
            bytes += r->srcs[i].size;
    return bytes / r->p->nworkers;
}

static int send_job(jr_run *r, unsigned i)
{
    jr_pool *p = r->p;
    jr_buf b = {0};
    const char *slots = p->slots.base ? p->slots.name : "";
    int rc = jr_buf_put_u64(&b, (uint64_t)(uintptr_t)r->job);
    rc = rc ? rc : jr_buf_put_u64(&b, (uint64_t)(uintptr_t)r->map_one);
    rc = rc ? rc : jr_buf_put_u32(&b, p->nworkers);
    rc = rc ? rc : jr_buf_put_u32(&b, r->ordered ? JR_JOBF_ORDERED : 0);
    rc = rc ? rc : jr_buf_put_u64(&b, p->slots.base ? p->opts.slot_size : 0);
    rc = rc ? rc : jr_buf_put_u64(&b, bytes_per_worker(r));
    rc = rc ? rc : jr_buf_put_u32(&b, (uint32_t)strlen(slots));
    rc = rc ? rc : jr_buf_append(&b, slots, strlen(slots));
    if (rc == 0 && r->ro && r->ro->params_len)
        rc = jr_buf_append(&b, r->ro->params, r->ro->params_len);
    if (rc == 0)
        rc = jr_pool_send(p, i, JR_MSG_JOB, 0, 0, b.data, b.len, 0);
    jr_buf_fini(&b);
    if (rc == 0)
        p->w[i].run = p->run_id;
    return rc;
}

/* How many tasks worker i may hold: JR_CREDIT, or as many as fit in
 * JR_QUEUE_NS of its own average time per task when tasks are tiny (a
 * round trip through ZeroMQ's I/O threads costs more than such a task,
 * and only a deeper queue keeps the worker busy).
 *
 * At the tail of a run (every task made, fewer queued than the workers
 * could hold) a worker holds only the task it runs: a task queued behind
 * it would wait there while another worker runs dry.  With JR_CREDIT
 * everywhere the first worker to ask took up to three tasks, and
 * `jobrun -j 2 wordcount` of two 3 MB files ran both on one worker.  A
 * round trip between tasks costs microseconds. */
static unsigned credit(const jr_run *r, unsigned i)
{
    const jr_pool *p = r->p;
    uint64_t avg = atomic_load_explicit(&p->ctl->w[i].avg_ns,
                                        memory_order_relaxed);
    /* Until the worker has finished a task of this run, its average may
     * still be the last job's. */
    int known = avg != 0 && p->w[i].run == p->run_id && p->w[i].ntasks > 0;
    uint64_t n = known ? JR_QUEUE_NS / avg : 0;
    if (n > JR_CREDIT)
        return n > JR_CREDIT_MAX ? JR_CREDIT_MAX : (unsigned)n;
    if (r->produced_all && r->qlen < (size_t)p->nworkers * JR_CREDIT)
        return 1;
    return JR_CREDIT;
}

/* Hand pending tasks to workers with free credit: all the tasks one
 * worker gets now travel in one frame (TASKS), so tiny tasks do not each
 * pay a message's worth of context switches. */
static void dispatch(jr_run *r)
{
    jr_pool *p = r->p;
    jr_buf b = {0}, one = {0};
    for (unsigned i = 0; i < p->nworkers && r->qlen > 0 && !r->rc; i++) {
        jr_wslot *w = &p->w[i];
        unsigned cap = credit(r, i);
        if (w->state != JR_W_READY || w->nheld >= cap || w->busy ||
            w->kill_why)
            continue;
        if (w->run != p->run_id && send_job(r, i) < 0)
            continue;
        b.len = 0;
        unsigned n = 0;
        size_t first = 0;
        while (w->nheld < cap && r->qlen > 0) {
            size_t ti = r->q[r->qhead];
            task *t = &r->t[ti];
            if (r->ordered && t->kind != JR_TASK_REDUCE &&
                ti >= r->next_deliver + r->window)
                break;
            if (t->kind == JR_TASK_REDUCE && n > 0)
                break; /* REDUCE travels alone */
            unqueue(r);
            t->attempt++;
            t->state = T_RUNNING;
            t->worker = (int32_t)i;
            w->held[w->nheld++] = ti;
            if (jr_task_encode(r, t, &one) < 0 ||
                jr_buf_put_u64(&b, ti) < 0 ||
                jr_buf_put_u32(&b, t->attempt) < 0 ||
                jr_buf_put_u32(&b, (uint32_t)one.len) < 0 ||
                jr_buf_append(&b, one.data, one.len) < 0) {
                fatal(r, JR_ENOMEM);
                goto out;
            }
            if (n++ == 0)
                first = ti;
            if (t->kind == JR_TASK_REDUCE)
                break;
        }
        if (n == 0)
            continue;
        task *t0 = &r->t[first];
        int rc;
        if (n == 1)
            rc = jr_pool_send(
                p, i, t0->kind == JR_TASK_REDUCE ? JR_MSG_REDUCE : JR_MSG_TASK,
                first, t0->attempt, b.data + JR_REC_MSG_HDR,
                b.len - JR_REC_MSG_HDR, p->pack);
        else
            rc = jr_pool_send(p, i, JR_MSG_TASKS, 0, 0, b.data, b.len, p->pack);
        if (rc < 0) {
            /* The worker is going away (ROUTER_MANDATORY says it is
             * unreachable): its death follows, and on_dead() puts back
             * what it holds. */
            jr_pool_kill(p, i, "unreachable");
        }
    }
out:
    jr_buf_fini(&b);
    jr_buf_fini(&one);
}

/* Ask workers to move their tables into shared memory, committing what
 * they did: at the end of the map phase, or when stream slots run out. */
static void maybe_flush(jr_run *r)
{
    jr_pool *p = r->p;
    int end = r->produced_all && r->qlen == 0 && !r->reducing;
    if (!end && !r->want_flush)
        return;
    for (unsigned i = 0; i < p->nworkers; i++) {
        jr_wslot *w = &p->w[i];
        if (w->state != JR_W_READY || w->busy || w->done.len == 0 ||
            (end && w->nheld > 0) || w->kill_why)
            continue;
        if (jr_pool_send(p, i, JR_MSG_FLUSH, 0, 0, NULL, 0, 0) == 0)
            w->busy = 1;
    }
    r->want_flush = 0;
}

/* ---- commit, failure, death ----------------------------------------------- */

static void commit(jr_run *r, task *t)
{
    if (t->state == T_COMMITTED)
        return;
    t->state = T_COMMITTED;
    r->ncommitted++;
    jr_produce_release(r, t);
}

static void drop_held(jr_wslot *w, size_t ti)
{
    for (unsigned k = 0; k < w->nheld; k++)
        if (w->held[k] == ti) {
            w->held[k] = w->held[--w->nheld];
            return;
        }
}

/* Task ti failed an attempt for reason why. */
static void failed(jr_run *r, size_t ti, const char *why, int code)
{
    task *t = &r->t[ti];
    jr_pool *p = r->p;
    t->failures++;
    r->p->stats.retries++;
    free(t->err);
    t->err = strdup(why);
    t->state = T_PENDING;
    t->worker = -1;
    if (t->failures >= p->opts.max_attempts) {
        /* Out of attempts is JR_EWORKER whatever the last cause, but for
         * resources that ran out (they say so in the message anyway). */
        if (code != JR_ENOMEM && code != JR_ENOSPC)
            code = JR_EWORKER;
        char d[512];
        jr_task_describe(r, t, d, sizeof d);
        jr_pool_fail(p, code, "%s failed %u/%u attempts: %s", d,
                     t->failures, p->opts.max_attempts, why);
        fatal(r, code);
        return;
    }
    jr_run_queue(r, ti, 1);
}

static void on_dead(jr_run *r, unsigned i)
{
    jr_pool *p = r->p;
    jr_wslot *w = &p->w[i];
    char why[160];
    snprintf(why, sizeof why, "worker %s", w->why);
    int code = strstr(w->why, "out of memory") ? JR_ENOMEM : JR_EWORKER;
    /* Only the task it was running is to blame (the control block says
     * which); the ones queued behind it go back without a mark. */
    uint64_t running = atomic_load_explicit(&p->ctl->w[i].task,
                                            memory_order_relaxed);
    int blamed = 0;
    for (unsigned k = 0; k < w->nheld; k++) {
        size_t ti = w->held[k];
        task *t = &r->t[ti];
        if (t->state != T_RUNNING || t->worker != (int32_t)i)
            continue;
        if (running == ti + 1 || (running == 0 && k == 0 && !blamed)) {
            blamed = 1;
            failed(r, ti, why, code);
        } else {
            t->state = T_PENDING;
            t->worker = -1;
            jr_run_queue(r, ti, 1);
        }
    }
    w->nheld = 0;
    atomic_store_explicit(&p->ctl->w[i].task, 0, memory_order_relaxed);
    /* Done but not flushed: the counts died with the worker's table.  If
     * it died writing that table, the tasks are to blame too (or a flush
     * that always kills its worker would loop forever). */
    char fwhy[200];
    snprintf(fwhy, sizeof fwhy, "%s while writing its table", why);
    for (size_t k = 0; k + 8 <= w->done.len && !r->rc; k += 8) {
        size_t ti = (size_t)jr_get_u64(w->done.data + k);
        task *t = &r->t[ti];
        if (t->state != T_DONE || t->worker != (int32_t)i)
            continue;
        if (w->busy) {
            failed(r, ti, fwhy, code);
        } else {
            t->state = T_PENDING;
            t->worker = -1;
            jr_run_queue(r, ti, 1);
        }
    }
    w->done.len = 0;
    w->busy = 0;
}

/* ---- messages from workers ------------------------------------------------ */

static task *live_task(jr_run *r, unsigned i, const jr_msg *m)
{
    if (m->task >= r->nt)
        return NULL;
    task *t = &r->t[m->task];
    if (t->state != T_RUNNING || t->worker != (int32_t)i ||
        t->attempt != m->attempt)
        return NULL; /* a superseded attempt: fenced off */
    return t;
}

static void on_done(jr_run *r, unsigned i, const jr_msg *m)
{
    jr_wslot *w = &r->p->w[i];
    task *t = live_task(r, i, m);
    if (!t)
        return;
    drop_held(w, (size_t)m->task);
    w->ntasks++;
    /* The restart budget counts deaths without progress: a job whose
     * every task kills its worker once still finishes, a pool whose
     * workers die at start (or always) stops. */
    r->p->respawns = 0;
    jr_rd rd = {m->payload, m->len};
    uint32_t dirty;
    if (jr_rd_u32(&rd, &dirty) < 0) {
        jr_pool_kill(r->p, i, "sent a malformed DONE");
        return;
    }
    if (!t->have && !t->delivered) {
        t->result.len = 0;
        if (jr_buf_append(&t->result, rd.p, rd.len) < 0) {
            fatal(r, JR_ENOMEM);
            return;
        }
        t->have = 1;
    }
    if (t->kind == JR_TASK_REDUCE)
        return;
    if (!dirty || !r->job) {
        /* Nothing of it (nor of this worker's earlier tasks) is left in
         * the worker's table: it is safe already. */
        commit(r, t);
        for (size_t k = 0; k + 8 <= w->done.len; k += 8)
            commit(r, &r->t[jr_get_u64(w->done.data + k)]);
        w->done.len = 0;
        return;
    }
    t->state = T_DONE;
    if (jr_buf_put_u64(&w->done, m->task) < 0)
        fatal(r, JR_ENOMEM);
}

static void on_dones(jr_run *r, unsigned i, const jr_msg *m)
{
    jr_rd rd = {m->payload, m->len};
    while (rd.len > 0) {
        jr_msg one = {.type = JR_MSG_DONE, .worker = i};
        uint32_t len;
        if (jr_rd_u64(&rd, &one.task) < 0 ||
            jr_rd_u32(&rd, &one.attempt) < 0 || jr_rd_u32(&rd, &len) < 0 ||
            jr_rd_bytes(&rd, len, &one.payload) < 0) {
            jr_pool_kill(r->p, i, "sent a malformed DONES");
            return;
        }
        one.len = len;
        on_done(r, i, &one);
    }
}

static void on_flushed(jr_run *r, unsigned i, const jr_msg *m)
{
    jr_wslot *w = &r->p->w[i];
    jr_rd rd = {m->payload, m->len};
    uint32_t idx;
    if (!w->busy || jr_rd_u32(&rd, &idx) < 0) {
        jr_pool_kill(r->p, i, "sent an unexpected FLUSHED");
        return;
    }
    w->busy = 0;
    if (idx != JR_NO_SEG && jr_buf_put_u32(&r->mapouts, idx) < 0) {
        fatal(r, JR_ENOMEM);
        return;
    }
    for (size_t k = 0; k + 8 <= w->done.len; k += 8) {
        task *t = &r->t[jr_get_u64(w->done.data + k)];
        if (t->state == T_DONE && t->worker == (int32_t)i)
            commit(r, t);
    }
    w->done.len = 0;
}

static void on_reduced(jr_run *r, unsigned i, const jr_msg *m)
{
    task *t = live_task(r, i, m);
    jr_rd rd = {m->payload, m->len};
    uint32_t idx;
    if (!t)
        return;
    drop_held(&r->p->w[i], (size_t)m->task);
    if (t->kind != JR_TASK_REDUCE || jr_rd_u32(&rd, &idx) < 0) {
        jr_pool_kill(r->p, i, "sent a malformed REDUCED");
        return;
    }
    r->runs[t->npieces] = idx;
    commit(r, t);
    r->nreduce_done++;
}

static void on_fail(jr_run *r, unsigned i, const jr_msg *m)
{
    jr_pool *p = r->p;
    jr_rd rd = {m->payload, m->len};
    uint32_t code;
    if (jr_rd_u32(&rd, &code) < 0 || code == 0 || code > 100000) {
        jr_pool_kill(p, i, "sent a malformed FAIL");
        return;
    }
    char text[300];
    size_t n = rd.len < 200 ? rd.len : 200;
    memcpy(text, rd.p, n);
    text[n] = '\0';
    int err = -(int)code;
    jr_wslot *w = &p->w[i];
    if (m->type == JR_MSG_FAIL && w->busy && m->task == 0 &&
        m->attempt == 0) {
        /* The flush itself failed: shared memory is out. */
        jr_pool_fail(p, err, "worker %u could not write its table: %s", i,
                     text);
        fatal(r, err);
        return;
    }
    task *t = live_task(r, i, m);
    if (!t)
        return;
    drop_held(w, (size_t)m->task);
    if (err == JR_EJOB || err == JR_EKEYLEN || t->kind == JR_TASK_ITEMS) {
        /* The job's own verdicts: another attempt would do the same. */
        char d[512];
        jr_task_describe(r, t, d, sizeof d);
        jr_pool_fail(p, err, "%s: %s", d, text);
        fatal(r, err);
        return;
    }
    /* Its table may hold part of the failed task's emits: the worker must
     * go, and everything it did since its last flush is redone. */
    failed(r, (size_t)m->task, text, err);
    jr_pool_kill(p, i, "retired after a failed task");
}

/* ---- delivery, in task order ----------------------------------------------- */

static int deliver_one(jr_run *r, task *t)
{
    const jr_run_opts *ro = r->ro;
    jr_rd rd = {t->result.data, t->result.len};
    uint32_t np;
    if (jr_rd_u32(&rd, &np) < 0)
        return JR_EPROTO;
    for (uint32_t k = 0; k < np; k++) {
        jr_src *s = NULL;
        if (t->kind == JR_TASK_FILE && k < t->npieces)
            s = &r->srcs[t->src + k];
        else if (t->kind != JR_TASK_ITEMS)
            s = &r->srcs[t->src];
        uint64_t nlines;
        uint32_t nrep, nerr, len;
        const uint8_t *p;
        if (jr_rd_u64(&rd, &nlines) < 0 || jr_rd_u32(&rd, &nrep) < 0)
            return JR_EPROTO;
        for (uint32_t j = 0; j < nrep; j++) {
            uint64_t line;
            if (jr_rd_u64(&rd, &line) < 0 || jr_rd_u32(&rd, &len) < 0 ||
                jr_rd_bytes(&rd, len, &p) < 0)
                return JR_EPROTO;
            char msg[4200];
            size_t m = len < sizeof msg - 1 ? len : sizeof msg - 1;
            memcpy(msg, p, m);
            msg[m] = '\0';
            r->input_errors++;
            jr_diag(ro, JR_DIAG_RECORD, s ? s->name : "",
                            (s ? s->lines : 0) + line + 1, msg);
        }
        if (jr_rd_u32(&rd, &nerr) < 0)
            return JR_EPROTO;
        for (uint32_t j = 0; j < nerr; j++) {
            if (jr_rd_u32(&rd, &len) < 0 || jr_rd_bytes(&rd, len, &p) < 0)
                return JR_EPROTO;
            if (s && !s->errored) {
                char msg[300];
                size_t m = len < sizeof msg - 1 ? len : sizeof msg - 1;
                memcpy(msg, p, m);
                msg[m] = '\0';
                s->errored = 1;
                r->input_errors++;
                jr_diag(ro, JR_DIAG_INPUT, s->name, 0, msg);
            }
        }
        if (s)
            s->lines += nlines;
        if (jr_rd_u32(&rd, &len) < 0 || jr_rd_bytes(&rd, len, &p) < 0)
            return JR_EPROTO;
        if (t->kind == JR_TASK_ITEMS) {
            jr_blob *o = &r->items_out[t->off + k];
            o->len = len;
            o->data = NULL;
            if (len && !(o->data = malloc(len)))
                return JR_ENOMEM;
            if (len)
                memcpy(o->data, p, len);
        } else if (len && ro && ro->on_output) {
            int rc = ro->on_output(ro->ctx, p, len);
            if (rc != 0) {
                jr_pool_fail(r->p, rc, "output: %s",
                             rc < 0 ? jr_strerror(rc) : "stopped");
                return rc;
            }
        }
    }
    return 0;
}

static void deliver(jr_run *r)
{
    while (r->next_deliver < r->nt && r->rc == 0) {
        task *t = &r->t[r->next_deliver];
        if (t->kind == JR_TASK_REDUCE)
            break;
        if (!t->have)
            break;
        int rc = deliver_one(r, t);
        if (rc != 0) {
            if (rc == JR_EPROTO)
                jr_pool_fail(r->p, rc, "a worker's result was malformed");
            fatal(r, rc);
            return;
        }
        jr_buf_fini(&t->result);
        t->have = 0;
        t->delivered = 1;
        free(t->prev);
        t->prev = NULL;
        r->next_deliver++;
    }
}

/* ---- watchdogs ------------------------------------------------------------ */

static void watch(jr_run *r)
{
    jr_pool *p = r->p;
    uint64_t now = jr_now_ns();
    for (unsigned i = 0; i < p->nworkers; i++) {
        jr_wslot *w = &p->w[i];
        unsigned hello_ms = p->opts.liveness_ms < 2000 ? p->opts.liveness_ms
                                                       : 2000;
        if (w->state == JR_W_STARTING && w->pid > 0 && !w->kill_why &&
            jr_now_ms() > w->spawned_ms + hello_ms) {
            /* A replacement that never says HELLO (it cannot connect, or
             * hangs in its start) must not stall the run; a few in a row
             * mean none will (our endpoint is gone): give up. */
            char why[96];
            snprintf(why, sizeof why, "did not connect within %u ms",
                     hello_ms);
            jr_pool_kill(p, i, why);
            if (++p->connect_failures >= 3) {
                jr_pool_fail(p, JR_ESPAWN, "workers cannot connect to %s: "
                             "%u in a row did not within %u ms",
                             p->endpoint, p->connect_failures, hello_ms);
                fatal(r, JR_ESPAWN);
            }
            continue;
        }
        if (w->state != JR_W_READY || w->kill_why)
            continue;
        jr_ctl_worker *cw = &p->ctl->w[i];
        uint64_t beat = atomic_load_explicit(&cw->beat_ns,
                                             memory_order_relaxed);
        if ((w->nheld > 0 || w->busy) && beat &&
            now > beat + (uint64_t)p->opts.liveness_ms * 1000000u) {
            char why[96];
            snprintf(why, sizeof why,
                     "gave no sign of life for %u ms (stopped or hung)",
                     p->opts.liveness_ms);
            jr_pool_kill(p, i, why);
            continue;
        }
        uint64_t cur = atomic_load_explicit(&cw->task, memory_order_relaxed);
        uint64_t since = atomic_load_explicit(&cw->task_ns,
                                              memory_order_relaxed);
        if (p->opts.task_timeout_ms && cur && since &&
            now > since + (uint64_t)p->opts.task_timeout_ms * 1000000u) {
            char why[96];
            snprintf(why, sizeof why, "task timed out after %u ms",
                     p->opts.task_timeout_ms);
            jr_pool_kill(p, i, why);
        }
    }
}

static void progress(jr_run *r, uint64_t *last)
{
    const jr_run_opts *ro = r->ro;
    uint64_t now = jr_now_ms();
    if (!ro || !ro->on_progress || now < *last + 100)
        return;
    *last = now;
    uint64_t done = 0;
    for (unsigned i = 0; i < r->p->nworkers; i++)
        done += atomic_load_explicit(&r->p->ctl->w[i].progress,
                                     memory_order_relaxed);
    ro->on_progress(ro->ctx, done, r->bytes_total);
}

/* ---- phases --------------------------------------------------------------- */

static int start_reduce(jr_run *r)
{
    jr_pool *p = r->p;
    r->reducing = 1;
    r->runs = malloc(p->nworkers * sizeof *r->runs);
    if (!r->runs)
        return JR_ENOMEM;
    for (unsigned k = 0; k < p->nworkers; k++) {
        r->runs[k] = JR_NO_SEG;
        long i = jr_run_add_task(r, JR_TASK_REDUCE);
        if (i < 0)
            return JR_ENOMEM;
        r->t[i].npieces = k;
        if (jr_run_queue(r, (size_t)i, 0) < 0)
            return JR_ENOMEM;
    }
    return 0;
}

/* Every task mapped: none waits or runs, though the last ones may still
 * sit in the workers' tables, unflushed. */
static int all_mapped(const jr_run *r)
{
    if (!r->produced_all || r->qlen > 0)
        return 0;
    for (unsigned i = 0; i < r->p->nworkers; i++)
        if (r->p->w[i].nheld > 0)
            return 0;
    return 1;
}

static int map_done(const jr_run *r)
{
    return r->produced_all && r->ncommitted == r->nt &&
           r->next_deliver == r->nt;
}

/* Run the loop until the job is done or fails. */
static int loop(jr_run *r)
{
    jr_pool *p = r->p;
    uint64_t last_progress = 0, t0 = jr_now_ns();
    uint64_t mapped = 0; /* when all_mapped() last became true */
    for (;;) {
        if (r->rc)
            return r->rc;
        int rc = jr_produce(r);
        if (rc < 0)
            return fatal(r, rc);
        dispatch(r);
        maybe_flush(r);
        deliver(r);
        if (r->rc)
            return r->rc;
        /* A worker's death can hand mapped tasks back: map again. */
        if (!r->reducing)
            mapped = !all_mapped(r) ? 0 : mapped ? mapped : jr_now_ns();
        if (!r->reducing && map_done(r)) {
            uint64_t now = jr_now_ns();
            /* Not expected (a worker still holding a task that another
             * attempt committed), but a time since 0 would be absurd. */
            if (mapped == 0)
                mapped = now;
            p->stats.map_s = (double)(mapped - t0) / 1e9;
            p->stats.flush_s = (double)(now - mapped) / 1e9;
            t0 = now;
            if (!r->job || r->mapouts.len == 0)
                return 0;
            if ((rc = start_reduce(r)) < 0)
                return fatal(r, rc);
            continue;
        }
        if (r->reducing && r->nreduce_done == p->nworkers) {
            p->stats.reduce_s = (double)(jr_now_ns() - t0) / 1e9;
            return 0;
        }
        jr_event ev;
        p->poll_fd = r->wait_fd;
        rc = jr_pool_poll(p, r->wait_fd >= 0 ? 10 : TICK_MS, &ev);
        p->poll_fd = -1;
        if (rc < 0)
            return fatal(r, rc);
        switch (ev.kind) {
        case JR_EV_CANCEL:
            jr_pool_fail(p, JR_ECANCELED, "canceled");
            return fatal(r, JR_ECANCELED);
        case JR_EV_READY:
            p->connect_failures = 0;
            send_job(r, ev.slot);
            break;
        case JR_EV_DEAD:
            on_dead(r, ev.slot);
            break;
        case JR_EV_MSG:
            switch (ev.msg.type) {
            case JR_MSG_DONE:
                on_done(r, ev.slot, &ev.msg);
                break;
            case JR_MSG_DONES:
                on_dones(r, ev.slot, &ev.msg);
                break;
            case JR_MSG_FLUSHED:
                on_flushed(r, ev.slot, &ev.msg);
                break;
            case JR_MSG_REDUCED:
                on_reduced(r, ev.slot, &ev.msg);
                break;
            case JR_MSG_FAIL:
                on_fail(r, ev.slot, &ev.msg);
                break;
            default:
                jr_pool_kill(p, ev.slot, "sent an unexpected message");
            }
            break;
        }
        watch(r);
        progress(r, &last_progress);
    }
}

static void run_fini(jr_run *r)
{
    for (size_t i = 0; i < r->nt; i++) {
        jr_buf_fini(&r->t[i].result);
        free(r->t[i].prev);
        free(r->t[i].err);
    }
    free(r->t);
    free(r->q);
    free(r->runs);
    jr_buf_fini(&r->mapouts);
    jr_produce_fini(r);
    jr_srcs_free(r->srcs, r->nsrcs);
}

/* After a failed or canceled run the workers may hold tasks, tables or
 * half a flush of it: replace them all so the next run starts clean. */
static void reset_workers(jr_pool *p)
{
    for (unsigned i = 0; i < p->nworkers; i++)
        jr_pool_kill(p, i, "reset after a failed run");
}

int jr_engine_run(jr_pool *p, const jr_job *job, jr_map_one_fn map_one,
                  const jr_input *in, const jr_blob *items, size_t nitems,
                  size_t batch, jr_blob *items_out, const jr_run_opts *ro,
                  jr_result **out)
{
    jr_run r = {.p = p, .job = job, .map_one = map_one, .ro = ro,
                .items = items, .nitems = nitems, .batch = batch,
                .items_out = items_out};
    p->errmsg[0] = '\0';
    if (p->cancel)
        return jr_pool_fail(p, JR_ECANCELED, "canceled");
    memset(&p->stats, 0, sizeof p->stats);
    p->run_id++;
    p->respawns = 0;
    for (unsigned i = 0; i < p->nworkers; i++) {
        p->w[i].ntasks = 0;
        p->w[i].done.len = 0;
    }
    r.ordered = items || (ro && ro->on_output);
    r.window = 8 * (size_t)p->nworkers + 8;
    if (items)
        r.window *= 8;
    int rc = 0;
    if (in)
        rc = jr_input_expand(in, p, ro, &r.srcs, &r.nsrcs, &r.input_errors);
    if (rc == 0)
        rc = jr_produce_init(&r);
    if (rc == 0)
        rc = loop(&r);
    p->stats.nworkers = p->nworkers;
    for (unsigned i = 0; i < p->nworkers && i < 64; i++) {
        p->stats.tasks_per_worker[i] = p->w[i].ntasks;
        p->stats.tasks += p->w[i].ntasks;
    }
    p->stats.bytes = r.bytes_total;
    if (rc == 0 && out && r.runs) {
        uint64_t t0 = jr_now_ns();
        rc = jr_result_build(p, job, r.runs, p->nworkers, out);
        p->stats.merge_s = (double)(jr_now_ns() - t0) / 1e9;
    } else if (rc == 0 && out) {
        rc = jr_result_build(p, job, NULL, 0, out);
    }
    if (rc != 0)
        reset_workers(p);
    /* The result holds its own mappings: every name can go now, once no
     * worker killed in the run can still create one.  A kill goes through
     * the fork server and lands a moment later: a worker between taking
     * a directory entry and creating its segment could create it after
     * the drop, and it would outlive the pool (seen once in T09, a SIGINT
     * while a worker flushed). */
    jr_pool_drop_segments(p, jr_pool_await_kills(p, KILL_WAIT_MS));
    if (rc == 0 && r.input_errors)
        rc = JR_EINPUT;
    run_fini(&r);
    return rc;
}
