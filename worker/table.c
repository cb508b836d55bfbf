/*
 * table.c - the worker's combining table (see table.h) and jr_hash().
 *
 * Open addressing with linear probing over a power-of-two array, kept at
 * most 70% full.  Each entry holds the key's full 64-bit hash, its value,
 * its length and either the key itself (8 bytes or fewer: most words) or
 * the key's offset in an arena where longer keys lie end to end.  A probe
 * compares the stored hash first, then the length, then the bytes: a
 * short key as one word in the entry, a long one in the arena, which a
 * probe that meets another key almost never reads.  This is the hot path
 * of wordcount: one lookup per word of the input.
 */
#include <stdlib.h>
#include <string.h>

#include "worker/table.h"

/* An entry's len when the slot is free.  A real key never gets that long:
 * it would not fit in memory. */
#define EMPTY UINT64_MAX
#define INLINE_MAX 8
#define FIRST_CAP 1024

typedef struct ent {
    uint64_t hash;
    uint64_t value;
    uint64_t key; /* len <= INLINE_MAX: the key's bytes, zero-padded;
                     longer: its offset in the arena */
    uint64_t len;
} ent;

struct jr_table {
    ent *ents;      /* cap slots; owned */
    size_t cap;     /* a power of two */
    size_t count;   /* slots in use */
    size_t grow_at; /* count that triggers doubling: 70% of cap */
    uint8_t *arena; /* keys longer than INLINE_MAX, end to end; owned */
    size_t alen, acap;
    size_t key_bytes;      /* bytes of every key, inline ones included */
    jr_combine_fn combine; /* NULL: sum */
    uint64_t seed;         /* mixed into slot indices, per table */
    unsigned shift;        /* 64 - log2(cap) */
};

/* Where hash h starts probing.  Every table mixes in a seed of its own:
 * a reducer fills its table in the order another table's slots yield
 * keys, and with one shared index function that order would pile them
 * into long runs of linear probing (Rust's HashMap had this bug). */
static inline size_t slot_at(uint64_t h, uint64_t seed, unsigned shift)
{
    /* The high bits of the product depend on every bit of h. */
    return (size_t)(((h ^ seed) * 0x9e3779b97f4a7c15ull) >> shift);
}

static inline size_t slot_of(const jr_table *t, uint64_t h)
{
    return slot_at(h, t->seed, t->shift);
}

/*-************************************
 *  Hashing
 **************************************/
/* A wyhash-style hash: keys are read in 8-byte words (the last ones
 * overlapping, never past the end), each pair folded by a 64x64->128-bit
 * multiply whose halves are xored ("mum").  The constants are odd 64-bit
 * numbers with balanced bits.  Stable across processes, runs and hosts of
 * one byte order. */
#define P0 0xa0761d6478bd642full
#define P1 0xe7037ed1a0b428dbull
#define P2 0x8ebc6af09c88c6e3ull
#define P3 0x589965cc75374cc3ull

/* The 128-bit product of a and b, as lo and hi halves. */
static inline void mul128(uint64_t a, uint64_t b, uint64_t *lo, uint64_t *hi)
{
#if defined(__SIZEOF_INT128__)
    __extension__ unsigned __int128 r = (unsigned __int128)a * b;
    *lo = (uint64_t)r;
    *hi = (uint64_t)(r >> 64);
#else
    /* Schoolbook on 32-bit halves, for targets without __int128. */
    uint64_t al = (uint32_t)a, ah = a >> 32, bl = (uint32_t)b, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl;
    *lo = (mid << 32) | (uint32_t)ll;
    *hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
#endif
}

static inline uint64_t mum(uint64_t a, uint64_t b)
{
    uint64_t lo, hi;
    mul128(a, b, &lo, &hi);
    return lo ^ hi;
}

static inline uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The zero-padded word of a short key (0 to 8 bytes), as memcpy() into
 * a zeroed uint64_t would make it, without a call: overlapping reads whose
 * common bytes land on the same bits. */
static inline uint64_t pack(const uint8_t *p, size_t len)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (len >= 4)
        return rd32(p) | rd32(p + len - 4) << ((len - 4) * 8);
    if (len > 0)
        return (uint64_t)p[0] | (uint64_t)p[len >> 1] << ((len >> 1) * 8) |
               (uint64_t)p[len - 1] << ((len - 1) * 8);
    return 0;
#else
    uint64_t v = 0;
    memcpy(&v, p, len);
    return v;
#endif
}

/* Every key ends here: two words and a seed that depends on the length,
 * folded by two multiplies. */
static inline uint64_t fold(uint64_t a, uint64_t b, size_t len, uint64_t seed)
{
    uint64_t lo, hi;
    mul128(a ^ P1, b ^ seed, &lo, &hi);
    return mum(lo ^ P0 ^ (uint64_t)len, hi ^ P1);
}

static inline uint64_t seed_of(size_t len)
{
    return P0 ^ mum(P0 ^ (uint64_t)len, P1);
}

/* A key of 8 bytes or fewer is hashed from its packed word, so that a
 * lookup reads its bytes once, for the hash and the comparison both. */
static inline uint64_t hash_short(uint64_t k, size_t len)
{
    return fold(k, 0, len, seed_of(len));
}

static uint64_t hash_long(const uint8_t *p, size_t len)
{
    uint64_t seed = seed_of(len);
    if (len <= 16) /* two overlapping reads cover 9 to 16 bytes */
        return fold(rd64(p), rd64(p + len - 8), len, seed);
    size_t i = len;
    if (i > 48) {
        uint64_t s1 = seed, s2 = seed;
        do {
            seed = mum(rd64(p) ^ P1, rd64(p + 8) ^ seed);
            s1 = mum(rd64(p + 16) ^ P2, rd64(p + 24) ^ s1);
            s2 = mum(rd64(p + 32) ^ P3, rd64(p + 40) ^ s2);
            p += 48;
            i -= 48;
        } while (i > 48);
        seed ^= s1 ^ s2;
    }
    while (i > 16) {
        seed = mum(rd64(p) ^ P1, rd64(p + 8) ^ seed);
        p += 16;
        i -= 16;
    }
    /* The last 16 bytes, some of them hashed already when i < 16. */
    return fold(rd64(p + i - 16), rd64(p + i - 8), len, seed);
}

uint64_t jr_hash(const void *key, size_t len)
{
    if (len <= INLINE_MAX)
        return hash_short(pack(key, len), len);
    return hash_long(key, len);
}

/*-************************************
 *  Keys
 **************************************/
static int store_key(jr_table *t, ent *e, const void *key, size_t klen)
{
    if (klen <= INLINE_MAX) {
        e->key = pack(key, klen);
        return 0;
    }
    if (t->acap - t->alen < klen) {
        size_t cap = t->acap ? t->acap : 4096;
        while (cap - t->alen < klen) {
            if (cap > SIZE_MAX / 2)
                return JR_ENOMEM;
            cap *= 2;
        }
        uint8_t *a = realloc(t->arena, cap);
        if (!a)
            return JR_ENOMEM;
        t->arena = a;
        t->acap = cap;
    }
    memcpy(t->arena + t->alen, key, klen);
    e->key = t->alen;
    t->alen += klen;
    return 0;
}

/*-************************************
 *  The table
 **************************************/
static ent *alloc_ents(size_t cap)
{
    if (cap > SIZE_MAX / sizeof(ent))
        return NULL;
    ent *e = malloc(cap * sizeof(ent));
    if (e)
        memset(e, 0xff, cap * sizeof(ent)); /* every len == EMPTY */
    return e;
}

int jr_table_new(jr_table **out, jr_combine_fn combine)
{
    *out = NULL;
    jr_table *t = calloc(1, sizeof *t);
    if (!t)
        return JR_ENOMEM;
    t->ents = alloc_ents(FIRST_CAP);
    if (!t->ents) {
        free(t);
        return JR_ENOMEM;
    }
    t->cap = FIRST_CAP;
    t->shift = 64 - 10; /* FIRST_CAP is 2^10 */
    t->grow_at = FIRST_CAP / 10 * 7;
    t->combine = combine;
    static uint64_t tables; /* one process builds few tables */
    t->seed = (++tables * 0xd6e8feb86659fd93ull) ^ (uint64_t)(uintptr_t)t;
    *out = t;
    return 0;
}

void jr_table_destroy(jr_table **t)
{
    if (!t || !*t)
        return;
    free((*t)->ents);
    free((*t)->arena);
    free(*t);
    *t = NULL;
}

/* Double the slots.  Entries move with their stored hash: no key is read
 * or hashed again. */
static int grow(jr_table *t)
{
    if (t->cap > SIZE_MAX / 2)
        return JR_ENOMEM;
    size_t cap = t->cap * 2, mask = cap - 1;
    ent *ne = alloc_ents(cap);
    if (!ne)
        return JR_ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        const ent *e = &t->ents[i];
        if (e->len == EMPTY)
            continue;
        size_t j = slot_at(e->hash, t->seed, t->shift - 1);
        while (ne[j].len != EMPTY)
            j = (j + 1) & mask;
        ne[j] = *e;
    }
    free(t->ents);
    t->ents = ne;
    t->cap = cap;
    t->shift--;
    t->grow_at = cap / 10 * 7;
    return 0;
}

/* Take a free slot i for (h, key, v); grow first if the table is full
 * enough, which moves the slot. */
static int insert(jr_table *t, size_t i, uint64_t h, const void *key,
                  size_t klen, uint64_t v)
{
    if (t->count >= t->grow_at) {
        int rc = grow(t);
        if (rc < 0)
            return rc;
        size_t mask = t->cap - 1;
        i = slot_of(t, h);
        while (t->ents[i].len != EMPTY)
            i = (i + 1) & mask;
    }
    ent *e = &t->ents[i];
    int rc = store_key(t, e, key, klen);
    if (rc < 0)
        return rc;
    e->hash = h;
    e->value = v;
    e->len = klen;
    t->count++;
    t->key_bytes += klen;
    return 0;
}

/* Sum inline: the common case pays no indirect call. */
#define COMBINE(t, e, v)                                                       \
    ((e)->value =                                                              \
         (t)->combine ? (t)->combine((e)->value, (v)) : (e)->value + (v))

/* The lookup of most words: hash, length and packed bytes are three
 * register compares, and no key memory is read. */
static inline int add_short(jr_table *t, uint64_t h, uint64_t k,
                            const void *key, size_t klen, uint64_t v)
{
    size_t mask = t->cap - 1, i = slot_of(t, h);
    for (;;) {
        ent *e = &t->ents[i];
        if ((e->hash == h) & (e->key == k) & (e->len == klen)) {
            COMBINE(t, e, v);
            return 0;
        }
        if (e->len == EMPTY)
            return insert(t, i, h, key, klen, v);
        i = (i + 1) & mask;
    }
}

/* Keys of 9 to 16 bytes, common words among them, compare as two
 * overlapping words and not by a call. */
static inline int long_eq(const uint8_t *a, const uint8_t *b, size_t len)
{
    if (len <= 16)
        return (rd64(a) == rd64(b)) & (rd64(a + len - 8) == rd64(b + len - 8));
    return memcmp(a, b, len) == 0;
}

static int add_long(jr_table *t, uint64_t h, const void *key, size_t klen,
                    uint64_t v)
{
    size_t mask = t->cap - 1, i = slot_of(t, h);
    for (;;) {
        ent *e = &t->ents[i];
        if (e->hash == h && e->len == klen &&
            long_eq(t->arena + e->key, key, klen)) {
            COMBINE(t, e, v);
            return 0;
        }
        if (e->len == EMPTY)
            return insert(t, i, h, key, klen, v);
        i = (i + 1) & mask;
    }
}

int jr_table_add(jr_table *t, const void *key, size_t klen, uint64_t v)
{
    if (klen <= INLINE_MAX) {
        uint64_t k = pack(key, klen);
        return add_short(t, hash_short(k, klen), k, key, klen, v);
    }
    return add_long(t, hash_long(key, klen), key, klen, v);
}

int jr_table_add_hashed(jr_table *t, uint64_t h, const void *key, size_t klen,
                        uint64_t v)
{
    if (klen <= INLINE_MAX)
        return add_short(t, h, pack(key, klen), key, klen, v);
    return add_long(t, h, key, klen, v);
}

size_t jr_table_count(const jr_table *t)
{
    return t->count;
}

size_t jr_table_key_bytes(const jr_table *t)
{
    return t->key_bytes;
}

int jr_table_next(const jr_table *t, size_t *cursor, const void **key,
                  size_t *klen, uint64_t *v, uint64_t *h)
{
    for (size_t i = *cursor; i < t->cap; i++) {
        const ent *e = &t->ents[i];
        if (e->len == EMPTY)
            continue;
        /* A short key's bytes are the first len bytes of e->key in memory
         * order, which is what pack() stored. */
        *key = e->len <= INLINE_MAX ? (const void *)&e->key
                                    : (const void *)(t->arena + e->key);
        *klen = (size_t)e->len;
        *v = e->value;
        *h = e->hash;
        *cursor = i + 1;
        return 1;
    }
    *cursor = t->cap;
    return 0;
}

void jr_table_clear(jr_table *t)
{
    memset(t->ents, 0xff, t->cap * sizeof(ent));
    t->count = 0;
    t->alen = 0;
    t->key_bytes = 0;
}
