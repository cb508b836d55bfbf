/*
 * runner.h - the master side: pool lifecycle, the fork server, inputs,
 * scheduling with retries, and the merge of results.
 *
 * Owns every kernel object of a pool: the fork server and (through it)
 * every worker, the runtime directory and its endpoint, the ZeroMQ context
 * and ROUTER, the control segment and every segment named in its
 * directory (which it alone unlinks).
 */
#ifndef JR_RUNNER_H
#define JR_RUNNER_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>
#include <zmq.h>

#include "jobrun.h"
#include "ipc/ipc.h"
#include "shm/shm.h"
#include "util/util.h"
#include "worker/worker.h"

/*-************************************
 *  Fork server (spawn.c)
 **************************************/
typedef struct jr_spawner {
    pid_t pid; /* the fork server; 0 when not running */
    int fd;    /* our end of its socketpair */
    int child; /* forked by us (else by the zygote, which reaps it) */
} jr_spawner;

typedef struct jr_spawn_event {
    int spawned;  /* 1: SPAWNED (pid < 0 is -errno of fork); 0: EXITED */
    unsigned slot, gen;
    pid_t pid;
    int status;   /* EXITED: waitpid status */
} jr_spawn_event;

/* Start the server (call before creating any ZeroMQ context): from the
 * zygote when jr_init() ran, else by fork().  ctl_name names the control
 * segment (the zygote's copy must attach it); it may be unlinked once
 * this returns.  @return 0, JR_ESPAWN, or -errno. */
int jr_spawn_start(jr_spawner *sp, const jr_worker_args *args,
                   const char *ctl_name);
/* Serve as the fork server on fd; never returns (the zygote's child).
 * parent is the zygote's pid, taken before the fork. */
void jr_spawn_serve(int fd, pid_t parent, const jr_worker_args *args)
    __attribute__((noreturn));

/*-************************************
 *  Zygote (zygote.c): jr_init()'s early copy of the process
 **************************************/
int jr_zygote_active(void);
/* Ask the zygote for a fork server; *fd is our end of its socket. */
int jr_zygote_spawner(const jr_worker_args *args, const char *ctl_name,
                      pid_t *pid, int *fd);
int jr_spawn_worker(jr_spawner *sp, unsigned slot, unsigned gen);
int jr_spawn_kill(jr_spawner *sp, pid_t pid, int sig);
/* @return 1 with an event, 0 when none is waiting, JR_ESPAWN when the
 * server is gone, JR_EPROTO. */
int jr_spawn_read(jr_spawner *sp, jr_spawn_event *ev);
/* Stop every worker (TERM, grace_ms, KILL), then the server; bounded. */
void jr_spawn_stop(jr_spawner *sp, unsigned grace_ms);

/*-************************************
 *  The pool
 **************************************/
enum jr_wstate { JR_W_STARTING = 0, JR_W_READY, JR_W_DEAD };

/* Tasks a worker may hold: one running and two queued; more only when
 * tasks are so short that the queue still holds under JR_QUEUE_NS of
 * work, so a slow task never strands much behind it; only the running one
 * at the tail of a run (see credit()). */
#define JR_CREDIT 3
#define JR_CREDIT_MAX 64
#define JR_QUEUE_NS 1000000u

/* The master's view of one worker slot. */
typedef struct jr_wslot {
    int state;            /* enum jr_wstate */
    pid_t pid;            /* 0 until SPAWNED */
    uint32_t gen;         /* generation: the ZeroMQ identity has it */
    uint32_t run;         /* run id whose JOB it was sent, 0: none */
    uint64_t held[JR_CREDIT_MAX]; /* task indices it holds */
    unsigned nheld;
    int busy;             /* a FLUSH or REDUCE is out */
    uint64_t busy_task;   /* the REDUCE task index (flush: UINT64_MAX) */
    jr_buf done;          /* u64 task indices done, not yet flushed */
    const char *kill_why; /* why we killed it, for the error message */
    char why[96];
    uint64_t ntasks;      /* tasks done this run */
    int respawn;          /* dead: start a replacement at the next poll */
    uint64_t spawned_ms;  /* when it was asked for (HELLO deadline) */
} jr_wslot;

struct jr_run;

struct jr_pool {
    jr_opts opts;
    unsigned nworkers;
    pid_t master_pid;
    uint64_t master_start;
    uint64_t seq;    /* this pool's number in the process (segment names) */
    int leased;      /* holds a share of the process's lease */
    char rundir[256];
    char endpoint[300];
    uint16_t pack; /* flags for bulk payloads: jr_ipc_pack_flag() */
    jr_spawner sp;
    jr_seg ctl_seg;  /* mapping of the control segment (name unlinked) */
    jr_ctl *ctl;
    jr_seg slots;        /* stream slots, created on first use, sparse */
    int slots_fd;        /* its descriptor: valid while slots.base is set */
    uint8_t *slot_ready; /* nslots flags: reserved (jr_shm_reserve) */
    unsigned nslots;
    void *zctx, *router;
    jr_wslot *w;
    unsigned respawns;
    unsigned connect_failures; /* replacements in a row that never said HELLO */
    unsigned run_id;
    int wake[2];     /* self-pipe: jr_pool_cancel() writes here */
    int poll_fd;     /* one more fd for jr_pool_poll() to wait on, or -1 */
    volatile sig_atomic_t cancel;
    struct jr_run *run; /* the run in progress, or NULL */
    jr_stats stats;
    char errmsg[512];
    jr_buf frame;    /* scratch for unpacking payloads */
    zmq_msg_t in_id, in_msg; /* the last frame received, until next poll */
    int in_held;
    int spawn_ready;   /* the fork server's socket may have a report */
    unsigned npolls;
};

/* Whether a signal or jr_pool_cancel() asked the pool to stop (the
 * caller's flag is seen here before jr_pool_poll() copies it). */
static inline int jr_pool_canceled(const jr_pool *p)
{
    return p->cancel || (p->opts.cancel && *p->opts.cancel);
}

/* Set the pool's error message (printf-like); returns code. */
int jr_pool_fail(jr_pool *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Unlink every segment named in the directory.  settled: no worker of
 * the pool can be between taking a directory entry and creating its
 * segment (each is idle, or dead: see jr_pool_await_kills()); the
 * directory is then emptied, and the names of entries an earlier unsettled
 * drop left are unlinked again.  Not settled (a killed worker not yet
 * reported dead): such a straggler could still create the segment of an
 * entry dropped here, so the entries stay taken (JR_SEG_DROPPED) and the
 * next names cannot meet that segment, until a settled drop removes it. */
void jr_pool_drop_segments(jr_pool *p, int settled);

/* Wait up to ms for every worker the pool killed (jr_pool_kill) to be
 * reported dead, reading the fork server's reports itself (a cancel does
 * not stop it); the dead are respawned at the next jr_pool_poll().
 * @return 1 when none is left alive, 0 on timeout or a fork server gone. */
int jr_pool_await_kills(jr_pool *p, unsigned ms);

/* Send a message to worker slot i.  @return 0 or -errno. */
int jr_pool_send(jr_pool *p, unsigned i, uint8_t type, uint64_t task,
                 uint32_t attempt, const void *payload, size_t len,
                 uint16_t flags);

/* What jr_pool_poll() returns. */
enum jr_ev_kind {
    JR_EV_NONE = 0, /* timeout */
    JR_EV_MSG,      /* a message from a live worker: ev->msg */
    JR_EV_READY,    /* worker ev->slot said HELLO */
    JR_EV_DEAD,     /* worker ev->slot died: ev->status, w[slot].why */
    JR_EV_CANCEL,   /* jr_pool_cancel() was called */
};
typedef struct jr_event {
    int kind;
    unsigned slot;
    int status;
    jr_msg msg; /* payload valid until the next jr_pool_poll() */
} jr_event;

/* Wait up to timeout_ms for the next event.  Handles the fork server's
 * reports and respawns (within opts.max_respawns) itself; drops messages
 * of dead or superseded workers (fencing by generation).
 * @return 1 with an event (JR_EV_NONE on timeout), or JR_ESPAWN when the
 * fork server is gone or no worker is left and none may be started, or
 * JR_EPROTO. */
int jr_pool_poll(jr_pool *p, int timeout_ms, jr_event *ev);

/* Kill worker slot i (SIGKILL through the fork server), remembering why
 * for the error message.  Its death arrives later as JR_EV_DEAD. */
void jr_pool_kill(jr_pool *p, unsigned i, const char *why);

/* Describe a wait status: "killed by signal 11 (SIGSEGV)". */
void jr_describe_status(int status, char *out, size_t cap);

/*-************************************
 *  Inputs (input.c)
 **************************************/
enum jr_src_kind { JR_SRC_FILE = 1, JR_SRC_FD, JR_SRC_MEM, JR_SRC_COUNT };

typedef struct jr_src {
    int kind;
    char *name;         /* owned */
    uint64_t size;      /* FILE: bytes; COUNT: indices; MEM: bytes */
    uint64_t dev, ino, mtime_ns; /* FILE: what the walk saw, which the
                                    worker checks the file against */
    int fd;             /* FD: the caller's, the walk's, or -1 until opened */
    const uint8_t *mem; /* MEM: owned by the jr_input */
    uint64_t lines;     /* lines delivered so far (ordered reports) */
    int errored;        /* an input error was reported */
    int eof;            /* FD, MEM: read to the end */
    int owns_fd;        /* FD opened by the walk: closed at the end */
    int lazy;           /* FD: a regular file read as a stream, opened when
                           its turn comes and closed at its end */
} jr_src;

typedef struct jr_path {
    char *path;
    unsigned flags;
    int kind;           /* JR_SRC_FILE for a path, or FD / MEM / COUNT */
    int fd;
    uint8_t *mem;
    uint64_t n;
} jr_path;

struct jr_input {
    jr_path *v;
    size_t n, cap;
};

/* Expand the input list (walk directories) into sources, in order.
 * Walk problems go to on_diag.  Once pool is canceled the walk stops
 * where it is (the run then fails with JR_ECANCELED).  @return 0,
 * JR_ENOMEM. */
int jr_input_expand(const jr_input *in, const jr_pool *pool,
                    const jr_run_opts *ro, jr_src **out, size_t *nout,
                    int *input_errors);
void jr_srcs_free(jr_src *v, size_t n);

/* Give a diagnostic to ro->on_diag (if any) with name escaped for
 * printing (control bytes and invalid UTF-8 as \xHH). */
void jr_diag(const jr_run_opts *ro, int kind, const char *name,
             uint64_t line, const char *msg);

/*-************************************
 *  Results (result.c)
 **************************************/
/* Build a result that k-way merges the sorted runs named by directory
 * entries idx[0..n) in job order; attaches them (the caller unlinks the
 * names afterwards).  @return 0, JR_ENOMEM, JR_EPROTO. */
int jr_result_build(jr_pool *p, const jr_job *job, const uint32_t *idx,
                    size_t n, jr_result **out);

/*-************************************
 *  Engine (run.c)
 **************************************/
/* jr_pool_map() goes through the same engine with map_one set. */
int jr_engine_run(jr_pool *p, const jr_job *job, jr_map_one_fn map_one,
                  const jr_input *in, const jr_blob *items, size_t nitems,
                  size_t batch, jr_blob *items_out, const jr_run_opts *ro,
                  jr_result **out);

#endif /* JR_RUNNER_H */
