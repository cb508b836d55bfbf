/*
 * engine.h - private to runner/run.c and runner/produce.c: the tasks of a
 * run and the producer that makes them from the sources.
 */
#ifndef JR_ENGINE_H
#define JR_ENGINE_H

#include "runner/runner.h"

enum jr_tstate { T_PENDING = 0, T_RUNNING, T_DONE, T_COMMITTED };
#define JR_TASK_REDUCE 100 /* internal kind: a reduce task */

typedef struct task {
    uint8_t kind;      /* JR_TASK_* or JR_TASK_REDUCE */
    uint8_t state;     /* enum jr_tstate */
    uint8_t delivered; /* its results went to the callbacks */
    uint8_t have;      /* result holds the first DONE's payload */
    uint32_t attempt;  /* fence: bumped at every dispatch */
    uint32_t failures; /* attempts that ended in a death or a failure */
    int32_t worker;    /* slot holding it (RUNNING, DONE) */
    uint32_t src;      /* first source (FILE: npieces follow in order) */
    uint32_t npieces;  /* FILE: sources; ITEMS: items; REDUCE: part */
    uint32_t slot;     /* SLOT: stream slot */
    uint64_t off, len; /* FILE (one piece): byte range; SLOT: offset in
                          the stream and length; COUNT: first, count;
                          ITEMS: first item */
    uint8_t *prev;     /* SLOT: lookback bytes (owned), prev[0] = length */
    jr_seg seg;        /* SEG: the master's mapping of its segment */
    jr_buf result;     /* DONE payload until delivered */
    char *err;         /* what the last failure was (owned) */
} task;

typedef struct jr_run {
    jr_pool *p;
    const jr_job *job;
    jr_map_one_fn map_one;
    const jr_run_opts *ro;
    int ordered;       /* deliver in order with a bounded window */
    size_t window;
    jr_src *srcs;
    size_t nsrcs;
    task *t;
    size_t nt, capt;
    size_t ncommitted, next_deliver;
    size_t *q; /* pending task indices: a ring */
    size_t qhead, qlen, qcap;
    /* Producer position. */
    size_t next_src;
    uint64_t src_pos;  /* bytes or indices of next_src already in tasks */
    int produced_all;
    /* Stream state (produce.c). */
    int s_slot;        /* slot being filled, -1 none */
    size_t s_fill;
    uint64_t s_t0;     /* when the slot got its first byte */
    size_t s_nocut;    /* fill at which an idle split last found no cut */
    uint64_t s_tread;  /* when the stream last gave bytes */
    uint64_t s_mem;    /* MEM: bytes consumed */
    jr_buf carry;      /* bytes after the last cut, for the next slot */
    uint8_t s_prev[65];
    jr_seg s_big;      /* a record longer than a slot grows here */
    uint32_t s_big_idx;
    int s_is_big;
    uint8_t *slot_used;
    unsigned slots_free;
    int want_flush;    /* no free slot: ask workers to commit */
    int wait_fd;       /* the stream we wait on, -1 none */
    /* Items (jr_pool_map). */
    const jr_blob *items;
    size_t nitems, batch;
    jr_blob *items_out;
    /* Phases. */
    int reducing;
    jr_buf mapouts;    /* u32 directory indices of map outputs */
    uint32_t *runs;    /* per partition, JR_NO_SEG when empty */
    size_t nreduce_done;
    int rc;            /* first fatal error */
    int input_errors;
    uint64_t bytes_total;
    uint64_t file_bytes_left; /* of files, not in a task yet */
} jr_run;

/* Append a task (zeroed but for kind); @return its index or -1. */
long jr_run_add_task(jr_run *r, uint8_t kind);
/* Queue task i at the back (new) or the front (a retry). */
int jr_run_queue(jr_run *r, size_t i, int front);

/* Make tasks from the sources while allowed (window, free slots).
 * @return 0 or a negative code (fatal). */
int jr_produce(jr_run *r);
/* A slot's task is committed: free the slot. */
void jr_produce_release(jr_run *r, task *t);
/* Set up the stream slots when a source needs them. */
int jr_produce_init(jr_run *r);
void jr_produce_fini(jr_run *r);

/* Encode task i's TASK (or REDUCE) payload into b. */
int jr_task_encode(jr_run *r, const task *t, jr_buf *b);
/* "task 7 (corpus/x.txt @ 8388608+8388608)" */
void jr_task_describe(const jr_run *r, const task *t, char *out, size_t cap);

#endif /* JR_ENGINE_H */
