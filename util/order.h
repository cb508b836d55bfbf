/*
 * order.h - a job's result order as the library applies it: in the
 * reducers' sort and in the master's merge of their runs.
 *
 * Sorting a million words through a comparison callback spends its time
 * in the calls and in fetching both keys from wherever they lie.  A
 * jr_orec carries its key's first 12 bytes as big-endian numbers beside
 * the value, so that most comparisons are integer compares on the array
 * itself (long words share 8-byte prefixes often: "configur", "internat";
 * 12 bytes settle most of those); jr_orec_sort() is a sort specialised per
 * jr_order, with no call per comparison unless the job brings its own
 * jr_cmp_fn.
 */
#ifndef JR_ORDER_H
#define JR_ORDER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "jobrun.h"

/* A record to order.  key is not owned: it lies in a segment or table.
 * Make one with jr_orec_of(). */
typedef struct jr_orec {
    uint64_t v;
    uint64_t pfx; /* jr_key_prefix(key, klen): bytes 0 to 7 */
    const uint8_t *key;
    uint32_t klen;
    uint32_t pfx2; /* bytes 8 to 11, the same way */
} jr_orec;

/* A key of klen < n <= 8 bytes as a big-endian number of n bytes,
 * zero-padded. */
static inline uint64_t jr_key_be(const uint8_t *key, size_t klen, size_t n)
{
    uint64_t w = 0;
    for (size_t i = 0; i < klen; i++)
        w = w << 8 | key[i];
    return klen ? w << (8 * (n - klen)) : 0;
}

/* The first 8 bytes of key as a big-endian number, zero-padded: numeric
 * order of prefixes is memcmp order of the keys' first 8 bytes. */
static inline uint64_t jr_key_prefix(const uint8_t *key, size_t klen)
{
    if (klen >= 8) {
        uint64_t w;
        memcpy(&w, key, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        w = __builtin_bswap64(w);
#endif
        return w;
    }
    return jr_key_be(key, klen, 8);
}

/* Bytes 8 to 11 of key, the same way. */
static inline uint32_t jr_key_prefix2(const uint8_t *key, size_t klen)
{
    if (klen >= 12) {
        uint32_t w;
        memcpy(&w, key + 8, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        w = __builtin_bswap32(w);
#endif
        return w;
    }
    return klen > 8 ? (uint32_t)jr_key_be(key + 8, klen - 8, 4) : 0;
}

/* klen fits in 32 bits: records carry it so. */
static inline jr_orec jr_orec_of(uint64_t v, const uint8_t *key, uint32_t klen)
{
    return (jr_orec){v, jr_key_prefix(key, klen), key, klen,
                     jr_key_prefix2(key, klen)};
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* jr_orec_of() for a key whose first 16 bytes, zero-padded after klen,
 * are already two words in memory order, k0 then k1 (jr_load16_padded):
 * two byte swaps where the prefixes would read a short key a byte at a
 * time. */
static inline jr_orec jr_orec_of_words(uint64_t v, const uint8_t *key,
                                       uint32_t klen, uint64_t k0, uint64_t k1)
{
    return (jr_orec){v, __builtin_bswap64(k0), key, klen,
                     __builtin_bswap32((uint32_t)k1)};
}

#endif

/* The bytes of a key of 12 bytes or fewer, from its prefixes alone (the
 * key itself may lie in memory not worth touching again): r->klen of
 * them, at out. */
static inline void jr_orec_short_key(const jr_orec *r, uint8_t out[12])
{
    uint64_t a = r->pfx;
    uint32_t b = r->pfx2;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    a = __builtin_bswap64(a);
    b = __builtin_bswap32(b);
#endif
    memcpy(out, &a, 8);
    memcpy(out + 8, &b, 4);
}

/* Key bytes ascending, a proper prefix first (memcmp order).  Equal
 * prefixes mean equal first min(12, klen) bytes: the zero padding of the
 * shorter key stands where the longer has its own bytes only when those
 * are zero too, and the length decides then. */
static inline int jr_orec_key_cmp(const jr_orec *a, const jr_orec *b)
{
    if (a->pfx != b->pfx)
        return a->pfx < b->pfx ? -1 : 1;
    if (a->pfx2 != b->pfx2)
        return a->pfx2 < b->pfx2 ? -1 : 1;
    size_t n = a->klen < b->klen ? a->klen : b->klen;
    if (n > 12) {
        int c = memcmp(a->key + 12, b->key + 12, n - 12);
        if (c)
            return c;
    }
    return (a->klen > b->klen) - (a->klen < b->klen);
}

/* Value descending, then key bytes ascending (JR_ORDER_VALUE_DESC). */
static inline int jr_orec_value_desc_cmp(const jr_orec *a, const jr_orec *b)
{
    if (a->v != b->v)
        return a->v > b->v ? -1 : 1;
    return jr_orec_key_cmp(a, b);
}

/* a before b (< 0), equal (0) or after (> 0) in job's order. */
static inline int jr_orec_cmp(const jr_job *job, const jr_orec *a,
                              const jr_orec *b)
{
    if (job && job->order == JR_ORDER_VALUE_DESC)
        return jr_orec_value_desc_cmp(a, b);
    if (job && job->cmp)
        return job->cmp(a->key, a->klen, a->v, b->key, b->klen, b->v);
    return jr_orec_key_cmp(a, b);
}

/* Sort r[0..n) in job's order (not stable; equal records are equal). */
void jr_orec_sort(const jr_job *job, jr_orec *r, size_t n);

#endif /* JR_ORDER_H */
