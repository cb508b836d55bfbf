/*
 * ipc.h - the control plane: ZeroMQ endpoints and the wire format.
 *
 * Owns: the private runtime directory (mode 0700) that holds the ipc://
 * endpoint, the framing of messages between master and workers, and the
 * LZ4 codec for payloads.  Every length that comes from a peer is checked
 * here before anyone uses it.
 *
 * A message is one ZeroMQ frame (the ROUTER adds the peer's identity
 * frame in front):
 *
 *   off size field
 *     0    1 version   JR_WIRE_VERSION
 *     1    1 type      enum jr_msg_type
 *     2    2 flags     JR_MSGF_*
 *     4    4 worker    worker slot of the sender or recipient
 *     8    8 task      task id
 *    16    4 attempt   attempt number of the task, from 1
 *    20    4 len       payload bytes that follow
 *    24  len payload   (JR_MSGF_LZ4: u32 raw length, then one LZ4 block)
 */
#ifndef JR_IPC_H
#define JR_IPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/util.h"

#define JR_WIRE_VERSION 1
#define JR_MSG_HDR 24
#define JR_MSG_MAX (64u << 20)     /* ZMQ_MAXMSGSIZE of every socket */
#define JR_LZ4_MIN 4096            /* smaller payloads are never packed */

enum jr_msg_type {
    JR_MSG_HELLO = 1,  /* w->m: worker slot is up (payload: u32 pid) */
    JR_MSG_TASK,       /* m->w: a task (payload: task descriptor) */
    JR_MSG_DONE,       /* w->m: task done (payload: ordered output) */
    JR_MSG_FAIL,       /* w->m: task failed (payload: message text) */
    JR_MSG_DIAG,       /* w->m: input problem (payload: diag record) */
    JR_MSG_FLUSH,      /* m->w: write your table's partitions */
    JR_MSG_FLUSHED,    /* w->m: partitions written (payload: seg index) */
    JR_MSG_REDUCE,     /* m->w: merge one partition of every map output */
    JR_MSG_REDUCED,    /* w->m: sorted run written (payload: seg index) */
    JR_MSG_STOP,       /* m->w: exit now */
    JR_MSG_JOB,        /* m->w: the job of the next tasks (payload: job) */
    JR_MSG_TASKS,      /* m->w: several TASKs in one frame (see below) */
    JR_MSG_DONES,      /* w->m: several DONEs in one frame */
    JR_MSG_TYPE_MAX_
};

#define JR_MSGF_LZ4 0x1u /* payload is LZ4-packed */

/* TASKS and DONES carry records {u64 task, u32 attempt, u32 len, bytes},
 * each one the payload a TASK or DONE would have had: tiny tasks then
 * cost a fraction of a message each, while every task keeps its own
 * (task, attempt) fence. */
#define JR_REC_MSG_HDR 16

/* A decoded message; payload points into the frame it came from. */
typedef struct jr_msg {
    uint8_t type;
    uint16_t flags;
    uint32_t worker;
    uint64_t task;
    uint32_t attempt;
    const uint8_t *payload;
    size_t len;
} jr_msg;

/* Write the header of m (with len = m->len) into out. */
void jr_msg_encode(uint8_t out[JR_MSG_HDR], const jr_msg *m);

/* Parse a frame.  Rejects: fewer than JR_MSG_HDR bytes, another version,
 * an unknown type, unknown flags, a len field that differs from the bytes
 * present, more than JR_MSG_MAX bytes in all.  m is written only on
 * success; m->payload then points into frame.  @return 0 or JR_EPROTO. */
int jr_msg_decode(const uint8_t *frame, size_t len, jr_msg *m);

/* Pack src as [u32 raw length][LZ4 block] appended to dst, if that is
 * smaller than src; else append nothing.
 * @return 1 if packed, 0 if not worth it, JR_ENOMEM. */
int jr_lz4_pack(const void *src, size_t len, jr_buf *dst);

/* Unpack [u32 raw length][LZ4 block] into dst (appended), refusing a raw
 * length over cap (decompression bombs) and any block that does not
 * decode to exactly that length (LZ4_decompress_safe only).
 * @return 0, JR_EPROTO, JR_ENOMEM. */
int jr_lz4_unpack(const void *src, size_t len, size_t cap, jr_buf *dst);

/* Create a private runtime directory (0700) under $XDG_RUNTIME_DIR when it
 * is usable, else under /tmp, and write its path to out.
 * Usable means: an absolute path to an existing directory we may write
 * to, short enough that "<dir>/jobrun.XXXXXX/ctl" fits in sun_path.  A
 * $XDG_RUNTIME_DIR too long for that falls back to /tmp; it is not an
 * error.  The directory is mkdtemp("jobrun.XXXXXX"), then chmod 0700
 * whatever the umask.  Remove it with jr_ipc_rmdir().
 * @return 0, JR_ENAMETOOLONG (the path does not fit in cap; nothing is
 * created), or -errno from mkdtemp()/chmod(). */
int jr_ipc_rundir(char *out, size_t cap, pid_t master, uint64_t start);

/* Remove dead masters' runtime directories (named by jr_ipc_rundir) from
 * the base directory we would use; see endpoint.c. */
void jr_ipc_sweep(void);

/* Write "ipc://RUNDIR/ctl" to out.  @return 0, JR_ENAMETOOLONG (the
 * path "RUNDIR/ctl" does not fit in a sockaddr_un, or out in cap). */
int jr_ipc_endpoint(char *out, size_t cap, const char *rundir);

/* The flags for bulk payloads sent over endpoint: JR_MSGF_LZ4 where
 * packing pays (between machines: tcp://), 0 on one machine (ipc://,
 * inproc://), where LZ4 costs more CPU than the copy it would save
 * (measured: a quarter of factor's time with one worker). */
uint16_t jr_ipc_pack_flag(const char *endpoint);

/* Remove the endpoint file, any other entry directly in the directory
 * (not recursively; links are removed, not followed), and the directory.
 * Idempotent; NULL or "" is a no-op. */
void jr_ipc_rmdir(const char *rundir);

/* Set the options every jobrun socket has: ZMQ_LINGER 0, ZMQ_MAXMSGSIZE
 * JR_MSG_MAX, and high-water marks large enough for the credit window.
 * @return 0 or -errno. */
int jr_ipc_sockopts(void *sock);

/* Send header + payload as one frame, preceded by the identity frame when
 * id is not NULL (ROUTER side).  Packs the payload with LZ4 when
 * m->flags asks for it (JR_MSGF_LZ4) and it pays; otherwise the payload
 * goes raw with JR_MSGF_LZ4 cleared.  Blocks at the high-water mark;
 * retries EINTR.  m is borrowed.
 * @return 0 or -errno (EHOSTUNREACH: no such peer, with ROUTER_MANDATORY;
 * EMSGSIZE: the frame, after packing, would exceed JR_MSG_MAX; JR_ENOMEM).
 * If the identity frame went out and the body then failed (ETERM), the
 * socket is left mid-message: close it. */
int jr_ipc_send(void *sock, const void *id, size_t idlen, const jr_msg *m);

/* The same, with the payload and flags sent as they are, never packed:
 * for a payload packed already (and for tests that forge frames). */
int jr_ipc_send_as_is(void *sock, const void *id, size_t idlen,
                      const jr_msg *m);

#endif /* JR_IPC_H */
