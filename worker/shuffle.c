/*
 * shuffle.c - the worker's half of the shuffle.
 *
 * At the end of a map phase a worker writes its combining table into one
 * shared-memory segment, split into partitions by key hash, each in the
 * order of its keys' tags (flush).  A reducer then merges partition p of
 * every map output as sorted runs, combining equal keys, sorts the result
 * in the job's order and writes a sorted run (reduce), which the master
 * k-way merges.  Both are written through the segment's descriptor
 * (jr_shm_writer), never through a mapping.  Segments are read as
 * untrusted: every offset and length is checked against the segment's
 * size, and the order of the records too.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/order.h"
#include "worker/fault.h"
#include "worker/table.h"
#include "worker/worker.h"

/* Keys of at most this many bytes, with as many readable from their
 * start, are copied as two words into the writer's slack. */
#define PADDED_KEY 16
_Static_assert(PADDED_KEY <= JR_SHM_WRITER_SLACK &&
                   PADDED_KEY == JR_TABLE_INLINE,
               "a table's short key, read whole, fits the writer's slack");

/* Append a record to w: built in its buffer where it fits, else (a huge
 * key) written as it is.  padded: PADDED_KEY bytes can be read at key.
 * Most keys are short: a memcpy of their variable length was a call per
 * record, in the flush and in the run's writing alike.  @return the
 * record's length. */
static size_t write_rec(jr_shm_writer *w, const void *key, size_t klen,
                        uint64_t v, int padded)
{
    uint8_t *p = jr_shm_writer_room(w, JR_REC_HDR_MAX + klen);
    if (p) {
        size_t h = jr_rec_put_hdr(p, klen, v);
        if (padded && klen <= PADDED_KEY)
            memcpy(p + h, key, PADDED_KEY);
        else
            memcpy(p + h, key, klen);
        jr_shm_writer_trim(w, JR_REC_HDR_MAX - h);
        return h + klen;
    }
    uint8_t hdr[JR_REC_HDR_MAX];
    size_t h = jr_rec_put_hdr(hdr, klen, v);
    jr_shm_writer_put(w, hdr, h);
    jr_shm_writer_put(w, key, klen);
    return h + klen;
}

size_t jr_rec_get_hdr_slow(const uint8_t *p, size_t len, uint32_t *klen,
                           uint64_t *v)
{
    if (len < 1)
        return 0;
    size_t n = 1;
    *klen = p[0];
    if (p[0] == JR_REC_LONG) {
        if (len < 5)
            return 0;
        *klen = jr_get_u32(p + 1);
        n = 5;
    }
    uint64_t x = 0;
    for (unsigned shift = 0; n < len; shift += 7) {
        uint8_t b = p[n++];
        if (shift == 63 && b > 1) /* past 64 bits */
            return 0;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            *v = x;
            return n;
        }
        if (shift == 63)
            return 0;
    }
    return 0; /* cut short */
}

/* Close partitions [*p, to) of the map output whose header is head: each
 * must hold the records the table counted, want[] (n of them for *p, none
 * for the rest), and the next one starts at `at`.  @return 0, JR_EPROTO. */
static int close_parts(const size_t *want, uint8_t *head, uint32_t *p,
                       uint32_t to, size_t *n, uint64_t at)
{
    for (; *p < to; ++*p, *n = 0) {
        if (*n != want[*p])
            return JR_EPROTO;
        jr_put_u64(head + 8 + 8 * ((size_t)*p + 1), at);
    }
    return 0;
}

int jr_shuffle_flush(struct jr_map_ctx *ctx, jr_ctl *ctl, unsigned slot,
                     uint32_t nparts, uint32_t *idx)
{
    jr_table *t = ctx->table;
    *idx = JR_NO_SEG;
    int rc = jr_table_drain(t); /* the emits still queued */
    if (rc < 0 || jr_table_count(t) == 0)
        return rc;

    size_t hdr = 16 + 16 * (size_t)nparts;
    uint8_t *head = malloc(hdr);
    size_t *want = calloc(nparts, sizeof *want); /* the walk clears the
                                                    table's counts */
    jr_shm_writer w = {.rc = JR_ENOMEM};
    int fd = -1;
    rc = JR_ENOMEM;
    if (!head || !want)
        goto out;
    /* The table counted its keys per partition as they came. */
    if (jr_table_nparts(t) != nparts) {
        rc = JR_EPROTO;
        goto out;
    }
    jr_put_u32(head, JR_MAPOUT_MAGIC);
    jr_put_u32(head + 4, nparts);
    jr_put_u64(head + 8, hdr);
    uint8_t *counts = head + 8 + 8 * ((size_t)nparts + 1);
    for (uint32_t p = 0; p < nparts; p++) {
        size_t key_bytes;
        jr_table_part(t, p, &want[p], &key_bytes);
        /* corrupt@count (task: the partition): one record more said
         * than written. */
        jr_put_u64(counts + 8 * (size_t)p,
                   want[p] + (JR_FAULT_MATCH("corrupt", "count", p, 0) != 0));
    }

    /* Sparse, sized for the longest headers and cut to what was written;
     * written through its descriptor front to back (tmpfs allocates the
     * pages then), while the table gives its slots back behind the walk:
     * the table and its copy in shared memory (tens of MB each for a
     * large vocabulary) never exist whole at once.  The walk is in tag
     * order, and so partition by partition (jr_part_of keeps it).
     * PADDED_KEY bytes after the last record: the reducers read short
     * keys whole, by two words. */
    size_t keys = jr_table_count(t), key_bytes = jr_table_key_bytes(t);
    jr_seg seg = {0};
    rc = keys > (SIZE_MAX - hdr - PADDED_KEY - key_bytes) / JR_REC_HDR_MAX
             ? JR_ENOMEM
             : jr_ctl_seg_create_sparse(ctl, slot,
                                        hdr + keys * JR_REC_HDR_MAX +
                                            key_bytes + PADDED_KEY,
                                        &seg, idx, &fd);
    if (rc < 0)
        goto out;
    jr_shm_unmap(&seg); /* written through fd, read by the reducers */
    rc = jr_shm_writer_init(&w, fd, hdr, JR_SHM_WRITER_MAX);
    uint32_t part = 0; /* the partition being written */
    size_t n = 0;      /* its records so far */
    size_t cur = 0;
    const void *key;
    size_t klen;
    uint64_t v, hash;
#ifdef JR_FAULT
    /* corrupt@order (task: the partition): its first record is written
     * after its second, out of tag order. */
    uint32_t bad = nparts;
    for (uint32_t p = 0; p < nparts && bad == nparts; p++)
        if (JR_FAULT_MATCH("corrupt", "order", p, 0))
            bad = p;
    uint8_t held[64] = {0};
    size_t held_len = SIZE_MAX;
    uint64_t held_v = 0;
#endif
    while (rc == 0 && jr_table_take(t, &cur, &key, &klen, &v, &hash)) {
        uint32_t p = jr_part_of(hash, nparts);
#ifdef JR_FAULT
        if (p != part && held_len != SIZE_MAX && part == bad) {
            /* bad held its only record */
            write_rec(&w, held, held_len, held_v, 1);
            bad = nparts;
        }
#endif
        if (p < part) { /* the walk is in tag order: a table's bug */
            rc = JR_EPROTO;
            break;
        }
        rc = close_parts(want, head, &part, p, &n, jr_shm_writer_at(&w));
        if (rc < 0)
            break;
        n++;
#ifdef JR_FAULT
        if (p == bad && held_len == SIZE_MAX && klen <= sizeof held) {
            memcpy(held, key, klen);
            held_len = klen;
            held_v = v;
            continue;
        }
#endif
        write_rec(&w, key, klen, v, klen <= JR_TABLE_INLINE);
#ifdef JR_FAULT
        if (p == bad && held_len != SIZE_MAX) {
            write_rec(&w, held, held_len, held_v, 1);
            bad = nparts;
        }
#endif
        rc = w.rc;
    }
#ifdef JR_FAULT
    if (rc == 0 && bad == part && held_len != SIZE_MAX)
        write_rec(&w, held, held_len, held_v, 1);
#endif
    uint64_t end = jr_shm_writer_at(&w);
    if (rc == 0)
        rc = close_parts(want, head, &part, nparts, &n, end);
    int r = jr_shm_writer_fini(&w);
    rc = rc ? rc : r;
    if (rc == 0)
        rc = jr_shm_pwrite(fd, head, hdr, 0);
    if (rc == 0 && ftruncate(fd, (off_t)(end + PADDED_KEY)) < 0)
        rc = -errno;
    if (rc < 0) {
        /* Half taken: the table is lost, and so is the run (a failed
         * flush ends it, see run.c). */
        jr_table_clear(t);
        goto out;
    }
    rc = jr_ctl_seg_ready(ctl, *idx);
out:
    (void)jr_shm_writer_fini(&w);
    if (fd >= 0)
        close(fd);
    free(head);
    free(want);
    return rc;
}

/* Partition `part` of one map output: its bytes, checked against the
 * segment's size, and the records it says it holds. */
static int part_bytes(const jr_seg *seg, uint32_t part, jr_rd *out,
                      uint64_t *nrecs)
{
    const uint8_t *base = seg->base;
    if (seg->len < 8 || jr_get_u32(base) != JR_MAPOUT_MAGIC)
        return JR_EPROTO;
    uint32_t nparts = jr_get_u32(base + 4);
    /* The header: 16 + 16 x nparts bytes. */
    if (part >= nparts || seg->len < 16 || (seg->len - 16) / 16 < nparts)
        return JR_EPROTO;
    uint64_t lo = jr_get_u64(base + 8 + 8 * (size_t)part);
    uint64_t hi = jr_get_u64(base + 8 + 8 * ((size_t)part + 1));
    if (lo > hi || hi > seg->len)
        return JR_EPROTO;
    *out = (jr_rd){base + lo, (size_t)(hi - lo)};
    *nrecs = jr_get_u64(base + 8 + 8 * ((size_t)nparts + 1 + part));
    return 0;
}

/* One map output's records of the partition, read in turn.  The flush
 * wrote them in tag order (jr_table_take), the same in every map output:
 * the reducer merges them as sorted runs, with no index. */
typedef struct stream {
    jr_rd r;
    uint64_t left;         /* records still to come, as the header says */
    const uint8_t *padded; /* keys up to here have PADDED_KEY bytes readable */
    jr_orec rec;           /* the record read last, with its tag */
    uint64_t tag;
} stream;

/* Read s's next record.  @return 1, 0 at the end, JR_EPROTO (cut short,
 * more or fewer records than the header said, or out of tag order: a map
 * output not from a flush). */
static int stream_next(stream *s)
{
    if (s->r.len == 0)
        return s->left == 0 ? 0 : JR_EPROTO;
    uint32_t klen;
    uint64_t v, tag;
    size_t h = jr_rec_get_hdr(s->r.p, s->r.len, &klen, &v);
    if (h == 0 || s->r.len - h < klen || s->left == 0)
        return JR_EPROTO;
    s->left--;
    const uint8_t *key = s->r.p + h;
    s->r.p += h + klen;
    s->r.len -= h + klen;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (klen <= PADDED_KEY && key <= s->padded) {
        /* Most keys: hash and prefixes from two masked loads, where a
         * short key's bytes were read one at a time. */
        uint64_t k0, k1;
        tag = jr_tag_of(jr_hash_padded(key, klen, &k0, &k1), klen);
        s->rec = jr_orec_of_words(v, key, klen, k0, k1);
    } else
#endif
    {
        tag = jr_tag_of(jr_hash(key, klen), klen);
        s->rec = jr_orec_of(v, key, klen);
    }
    if (tag < s->tag)
        return JR_EPROTO;
    s->tag = tag;
    return 1;
}

/* The reducer's records, in tag order, equal keys combined. */
typedef struct merger {
    jr_orec *recs; /* distinct keys so far; keys point into the segments */
    size_t n, max;
    uint64_t key_bytes; /* of recs[0..n) */
    size_t group;       /* recs[group..n) have the last record's tag */
    uint64_t tag;
    jr_combine_fn combine;
} merger;

/* Whether two records hold the same key.  Keys of 12 bytes or fewer are
 * whole in their prefixes: the key itself, out in a map output, is not
 * read. */
static inline int same_key(const jr_orec *a, const jr_orec *b)
{
    return a->klen == b->klen && a->pfx == b->pfx && a->pfx2 == b->pfx2 &&
           (a->klen <= 12 ||
            memcmp(a->key + 12, b->key + 12, a->klen - 12) == 0);
}

/* Add a record that comes in tag order: the same key can only be among
 * the records of its tag (one per map output but for hash collisions). */
static void merger_add(merger *m, const jr_orec *rec, uint64_t tag)
{
    if (m->n > 0 && tag == m->tag) {
        for (size_t j = m->group; j < m->n; j++) {
            jr_orec *r = &m->recs[j];
            if (same_key(r, rec)) {
                r->v = m->combine ? m->combine(r->v, rec->v) : r->v + rec->v;
                return;
            }
        }
    } else {
        m->tag = tag;
        m->group = m->n;
    }
    m->recs[m->n++] = *rec;
    m->key_bytes += rec->klen;
}

/* Restore the heap order of h[0..n) (by tag, least first) below i. */
static void sift_down(stream **h, size_t n, size_t i)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            return;
        if (c + 1 < n && h[c + 1]->tag < h[c]->tag)
            c++;
        if (h[i]->tag <= h[c]->tag)
            return;
        stream *x = h[i];
        h[i] = h[c];
        h[c] = x;
        i = c;
    }
}

/* Merge the k streams (each read to its first record) into m: two by
 * a select on their tags (at -j 2 most reducers merge two), more by a
 * heap of the streams by their records' tags.  @return 0, JR_EPROTO. */
static int merge_streams(merger *m, stream **h, size_t k)
{
    for (size_t i = k / 2; i-- > 0;)
        sift_down(h, k, i);
    while (k > 0) {
        stream *s = h[0];
        if (k == 2 && h[1]->tag < s->tag)
            s = h[1];
        merger_add(m, &s->rec, s->tag); /* at most m->max of them */
        int r = stream_next(s);
        if (r < 0)
            return r;
        if (k == 2) {
            if (r == 0) { /* the other one is left */
                h[0] = s == h[0] ? h[1] : h[0];
                k = 1;
            }
            continue;
        }
        if (r == 0)
            h[0] = h[--k];
        sift_down(h, k, 0);
    }
    return 0;
}

int jr_shuffle_reduce(const jr_job *job, jr_ctl *ctl, unsigned slot,
                      uint32_t part, const uint32_t *segs, uint32_t nsegs,
                      uint32_t *idx)
{
    *idx = JR_NO_SEG;
    jr_seg *maps = calloc(nsegs ? nsegs : 1, sizeof *maps);
    stream *in = calloc(nsegs ? nsegs : 1, sizeof *in);
    stream **heap = calloc(nsegs ? nsegs : 1, sizeof *heap);
    merger m = {.combine = job->combine};
    int rc = maps && in && heap ? 0 : JR_ENOMEM;
    size_t nrecs = 0, k = 0; /* k: the streams with records */
    for (uint32_t i = 0; i < nsegs && rc == 0; i++) {
        char name[JR_SHM_NAME_MAX];
        stream *s = &in[k];
        rc = jr_ctl_seg_name(ctl, segs[i], name, sizeof name);
        if (rc == 0)
            rc = jr_shm_attach(&maps[i], name, 0);
        if (rc == 0)
            rc = part_bytes(&maps[i], part, &s->r, &s->left);
        if (rc < 0 || (s->r.len == 0 && s->left == 0))
            continue;
        if (s->left > s->r.len / JR_REC_MIN) { /* more than fit */
            rc = JR_EPROTO;
            continue;
        }
        /* The flush leaves PADDED_KEY bytes after its last record. */
        const uint8_t *base = maps[i].base;
        s->padded = maps[i].len < PADDED_KEY ? base /* none: keys lie after */
                                             : base + maps[i].len - PADDED_KEY;
        if (s->left > SIZE_MAX / sizeof *m.recs - nrecs) {
            rc = JR_ENOMEM;
            continue;
        }
        nrecs += (size_t)s->left;
        rc = stream_next(s);
        rc = rc < 0 ? rc : 0;
        heap[k++] = s;
    }
    if (rc < 0 || nrecs == 0)
        goto out;
    /* Each stream holds no more records than its header says (checked as
     * they are read): room for them all, should no key combine. */
    m.max = nrecs;
    m.recs = jr_big_alloc(m.max * sizeof *m.recs);
    rc = m.recs ? merge_streams(&m, heap, k) : JR_ENOMEM;
    if (rc < 0)
        goto out;
    jr_orec_sort(job, m.recs, m.n);

    /* Sized for the longest headers and cut to what was written; written
     * through its descriptor in order, the header last: tmpfs then
     * allocates each page as it is written, where reserving and mapping
     * the segment first cost more than the writing. */
    size_t nindex = (m.n + JR_RUN_STRIDE - 1) / JR_RUN_STRIDE;
    uint64_t most = JR_RUN_HDR + (uint64_t)m.n * JR_REC_HDR_MAX + m.key_bytes +
                    8 * (uint64_t)nindex;
    jr_seg run = {0};
    int fd = -1;
    rc = most > SIZE_MAX ? JR_ENOMEM
                         : jr_ctl_seg_create_sparse(ctl, slot, (size_t)most,
                                                    &run, idx, &fd);
    if (rc < 0)
        goto out;
    jr_shm_unmap(&run); /* written through fd, read by the master */
    jr_shm_writer wr;
    uint8_t *index = malloc(nindex ? 8 * nindex : 1);
    rc = index ? jr_shm_writer_init(&wr, fd, JR_RUN_HDR, JR_SHM_WRITER_MAX)
               : JR_ENOMEM;
    if (rc < 0) {
        free(index);
        close(fd);
        goto out;
    }
    uint64_t at = JR_RUN_HDR;
    uint8_t key[PADDED_KEY] = {0}; /* a short key, from its record's prefixes */
    for (size_t i = 0; i < m.n; i++) {
        /* Sorted records point all over the map outputs; a key of 12
         * bytes or fewer (nearly every word) is in its record already. */
        if (i + 8 < m.n && m.recs[i + 8].klen > 12)
            __builtin_prefetch(m.recs[i + 8].key);
        if (i % JR_RUN_STRIDE == 0)
            jr_put_u64(index + 8 * (i / JR_RUN_STRIDE), at);
        const jr_orec *r = &m.recs[i];
        const uint8_t *bytes = r->key; /* a long one: read no further */
        if (r->klen <= 12) {
            jr_orec_short_key(r, key);
            bytes = key;
        }
        at += write_rec(&wr, bytes, r->klen, r->v, r->klen <= 12);
    }
#ifdef JR_FAULT
    if (JR_FAULT_MATCH("corrupt", "index", part, 0) && nindex > 1) {
        uint8_t *lo = index, *hi = index + 8 * (nindex - 1);
        for (; lo < hi; lo += 8, hi -= 8) { /* backwards */
            uint64_t t = jr_get_u64(lo);
            jr_put_u64(lo, jr_get_u64(hi));
            jr_put_u64(hi, t);
        }
    }
#endif
    jr_shm_writer_put(&wr, index, 8 * nindex);
    rc = jr_shm_writer_fini(&wr);
    uint8_t hdr[JR_RUN_HDR] = {0};
    jr_put_u32(hdr, JR_RUN_MAGIC);
    jr_put_u32(hdr + 4, JR_RUN_STRIDE);
    jr_put_u64(hdr + 8, m.n);
    jr_put_u64(hdr + 16, at); /* the records' end */
    jr_put_u64(hdr + 24, at); /* the index, right after them */
    if (rc == 0)
        rc = jr_shm_pwrite(fd, hdr, JR_RUN_HDR, 0);
    if (rc == 0 && ftruncate(fd, (off_t)(at + 8 * (uint64_t)nindex)) < 0)
        rc = -errno;
    free(index);
    close(fd);
    if (rc == 0)
        rc = jr_ctl_seg_ready(ctl, *idx);
out:
    jr_big_free(m.recs, m.max * sizeof *m.recs);
    for (uint32_t i = 0; maps && i < nsegs; i++)
        jr_shm_unmap(&maps[i]);
    free(maps);
    free(in);
    free(heap);
    return rc;
}
