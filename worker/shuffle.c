/*
 * shuffle.c - the worker's half of the shuffle.
 *
 * At the end of a map phase a worker writes its combining table into one
 * shared-memory segment, split into partitions by key hash (flush).  A
 * reducer then merges partition p of every map output through a hash
 * index, sorts it in the job's order and writes a sorted run (reduce),
 * which the master k-way merges.  Both are written through the segment's
 * descriptor (jr_shm_writer), never through a mapping.  Segments are read as untrusted: every offset and
 * length is checked against the segment's size.
 */
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
 * record, in the flush and in the run's writing alike. */
static void write_rec(jr_shm_writer *w, const void *key, size_t klen,
                      uint64_t v, int padded)
{
    uint8_t *p = jr_shm_writer_room(w, JR_REC_HDR + klen);
    if (p) {
        jr_put_u32(p, (uint32_t)klen);
        jr_put_u64(p + 4, v);
        if (padded && klen <= PADDED_KEY)
            memcpy(p + JR_REC_HDR, key, PADDED_KEY);
        else
            memcpy(p + JR_REC_HDR, key, klen);
        return;
    }
    uint8_t hdr[JR_REC_HDR];
    jr_put_u32(hdr, (uint32_t)klen);
    jr_put_u64(hdr + 4, v);
    jr_shm_writer_put(w, hdr, JR_REC_HDR);
    jr_shm_writer_put(w, key, klen);
}

/* Bytes of writer buffer a flush spends in all (each partition's at most
 * JR_SHM_WRITER_MAX): more partitions, smaller buffers. */
#define FLUSH_BUFFERS ((size_t)4 << 20)

int jr_shuffle_flush(struct jr_map_ctx *ctx, jr_ctl *ctl, unsigned slot,
                     uint32_t nparts, uint32_t *idx)
{
    jr_table *t = ctx->table;
    *idx = JR_NO_SEG;
    int rc = jr_table_drain(t); /* the emits still queued */
    if (rc < 0 || jr_table_count(t) == 0)
        return rc;

    size_t hdr = 8 + 8 * ((size_t)nparts + 1);
    uint64_t *left = calloc(nparts, sizeof *left);
    uint8_t *head = malloc(hdr);
    jr_shm_writer *w = calloc(nparts, sizeof *w);
    uint32_t nw = 0;
    int fd = -1;
    rc = JR_ENOMEM;
    if (!left || !head || !w)
        goto out;

    /* The table counted its keys per partition as they came. */
    if (jr_table_nparts(t) != nparts) {
        rc = JR_EPROTO;
        goto out;
    }
    jr_put_u32(head, JR_MAPOUT_MAGIC);
    jr_put_u32(head + 4, nparts);
    uint64_t off = hdr;
    for (uint32_t p = 0; p <= nparts; p++) {
        jr_put_u64(head + 8 + 8 * (size_t)p, off);
        if (p < nparts) {
            size_t keys, key_bytes;
            jr_table_part(t, p, &keys, &key_bytes);
            left[p] = (uint64_t)keys * JR_REC_HDR + key_bytes;
            off += left[p];
        }
    }

    /* Sparse, and written through its descriptor as the partitions fill
     * (tmpfs allocates the pages then), while the table gives its slots
     * back behind the walk: the table and its copy in shared memory (tens
     * of MB each for a large vocabulary) never exist whole at once. */
    jr_seg seg = {0};
    rc = off > SIZE_MAX
             ? JR_ENOMEM
             : jr_ctl_seg_create_sparse(ctl, slot, (size_t)off, &seg, idx, &fd);
    if (rc < 0)
        goto out;
    jr_shm_unmap(&seg); /* written through fd, read by the reducers */
    /* Partition 0's writer starts with the header, just before it. */
    size_t buf = FLUSH_BUFFERS / nparts;
    off = 0;
    for (; nw < nparts && rc == 0; nw++) {
        rc = jr_shm_writer_init(&w[nw], fd, off, buf);
        off += (nw == 0 ? hdr : 0) + left[nw];
    }
    jr_shm_writer_put(&w[0], head, hdr);
    rc = rc ? rc : w[0].rc;
    size_t cur = 0;
    const void *key;
    size_t klen;
    uint64_t v, hash;
    while (rc == 0 && jr_table_take(t, &cur, &key, &klen, &v, &hash)) {
        uint32_t p = jr_part_of(hash, nparts);
        /* Counted to the byte, but a miscount must not write past it. */
        if (left[p] < JR_REC_HDR + klen) {
            rc = JR_EPROTO;
            break;
        }
        left[p] -= JR_REC_HDR + klen;
        write_rec(&w[p], key, klen, v, klen <= JR_TABLE_INLINE);
        rc = w[p].rc;
    }
    for (uint32_t p = 0; p < nw; p++) {
        int r = jr_shm_writer_fini(&w[p]);
        rc = rc ? rc : r;
    }
    nw = 0;
    if (rc < 0) {
        /* Half taken: the table is lost, and so is the run (a failed
         * flush ends it, see run.c). */
        jr_table_clear(t);
        goto out;
    }
    rc = jr_ctl_seg_ready(ctl, *idx);
out:
    for (uint32_t p = 0; p < nw; p++)
        (void)jr_shm_writer_fini(&w[p]);
    if (fd >= 0)
        close(fd);
    free(left);
    free(head);
    free(w);
    return rc;
}

/* Partition `part` of one map output: its bytes, checked against the
 * segment's size. */
static int part_bytes(const jr_seg *seg, uint32_t part, jr_rd *out)
{
    const uint8_t *base = seg->base;
    if (seg->len < 8 || jr_get_u32(base) != JR_MAPOUT_MAGIC)
        return JR_EPROTO;
    uint32_t nparts = jr_get_u32(base + 4);
    if (part >= nparts || (seg->len - 8) / 8 < (size_t)nparts + 1)
        return JR_EPROTO;
    uint64_t lo = jr_get_u64(base + 8 + 8 * (size_t)part);
    uint64_t hi = jr_get_u64(base + 8 + 8 * ((size_t)part + 1));
    if (lo > hi || hi > seg->len)
        return JR_EPROTO;
    *out = (jr_rd){base + lo, (size_t)(hi - lo)};
    return 0;
}

/* Records in r, every one checked. */
static int count_recs(jr_rd r, size_t *n)
{
    while (r.len > 0) {
        uint32_t klen;
        uint64_t v;
        const uint8_t *key;
        if (jr_rd_u32(&r, &klen) < 0 || jr_rd_u64(&r, &v) < 0 ||
            jr_rd_bytes(&r, klen, &key) < 0)
            return JR_EPROTO;
        (*n)++;
    }
    return 0;
}

/* The reducer's records and the index that combines equal keys: open
 * addressing over slots of {hash's high half, record index + 1}, so that a
 * probe reads a record only when the hashes' halves match. */
typedef struct merger {
    jr_orec *recs; /* distinct keys so far; keys point into the segments */
    size_t n, max;
    uint64_t *slots; /* NULL when one map output holds every record */
    size_t nslots;
    unsigned shift; /* 64 - log2(nslots) */
    uint64_t seed;
    jr_combine_fn combine;
} merger;

/* Room for max records, and an index for `indexed` of them (0: none). */
static int merger_init(merger *m, size_t max, size_t indexed,
                       jr_combine_fn combine)
{
    *m = (merger){.combine = combine, .max = max};
    m->recs = jr_big_alloc(max * sizeof *m->recs);
    if (!m->recs)
        return JR_ENOMEM;
    if (indexed == 0)
        return 0;
    size_t cap = 16;
    unsigned bits = 4;
    while (cap < indexed + indexed / 2) { /* at most 2/3 full */
        cap *= 2;
        bits++;
    }
    m->slots = jr_big_alloc(cap * sizeof *m->slots);
    if (!m->slots)
        return JR_ENOMEM;
    m->nslots = cap;
    m->shift = 64 - bits;
    /* The map tables ordered these keys by their own slot functions; a
     * seed of ours keeps that order from clustering here. */
    m->seed = jr_now_ns() * 0x9e3779b97f4a7c15ull;
    return 0;
}

/* The index, once every record is in: its memory goes to the sort. */
static void merger_drop_index(merger *m)
{
    jr_big_free(m->slots, m->nslots * sizeof *m->slots);
    m->slots = NULL;
    m->nslots = 0;
}

static void merger_fini(merger *m)
{
    jr_big_free(m->recs, m->max * sizeof *m->recs);
    merger_drop_index(m);
}

/* A record read from a partition, its slot computed and prefetched. */
typedef struct incoming {
    jr_orec rec; /* with the key's prefixes */
    uint64_t hash;
    size_t slot;
} incoming;

/* Where the merger keeps its records of one partition: the first map
 * output's keys are new (a map output holds each key once), so they only
 * go in; the last one's new keys need no slot (nothing looks them up
 * after). */
enum { MIDDLE = 0, FIRST = 1, LAST = 2 };

/* Whether two records hold the same key.  Keys of 12 bytes or fewer are
 * whole in their prefixes: the key itself, out in a map output, is not
 * read (a cache miss per lookup saved). */
static inline int same_key(const jr_orec *a, const jr_orec *b)
{
    return a->klen == b->klen && a->pfx == b->pfx && a->pfx2 == b->pfx2 &&
           (a->klen <= 12 ||
            memcmp(a->key + 12, b->key + 12, a->klen - 12) == 0);
}

static void merger_add(merger *m, const incoming *in, int where)
{
    if (m->slots) {
        size_t mask = m->nslots - 1, i = in->slot;
        uint32_t tag = (uint32_t)(in->hash >> 32);
        for (;; i = (i + 1) & mask) {
            uint64_t s = m->slots[i];
            if (s == 0) {
                if (!(where & LAST))
                    m->slots[i] = (uint64_t)tag << 32 | (uint32_t)(m->n + 1);
                break;
            }
            if ((where & FIRST) || (uint32_t)(s >> 32) != tag)
                continue;
            jr_orec *r = &m->recs[(uint32_t)s - 1];
            if (same_key(r, &in->rec)) {
                r->v =
                    m->combine ? m->combine(r->v, in->rec.v) : r->v + in->rec.v;
                return;
            }
        }
    }
    m->recs[m->n++] = in->rec;
}

/* Records go in by batches whose slots are prefetched first: the slots
 * are tens of MB read at random, and one miss at a time would leave the
 * memory system idle. */
#define BATCH 16

static void merge_part(merger *m, jr_rd r, int where)
{
    incoming b[BATCH];
    while (r.len > 0) { /* checked by count_recs() */
        unsigned n = 0;
        for (; n < BATCH && r.len > 0; n++) {
            incoming *in = &b[n];
            uint32_t klen = jr_get_u32(r.p);
            const uint8_t *key = r.p + JR_REC_HDR;
            in->rec = jr_orec_of(jr_get_u64(r.p + 4), key, klen);
            r.p += JR_REC_HDR + klen;
            r.len -= JR_REC_HDR + klen;
            if (m->slots) {
                in->hash = jr_hash(key, klen);
                in->slot = (size_t)(((in->hash ^ m->seed) *
                                     0xd6e8feb86659fd93ull) >>
                                    m->shift);
                __builtin_prefetch(&m->slots[in->slot]);
            }
        }
        for (unsigned k = 0; k < n; k++)
            merger_add(m, &b[k], where);
    }
}

int jr_shuffle_reduce(const jr_job *job, jr_ctl *ctl, unsigned slot,
                      uint32_t part, const uint32_t *segs, uint32_t nsegs,
                      uint32_t *idx)
{
    *idx = JR_NO_SEG;
    jr_seg *maps = calloc(nsegs ? nsegs : 1, sizeof *maps);
    jr_rd *parts = calloc(nsegs ? nsegs : 1, sizeof *parts);
    merger m = {0};
    int rc = maps && parts ? 0 : JR_ENOMEM;
    size_t total = 0, nonempty = 0, lastn = 0;
    for (uint32_t i = 0; i < nsegs && rc == 0; i++) {
        char name[JR_SHM_NAME_MAX];
        rc = jr_ctl_seg_name(ctl, segs[i], name, sizeof name);
        if (rc == 0)
            rc = jr_shm_attach(&maps[i], name, 0);
        if (rc == 0)
            rc = part_bytes(&maps[i], part, &parts[i]);
        size_t before = total;
        if (rc == 0)
            rc = count_recs(parts[i], &total);
        if (total > before) {
            nonempty++;
            lastn = total - before;
        }
    }
    if (rc < 0 || total == 0)
        goto out;
    rc = JR_ENOMEM;
    if (total >= UINT32_MAX) /* merger slots hold 32-bit indices */
        goto out;
    /* Keys of one map output are distinct already, and the last one's are
     * only looked up: the index holds the others' (at -j 2 on the bench
     * corpus, 2^19 slots where all the records would take 2^21: 4 MB, not
     * 16). */
    rc = merger_init(&m, total, nonempty > 1 ? total - lastn : 0, job->combine);
    if (rc < 0)
        goto out;
    uint32_t first = 0, last = 0;
    for (uint32_t i = 0; i < nsegs; i++)
        if (parts[i].len > 0) {
            if (parts[first].len == 0)
                first = i;
            last = i;
        }
    for (uint32_t i = 0; i < nsegs; i++)
        if (parts[i].len > 0)
            merge_part(&m, parts[i],
                       (i == first ? FIRST : 0) | (i == last ? LAST : 0));
    merger_drop_index(&m);
    jr_orec_sort(job, m.recs, m.n);

    /* Sized to the byte, and written through its descriptor in order:
     * tmpfs then allocates each page as it is written, where reserving and
     * mapping the segment first cost more than the writing. */
    uint64_t end = JR_RUN_HDR;
    for (size_t i = 0; i < m.n; i++)
        end += JR_REC_HDR + m.recs[i].klen;
    size_t nindex = (m.n + JR_RUN_STRIDE - 1) / JR_RUN_STRIDE;
    uint64_t bytes = end + 8 * (uint64_t)nindex;
    jr_seg run = {0};
    int fd = -1;
    rc = bytes > SIZE_MAX ? JR_ENOMEM
                          : jr_ctl_seg_create_sparse(ctl, slot, (size_t)bytes,
                                                     &run, idx, &fd);
    if (rc < 0)
        goto out;
    jr_shm_unmap(&run); /* written through fd, read by the master */
    jr_shm_writer wr;
    uint8_t *index = malloc(nindex ? 8 * nindex : 1);
    rc = index ? jr_shm_writer_init(&wr, fd, 0, JR_SHM_WRITER_MAX) : JR_ENOMEM;
    if (rc < 0) {
        free(index);
        close(fd);
        goto out;
    }
    uint8_t hdr[JR_RUN_HDR] = {0};
    jr_put_u32(hdr, JR_RUN_MAGIC);
    jr_put_u32(hdr + 4, JR_RUN_STRIDE);
    jr_put_u64(hdr + 8, m.n);
    jr_put_u64(hdr + 16, end);
    jr_put_u64(hdr + 24, end);
    jr_shm_writer_put(&wr, hdr, JR_RUN_HDR);
    uint64_t at = JR_RUN_HDR;
    uint8_t k[PADDED_KEY] = {0}; /* a short key, from its record's prefixes */
    for (size_t i = 0; i < m.n; i++) {
        /* Sorted records point all over the map outputs; a key of 12
         * bytes or fewer (nearly every word) is in its record already. */
        if (i + 8 < m.n && m.recs[i + 8].klen > 12)
            __builtin_prefetch(m.recs[i + 8].key);
        if (i % JR_RUN_STRIDE == 0)
            jr_put_u64(index + 8 * (i / JR_RUN_STRIDE), at);
        const jr_orec *r = &m.recs[i];
        if (r->klen <= 12) {
            jr_orec_short_key(r, k);
            write_rec(&wr, k, r->klen, r->v, 1);
        } else {
            write_rec(&wr, r->key, r->klen, r->v, 0); /* read no further */
        }
        at += JR_REC_HDR + r->klen;
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
    free(index);
    close(fd);
    if (rc == 0)
        rc = jr_ctl_seg_ready(ctl, *idx);
out:
    merger_fini(&m);
    for (uint32_t i = 0; maps && i < nsegs; i++)
        jr_shm_unmap(&maps[i]);
    free(maps);
    free(parts);
    return rc;
}
