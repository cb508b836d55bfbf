/*
 * pad16.h - a short key read whole: its first bytes as two 64-bit words,
 * zero-padded, from memory that has 16 bytes readable at the key whatever
 * its length.  The tokenizer's batch, the combining table's front and the
 * master's merge all read keys so; header-only, so that each inlines it.
 */
#ifndef JR_PAD16_H
#define JR_PAD16_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The mask of the first n bytes of a word loaded from memory, n <= 16
 * (all eight from 8 on).  A table: computed as n >= 8 ? ~0 : ..., the
 * mask compiled to a branch on the key's length that mispredicted (the
 * scanner alone took 0.130 s for 100 MB of the bench corpus, 0.104 with
 * the table; by two shifts, 0.114). */
/* clang-format off */
static const uint64_t jr_first_bytes_of[17] = {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    0, 0xff00000000000000ull, 0xffff000000000000ull, 0xffffff0000000000ull,
    0xffffffff00000000ull, 0xffffffffff000000ull, 0xffffffffffff0000ull,
    0xffffffffffffff00ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull,
    ~0ull, ~0ull,
#else
    0, 0xff, 0xffff, 0xffffff, 0xffffffff, 0xffffffffffull, 0xffffffffffffull,
    0xffffffffffffffull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull,
    ~0ull,
#endif
};
/* clang-format on */

/* The first len <= 16 bytes at p, with 16 readable there, as two words in
 * memory order (bytes 0 to 7 in *lo), zero after len: two loads and two
 * masks, no branch on the length. */
static inline void jr_load16_padded(const void *p, size_t len, uint64_t *lo,
                                    uint64_t *hi)
{
    uint64_t a, b;
    memcpy(&a, p, 8);
    memcpy(&b, (const uint8_t *)p + 8, 8);
    *lo = a & jr_first_bytes_of[len];
    *hi = b & jr_first_bytes_of[len < 8 ? 0 : len - 8];
}

#endif /* JR_PAD16_H */
