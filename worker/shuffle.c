/*
 * shuffle.c - the worker's half of the shuffle.
 *
 * At the end of a map phase a worker writes its combining table into one
 * shared-memory segment, split into partitions by key hash (flush).  A
 * reducer then merges partition p of every map output into a fresh table,
 * sorts it in the job's order and writes a sorted run (reduce), which the
 * master k-way merges.  Segments are read as untrusted: every offset and
 * length is checked against the segment's size.
 */
#include <stdlib.h>
#include <string.h>

#include "worker/table.h"
#include "worker/worker.h"

static uint32_t part_of(uint64_t hash, uint32_t nparts)
{
    /* The table indexes with the low bits; use the high ones here so a
     * partition does not crowd a few buckets of the reducer's table. */
    return (uint32_t)((hash >> 32) % nparts);
}

static uint8_t *put_rec(uint8_t *p, const void *key, size_t klen, uint64_t v)
{
    jr_put_u32(p, (uint32_t)klen);
    jr_put_u64(p + 4, v);
    memcpy(p + JR_REC_HDR, key, klen);
    return p + JR_REC_HDR + klen;
}

int jr_shuffle_flush(struct jr_map_ctx *ctx, jr_ctl *ctl, unsigned slot,
                     uint32_t nparts, uint32_t *idx)
{
    jr_table *t = ctx->table;
    *idx = JR_NO_SEG;
    if (jr_table_count(t) == 0)
        return 0;

    size_t hdr = 8 + 8 * ((size_t)nparts + 1);
    uint64_t *sizes = calloc(nparts, sizeof *sizes);
    uint8_t **at = calloc(nparts, sizeof *at);
    int rc = JR_ENOMEM;
    if (!sizes || !at)
        goto out;

    size_t cur = 0;
    const void *key;
    size_t klen;
    uint64_t v, h;
    while (jr_table_next(t, &cur, &key, &klen, &v, &h))
        sizes[part_of(h, nparts)] += JR_REC_HDR + klen;

    jr_seg seg = {0};
    size_t total = hdr;
    for (uint32_t p = 0; p < nparts; p++)
        total += sizes[p];
    rc = jr_ctl_seg_create(ctl, slot, total, &seg, idx);
    if (rc < 0)
        goto out;

    uint8_t *base = seg.base;
    jr_put_u32(base, JR_MAPOUT_MAGIC);
    jr_put_u32(base + 4, nparts);
    uint64_t off = hdr;
    for (uint32_t p = 0; p <= nparts; p++) {
        jr_put_u64(base + 8 + 8 * (size_t)p, off);
        if (p < nparts) {
            at[p] = base + off;
            off += sizes[p];
        }
    }
    cur = 0;
    while (jr_table_next(t, &cur, &key, &klen, &v, &h)) {
        uint32_t p = part_of(h, nparts);
        at[p] = put_rec(at[p], key, klen, v);
    }
    jr_shm_unmap(&seg);
    rc = jr_ctl_seg_ready(ctl, *idx);
    jr_table_clear(t);
out:
    free(sizes);
    free(at);
    return rc;
}

/* Read partition `part` of one map output into t. */
static int merge_part(jr_table *t, const jr_seg *seg, uint32_t part)
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
    jr_rd r = {base + lo, (size_t)(hi - lo)};
    while (r.len > 0) {
        uint32_t klen;
        uint64_t v;
        const uint8_t *key;
        if (jr_rd_u32(&r, &klen) < 0 || jr_rd_u64(&r, &v) < 0 ||
            jr_rd_bytes(&r, klen, &key) < 0)
            return JR_EPROTO;
        int rc = jr_table_add(t, key, klen, v);
        if (rc < 0)
            return rc;
    }
    return 0;
}

typedef struct rec {
    const uint8_t *key;
    size_t klen;
    uint64_t v;
} rec;

static int cmp_rec(const void *a, const void *b, void *arg)
{
    const rec *x = a, *y = b;
    const jr_job *job = arg;
    if (job->cmp)
        return job->cmp(x->key, x->klen, x->v, y->key, y->klen, y->v);
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    return (x->klen > y->klen) - (x->klen < y->klen);
}

int jr_shuffle_reduce(const jr_job *job, jr_ctl *ctl, unsigned slot,
                      uint32_t part, const uint32_t *segs, uint32_t nsegs,
                      uint32_t *idx)
{
    jr_table *t = NULL;
    rec *recs = NULL;
    int rc = jr_table_new(&t, job->combine);
    *idx = JR_NO_SEG;
    if (rc < 0)
        return rc;
    for (uint32_t i = 0; i < nsegs && rc == 0; i++) {
        jr_seg seg = {0};
        char name[JR_SHM_NAME_MAX];
        rc = jr_ctl_seg_name(ctl, segs[i], name, sizeof name);
        if (rc == 0)
            rc = jr_shm_attach(&seg, name, 0);
        if (rc == 0) {
            rc = merge_part(t, &seg, part);
            jr_shm_unmap(&seg);
        }
    }
    size_t n = jr_table_count(t);
    if (rc < 0 || n == 0)
        goto out;

    recs = malloc(n * sizeof *recs);
    rc = JR_ENOMEM;
    if (!recs)
        goto out;
    size_t cur = 0, i = 0, bytes = 32;
    const void *key;
    size_t klen;
    uint64_t v, h;
    while (jr_table_next(t, &cur, &key, &klen, &v, &h)) {
        recs[i++] = (rec){key, klen, v};
        bytes += JR_REC_HDR + klen;
    }
    qsort_r(recs, n, sizeof *recs, cmp_rec, (void *)job);

    jr_seg run = {0};
    rc = jr_ctl_seg_create(ctl, slot, bytes, &run, idx);
    if (rc < 0)
        goto out;
    uint8_t *p = run.base;
    jr_put_u32(p, JR_RUN_MAGIC);
    jr_put_u32(p + 4, 0);
    jr_put_u64(p + 8, n);
    jr_put_u64(p + 16, bytes);
    jr_put_u64(p + 24, 0);
    p += 32;
    for (i = 0; i < n; i++)
        p = put_rec(p, recs[i].key, recs[i].klen, recs[i].v);
    jr_shm_unmap(&run);
    rc = jr_ctl_seg_ready(ctl, *idx);
out:
    free(recs);
    jr_table_destroy(&t);
    return rc;
}
