/*
 * produce.c - turning sources into tasks.
 *
 * Files become byte ranges (a large file is split into chunk_size pieces;
 * small files are batched into one task so no task is tiny; by default the
 * last tasks are smaller, so that workers finish together), generated
 * inputs become index ranges, and streams (pipes, standard input, memory)
 * are read by the master straight into shared-memory slots that workers
 * read in place.  A stream slot is cut where the job's split callback says
 * a record ends; the rest is carried into the next slot.  In ordered runs
 * the producer stays within a window of the next result to deliver, so
 * memory stays bounded however long the input.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner/engine.h"

#define BATCH_PIECES 256
/* The smallest task of files that task_len() makes. */
#define TAIL_MIN ((uint64_t)256 << 10)
#define SLOT_ARENA_N 100000 /* name index of the slot arena */
#define STREAM_IDLE_NS (20u * 1000000u)

static size_t chunk_size(const jr_run *r)
{
    return r->ro && r->ro->chunk_size ? r->ro->chunk_size : (4u << 20);
}

static uint64_t chunk_count(const jr_run *r)
{
    return r->ro && r->ro->chunk_count ? r->ro->chunk_count : 1000;
}

static int window_full(const jr_run *r)
{
    return r->ordered && r->nt - r->next_deliver >= r->window;
}

/* ---- stream slots ------------------------------------------------------ */

int jr_produce_init(jr_run *r)
{
    jr_pool *p = r->p;
    for (size_t i = 0; i < r->nsrcs; i++)
        if (r->srcs[i].kind == JR_SRC_FILE)
            r->file_bytes_left += r->srcs[i].size;
    r->s_slot = -1;
    r->wait_fd = -1;
    int need = 0;
    for (size_t i = 0; i < r->nsrcs; i++)
        need |= r->srcs[i].kind == JR_SRC_FD || r->srcs[i].kind == JR_SRC_MEM;
    if (!need)
        return 0;
    if (!p->slots.base) {
        unsigned n = 4 * p->nworkers + 4;
        if (n < 8)
            n = 8;
        if (n > 64)
            n = 64;
        /* Sparse: a slot's memory is reserved when it is first used, so
         * `jobrun factor 12` does not pay for megabytes it never writes
         * (reserving and mapping them took longer than the job). */
        char name[JR_SHM_NAME_MAX];
        p->slot_ready = calloc(n, 1);
        if (!p->slot_ready)
            return JR_ENOMEM;
        int rc = jr_shm_name(name, sizeof name, p->master_pid,
                             p->master_start, JR_SEG_N(p->seq, SLOT_ARENA_N));
        if (rc == 0)
            rc = jr_shm_create_sparse(
                &p->slots, name, (size_t)n * p->opts.slot_size, &p->slots_fd);
        if (rc < 0) {
            free(p->slot_ready);
            p->slot_ready = NULL;
            return jr_pool_fail(p, rc, "cannot create %u stream slots of "
                                "%zu bytes in /dev/shm: %s", n,
                                p->opts.slot_size, jr_strerror(rc));
        }
        p->nslots = n;
    }
    r->slot_used = calloc(p->nslots, 1);
    if (!r->slot_used)
        return JR_ENOMEM;
    r->slots_free = p->nslots;
    return 0;
}

void jr_produce_fini(jr_run *r)
{
    if (r->s_is_big) {
        jr_ctl_seg_free(r->p->ctl, r->s_big_idx);
        jr_shm_unmap(&r->s_big);
        r->s_is_big = 0;
    }
    free(r->slot_used);
    r->slot_used = NULL;
    jr_buf_fini(&r->carry);
}

void jr_produce_release(jr_run *r, task *t)
{
    if (t->kind == JR_TASK_SEG && t->seg.base) {
        jr_ctl_seg_free(r->p->ctl, t->slot);
        jr_shm_unmap(&t->seg);
        return;
    }
    if (t->kind == JR_TASK_SLOT && r->slot_used && r->slot_used[t->slot]) {
        r->slot_used[t->slot] = 0;
        r->slots_free++;
    }
}

/* Take a free slot into *slot (-1 when none is free), reserved in
 * /dev/shm the first time it is used.  @return 0, or a negative code. */
static int take_slot(jr_run *r, int *slot)
{
    jr_pool *p = r->p;
    *slot = -1;
    for (unsigned i = 0; i < p->nslots; i++) {
        if (r->slot_used[i])
            continue;
        if (!p->slot_ready[i]) {
            size_t ss = p->opts.slot_size;
            int rc = jr_shm_reserve(&p->slots, p->slots_fd, (size_t)i * ss, ss);
            if (rc < 0)
                return jr_pool_fail(p, rc,
                                    "cannot reserve a stream slot "
                                    "of %zu bytes in /dev/shm: %s",
                                    ss, jr_strerror(rc));
            p->slot_ready[i] = 1;
        }
        r->slot_used[i] = 1;
        r->slots_free--;
        *slot = (int)i;
        return 0;
    }
    return 0;
}

static uint8_t *slot_base(const jr_run *r, int s)
{
    return (uint8_t *)r->p->slots.base + (size_t)s * r->p->opts.slot_size;
}

/* Where the stream's next chunk is being gathered, and its room. */
static uint8_t *cur_base(const jr_run *r)
{
    return r->s_is_big ? r->s_big.base : slot_base(r, r->s_slot);
}

static size_t cur_cap(const jr_run *r)
{
    return r->s_is_big ? r->s_big.len : r->p->opts.slot_size;
}

/* The chunk being gathered is full and holds no place to cut: move it to
 * a segment of its own, twice as big (four slots the first time), so a
 * record of any length (a 100 MB word on a pipe) stays whole. */
static int grow_big(jr_run *r)
{
    jr_pool *p = r->p;
    size_t cap = r->s_is_big ? 2 * r->s_big.len : 4 * p->opts.slot_size;
    if (cap > ((size_t)1 << 34))
        return JR_ENOMEM;
    jr_seg seg = {0};
    uint32_t idx;
    int rc = jr_ctl_seg_create(p->ctl, UINT32_MAX, cap, &seg, &idx);
    if (rc < 0)
        return jr_pool_fail(p, rc, "cannot hold a %zu-byte record of a "
                            "stream in /dev/shm: %s", r->s_fill,
                            jr_strerror(rc));
    memcpy(seg.base, cur_base(r), r->s_fill);
    if (r->s_is_big) {
        jr_ctl_seg_free(p->ctl, r->s_big_idx);
        jr_shm_unmap(&r->s_big);
    } else {
        r->slot_used[r->s_slot] = 0;
        r->slots_free++;
    }
    r->s_big = seg;
    r->s_big_idx = idx;
    r->s_is_big = 1;
    return 0;
}

/* Make a task of the first cut bytes of the slot being filled. */
static int cut_slot(jr_run *r, size_t cut)
{
    long i = jr_run_add_task(r, r->s_is_big ? JR_TASK_SEG : JR_TASK_SLOT);
    if (i < 0)
        return JR_ENOMEM;
    task *t = &r->t[i];
    t->src = (uint32_t)r->next_src;
    t->slot = r->s_is_big ? r->s_big_idx : (uint32_t)r->s_slot;
    if (r->s_is_big) {
        int rc = jr_ctl_seg_ready(r->p->ctl, r->s_big_idx);
        if (rc < 0)
            return rc;
        t->seg = r->s_big; /* the task owns it now */
    }
    t->off = r->src_pos;
    t->len = cut;
    t->prev = malloc(sizeof r->s_prev);
    if (!t->prev)
        return JR_ENOMEM;
    memcpy(t->prev, r->s_prev, sizeof r->s_prev);

    /* The next chunk's lookback: the last bytes before the cut. */
    const uint8_t *base = cur_base(r);
    unsigned lb = r->job && r->job->lookback < 64 ? r->job->lookback : 64;
    size_t have = r->s_prev[0];
    uint8_t tmp[128];
    memcpy(tmp, r->s_prev + 1, have);
    size_t take = cut < lb ? cut : lb;
    memcpy(tmp + have, base + cut - take, take);
    size_t total = have + take;
    size_t keep = total < lb ? total : lb;
    r->s_prev[0] = (uint8_t)keep;
    memcpy(r->s_prev + 1, tmp + total - keep, keep);

    r->carry.len = 0;
    int rc = jr_buf_append(&r->carry, base + cut, r->s_fill - cut);
    r->src_pos += cut;
    r->bytes_total += cut;
    r->s_slot = -1;
    r->s_is_big = 0;
    r->s_fill = 0;
    r->s_nocut = 0;
    return rc < 0 ? rc : jr_run_queue(r, (size_t)i, 0);
}

/* Whether a stream that ran dry is worth another split of the fill bytes
 * gathered, after one found no place to cut at r->s_nocut: once they
 * have doubled, or once the stream has been quiet a while (a line
 * finished after a pause).  Not at every pause: a 20 MB word on a pipe
 * that ran dry now and then was searched whole each time, and took 2 s
 * (50 MB: 13 s).  Quiet spells are rare in a fast stream, and bound the
 * searches in a slow one. */
static int split_again(const jr_run *r, size_t fill)
{
    return r->s_nocut == 0 || fill >= 2 * r->s_nocut ||
           (fill != r->s_nocut &&
            jr_now_ns() - r->s_tread > 5 * (uint64_t)STREAM_IDLE_NS);
}

/* Read more of stream source s.  @return 1 when the source is finished,
 * 0 when waiting (for data or a slot), or a negative code. */
static int stream_step(jr_run *r, jr_src *s)
{
    size_t ss = r->p->opts.slot_size;
    r->wait_fd = -1;
    for (;;) {
        if (window_full(r))
            return 0;
        if (r->s_slot < 0 && !r->s_is_big) {
            if (r->carry.len == 0 && s->eof)
                return 1;
            int rc = take_slot(r, &r->s_slot);
            if (rc < 0)
                return rc;
            if (r->s_slot < 0) {
                r->want_flush = 1;
                return 0;
            }
            if (r->carry.len)
                memcpy(slot_base(r, r->s_slot), r->carry.data, r->carry.len);
            r->s_fill = r->carry.len;
            r->s_t0 = jr_now_ns();
        }
        uint8_t *base = cur_base(r);
        size_t cap = cur_cap(r);
        int eof = s->eof;
        ssize_t n = 0;
        if (!eof && r->s_fill < cap) {
            /* Reads of at most a slot, so what follows a cut stays
             * smaller than a slot and fits the next one. */
            size_t room = cap - r->s_fill < ss ? cap - r->s_fill : ss;
            if (s->kind == JR_SRC_MEM) {
                size_t left = (size_t)(s->size - r->s_mem);
                n = (ssize_t)(left < room ? left : room);
                memcpy(base + r->s_fill, s->mem + r->s_mem, (size_t)n);
                r->s_mem += (size_t)n;
                if (n == 0)
                    eof = 1;
            } else {
                struct pollfd pf = {.fd = s->fd, .events = POLLIN};
                int pr = poll(&pf, 1, 0);
                if (pr == 0) {
                    n = -EAGAIN;
                } else {
                    n = read(s->fd, base + r->s_fill, room);
                    if (n < 0)
                        n = -errno;
                }
                if (n == 0)
                    eof = 1;
                if (n < 0 && n != -EAGAIN && n != -EINTR) {
                    /* Report it as an input error; what was read counts. */
                    jr_diag(r->ro, JR_DIAG_INPUT, s->name, 0,
                                       strerror((int)-n));
                    s->errored = 1;
                    r->input_errors++;
                    eof = 1;
                }
            }
            if (n > 0) {
                r->s_fill += (size_t)n;
                r->s_tread = jr_now_ns();
            }
            if (eof)
                s->eof = 1;
        }
        size_t fill = r->s_fill;
        jr_split_fn split = r->job ? r->job->split : NULL;
        size_t cut = 0;
        if (eof) {
            cut = fill;
        } else if (fill == cap) {
            cut = split ? split(base, fill, 0) : fill;
            if (cut == 0) {
                int rc = grow_big(r);
                if (rc < 0)
                    return rc;
                continue;
            }
        } else if (n == -EAGAIN && jr_now_ns() - r->s_t0 > STREAM_IDLE_NS &&
                   fill > 0 && split_again(r, fill)) {
            /* A slow stream: hand out what we have so answers come
             * early (factor in a pipeline). */
            cut = split ? split(base, fill, 0) : fill;
            if (cut == 0)
                r->s_nocut = fill;
        }
        if (cut > 0) {
            int rc = cut_slot(r, cut);
            if (rc < 0)
                return rc;
            continue;
        }
        if (eof) { /* empty slot at the end */
            if (r->s_slot >= 0 && !r->s_is_big) {
                r->slot_used[r->s_slot] = 0;
                r->slots_free++;
            }
            r->s_slot = -1;
            return 1;
        }
        if (n == -EAGAIN || n == 0) {
            r->wait_fd = s->kind == JR_SRC_FD ? s->fd : -1;
            return 0;
        }
    }
}

/* ---- files, counts, items ---------------------------------------------- */

/* Append a task over [off, off + len) of source src and queue it.  The
 * pointer is valid until the next task is added. */
static task *add_queued(jr_run *r, uint8_t kind, size_t src, uint64_t off,
                        uint64_t len)
{
    long i = jr_run_add_task(r, kind);
    if (i < 0 || jr_run_queue(r, (size_t)i, 0) < 0)
        return NULL;
    task *t = &r->t[i];
    t->src = (uint32_t)src;
    t->off = off;
    t->len = len;
    return t;
}

/* The bytes of the next task of files.  A chunk size the caller chose is
 * kept.  By default tasks are 4 MiB until the files left would give each
 * worker fewer than two, then shrink with what is left, down to TAIL_MIN
 * (guided self-scheduling): a worker that takes the last 4 MiB task when
 * the others run out of work would keep them idle for its whole time (up
 * to 50 ms of a 0.5 s run, at -j 2 on the bench corpus). */
static uint64_t task_len(const jr_run *r)
{
    uint64_t cs = chunk_size(r);
    if (r->ro && r->ro->chunk_size)
        return cs;
    uint64_t share = r->file_bytes_left / (2 * (uint64_t)r->p->nworkers);
    return share < TAIL_MIN ? TAIL_MIN : share > cs ? cs : share;
}

static int produce_file(jr_run *r)
{
    jr_src *s = &r->srcs[r->next_src];
    size_t cs = chunk_size(r);
    if (s->size > cs / 2 || r->src_pos > 0) {
        /* A large file: one task per chunk. */
        while (r->src_pos < s->size || (s->size == 0 && r->src_pos == 0)) {
            if (window_full(r))
                return 0;
            uint64_t len = task_len(r);
            if (len > s->size - r->src_pos)
                len = s->size - r->src_pos;
            task *t = add_queued(r, JR_TASK_FILE, r->next_src, r->src_pos,
                                 len);
            if (!t)
                return JR_ENOMEM;
            t->npieces = 1;
            r->src_pos += len;
            r->bytes_total += len;
            r->file_bytes_left -= len;
            if (s->size == 0)
                break;
        }
        r->next_src++;
        r->src_pos = 0;
        return 1;
    }
    /* Small files: batch consecutive ones up to half a chunk (less at
     * the tail). */
    if (window_full(r))
        return 0;
    uint64_t most = task_len(r) < cs / 2 ? task_len(r) : cs / 2;
    task *t = add_queued(r, JR_TASK_FILE, r->next_src, 0, 0);
    if (!t)
        return JR_ENOMEM;
    uint64_t bytes = 0;
    while (r->next_src < r->nsrcs && t->npieces < BATCH_PIECES) {
        jr_src *n = &r->srcs[r->next_src];
        if (n->kind != JR_SRC_FILE || n->size > cs / 2 ||
            (t->npieces > 0 && bytes + n->size > most))
            break;
        bytes += n->size;
        t->npieces++;
        r->next_src++;
    }
    t->len = bytes;
    r->bytes_total += bytes;
    r->file_bytes_left -= bytes;
    return 1;
}

static int produce_count(jr_run *r)
{
    jr_src *s = &r->srcs[r->next_src];
    uint64_t cc = chunk_count(r);
    while (r->src_pos < s->size) {
        if (window_full(r))
            return 0;
        uint64_t n = s->size - r->src_pos < cc ? s->size - r->src_pos : cc;
        if (!add_queued(r, JR_TASK_COUNT, r->next_src, r->src_pos, n))
            return JR_ENOMEM;
        r->src_pos += n;
    }
    r->next_src++;
    r->src_pos = 0;
    return 1;
}

static int produce_items(jr_run *r)
{
    while (r->src_pos < r->nitems) {
        if (window_full(r))
            return 0;
        task *t = add_queued(r, JR_TASK_ITEMS, 0, r->src_pos, 0);
        if (!t)
            return JR_ENOMEM;
        size_t left = r->nitems - (size_t)r->src_pos;
        t->npieces = (uint32_t)(left < r->batch ? left : r->batch);
        r->src_pos += t->npieces;
    }
    r->produced_all = 1;
    return 0;
}

/* Open a lazy stream source when its turn comes.  One that cannot be
 * opened is reported and left as read to its end.  Non-blocking: should
 * a FIFO have taken the file's place since the walk, the open must not
 * wait for a writer (the reads wait in the loop's poll instead). */
static void open_lazy(jr_run *r, jr_src *s)
{
    s->fd = open(s->name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (s->fd < 0) {
        jr_diag(r->ro, JR_DIAG_INPUT, s->name, 0, strerror(errno));
        s->errored = 1;
        r->input_errors++;
        s->eof = 1;
    }
}

int jr_produce(jr_run *r)
{
    if (r->produced_all)
        return 0;
    if (r->items)
        return produce_items(r);
    while (r->next_src < r->nsrcs) {
        jr_src *s = &r->srcs[r->next_src];
        int rc;
        if (s->kind == JR_SRC_FILE) {
            rc = produce_file(r);
        } else if (s->kind == JR_SRC_COUNT) {
            rc = produce_count(r);
        } else {
            if (s->lazy && s->fd < 0 && !s->eof)
                open_lazy(r, s);
            rc = stream_step(r, s);
            if (rc == 1) {
                if (s->lazy && s->fd >= 0) { /* one open at a time */
                    close(s->fd);
                    s->fd = -1;
                }
                r->next_src++;
                r->src_pos = 0;
                r->s_prev[0] = 0;
                r->s_mem = 0;
                r->carry.len = 0;
            }
        }
        if (rc <= 0)
            return rc;
    }
    r->produced_all = 1;
    return 0;
}

/* ---- task payloads ------------------------------------------------------ */

static int put_name(jr_buf *b, const char *name)
{
    size_t n = strlen(name);
    int rc = jr_buf_put_u32(b, (uint32_t)n);
    return rc ? rc : jr_buf_append(b, name, n);
}

int jr_task_encode(jr_run *r, const task *t, jr_buf *b)
{
    b->len = 0;
    int rc = 0;
    if (t->kind == JR_TASK_REDUCE) {
        rc = jr_buf_put_u32(b, t->npieces);
        rc = rc ? rc : jr_buf_put_u32(b, (uint32_t)(r->mapouts.len / 4));
        return rc ? rc : jr_buf_append(b, r->mapouts.data, r->mapouts.len);
    }
    rc = jr_buf_put_u32(b, t->kind);
    switch (t->kind) {
    case JR_TASK_FILE:
        rc = rc ? rc : jr_buf_put_u32(b, t->npieces);
        for (uint32_t k = 0; k < t->npieces && rc == 0; k++) {
            const jr_src *s = &r->srcs[t->src + k];
            rc = put_name(b, s->name);
            rc = rc ? rc : jr_buf_put_u64(b, t->npieces == 1 ? t->off : 0);
            rc = rc ? rc : jr_buf_put_u64(b, t->npieces == 1 && t->off + t->len
                                              <= s->size ? t->len : s->size);
            rc = rc ? rc : jr_buf_put_u64(b, s->dev);
            rc = rc ? rc : jr_buf_put_u64(b, s->ino);
            rc = rc ? rc : jr_buf_put_u64(b, s->mtime_ns);
        }
        return rc;
    case JR_TASK_COUNT:
        rc = rc ? rc : put_name(b, r->srcs[t->src].name);
        rc = rc ? rc : jr_buf_put_u64(b, t->off);
        return rc ? rc : jr_buf_put_u64(b, t->len);
    case JR_TASK_SLOT:
    case JR_TASK_SEG:
        rc = rc ? rc : put_name(b, r->srcs[t->src].name);
        rc = rc ? rc : jr_buf_put_u32(b, t->slot);
        rc = rc ? rc : jr_buf_put_u64(b, t->len);
        rc = rc ? rc : jr_buf_put_u64(b, t->off);
        rc = rc ? rc : jr_buf_put_u32(b, t->prev[0]);
        return rc ? rc : jr_buf_append(b, t->prev + 1, t->prev[0]);
    case JR_TASK_ITEMS:
        rc = rc ? rc : jr_buf_put_u32(b, t->npieces);
        for (uint32_t k = 0; k < t->npieces && rc == 0; k++) {
            const jr_blob *it = &r->items[t->off + k];
            rc = jr_buf_put_u32(b, (uint32_t)it->len);
            rc = rc ? rc : jr_buf_append(b, it->data, it->len);
        }
        return rc;
    }
    return JR_EINVAL;
}

void jr_task_describe(const jr_run *r, const task *t, char *out, size_t cap)
{
    size_t i = (size_t)(t - r->t);
    char name[256] = "";
    if (t->kind != JR_TASK_ITEMS && t->kind != JR_TASK_REDUCE &&
        t->src < r->nsrcs)
        jr_escape_name(name, sizeof name, r->srcs[t->src].name);
    switch (t->kind) {
    case JR_TASK_FILE:
        if (t->npieces == 1)
            snprintf(out, cap, "task %zu (%s @ %llu+%llu)", i, name,
                     (unsigned long long)t->off, (unsigned long long)t->len);
        else
            snprintf(out, cap, "task %zu (%s and %u more files)", i, name,
                     t->npieces - 1);
        break;
    case JR_TASK_SLOT:
    case JR_TASK_SEG:
        snprintf(out, cap, "task %zu (%s @ %llu+%llu)", i, name,
                 (unsigned long long)t->off, (unsigned long long)t->len);
        break;
    case JR_TASK_COUNT:
        snprintf(out, cap, "task %zu (%s #%llu+%llu)", i, name,
                 (unsigned long long)t->off, (unsigned long long)t->len);
        break;
    case JR_TASK_ITEMS:
        snprintf(out, cap, "task %zu (items %llu..%llu)", i,
                 (unsigned long long)t->off,
                 (unsigned long long)(t->off + t->npieces - 1));
        break;
    default:
        snprintf(out, cap, "reduce task %u (partition %u)", t->npieces,
                 t->npieces);
    }
}
