/*
 * jobrun.h - the whole public API of libjobrun.
 *
 * jobrun runs map-reduce jobs and independent tasks on a pool of worker
 * processes on one machine.  The master (the process that calls
 * jr_pool_new) hands tasks to the workers over ZeroMQ; bulk data moves
 * through POSIX shared memory; a task whose worker dies is retried on
 * another worker; every process and segment is gone when jr_pool_destroy()
 * returns.
 *
 * Read this header top to bottom: Version, Errors, Options, Pool, Jobs,
 * Inputs, Running, Results, Independent tasks, Built-in jobs.
 *
 * Where the callbacks run.  Workers are forked from a small fork server
 * that jr_pool_new() starts (or that jr_init() started earlier, see below).
 * Every callback of a jr_job, and every function given to jr_pool_map(),
 * runs in a worker: a forked copy of the application as it was when the
 * fork server started.  So a job must be a function and data that existed
 * at that point: code, static data, or memory allocated before.  Values
 * that change per run travel as bytes (jr_run_opts.params).
 *
 * Thread safety.  A pool is used by one thread at a time.  Different pools
 * may be used from different threads.
 */
#ifndef JOBRUN_H
#define JOBRUN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(JR_BUILDING_LIBRARY) && defined(__GNUC__)
#define JR_API __attribute__((visibility("default")))
#else
#define JR_API
#endif

/*-************************************
 *  Version
 **************************************/
#define JR_VERSION_MAJOR 0
#define JR_VERSION_MINOR 1
#define JR_VERSION_PATCH 0
#define JR_VERSION_NUMBER                                                      \
    (JR_VERSION_MAJOR * 10000 + JR_VERSION_MINOR * 100 + JR_VERSION_PATCH)

/* jr_version_string() :
 *  @return the library's version, "MAJOR.MINOR.PATCH"; a static string. */
JR_API const char *jr_version_string(void);

/*-************************************
 *  Errors
 **************************************/
/* Every fallible call returns 0 or a negative code.  System failures are
 * -errno; jobrun's own codes are below -1000.  jr_strerror() gives a short
 * text for a code; jr_pool_errmsg() gives the full story of the last
 * failure of a pool ("task 7 (x.txt @ 0+4194304) failed 4/4 attempts:
 * worker killed by signal 11 (SIGSEGV)"). */
#define JR_ERRNO_MAP(XX)                                                       \
    XX(EPERM, -1, "operation not permitted")                                   \
    XX(ENOENT, -2, "no such file or directory")                                \
    XX(EINTR, -4, "interrupted")                                               \
    XX(EIO, -5, "input/output error")                                          \
    XX(ENOMEM, -12, "out of memory")                                           \
    XX(EACCES, -13, "permission denied")                                       \
    XX(EBUSY, -16, "resource busy")                                            \
    XX(EEXIST, -17, "file exists")                                             \
    XX(EINVAL, -22, "invalid argument")                                        \
    XX(EMFILE, -24, "too many open files")                                     \
    XX(ENOSPC, -28, "no space left on device")                                 \
    XX(ERANGE, -34, "value out of range")                                      \
    XX(ENAMETOOLONG, -36, "file name too long")                                \
    XX(EWORKER, -1001, "a task failed on every attempt")                       \
    XX(ESPAWN, -1002, "workers could not be started or kept alive")            \
    XX(EPROTO, -1003, "protocol violation between master and worker")          \
    XX(EJOB, -1004, "the job's callback failed")                               \
    XX(ECANCELED, -1005, "canceled by a signal")                               \
    XX(EINPUT, -1006, "some input could not be read")                          \
    XX(EKEYLEN, -1007,                                                         \
       "a key longer than 4 GiB - 1 bytes (JR_KEY_MAX), "                      \
       "or than 16 bytes through jr_emit_short()")

#define JR_XX_(name, val, text) JR_##name = (val),
enum jr_errno { JR_ERRNO_MAP(JR_XX_) JR_ERRNO_LAST_ = 0 };
#undef JR_XX_

/* jr_strerror() :
 *  @return a static text for code err (negative): the list above's, the
 *  C library's for any other -errno ("Read-only file system"), else
 *  "unknown error". */
JR_API const char *jr_strerror(int err);

/* jr_err_name() :
 *  @return the code's name without prefix ("ENOMEM", "EWORKER"; "EROFS"
 *  for any other -errno), static; "UNKNOWN" for none. */
JR_API const char *jr_err_name(int err);

/*-************************************
 *  Options
 **************************************/
/* Options of a pool.  A zeroed struct (or NULL) means the defaults written
 * beside each field.  Memory: borrowed during jr_pool_new() only. */
typedef struct jr_opts {
    unsigned workers;         /* 0: the CPUs this process may use
                                 (affinity mask and cgroup cpu.max quota) */
    unsigned max_attempts;    /* tries per task before the job fails; 0: 4 */
    unsigned task_timeout_ms; /* a task running longer is killed; 0: never */
    unsigned liveness_ms;     /* a busy worker silent this long is killed
                                 as stuck or stopped; 0: 5000 */
    unsigned max_respawns;    /* worker restarts in a row, with no task
                                 finished in between, before the pool
                                 gives up with JR_ESPAWN; 0: 8 + 2*workers */
    size_t slot_size;         /* bytes per shared-memory input slot for
                                 streams; 0: 1 MiB */
    const volatile int *cancel; /* NULL, or a flag (a volatile sig_atomic_t,
                                 which is an int) that a signal handler
                                 sets: once non-zero, jr_pool_new() returns
                                 JR_ECANCELED and runs stop as with
                                 jr_pool_cancel().  Borrowed for the life
                                 of the pool. */
} jr_opts;

/*-************************************
 *  Pool
 **************************************/
typedef struct jr_pool jr_pool;

/* jr_init() :
 *  Start the process-wide fork server now.  Call it first thing in main(),
 *  before the application creates threads, if the application is (or will
 *  be) multi-threaded: forking a threaded process and running code in the
 *  child is unsafe, so every later pool takes its workers from this early,
 *  single-threaded copy.  Jobs must exist before this call (see top).
 *  Optional for single-threaded programs: jr_pool_new() then starts a
 *  fork server of its own.  Idempotent.
 *  @return 0, or -errno from fork()/socketpair(). */
JR_API int jr_init(void);

/* jr_fini() :
 *  Stop the fork server jr_init() started (pools already running keep
 *  theirs).  Optional; harmless without jr_init(). */
JR_API void jr_fini(void);

/* jr_pool_new() :
 *  Start opts->workers worker processes (opts may be NULL: defaults) and
 *  return once every worker has reported ready.
 *  On success *out owns the pool; release it with jr_pool_destroy().
 *  On failure *out is NULL.
 *  @return 0, JR_EINVAL, JR_ENOMEM, JR_ESPAWN, JR_ENOSPC (shared memory),
 *          JR_EMFILE (RLIMIT_NOFILE cannot hold the pool: the master
 *          needs a descriptor per worker and about 40 more, and libzmq
 *          would abort the process where one ran out), or -errno from
 *          fork(), shm_open(), mkdtemp() or zmq. */
JR_API int jr_pool_new(jr_pool **out, const jr_opts *opts);

/* jr_pool_destroy() :
 *  Stop the workers (TERM, a short grace, then KILL), reap them, remove
 *  every shared-memory segment and the runtime directory, and set *pool to
 *  NULL.  Returns within about 2 s whatever state the workers are in.
 *  A NULL pool or *pool is a harmless no-op. */
JR_API void jr_pool_destroy(jr_pool **pool);

/* jr_pool_workers() :
 *  @return the number of worker processes of the pool. */
JR_API unsigned jr_pool_workers(const jr_pool *pool);

/* jr_pool_errmsg() :
 *  @return the message of the pool's last failure ("" if none), borrowed
 *  until the next call on the pool or its destruction.  With NULL: why the
 *  calling thread's last jr_pool_new() failed ("/dev/shm: cannot create
 *  the control segment: no space left on device"; "" if it did not),
 *  borrowed until that thread's next jr_pool_new(). */
JR_API const char *jr_pool_errmsg(const jr_pool *pool);

/* jr_pool_cancel() :
 *  Ask the running jr_pool_run()/jr_pool_map() to stop and return
 *  JR_ECANCELED.  Async-signal-safe: meant for a SIGINT handler. */
JR_API void jr_pool_cancel(jr_pool *pool);

/* jr_cpu_count() :
 *  @return the CPUs this process may use: sched_getaffinity(), capped by
 *  the cgroup v2 cpu.max quota when one is set; at least 1. */
JR_API unsigned jr_cpu_count(void);

/*-************************************
 *  Jobs
 **************************************/
/* A job is a table of callbacks, like sqlite3_io_methods.  Keys are byte
 * strings; values are 64-bit unsigned integers combined by job->combine.
 *
 * The map callback is called once per chunk of input, in a worker.  What
 * it sees of the input is a jr_chunk: */
typedef struct jr_chunk {
    const uint8_t *data; /* the chunk's bytes; valid during the call */
    size_t len;
    const uint8_t *prev; /* up to job->lookback bytes just before data */
    size_t prev_len;     /* 0 at the start of an input */
    const char *name;    /* the input's name (path, "-", "operand") */
    uint64_t offset;     /* of data in the input */
    uint64_t first;      /* generated inputs: first index of the chunk */
    uint64_t count;      /*   and number of indices (data is NULL) */
    const void *params;  /* jr_run_opts.params, the same for every chunk */
    size_t params_len;
} jr_chunk;

typedef struct jr_map_ctx jr_map_ctx;

/* jr_chunk_more() :
 *  For a map callback that must read past the end of its chunk (a word or
 *  number that starts in the chunk and ends after it).  Sets *p and *len
 *  to the next bytes of the input after what was seen so far, valid until
 *  the next call.
 *  @return 1 with bytes, 0 at the end of the input, or a negative code. */
JR_API int jr_chunk_more(jr_map_ctx *ctx, const uint8_t **p, size_t *len);

/* The longest key jr_emit() takes: records carry a key's length in 32
 * bits. */
#define JR_KEY_MAX ((size_t)0xffffffffu)

/* jr_emit() :
 *  Add (key, value) to the job's result; values of one key are combined
 *  with job->combine in the worker first (local combining), then across
 *  workers.  key is copied.
 *  @return 0, JR_ENOMEM, or JR_EKEYLEN for a key longer than JR_KEY_MAX
 *  (nothing is added; the run fails with JR_EKEYLEN, no task retried: no
 *  attempt would do better). */
JR_API int jr_emit(jr_map_ctx *ctx, const void *key, size_t klen,
                   uint64_t value);

/* jr_emit_padded() :
 *  As jr_emit(), for a key with JR_EMIT_PAD bytes readable from `key` even
 *  when klen is shorter (a word in a larger buffer): a short key is then
 *  read by two loads, with no branch on its length, which jr_emit() cannot
 *  do without reading past the key.  The bytes after klen are ignored.
 *  @return 0, JR_ENOMEM, JR_EKEYLEN. */
#define JR_EMIT_PAD 16
JR_API int jr_emit_padded(jr_map_ctx *ctx, const void *key, size_t klen,
                          uint64_t value);

/* jr_emit_short() :
 *  Add n keys of at most JR_EMIT_PAD bytes, each with `value`: key i is
 *  the first lens[i] bytes of keys[i], the rest of keys[i] ignored.  The
 *  same as n calls of jr_emit_padded(), faster for many short keys (the
 *  words of a text): the worker looks up a group of them at once, their
 *  memory fetched together rather than one key at a time.
 *  @return 0, JR_ENOMEM, or JR_EKEYLEN for a length over JR_EMIT_PAD
 *  (the run then fails with JR_EKEYLEN, no task retried, as for
 *  jr_emit(); some of the n keys may have been added). */
JR_API int jr_emit_short(jr_map_ctx *ctx, const uint8_t (*keys)[JR_EMIT_PAD],
                         const uint8_t *lens, size_t n, uint64_t value);

/* jr_write() :
 *  Append bytes to the chunk's ordered output (see jr_run_opts.on_output).
 *  @return 0, JR_ENOMEM. */
JR_API int jr_write(jr_map_ctx *ctx, const void *data, size_t len);

/* jr_report() :
 *  Report a problem with the input at line `line` (0-based) of the chunk,
 *  counting from chunk->data.  Delivered to jr_run_opts.on_diag with the
 *  input's name and its line number in the whole input, in input order.
 *  A map callback that reports lines calls jr_lines() once at the end.
 *  @return 0, JR_ENOMEM. */
JR_API int jr_report(jr_map_ctx *ctx, uint64_t line, const char *msg);

/* jr_lines() :
 *  Tell how many line feeds the chunk's own bytes hold, so that later
 *  chunks' jr_report() lines can be made absolute. */
JR_API void jr_lines(jr_map_ctx *ctx, uint64_t nlines);

/* jr_progress() :
 *  Tell the master the worker is alive and has done `bytes` more of the
 *  chunk.  Long map callbacks call it now and then (every few MB). */
JR_API void jr_progress(jr_map_ctx *ctx, uint64_t bytes);

typedef int (*jr_map_fn)(jr_map_ctx *ctx, const jr_chunk *chunk);
typedef uint64_t (*jr_combine_fn)(uint64_t a, uint64_t b);
/* Result order: < 0 when (ka, va) comes before (kb, vb). */
typedef int (*jr_cmp_fn)(const void *ka, size_t kalen, uint64_t va,
                         const void *kb, size_t kblen, uint64_t vb);
/* For streams: how many bytes of buf[0..len) form whole records, so that a
 * chunk may end there (0: none yet).  eof: no more bytes will follow. */
typedef size_t (*jr_split_fn)(const uint8_t *buf, size_t len, int eof);

/* Result orders the library sorts by itself, with no call per comparison
 * (several times faster than the same order through a jr_cmp_fn). */
enum jr_order {
    JR_ORDER_CMP = 0,    /* job->cmp; key bytes ascending when it is NULL */
    JR_ORDER_VALUE_DESC, /* value descending, then key bytes ascending */
};

typedef struct jr_job {
    const char *name;      /* "wordcount" */
    jr_map_fn map;         /* required */
    jr_combine_fn combine; /* NULL: sum */
    jr_cmp_fn cmp;         /* NULL: key bytes ascending (memcmp order) */
    jr_split_fn split;     /* NULL: a stream chunk may end anywhere */
    unsigned lookback;     /* bytes of chunk->prev wanted; at most 64 */
    enum jr_order order;   /* not JR_ORDER_CMP: cmp is ignored */
} jr_job;

/* jr_job_cmp() :
 *  Compare two records in job's result order, whatever order it names:
 *  < 0 when (ka, va) comes first, 0 when equal, > 0 otherwise. */
JR_API int jr_job_cmp(const jr_job *job, const void *ka, size_t kalen,
                      uint64_t va, const void *kb, size_t kblen, uint64_t vb);

/*-************************************
 *  Inputs
 **************************************/
typedef struct jr_input jr_input;

/* Flags of jr_input_add_path(). */
#define JR_INPUT_FOLLOW 1u /* follow symbolic links met inside directories */

/* jr_input_new() :
 *  On success *out owns an empty input list; free it with
 *  jr_input_destroy().  @return 0, JR_ENOMEM. */
JR_API int jr_input_new(jr_input **out);

/* jr_input_destroy() : free the list, set *in to NULL; NULL is a no-op. */
JR_API void jr_input_destroy(jr_input **in);

/* jr_input_add_path() :
 *  Add a file, a directory (walked recursively, hidden files included;
 *  links inside are skipped unless JR_INPUT_FOLLOW; FIFOs, sockets and
 *  devices inside are skipped with a warning), or "-" (standard input).
 *  A FIFO or device named here is read as a stream, and so is a regular
 *  file whose size cannot be trusted (of 0 bytes, or on /proc, /sys or
 *  another of the kernel's pseudo-filesystems) or named through a
 *  descriptor (/dev/fd/N).  Problems are not
 *  returned: they are delivered to on_diag when the job runs, and the rest
 *  goes on.  path is copied.  @return 0, JR_ENOMEM. */
JR_API int jr_input_add_path(jr_input *in, const char *path, unsigned flags);

/* jr_input_add_fd() :
 *  Add a stream read by the master until EOF, named `name`.  The fd stays
 *  the caller's.  @return 0, JR_ENOMEM, JR_EINVAL. */
JR_API int jr_input_add_fd(jr_input *in, int fd, const char *name);

/* jr_input_add_mem() :
 *  Add bytes (copied) as an input named `name`.  @return 0, JR_ENOMEM. */
JR_API int jr_input_add_mem(jr_input *in, const void *data, size_t len,
                            const char *name);

/* jr_input_add_count() :
 *  Add a generated input of n indices: chunks carry (first, count) and
 *  no data, so workers draw their own work.  @return 0, JR_ENOMEM. */
JR_API int jr_input_add_count(jr_input *in, uint64_t n, const char *name);

/*-************************************
 *  Running a job
 **************************************/
/* Kinds of diagnostics given to on_diag. */
enum jr_diag_kind {
    JR_DIAG_INPUT = 1, /* an input could not be opened or read: counts as
                          JR_EINPUT at the end */
    JR_DIAG_SKIP = 2,  /* an entry was skipped on purpose (a FIFO in a
                          directory): a warning */
    JR_DIAG_RECORD = 3 /* a map callback's jr_report(): counts as
                          JR_EINPUT at the end */
};

typedef struct jr_run_opts {
    size_t chunk_size;    /* bytes per chunk of a file; 0: 4 MiB, and less
                             for the last chunks (workers end together) */
    uint64_t chunk_count; /* indices per chunk of a generated input; 0: 1000 */
    const void *params;   /* bytes given to every chunk (copied, <= 64 KiB) */
    size_t params_len;
    void *ctx; /* given back to the callbacks below */
    /* Called in the master with each chunk's jr_write() output, strictly in
     * input order, as soon as the next chunk in order is done.  Non-zero
     * return stops the run with that code (e.g. an EPIPE). */
    int (*on_output)(void *ctx, const void *data, size_t len);
    /* Called in the master, in input order for JR_DIAG_RECORD.  line is
     * 1-based, 0 when there is none. */
    void (*on_diag)(void *ctx, int kind, const char *name, uint64_t line,
                    const char *msg);
    /* Called in the master now and then: bytes done of bytes known. */
    void (*on_progress)(void *ctx, uint64_t done, uint64_t total);
} jr_run_opts;

typedef struct jr_result jr_result;

/* jr_pool_run() :
 *  Run job over input on the pool.  Workers map chunks and combine their
 *  emits locally; at the end each worker's table is split by key hash,
 *  merged one partition per reducer and sorted in the job's order; *out then
 *  iterates the merge.  Ordered jr_write() output goes to ropts->on_output
 *  during the run.  ropts may be NULL.  out may be NULL when the job emits
 *  nothing.  On success the caller owns *out: free it with
 *  jr_result_destroy().
 *  @return 0; JR_EINPUT when the job finished but some input could not be
 *  read (the result covers the rest, *out is set); JR_EWORKER when a task
 *  used up its attempts; JR_ESPAWN; JR_ENOSPC or JR_ENOMEM; JR_ECANCELED;
 *  JR_EPROTO; JR_EJOB; JR_EINVAL; or a non-zero value of on_output. */
JR_API int jr_pool_run(jr_pool *pool, const jr_job *job, const jr_input *in,
                       const jr_run_opts *ropts, jr_result **out);

/*-************************************
 *  Results
 **************************************/
/* jr_result_next() :
 *  Step to the next (key, value) in the job's order.  *key is borrowed
 *  until the next call or the result's destruction.
 *  @return 1 with a record, 0 at the end. */
JR_API int jr_result_next(jr_result *res, const void **key, size_t *klen,
                          uint64_t *value);

/* jr_result_count() : @return the number of distinct keys (of a part
 *  made by jr_result_split(): the number of records it holds). */
JR_API uint64_t jr_result_count(const jr_result *res);

/* jr_result_split() :
 *  Cut the records res has yet to give into at most n results, each a
 *  consecutive range of the job's order: out[0]'s records come first, then
 *  out[1]'s, and so on, and together they are every record res would have
 *  given.  n threads can then merge and use them at once, one result each;
 *  results are not thread-safe otherwise.  The parts are about the same
 *  size; fewer than n are made when res has few records (at least one).
 *  res gives no more records, and the parts and res are destroyed in any
 *  order, each with jr_result_destroy().
 *  @return 0 with *nout parts in out[0..*nout); JR_EINVAL; JR_ENOMEM;
 *  JR_EPROTO (a run is corrupt; nothing is split). */
JR_API int jr_result_split(jr_result *res, size_t n, jr_result **out,
                           size_t *nout);

/* jr_result_destroy() : free it, set *res to NULL; NULL is a no-op. */
JR_API void jr_result_destroy(jr_result **res);

/* Figures of the last run, for --stats. */
typedef struct jr_stats {
    /* Phase wall times: map_s until every task is mapped (flushes that
     * stream slots needed on the way included), flush_s from then until
     * the workers' tables are all in shared memory, reduce_s, merge_s. */
    double map_s, flush_s, reduce_s, merge_s;
    uint64_t bytes;                  /* input bytes mapped */
    uint64_t tasks, retries;
    uint64_t nworkers;
    uint64_t tasks_per_worker[64];   /* first 64 workers */
} jr_stats;

/* jr_pool_stats() : copy the figures of the pool's last run into *st. */
JR_API void jr_pool_stats(const jr_pool *pool, jr_stats *st);

/*-************************************
 *  Independent tasks
 **************************************/
/* A blob of bytes.  In jr_pool_map()'s output the library allocates data:
 * the caller owns it and frees it with jr_free(). */
typedef struct jr_blob {
    void *data;
    size_t len;
} jr_blob;

/* A function run in a worker on one blob; it writes its result with
 * jr_write(ctx, ...).  Non-zero return fails the task (no retry). */
typedef int (*jr_map_one_fn)(jr_map_ctx *ctx, const void *in, size_t len);

/* jr_pool_map() :
 *  Run fn on each of in[0..n) on the workers, batch items per message
 *  (batch 0: chosen by the pool; 1: one message per item), and store the
 *  results in out[0..n) in input order.  in is borrowed; out[i].data is
 *  owned by the caller (jr_free()), NULL when empty.
 *  @return 0, JR_EWORKER, JR_EJOB, JR_ESPAWN, JR_ENOMEM, JR_ECANCELED. */
JR_API int jr_pool_map(jr_pool *pool, jr_map_one_fn fn, const jr_blob *in,
                       size_t n, size_t batch, jr_blob *out);

/* jr_free() : free memory the library gave the caller.  NULL is a no-op. */
JR_API void jr_free(void *p);

/*-************************************
 *  Built-in jobs
 **************************************/
/* jr_job_find() :
 *  @return the built-in job named name ("wordcount", "factor"), or NULL.
 *  The job is static: borrowed for the life of the program. */
JR_API const jr_job *jr_job_find(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* JOBRUN_H */
