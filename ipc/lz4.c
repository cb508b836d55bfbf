/*
 * lz4.c - the payload codec: [u32 raw length][one LZ4 block].
 *
 * Packing is an optimisation and never fails a send: small or
 * incompressible payloads travel raw.  Unpacking reads a peer's bytes, so
 * it refuses a raw length over the caller's cap before allocating (a
 * decompression bomb costs nothing) and accepts a block only when
 * LZ4_decompress_safe, which never reads or writes out of bounds, yields
 * exactly the announced length.
 */
#include <limits.h>
#include <lz4.h>

#include "ipc/ipc.h"

int jr_lz4_pack(const void *src, size_t len, jr_buf *dst)
{
    if (len < JR_LZ4_MIN || len > LZ4_MAX_INPUT_SIZE)
        return 0;
    /* Room for exactly one byte less than the raw payload: a block that
     * does not fit is not worth sending, and LZ4 reports that as 0. */
    int rc = jr_buf_reserve(dst, len - 1);
    if (rc < 0)
        return rc;
    uint8_t *out = dst->data + dst->len;
    int n = LZ4_compress_default(src, (char *)out + 4, (int)len,
                                 (int)(len - 5));
    if (n <= 0)
        return 0;
    jr_put_u32(out, (uint32_t)len);
    dst->len += 4 + (size_t)n;
    return 1;
}

int jr_lz4_unpack(const void *src, size_t len, size_t cap, jr_buf *dst)
{
    if (len < 4 || len - 4 > INT_MAX)
        return JR_EPROTO;
    const uint8_t *p = src;
    uint32_t raw = jr_get_u32(p);
    /* Checked before any allocation: raw is the peer's claim. */
    if (raw > cap || raw > INT_MAX)
        return JR_EPROTO;
    int rc = jr_buf_reserve(dst, raw);
    if (rc < 0)
        return rc;
    char empty = 0; /* LZ4 wants a valid pointer even for 0 bytes */
    char *out = raw ? (char *)dst->data + dst->len : &empty;
    int n = LZ4_decompress_safe((const char *)p + 4, out, (int)(len - 4),
                                (int)raw);
    /* Bytes past dst->len may hold garbage now; they were never added. */
    if (n < 0 || (uint32_t)n != raw)
        return JR_EPROTO;
    dst->len += raw;
    return 0;
}
