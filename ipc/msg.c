/*
 * msg.c - the wire format of jobrun messages: a fixed 24-byte
 * little-endian header and its payload in one ZeroMQ frame (layout in
 * ipc.h).
 *
 * The decoder is the first code that touches bytes from another process,
 * so it trusts nothing: every field is checked before the message is
 * handed on, and the payload length must match the frame exactly.  It is
 * fuzzed by tests/fuzz/fuzz_msg.c.
 */
#include <assert.h>
#include <string.h>

#include "ipc/ipc.h"

void jr_msg_encode(uint8_t out[JR_MSG_HDR], const jr_msg *m)
{
    /* Callers bound payloads by JR_MSG_MAX long before this. */
    assert(m->len <= UINT32_MAX);
    out[0] = JR_WIRE_VERSION;
    out[1] = m->type;
    out[2] = (uint8_t)m->flags;
    out[3] = (uint8_t)(m->flags >> 8);
    jr_put_u32(out + 4, m->worker);
    jr_put_u64(out + 8, m->task);
    jr_put_u32(out + 16, m->attempt);
    jr_put_u32(out + 20, (uint32_t)m->len);
}

int jr_msg_decode(const uint8_t *frame, size_t len, jr_msg *m)
{
    if (!frame || len < JR_MSG_HDR || len > JR_MSG_MAX)
        return JR_EPROTO;
    jr_rd r = {frame, len};
    const uint8_t *h;
    jr_msg d;
    uint32_t plen;
    (void)jr_rd_bytes(&r, 4, &h); /* cannot fail: len >= JR_MSG_HDR */
    if (h[0] != JR_WIRE_VERSION)
        return JR_EPROTO;
    d.type = h[1];
    if (d.type == 0 || d.type >= JR_MSG_TYPE_MAX_)
        return JR_EPROTO;
    d.flags = (uint16_t)(h[2] | h[3] << 8);
    if (d.flags & ~JR_MSGF_LZ4)
        return JR_EPROTO;
    (void)jr_rd_u32(&r, &d.worker);
    (void)jr_rd_u64(&r, &d.task);
    (void)jr_rd_u32(&r, &d.attempt);
    (void)jr_rd_u32(&r, &plen);
    /* r.len is what follows the header: compare, never add, so that a
     * len near UINT32_MAX cannot wrap into a match. */
    if (plen != r.len)
        return JR_EPROTO;
    d.payload = r.p;
    d.len = plen;
    *m = d; /* only a valid message reaches the caller */
    return 0;
}
