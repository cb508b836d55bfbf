/*
 * table.h - the worker's local combining table: byte-string keys to
 * 64-bit values, one per worker process (the Phoenix++ lesson: combine
 * where the data is, ship each distinct key once).
 *
 * Open addressing; keys of 16 bytes or fewer live in their entry, longer
 * ones in an arena owned by the table.  Not thread-safe (one per process).
 */
#ifndef JR_TABLE_H
#define JR_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "jobrun.h"

typedef struct jr_table jr_table;

/* Keys of at most this many bytes lie in their entries, zero-padded. */
#define JR_TABLE_INLINE 16

/* The hash every module uses for keys (partitioning too): fast, good
 * avalanche, stable across processes and runs of one build. */
uint64_t jr_hash(const void *key, size_t len);

/* jr_hash() of a key of JR_TABLE_INLINE bytes or fewer with that many
 * readable at key (the bytes after len are ignored), and the key's bytes
 * as two words in memory order, zero-padded: no branch on the length. */
uint64_t jr_hash_padded(const void *key, size_t len, uint64_t *k0,
                        uint64_t *k1);

/* A key's tag: its jr_hash() with the low byte replaced by a length code
 * (klen + 1 up to JR_TABLE_INLINE, else JR_TAG_LONG), never 0.  Tables
 * keep their slots in tag order, and the flush writes each partition in
 * it (jr_table_take). */
#define JR_TAG_LONG 0xffu
static inline uint64_t jr_tag_of(uint64_t hash, size_t klen)
{
    uint64_t code = klen <= JR_TABLE_INLINE ? klen + 1 : JR_TAG_LONG;
    return (hash & ~(uint64_t)0xff) | code;
}

/* The partition of a key of hash h among nparts (the shuffle's): a
 * multiply-shift of the hash's high half, no division per key. */
static inline uint32_t jr_part_of(uint64_t h, uint32_t nparts)
{
    return (uint32_t)(((h >> 32) * (uint64_t)nparts) >> 32);
}

/* combine NULL means sum.  On success *out owns the table.
 * @return 0, JR_ENOMEM. */
int jr_table_new(jr_table **out, jr_combine_fn combine);

/* Free it and set *t to NULL.  NULL-safe. */
void jr_table_destroy(jr_table **t);

/* Add (key, v): insert, or combine with the value already there.
 * key is copied.  @return 0, JR_ENOMEM, or JR_EKEYLEN for a key longer
 * than JR_KEY_MAX, which no record could carry (nothing added, the key
 * not read). */
int jr_table_add(jr_table *t, const void *key, size_t klen, uint64_t v);

/* The same with the key's jr_hash() already computed. */
int jr_table_add_hashed(jr_table *t, uint64_t hash, const void *key,
                        size_t klen, uint64_t v);

/* The same, later: the add waits in a short queue, its slot prefetched,
 * and is done by a later call or jr_table_drain().  Until then the table
 * does not show it.  key is copied.  @return 0, JR_EKEYLEN as
 * jr_table_add(), or JR_ENOMEM from an add this call completed (which one
 * is not said: the table is in error). */
int jr_table_add_soon(jr_table *t, const void *key, size_t klen, uint64_t v);

/* As jr_table_add_soon(), for a key with JR_EMIT_PAD bytes readable from
 * key even when klen is shorter (jr_emit_padded); the bytes after klen
 * are ignored. */
int jr_table_add_soon_padded(jr_table *t, const void *key, size_t klen,
                             uint64_t v);

/* Add n keys of JR_TABLE_INLINE bytes or fewer, each with value v: key i
 * is keys[i][0 .. lens[i]), the rest of keys[i] ignored.  As n calls of
 * jr_table_add_soon_padded(), but a group's front slots are all found and
 * fetched before the first is compared, so that their cache misses
 * overlap where one add at a time waits for each.
 * @return 0, JR_EKEYLEN (a length over JR_TABLE_INLINE: the keys before
 * its group of 32 were added), or JR_ENOMEM from an add this call
 * completed (the table is in error). */
int jr_table_add_short(jr_table *t, const uint8_t (*keys)[JR_TABLE_INLINE],
                       const uint8_t *lens, size_t n, uint64_t v);

/* Do every queued add.  @return 0, JR_ENOMEM. */
int jr_table_drain(jr_table *t);

/* Make room for `keys` keys at once, where the table would otherwise
 * double its way there (each step moves every entry and takes fresh
 * memory), but never beyond the size from which it grows by finer steps
 * (2^20 slots, 32 MiB): a guess too high costs at most that.
 * @return 0, JR_ENOMEM (the table unchanged). */
int jr_table_expect(jr_table *t, size_t keys);

/* The same for half the keys that `total` bytes of input will bring,
 * foreseen from those that the first `done` bytes brought: the worker
 * calls it after each task, with the bytes the master expects it to map.
 * Text's vocabulary grows as a power of its length, between the square
 * root and the length itself; the power is measured from the first call
 * on.  From 90% of `total` on, a table of 2^20 slots or more fills to 80%
 * before it grows, not 70%: few keys are still to come.
 * @return 0, JR_ENOMEM (the table unchanged). */
int jr_table_foresee(jr_table *t, uint64_t done, uint64_t total);

/* Slots in the array (what the tests check growth by). */
size_t jr_table_slots(const jr_table *t);

/* Distinct keys, and bytes of keys stored (queued adds not counted). */
size_t jr_table_count(const jr_table *t);
size_t jr_table_key_bytes(const jr_table *t);

/* Whether nothing was added since the last clear, queued adds included. */
int jr_table_empty(const jr_table *t);

/* Keep the same two counts per partition of jr_part_of(hash, nparts), so
 * that the flush lays out a map output without a pass over the slots.
 * On an empty table only.  @return 0, JR_ENOMEM, JR_EINVAL (not empty,
 * or nparts 0). */
int jr_table_count_parts(jr_table *t, uint32_t nparts);

/* The partitions counted (0: none), and partition p's counts. */
uint32_t jr_table_nparts(const jr_table *t);
void jr_table_part(const jr_table *t, uint32_t p, size_t *keys,
                   size_t *key_bytes);

/* Iterate: *cursor starts at 0.  Sets the entry's key (borrowed until the
 * table changes; a key of JR_TABLE_INLINE bytes or fewer has that many
 * readable), value and tag: the key's jr_hash() with its low 8 bits
 * replaced by a length code, the same for the key in every table (the
 * shuffle partitions by its high bits).  @return 1 with an entry, 0 at
 * the end. */
int jr_table_next(const jr_table *t, size_t *cursor, const void **key,
                  size_t *klen, uint64_t *v, uint64_t *hash);

/* The same in ascending tag order (equal tags in any order), emptying
 * the table as it goes: the memory of the slots passed goes back to the
 * kernel, a block at a time, so that a table written out elsewhere does
 * not exist twice at once.  Every table orders its keys alike, so the
 * flush writes each partition as a sorted run.  The table is empty (as after
 * jr_table_clear) once it returns 0; stopped before that, it must be
 * cleared before any other use.  No add may wait in the queue (drain
 * first). */
int jr_table_take(jr_table *t, size_t *cursor, const void **key, size_t *klen,
                  uint64_t *v, uint64_t *hash);

/* An empty table gives back its slots and arena beyond the first ones
 * (tens of MB after a large vocabulary); a table holding keys, or a small
 * one, is left as it is.  @return 0, JR_ENOMEM (the table unchanged). */
int jr_table_trim(jr_table *t);

/* Remove every entry; the slots' pages go back to the kernel (the array
 * stays, and a page comes back, zeroed, when it is next used). */
void jr_table_clear(jr_table *t);

#endif /* JR_TABLE_H */
