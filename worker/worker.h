/*
 * worker.h - the worker side, and what it shares with the master.
 *
 * Owns: the control block that lives in the pool's control segment (its
 * layout and lock discipline), the payload formats of JOB, TASK, DONE,
 * FLUSHED and REDUCED messages, the shuffle format of map outputs and
 * sorted runs, and the worker's entry point and exit statuses.
 *
 * A worker is forked by the fork server (runner/spawn.c), never by a
 * process that holds a ZeroMQ context.  It creates its own context,
 * connects a DEALER to the master's ROUTER and serves tasks until STOP,
 * until its connection says the master is gone, or until it is killed.
 */
#ifndef JR_WORKER_H
#define JR_WORKER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "jobrun.h"
#include "shm/shm.h"
#include "util/util.h"

/* Exit statuses of a worker process (seen by the master via waitpid). */
#define JR_WEXIT_OK 0        /* told to stop */
#define JR_WEXIT_ORPHAN 70   /* the master or fork server is gone */
#define JR_WEXIT_SETUP 71    /* could not create its socket */
#define JR_WEXIT_PROTO 72    /* the master sent something malformed */
#define JR_WEXIT_NOMEM 73    /* out of memory outside a task */

/*-************************************
 *  Control block (in the control segment)
 **************************************/
#define JR_CTL_MAGIC 0x4a52434cu /* "JRCL" */
#define JR_CTL_VERSION 1u
#define JR_CTL_SEGS 4096 /* directory entries */

/* Per-worker state.  Lock discipline: written only by the worker of that
 * slot (and by the master before the slot's process exists), with relaxed
 * atomic stores; read by the master without the lock.  Each field is a
 * single word, so a reader never sees a torn value. */
typedef struct jr_ctl_worker {
    _Atomic uint32_t pid;
    _Atomic uint32_t attempt;   /* of the current task */
    _Atomic uint64_t task;      /* current task id + 1; 0 when idle */
    _Atomic uint64_t task_ns;   /* when the current task started */
    _Atomic uint64_t beat_ns;   /* last sign of life (monotonic clock) */
    _Atomic uint64_t progress;  /* bytes mapped, ever */
    _Atomic uint64_t avg_ns;    /* moving average of a task's run time in
                                   the current job (0: none yet) */
} jr_ctl_worker;

/* Segment directory entry.  Guarded by jr_ctl.lock. */
enum jr_seg_state {
    JR_SEG_FREE = 0,
    JR_SEG_CREATING,
    JR_SEG_READY,
    JR_SEG_DROPPED /* unlinked, but a killed worker may still create it */
};
typedef struct jr_ctl_seg {
    uint32_t state; /* enum jr_seg_state */
    uint32_t owner; /* worker slot that creates it */
    uint64_t size;
} jr_ctl_seg;

/* The control block.  magic, version, nworkers, master_pid, master_start
 * are read-only after creation.  lock guards next_seg and segs[]: a worker
 * takes an entry (CREATING) before it creates the segment named after the
 * entry's index, and marks it READY after; so when a worker dies at any
 * point the master can find and remove what it left (see the repair in
 * runner/pool.c).  w[] follows its own rule above. */
typedef struct jr_ctl {
    uint32_t magic;
    uint32_t version;
    uint32_t nworkers;
    uint32_t master_pid;
    uint64_t master_start;
    uint64_t seq;          /* the pool's number in its process: names */
    jr_lock lock;
    uint32_t nsegs; /* entries in use: segs[0..nsegs) */
    uint32_t pad_;
    jr_ctl_seg segs[JR_CTL_SEGS];
    jr_ctl_worker w[]; /* nworkers entries */
} jr_ctl;

/* Bytes of a control block for n workers. */
size_t jr_ctl_size(unsigned nworkers);

/* Segment names of pool seq: index n of the name is (seq << 32) | n, so
 * pools of one process never collide. */
#define JR_SEG_N(seq, n) (((uint64_t)(seq) << 32) | (uint64_t)(n))

/* Name of directory entry idx of the control block's master. */
int jr_ctl_seg_name(const jr_ctl *ctl, uint32_t idx, char *out, size_t cap);

/* Take a directory entry for worker `owner` and create + map its segment
 * of len bytes.  @return 0 with *idx set, JR_ENOSPC, JR_EBUSY, ... */
int jr_ctl_seg_create(jr_ctl *ctl, uint32_t owner, size_t len, jr_seg *seg,
                      uint32_t *idx);

/* The same, sparse (jr_shm_create_sparse): written through *fd (a
 * jr_shm_writer), or through the mapping once a range has gone through
 * jr_shm_reserve(); the caller closes *fd (-1 on failure). */
int jr_ctl_seg_create_sparse(jr_ctl *ctl, uint32_t owner, size_t len,
                             jr_seg *seg, uint32_t *idx, int *fd);

/* Mark entry idx READY (its content is complete). */
int jr_ctl_seg_ready(jr_ctl *ctl, uint32_t idx);

/* Unlink entry idx's segment and free the entry (the master, when a
 * segment's only task is committed). */
void jr_ctl_seg_free(jr_ctl *ctl, uint32_t idx);

/* Repair callback for jr_lock_acquire on the control lock: entries left
 * CREATING by a dead owner are unlinked and freed.  arg is the jr_ctl. */
int jr_ctl_repair(void *arg);

/*-************************************
 *  Payloads
 **************************************/
/* JOB: u64 job pointer, u64 map-one pointer, u32 nparts, u32 flags,
 *      u32 slot-arena name length, name, params bytes (the rest). */
#define JR_JOBF_ORDERED 1u /* DONE carries the chunks' jr_write output */

/* TASK: u32 kind, then by kind:
 *   FILE:   u32 npieces, npieces x (u32 namelen, name, u64 off, u64 len)
 *   SLOT:   u32 namelen, name, u32 slot, u64 len, u64 offset in the input,
 *           u32 prevlen, prev bytes
 *   COUNT:  u32 namelen, name, u64 first, u64 count
 *   ITEMS:  u32 nitems, nitems x (u32 len, bytes)   (jr_pool_map)
 *   REDUCE: (message type REDUCE) u32 part, u32 nsegs, nsegs x u32 idx */
enum jr_task_kind {
    JR_TASK_FILE = 1,
    JR_TASK_SLOT,
    JR_TASK_COUNT,
    JR_TASK_ITEMS,
    JR_TASK_SEG, /* like SLOT, but "slot" is a directory entry: a record
                    longer than a slot travels in a segment of its own */
};

/* DONE (ordered jobs and ITEMS): u32 npieces, then per piece
 *   u64 nlines, u32 nreports, nreports x (u64 line, u32 len, text),
 *   u32 diag errors (inputs that could not be read), x (u32 len, text),
 *   u32 outlen, output bytes.
 * DONE of an unordered job carries the same with empty outputs. */

/* FLUSHED / REDUCED: u32 segment index, or JR_NO_SEG when empty. */
#define JR_NO_SEG 0xffffffffu

/*-************************************
 *  Shuffle formats
 **************************************/
/* A map output: header {u32 magic, u32 nparts, u64 off[nparts + 1],
 * u64 count[nparts]} then records; partition p is bytes [off[p],
 * off[p+1]), count[p] records in ascending order of their keys' tags
 * (jr_tag_of), then JR_SHM_WRITER_SLACK bytes after the last one.  A sorted
 * run: {u32 magic, u32 stride, u64 nrecords, u64 end, u64 index} then records
 * up to end, then at index (when stride is not 0) the u64 offsets of
 * records 0, stride, 2 x stride, ...: ceil(nrecords / stride) of them, so
 * that the master can find a place in a run without reading it through
 * (jr_result_split).  Both are written front to back but for their
 * headers, which are written last.
 *
 * Record: the key's length in one byte, or JR_REC_LONG and a u32 from 255
 * bytes on; the value as a LEB128 varint (seven bits a byte, low ones
 * first, the high bit set on every byte but the last: one byte below 128,
 * ten at most); the key's bytes.  A word and its count take two bytes of
 * header where a u32 and a u64 took twelve, more than the word itself:
 * the flush, the reduce and the master's merge each moved more header
 * than key. */
#define JR_MAPOUT_MAGIC 0x4a524d4fu /* "JRMO" */
#define JR_RUN_MAGIC 0x4a525255u    /* "JRRU" */
#define JR_RUN_HDR 32
#define JR_RUN_STRIDE 256
#define JR_REC_LONG 255u
#define JR_REC_MIN 2      /* an empty key, a value below 128 */
#define JR_REC_HDR_MAX 15 /* 1 + 4 + 10 */

/* Write the header of a record (key of klen bytes, value v) at p, which
 * has JR_REC_HDR_MAX bytes of room.  @return its length. */
static inline size_t jr_rec_put_hdr(uint8_t *p, size_t klen, uint64_t v)
{
    size_t n = 1;
    if (klen < JR_REC_LONG) {
        p[0] = (uint8_t)klen;
    } else {
        p[0] = JR_REC_LONG;
        jr_put_u32(p + 1, (uint32_t)klen);
        n = 5;
    }
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* jr_rec_get_hdr() past its common case. */
size_t jr_rec_get_hdr_slow(const uint8_t *p, size_t len, uint32_t *klen,
                           uint64_t *v);

/* Read the header of the record at p, with len bytes there: *klen and
 * *v.  @return its length, or 0 when it is cut short or its value takes
 * more than 64 bits (the key's bytes are the caller's to check). */
static inline size_t jr_rec_get_hdr(const uint8_t *p, size_t len,
                                    uint32_t *klen, uint64_t *v)
{
    if (len >= 2 && p[0] < JR_REC_LONG && p[1] < 0x80) { /* most records */
        *klen = p[0];
        *v = p[1];
        return 2;
    }
    return jr_rec_get_hdr_slow(p, len, klen, v);
}

/*-************************************
 *  Map context (worker side of jr_map_ctx)
 **************************************/
struct jr_table;

/* What a map callback's jr_emit/jr_write/jr_report/jr_chunk_more reach.
 * Owned by the worker loop; one per worker process. */
struct jr_map_ctx {
    struct jr_table *table; /* local combining table; owned */
    jr_ctl_worker *me;      /* this worker's slot in the control block */
    jr_buf out;             /* current piece's jr_write output */
    jr_buf reports;         /* current piece's reports, encoded */
    uint32_t nreports;
    uint64_t nlines;
    int failed;             /* a jr_emit/jr_write ran out of memory */
    /* Reading past the end of the chunk (jr_chunk_more). */
    int fd;                 /* the input, -1 for slots and memory */
    uint64_t next_off;      /* next byte of the input to hand out */
    jr_buf more;            /* buffer for those bytes */
    uint64_t reported;      /* bytes the callback gave jr_progress() */
};

/* Start a piece: clear out/reports/lines and set up reading past its end
 * from fd at next_off (fd -1: nothing more to read). */
void jr_mapctx_begin(struct jr_map_ctx *ctx, int fd, uint64_t next_off);
/* After a map callback: take the first error any of its calls met (0 when
 * none), clearing it.  Its emits may still wait in the table's queue,
 * which the flush drains. */
int jr_mapctx_end(struct jr_map_ctx *ctx);

/* Flush the worker's table into a new segment split into nparts by key
 * hash.  *idx gets the directory entry, or JR_NO_SEG when the table is
 * empty.  The table is cleared.  @return 0 or a negative code. */
int jr_shuffle_flush(struct jr_map_ctx *ctx, jr_ctl *ctl, unsigned slot,
                     uint32_t nparts, uint32_t *idx);

/* Merge partition `part` of map outputs segs[0..nsegs), sort by the job's
 * order, write a sorted run.  @return 0 or a negative code. */
int jr_shuffle_reduce(const jr_job *job, jr_ctl *ctl, unsigned slot,
                      uint32_t part, const uint32_t *segs, uint32_t nsegs,
                      uint32_t *idx);

/*-************************************
 *  Entry point
 **************************************/
typedef struct jr_worker_args {
    unsigned slot;        /* index in ctl->w */
    unsigned gen;         /* generation of the slot (respawns) */
    const char *endpoint; /* ipc:// address of the master's ROUTER */
    jr_ctl *ctl;          /* inherited mapping of the control segment */
    unsigned liveness_ms;
    pid_t spawner;        /* the fork server: our parent */
} jr_worker_args;

/* Serve tasks until told to stop; never returns (ends in _exit()). */
void jr_worker_main(const jr_worker_args *args) __attribute__((noreturn));

#endif /* JR_WORKER_H */
