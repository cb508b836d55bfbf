/*
 * table.c - the worker's combining table (see table.h) and jr_hash().
 *
 * Open addressing with linear probing over an array of 32-byte entries,
 * two to a cache line, kept at most 70% full (80% late in a large input,
 * see fill_limit()).  It doubles up to FINE_CAP slots, then grows by
 * steps of 1.5 and 4/3 (2^k, 3 x 2^(k-1), 2^(k+1) slots), so that a
 * large vocabulary wastes less than doubling would; a
 * worker that foresees many keys moves it to their size at once
 * (jr_table_foresee).
 * An entry holds a tag (the key's hash with its low byte replaced by a
 * length code), the value and either the key itself (16 bytes or fewer:
 * nearly every word) or the key's offset and length in an arena where
 * longer keys lie end to end.  A probe for a short key is three register
 * compares on one cache line; only a long key's probe that matches the
 * tag reads the arena.  A tag starts probing at a slot that grows with
 * it, the same function in every table: the slots are in tag order but
 * for probing's clusters, which the flush's walk sorts (jr_table_take).
 * This is the hot path of wordcount: one lookup per word of the input.
 * Short keys meet a small cache first (the front), indexed by a cheap mix
 * of the key's bytes: the frequent words combine there and are hashed
 * only when they move on to the table.  Lookups in the table wait in a
 * short queue with their slots prefetched (jr_table_add_soon), keeping
 * many cache misses in flight at once.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/pad16.h"
#include "util/util.h"
#include "worker/table.h"

#define INLINE_MAX JR_TABLE_INLINE
#define FIRST_CAP 1024
/* From this many slots (32 MB) the table grows by the finer steps: a
 * table of a million words grew from 32 to 64 MB; now to 48 MB.  Below,
 * doubling: fewer moves and page faults, and little memory at stake. */
#define FINE_CAP ((size_t)1 << 20)
/* The low byte of a tag (jr_tag_of): klen + 1 for an inline key,
 * LONG_CODE for an arena key.  A used entry's tag is never 0: 0 marks a
 * free slot, so fresh zeroed memory is an empty table. */
#define LONG_CODE 0xffu
_Static_assert(LONG_CODE == JR_TAG_LONG && INLINE_MAX + 1 < LONG_CODE,
               "the length codes of jr_tag_of()");
/* Adds wait in a queue this deep, their slots prefetched, so that up to
 * QDEPTH cache misses are in flight where a lookup at a time has one. */
#define QDEPTH 32
#define QKEY_MAX 32 /* longer keys are added at once */
/* Slots of the front: a direct-mapped cache of short keys with their
 * values combined so far, small enough to stay in L2 (256 KiB).  Text is
 * Zipfian: most words are a few hundred frequent ones, and those combine
 * here without touching the large table (88% of the words of the bench
 * corpus with 4,096 slots).  Twice as many slots gained nothing while
 * each lookup waited for its slot; since jr_table_add_short() fetches a
 * group's slots at once, the extra hits pay (-j 2 on the bench corpus,
 * map phase, median of 10: 0.350 s with 2^12 slots, 0.341 with 2^13;
 * 2^14 slots, all of L2, did no better). */
#define FRONT_BITS 13
#define FRONT ((size_t)1 << FRONT_BITS)
_Static_assert(FRONT_BITS <= 16, "front slots are numbered in 16 bits");

typedef struct ent {
    uint64_t tag; /* 0: free */
    uint64_t value;
    uint64_t k0, k1; /* inline: the key's bytes, zero-padded, in memory
                        order; arena: offset and length */
} ent;
_Static_assert(offsetof(ent, k1) == offsetof(ent, k0) + 8,
               "an inline key's bytes are k0 then k1");

/* An add waiting in the queue: its tag computed, its key packed or
 * copied. */
typedef struct pending {
    uint64_t tag;
    uint64_t value;
    size_t klen;
    uint64_t k0, k1;        /* inline keys */
    uint8_t bytes[QKEY_MAX]; /* longer ones */
} pending;

/* What the flush needs of one partition: its keys and their bytes. */
typedef struct part_count {
    size_t keys, key_bytes;
} part_count;

struct jr_table {
    ent *ents;      /* cap slots; owned */
    size_t cap;     /* 2^k or 3 x 2^(k-1) slots */
    size_t count;   /* slots in use */
    size_t grow_at; /* count that triggers growth: 70% of cap, 80% late */
    int late;       /* jr_table_foresee() saw 90% of the bytes done */
    size_t released; /* slots below it given back by jr_table_take() */
    uint64_t seen_done; /* jr_table_foresee()'s first call: bytes done, */
    size_t seen_keys;   /* and keys then (0: no call yet) */
    uint8_t *arena; /* keys longer than INLINE_MAX, end to end; owned */
    size_t alen, acap;
    size_t key_bytes;      /* bytes of every key, inline ones included */
    uint32_t nparts;       /* 0, or the partitions counted in parts[] */
    part_count *parts;     /* owned */
    jr_combine_fn combine; /* NULL: sum */
    /* jr_table_take()'s walk: slots [cursor, walk_end) are sorted and
     * still to go; the first cluster's entries that wrapped round from the
     * end wait, sorted, in slots [wrap, wrap_end) for the last cluster. */
    int walking;
    size_t walk_end, wrap, wrap_end;
    unsigned qhead, qlen;  /* the queue: q[qhead], then qlen - 1 more */
    pending q[QDEPTH];
    size_t nfront;            /* front slots in use, listed in used[] */
    uint16_t used[FRONT];
    /* short keys only; tag: klen + 1, no hash (0: free).  Two to a cache
     * line: an entry across two would cost two misses. */
    _Alignas(64) ent front[FRONT];
};

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

/* Where tag t starts probing among cap slots: the high half of t x cap,
 * so any cap will do, and slots are in tag order, the same in every table
 * (grow() and jr_table_take() rely on it).  A table filled in the order
 * another table with that index function yields its keys would pile them
 * into long runs of linear probing (Rust's HashMap had this bug); none is:
 * the reducers merge the tables' sorted outputs without a table. */
static inline size_t slot_at(uint64_t t, size_t cap)
{
    uint64_t lo, hi;
    mul128(t, cap, &lo, &hi);
    return (size_t)hi;
}

static inline size_t slot_of(const jr_table *t, uint64_t tag)
{
    return slot_at(tag, t->cap);
}

/* The slot after i, wrapping at the end. */
static inline size_t next_slot(size_t i, size_t cap)
{
    return i + 1 == cap ? 0 : i + 1;
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

/* A key of INLINE_MAX bytes or fewer is hashed from its packed words, so
 * that a lookup reads its bytes once, for the hash and the comparison. */
/* seed_of(len) for inline keys, made once: a multiply less per word. */
static uint64_t inline_seeds[INLINE_MAX + 1];

__attribute__((constructor)) static void make_inline_seeds(void)
{
    for (size_t len = 0; len <= INLINE_MAX; len++)
        inline_seeds[len] = seed_of(len);
}

static inline uint64_t hash_inline(uint64_t k0, uint64_t k1, size_t len)
{
    return fold(k0, k1, len, inline_seeds[len]);
}

/* Keys longer than INLINE_MAX. */
static uint64_t hash_long(const uint8_t *p, size_t len)
{
    uint64_t seed = seed_of(len);
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

/* The packed words of a key of INLINE_MAX bytes or fewer: its bytes in
 * memory order, zero-padded, the first 8 in k0. */
static inline void pack16(const uint8_t *p, size_t len, uint64_t *k0,
                          uint64_t *k1)
{
    if (len <= 8) {
        *k0 = pack(p, len);
        *k1 = 0;
    } else {
        *k0 = rd64(p);
        *k1 = pack(p + 8, len - 8);
    }
}

uint64_t jr_hash(const void *key, size_t len)
{
    if (len <= INLINE_MAX) {
        uint64_t k0, k1;
        pack16(key, len, &k0, &k1);
        return hash_inline(k0, k1, len);
    }
    return hash_long(key, len);
}

uint64_t jr_hash_padded(const void *key, size_t len, uint64_t *k0, uint64_t *k1)
{
    jr_load16_padded(key, len, k0, k1);
    return hash_inline(*k0, *k1, len);
}

/*-************************************
 *  Memory
 **************************************/
static ent *alloc_ents(size_t cap)
{
    if (cap > SIZE_MAX / sizeof(ent))
        return NULL;
    return jr_big_alloc(cap * sizeof(ent));
}

static void free_ents(ent *e, size_t cap)
{
    jr_big_free(e, cap * sizeof(ent));
}

static int store_long(jr_table *t, ent *e, const void *key, size_t klen)
{
    if (t->acap - t->alen < klen &&
        (klen > SIZE_MAX - t->alen ||
         jr_array_reserve(&t->arena, &t->acap, t->alen + klen, 1, 4096) < 0))
        return JR_ENOMEM;
    memcpy(t->arena + t->alen, key, klen);
    e->k0 = t->alen;
    e->k1 = klen;
    t->alen += klen;
    return 0;
}

/*-************************************
 *  The table
 **************************************/
/* Take e, FIRST_CAP zeroed slots, as the table's slots. */
static void start_over(jr_table *t, ent *e)
{
    t->ents = e;
    t->cap = FIRST_CAP;
    t->grow_at = FIRST_CAP / 10 * 7;
    t->released = 0;
}

int jr_table_new(jr_table **out, jr_combine_fn combine)
{
    *out = NULL;
    jr_table *t = aligned_alloc(_Alignof(jr_table), sizeof *t);
    if (!t)
        return JR_ENOMEM;
    memset(t, 0, sizeof *t);
    ent *e = alloc_ents(FIRST_CAP);
    if (!e) {
        free(t);
        return JR_ENOMEM;
    }
    start_over(t, e);
    t->combine = combine;
    *out = t;
    return 0;
}

void jr_table_destroy(jr_table **t)
{
    if (!t || !*t)
        return;
    free_ents((*t)->ents, (*t)->cap);
    free((*t)->arena);
    free((*t)->parts);
    free(*t);
    *t = NULL;
}

/* Slots per block of JR_BIG_BYTES: the unit in which the slots a pass has
 * left behind go back to the kernel. */
#define BLOCK_SLOTS (JR_BIG_BYTES / sizeof(ent))

/* Give back the slots [from, to) of t's array (whole blocks): they read
 * as free again. */
static void release(jr_table *t, size_t from, size_t to)
{
    jr_big_zero(t->ents, t->cap * sizeof(ent), from * sizeof(ent),
                (to - from) * sizeof(ent));
}

/* How full the table fills before it grows: 70%, and 80% from 2^20
 * slots once 90% of the input is done.  The keys still to come then are
 * few, and a growth (every entry moved into an array 1.5 times as large,
 * in fresh memory: 30 ms at 734,000 keys, and 16 MiB more) costs more
 * than the longer probes for the rest of the input.  At -j 2 on the
 * bench corpus a worker ends with 580,000 to 765,000 keys, depending on
 * the tasks it got: one in four runs grew at 734,000 in its last tasks,
 * which held up the other worker as long. */
static size_t fill_limit(const jr_table *t)
{
    return t->cap / 10 * (t->late && t->cap >= FINE_CAP ? 8 : 7);
}

/* Move every entry into a new array of cap slots.  Entries move with
 * their tag: no key is read or hashed again.  A slot's index is the high
 * half of a product by cap, so the entries of old slot i land near new
 * slot i x cap / old cap: the new array fills in the order the old one is
 * read, and the old one's blocks go back to the kernel behind the pass.
 * A move then holds about the new array, not old and new together. */
static int move_to(jr_table *t, size_t cap)
{
    ent *ne = alloc_ents(cap);
    if (!ne)
        return JR_ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        const ent *e = &t->ents[i];
        if (e->tag != 0) {
            size_t j = slot_at(e->tag, cap);
            while (ne[j].tag != 0)
                j = next_slot(j, cap);
            ne[j] = *e;
        }
        if ((i + 1) % BLOCK_SLOTS == 0)
            release(t, i + 1 - BLOCK_SLOTS, i + 1);
    }
    free_ents(t->ents, t->cap);
    t->ents = ne;
    t->cap = cap;
    t->grow_at = fill_limit(t);
    return 0;
}

/* Grow by a step: below FINE_CAP double; above, 2^k slots go to
 * 3 x 2^(k-1) and those to 2^(k+1). */
static int grow(jr_table *t)
{
    size_t old = t->cap;
    if (old > SIZE_MAX / 2 / sizeof(ent))
        return JR_ENOMEM;
    return move_to(t, old < FINE_CAP           ? old * 2
                      : (old & (old - 1)) == 0 ? old + old / 2
                                               : old + old / 3);
}

int jr_table_expect(jr_table *t, size_t keys)
{
    size_t cap = t->cap;
    while (cap < FINE_CAP && cap / 10 * 7 < keys)
        cap *= 2;
    return cap > t->cap ? move_to(t, cap) : 0;
}

/* The distinct words of text grow as a power of its length (Heaps' law):
 * V keys from `done` of `total` bytes promise V x (total / done)^b.  b is
 * about 0.5 in text of one kind, nearer 1 in a corpus of many (on the
 * bench corpus a worker's first 3.9 MB hold 27,000 words, its 105 MB
 * 690,000); it is measured between the first call and this one, and
 * taken as 0.5 until then.  The table is sized for half the keys
 * foreseen: a forecast from a few megabytes overshoots as often as not,
 * and memory held for keys that never come costs more than the one
 * doubling left when they do (sized for all of them, -j 2 on a 49 MB
 * corpus peaked at 32 MiB instead of 22-26).  One move replaces the
 * doublings on the way (from 1,024 slots to 2^20, ten moves of every
 * entry into fresh memory).  Keys that do not grow with the bytes (one
 * per file) foresee few. */
int jr_table_foresee(jr_table *t, uint64_t done, uint64_t total)
{
    if (!t->late && total > 0 && done >= total - total / 10) {
        t->late = 1;
        t->grow_at = fill_limit(t);
    }
    if (t->count == 0 || done == 0 || total <= done)
        return 0;
    double b = 0.5;
    if (t->seen_done == 0) {
        t->seen_done = done;
        t->seen_keys = t->count;
    } else if (done > 2 * t->seen_done && t->count > t->seen_keys) {
        b = log((double)t->count / (double)t->seen_keys) /
            log((double)done / (double)t->seen_done);
        b = b < 0.5 ? 0.5 : b > 1 ? 1 : b;
    }
    double keys = (double)t->count * pow((double)total / (double)done, b) / 2;
    return jr_table_expect(t,
                           keys < (double)FINE_CAP ? (size_t)keys : FINE_CAP);
}

size_t jr_table_slots(const jr_table *t)
{
    return t->cap;
}

/* Take a free slot i for the key; grow first if the table is full
 * enough, which moves the slot.  key is read only when it is long. */
static int insert(jr_table *t, size_t i, uint64_t tag, uint64_t k0,
                  uint64_t k1, const void *key, size_t klen, uint64_t v)
{
    if (t->count >= t->grow_at) {
        int rc = grow(t);
        if (rc < 0)
            return rc;
        i = slot_of(t, tag);
        while (t->ents[i].tag != 0)
            i = next_slot(i, t->cap);
    }
    ent *e = &t->ents[i];
    if (klen > INLINE_MAX) {
        int rc = store_long(t, e, key, klen);
        if (rc < 0)
            return rc;
    } else {
        e->k0 = k0;
        e->k1 = k1;
    }
    e->tag = tag;
    e->value = v;
    t->count++;
    t->key_bytes += klen;
    if (t->nparts) {
        part_count *q = &t->parts[jr_part_of(tag, t->nparts)];
        q->keys++;
        q->key_bytes += klen;
    }
    return 0;
}

/* Sum inline: the common case pays no indirect call. */
#define COMBINE(t, e, v)                                                       \
    ((e)->value =                                                              \
         (t)->combine ? (t)->combine((e)->value, (v)) : (e)->value + (v))

/* The lookup of nearly every word: tag and packed bytes are three
 * register compares, and no key memory is read. */
static inline int add_inline(jr_table *t, uint64_t tag, uint64_t k0,
                             uint64_t k1, size_t klen, uint64_t v)
{
    size_t cap = t->cap, i = slot_of(t, tag);
    for (;;) {
        ent *e = &t->ents[i];
        if ((e->tag == tag) & (e->k0 == k0) & (e->k1 == k1)) {
            COMBINE(t, e, v);
            return 0;
        }
        if (e->tag == 0)
            return insert(t, i, tag, k0, k1, NULL, klen, v);
        i = next_slot(i, cap);
    }
}

static int add_long(jr_table *t, uint64_t tag, const void *key, size_t klen,
                    uint64_t v)
{
    size_t cap = t->cap, i = slot_of(t, tag);
    for (;;) {
        ent *e = &t->ents[i];
        if (e->tag == tag && e->k1 == klen &&
            memcmp(t->arena + e->k0, key, klen) == 0) {
            COMBINE(t, e, v);
            return 0;
        }
        if (e->tag == 0)
            return insert(t, i, tag, 0, 0, key, klen, v);
        i = next_slot(i, cap);
    }
}

int jr_table_add_hashed(jr_table *t, uint64_t h, const void *key, size_t klen,
                        uint64_t v)
{
    uint64_t tag = jr_tag_of(h, klen);
    if (klen <= INLINE_MAX) {
        uint64_t k0, k1;
        pack16(key, klen, &k0, &k1);
        return add_inline(t, tag, k0, k1, klen, v);
    }
    if (klen > JR_KEY_MAX)
        return JR_EKEYLEN;
    return add_long(t, tag, key, klen, v);
}

int jr_table_add(jr_table *t, const void *key, size_t klen, uint64_t v)
{
    if (klen <= INLINE_MAX) {
        uint64_t k0, k1;
        pack16(key, klen, &k0, &k1);
        return add_inline(t, jr_tag_of(hash_inline(k0, k1, klen), klen), k0, k1,
                          klen, v);
    }
    if (klen > JR_KEY_MAX) /* read no further */
        return JR_EKEYLEN;
    return add_long(t, jr_tag_of(hash_long(key, klen), klen), key, klen, v);
}

/*-************************************
 *  The queue
 **************************************/
static int add_pending(jr_table *t, const pending *p)
{
    if (p->klen <= INLINE_MAX)
        return add_inline(t, p->tag, p->k0, p->k1, p->klen, p->value);
    return add_long(t, p->tag, p->bytes, p->klen, p->value);
}

/* The cache lines where a probe for tag begins: its slot's, and the next
 * one, which a probe reaches when the slot's entry (two to a line) is not
 * its key.  At 70% full that is often so for a new key or one that moved
 * on: on input of many distinct words, where nearly every add misses the
 * front, the second line saves a quarter of the map (bench_map on `seq 1
 * 6000000`, three rounds: 1.24-1.65 s -> 0.92-1.00); on prose it changes
 * nothing measurable.  next <= cap (cap is even): at the array's end it
 * names the end, which a prefetch may (it never faults); the wrap to slot
 * 0 is left to the probe (one slot in cap).  Always inlined: as a
 * function of its own, gcc 12 dropped every call to it (a prefetch is no
 * side effect to it). */
static inline __attribute__((always_inline)) void
prefetch_probe(const jr_table *t, uint64_t tag)
{
    size_t i = slot_of(t, tag), next = (i | 1) + 1;
    __builtin_prefetch(&t->ents[i]);
    __builtin_prefetch(&t->ents[next]);
}

/* Queue an add for a later call, its slot prefetched. */
static pending *enqueue(jr_table *t, int *rc)
{
    if (t->qlen == QDEPTH) {
        *rc = add_pending(t, &t->q[t->qhead]);
        t->qhead = (t->qhead + 1) % QDEPTH;
        t->qlen--;
    }
    return &t->q[(t->qhead + t->qlen++) % QDEPTH];
}

/* The front slot of a short key: one multiply of its mixed words, which
 * is enough for a cache (keys that collide cost speed, not counts). */
static inline size_t front_slot(uint64_t k0, uint64_t k1, uint64_t code)
{
    return (size_t)(((k0 ^ (k1 * 0x9e3779b97f4a7c15ull) ^ code) *
                     0xd6e8feb86659fd93ull) >>
                    (64 - FRONT_BITS));
}

/* A short key meets the front at its slot fi: it combines there, or takes
 * the slot and sends the key there before it on to the table, hashed
 * now.  Always inlined: jr_table_add_short() interleaves a group's adds
 * only when this is its own code. */
static inline __attribute__((always_inline)) int
front_add_at(jr_table *t, size_t fi, uint64_t k0, uint64_t k1, size_t klen,
             uint64_t v)
{
    uint64_t code = klen + 1;
    ent *f = &t->front[fi];
    if ((f->tag == code) & (f->k0 == k0) & (f->k1 == k1)) {
        COMBINE(t, f, v);
        return 0;
    }
    int rc = 0;
    if (f->tag == 0) {
        t->used[t->nfront++] = (uint16_t)fi;
    } else {
        pending *p = enqueue(t, &rc);
        p->klen = (size_t)f->tag - 1;
        p->value = f->value;
        p->k0 = f->k0;
        p->k1 = f->k1;
        p->tag = jr_tag_of(hash_inline(f->k0, f->k1, p->klen), p->klen);
        prefetch_probe(t, p->tag);
    }
    *f = (ent){code, v, k0, k1};
    return rc;
}

static inline int front_add(jr_table *t, uint64_t k0, uint64_t k1, size_t klen,
                            uint64_t v)
{
    return front_add_at(t, front_slot(k0, k1, klen + 1), k0, k1, klen, v);
}

/* A key too long for the front goes to the queue (or, longer than a
 * queue entry holds, straight to the table). */
static int add_soon_long(jr_table *t, const void *key, size_t klen, uint64_t v)
{
    if (klen > QKEY_MAX)
        return jr_table_add(t, key, klen, v);
    int rc = 0;
    pending *p = enqueue(t, &rc);
    p->klen = klen;
    p->value = v;
    memcpy(p->bytes, key, klen);
    p->tag = jr_tag_of(hash_long(p->bytes, klen), klen);
    prefetch_probe(t, p->tag);
    return rc;
}

int jr_table_add_soon(jr_table *t, const void *key, size_t klen, uint64_t v)
{
    if (klen > INLINE_MAX)
        return add_soon_long(t, key, klen, v);
    uint64_t k0, k1;
    pack16(key, klen, &k0, &k1);
    return front_add(t, k0, k1, klen, v);
}

int jr_table_add_soon_padded(jr_table *t, const void *key, size_t klen,
                             uint64_t v)
{
    if (klen > INLINE_MAX)
        return add_soon_long(t, key, klen, v);
    uint64_t k0, k1;
    jr_load16_padded(key, klen, &k0, &k1);
    return front_add(t, k0, k1, klen, v);
}

/* Keys of jr_table_add_short() whose front slots are fetched at once:
 * enough to cover the latency of the cache level that holds the front. */
#define SHORT_GROUP 32

int jr_table_add_short(jr_table *t, const uint8_t (*keys)[JR_TABLE_INLINE],
                       const uint8_t *lens, size_t n, uint64_t v)
{
    int rc = 0;
    while (n > 0) {
        size_t m = n < SHORT_GROUP ? n : SHORT_GROUP;
        uint16_t fi[SHORT_GROUP];
        unsigned over = 0;
        /* The slots from the bytes as they lie: masking the bytes after
         * each key here delayed the fetches enough to lose most of the
         * gain (bench_map, 100 MB, one CPU: 0.265 s, 0.298 masked here,
         * 0.307 without batches).  A key with stray bytes after it may
         * then sit in two front slots, which costs speed, not counts:
         * the compare, the hash and the table see the masked key. */
        for (size_t j = 0; j < m; j++) {
            over |= lens[j] > INLINE_MAX;
            fi[j] = (uint16_t)front_slot(rd64(keys[j]), rd64(keys[j] + 8),
                                         (uint64_t)lens[j] + 1);
            __builtin_prefetch(&t->front[fi[j]]);
        }
        if (over)
            return JR_EKEYLEN;
        for (size_t j = 0; j < m; j++) {
            uint64_t k0, k1;
            jr_load16_padded(keys[j], lens[j], &k0, &k1);
            int r = front_add_at(t, fi[j], k0, k1, lens[j], v);
            if (r < 0 && rc == 0)
                rc = r;
        }
        keys += m;
        lens += m;
        n -= m;
    }
    return rc;
}

int jr_table_drain(jr_table *t)
{
    int rc = 0;
    for (size_t i = 0; i < t->nfront; i++) {
        ent *f = &t->front[t->used[i]];
        size_t klen = (size_t)f->tag - 1;
        int r = add_inline(t, jr_tag_of(hash_inline(f->k0, f->k1, klen), klen),
                           f->k0, f->k1, klen, f->value);
        if (r < 0 && rc == 0)
            rc = r;
        f->tag = 0;
    }
    t->nfront = 0;
    for (; t->qlen > 0; t->qlen--) {
        int r = add_pending(t, &t->q[t->qhead]);
        if (r < 0 && rc == 0)
            rc = r;
        t->qhead = (t->qhead + 1) % QDEPTH;
    }
    return rc;
}

/*-************************************
 *  Reading it back
 **************************************/
size_t jr_table_count(const jr_table *t)
{
    return t->count;
}

size_t jr_table_key_bytes(const jr_table *t)
{
    return t->key_bytes;
}

int jr_table_empty(const jr_table *t)
{
    return t->count == 0 && t->qlen == 0 && t->nfront == 0;
}

int jr_table_count_parts(jr_table *t, uint32_t nparts)
{
    if (nparts == 0 || t->count || t->qlen || t->nfront)
        return JR_EINVAL;
    part_count *q = calloc(nparts, sizeof *q);
    if (!q)
        return JR_ENOMEM;
    free(t->parts);
    t->parts = q;
    t->nparts = nparts;
    return 0;
}

uint32_t jr_table_nparts(const jr_table *t)
{
    return t->nparts;
}

void jr_table_part(const jr_table *t, uint32_t p, size_t *keys,
                   size_t *key_bytes)
{
    *keys = p < t->nparts ? t->parts[p].keys : 0;
    *key_bytes = p < t->nparts ? t->parts[p].key_bytes : 0;
}

/* Slots ahead of a walk whose long key is fetched: the arena holds the
 * keys in the order they came, which is random in the slots' order. */
#define KEY_AHEAD 16

/* The caller's view of entry e: its key (in the entry, or in the
 * arena), value and tag. */
static void yield(const jr_table *t, const ent *e, const void **key,
                  size_t *klen, uint64_t *v, uint64_t *h)
{
    unsigned code = (unsigned)(e->tag & 0xff);
    if (code == LONG_CODE) {
        *key = t->arena + e->k0;
        *klen = (size_t)e->k1;
    } else {
        *key = &e->k0; /* k0 then k1: the key's bytes, as pack16() made them */
        *klen = code - 1;
    }
    *v = e->value;
    *h = e->tag;
}

int jr_table_next(const jr_table *t, size_t *cursor, const void **key,
                  size_t *klen, uint64_t *v, uint64_t *h)
{
    for (size_t i = *cursor; i < t->cap; i++) {
        const ent *e = &t->ents[i];
        if (e->tag == 0)
            continue;
        if (i + KEY_AHEAD < t->cap &&
            (t->ents[i + KEY_AHEAD].tag & 0xff) == LONG_CODE)
            __builtin_prefetch(t->arena + t->ents[i + KEY_AHEAD].k0);
        yield(t, e, key, klen, v, h);
        *cursor = i + 1;
        return 1;
    }
    *cursor = t->cap;
    return 0;
}

/*-************************************
 *  The ordered walk
 **************************************/
/* Slots are in tag order but for the runs of linear probing: within a
 * cluster (slots in use between two free ones) an entry may sit past
 * entries of larger tags, and the entries of the last cluster may wrap
 * round into the first slots.  jr_table_take() sorts each cluster in
 * place as it reaches it (the table is being emptied: no lookup follows)
 * and hands out the wrapped entries with the last one. */

static inline void swap_ents(ent *a, ent *b)
{
    ent x = *a;
    *a = *b;
    *b = x;
}

/* Restore the heap (largest tag on top) of e[0..n) below i. */
static void sift_ents(ent *e, size_t i, size_t n)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            return;
        if (c + 1 < n && e[c + 1].tag > e[c].tag)
            c++;
        if (e[c].tag <= e[i].tag)
            return;
        swap_ents(&e[i], &e[c]);
        i = c;
    }
}

static void heapsort_ents(ent *e, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_ents(e, i, n);
    for (size_t m = n; m-- > 1;) {
        swap_ents(&e[0], &e[m]);
        sift_ents(e, 0, m);
    }
}

/* Sort e[0..n) by tag.  A cluster is nearly in order (an entry sits a few
 * slots past its place at most, at the table's fill): insertion sort,
 * unless it moves entries far more than that (an adversary's keys can
 * make one long cluster of any order), then heapsort. */
static void sort_cluster(ent *e, size_t n)
{
    size_t budget = 8 * n;
    for (size_t i = 1; i < n; i++) {
        if (e[i].tag >= e[i - 1].tag)
            continue;
        ent x = e[i];
        size_t j = i;
        for (; j > 0 && e[j - 1].tag > x.tag && budget > 0; j--, budget--)
            e[j] = e[j - 1];
        e[j] = x;
        if (budget == 0) {
            heapsort_ents(e, n);
            return;
        }
    }
}

/* The first cluster, if the last one wraps into it: sort it, and keep
 * its wrapped entries (probed from the last slots, so their tags are the
 * table's largest and they sort to its end) for the last cluster. */
static void start_walk(jr_table *t)
{
    size_t cap = t->cap, end = 0;
    t->walking = 1;
    t->walk_end = t->wrap = t->wrap_end = 0;
    if (t->ents[0].tag == 0 || t->ents[cap - 1].tag == 0)
        return;
    size_t wrapped = 0;
    for (; t->ents[end].tag != 0; end++) /* the table has free slots */
        wrapped += slot_of(t, t->ents[end].tag) > end;
    sort_cluster(t->ents, end);
    t->walk_end = end - wrapped;
    t->wrap = end - wrapped;
    t->wrap_end = end;
}

/* The blocks wholly behind slot i but those that hold the wrapped
 * entries go back to the kernel: the caller is done with every key
 * borrowed from them. */
static size_t wrap_blocks(const jr_table *t)
{
    size_t keep = (t->wrap_end + BLOCK_SLOTS - 1) / BLOCK_SLOTS * BLOCK_SLOTS;
    return keep < t->cap ? keep : t->cap;
}

static void release_behind(jr_table *t, size_t i)
{
    size_t done = i / BLOCK_SLOTS * BLOCK_SLOTS;
    if (t->released < wrap_blocks(t))
        t->released = wrap_blocks(t); /* [0, released) goes at the end */
    if (done > t->released) {
        release(t, t->released, done);
        t->released = done;
    }
}

int jr_table_take(jr_table *t, size_t *cursor, const void **key, size_t *klen,
                  uint64_t *v, uint64_t *h)
{
    size_t cap = t->cap, i = *cursor;
    if (!t->walking)
        start_walk(t);
    if (i >= t->walk_end && i < cap) { /* the next cluster */
        if (i < t->wrap_end) /* past the first cluster's wrapped entries */
            i = t->wrap_end;
        release_behind(t, i);
        while (i < cap && t->ents[i].tag == 0)
            i++;
        size_t end = i;
        for (; end < cap && t->ents[end].tag != 0; end++)
            if (end + KEY_AHEAD < cap &&
                (t->ents[end + KEY_AHEAD].tag & 0xff) == LONG_CODE)
                __builtin_prefetch(t->arena + t->ents[end + KEY_AHEAD].k0);
        sort_cluster(t->ents + i, end - i);
        t->walk_end = end;
    }
    /* The last cluster ends at the last slot: the wrapped entries join
     * it, in tag order. */
    int wrapped = t->wrap < t->wrap_end && (i == cap || t->walk_end == cap);
    if (wrapped && (i == cap || t->ents[t->wrap].tag < t->ents[i].tag)) {
        yield(t, &t->ents[t->wrap++], key, klen, v, h);
        *cursor = i;
        return 1;
    }
    if (i < cap) {
        yield(t, &t->ents[i], key, klen, v, h);
        *cursor = i + 1;
        return 1;
    }
    *cursor = cap;
    jr_table_clear(t); /* and the blocks that kept the wrapped entries */
    free(t->arena); /* long keys: megabytes, and nothing refers to them */
    t->arena = NULL;
    t->acap = 0;
    return 0;
}

int jr_table_trim(jr_table *t)
{
    if (t->count || t->qlen || t->nfront || t->cap <= FIRST_CAP)
        return 0;
    ent *e = alloc_ents(FIRST_CAP);
    if (!e)
        return JR_ENOMEM;
    free_ents(t->ents, t->cap);
    start_over(t, e);
    free(t->arena);
    t->arena = NULL;
    t->alen = t->acap = 0;
    return 0;
}

void jr_table_clear(jr_table *t)
{
    t->qhead = t->qlen = 0;
    for (size_t i = 0; i < t->nfront; i++)
        t->front[t->used[i]].tag = 0;
    t->nfront = 0;
    /* A walk stopped halfway kept its first blocks (wrap_blocks). */
    release(t, t->walking && t->wrap_end > 0 ? 0 : t->released, t->cap);
    t->released = 0;
    t->walking = 0;
    t->count = 0;
    t->alen = 0;
    t->key_bytes = 0;
    if (t->nparts)
        memset(t->parts, 0, t->nparts * sizeof *t->parts);
}
