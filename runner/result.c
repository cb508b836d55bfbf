/*
 * result.c - a job's result: the k-way merge of the reducers' sorted
 * runs, one record per jr_result_next() call, in the job's order.
 *
 * The result maps the runs itself, so their names can be unlinked as soon
 * as it exists; it owns the mappings until jr_result_destroy().  Runs were
 * written by workers: every record is checked against its run's size.
 */
#include <stdlib.h>
#include <string.h>

#include "runner/runner.h"
#include "util/order.h"

typedef struct cursor {
    jr_rd rd;
    jr_orec rec; /* the run's next record */
} cursor;

struct jr_result {
    const jr_job *job;
    jr_seg *segs;
    cursor *cur;
    size_t *heap; /* indices into cur, a binary min-heap */
    size_t n, nheap;
    uint64_t count;
};

static int load(cursor *c)
{
    if (c->rd.len == 0)
        return 0;
    if (c->rd.len < JR_REC_HDR)
        return JR_EPROTO;
    uint32_t klen = jr_get_u32(c->rd.p);
    if (c->rd.len - JR_REC_HDR < klen)
        return JR_EPROTO;
    c->rec.v = jr_get_u64(c->rd.p + 4);
    c->rec.key = c->rd.p + JR_REC_HDR;
    c->rec.klen = klen;
    c->rec.pfx = jr_key_prefix(c->rec.key, klen);
    c->rd.p += JR_REC_HDR + (size_t)klen;
    c->rd.len -= JR_REC_HDR + (size_t)klen;
    return 1;
}

static int before(const jr_result *r, size_t a, size_t b)
{
    return jr_orec_cmp(r->job, &r->cur[a].rec, &r->cur[b].rec) < 0;
}

static void sift_down(jr_result *r, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < r->nheap && before(r, r->heap[l], r->heap[m]))
            m = l;
        if (l + 1 < r->nheap && before(r, r->heap[l + 1], r->heap[m]))
            m = l + 1;
        if (m == i)
            return;
        size_t t = r->heap[i];
        r->heap[i] = r->heap[m];
        r->heap[m] = t;
        i = m;
    }
}

int jr_result_build(jr_pool *p, const jr_job *job, const uint32_t *idx,
                    size_t n, jr_result **out)
{
    jr_result *r = calloc(1, sizeof *r);
    if (!r)
        return JR_ENOMEM;
    r->job = job;
    if (n) {
        r->segs = calloc(n, sizeof *r->segs);
        r->cur = calloc(n, sizeof *r->cur);
        r->heap = calloc(n, sizeof *r->heap);
        if (!r->segs || !r->cur || !r->heap)
            goto nomem;
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (idx[i] == JR_NO_SEG)
            continue;
        char name[JR_SHM_NAME_MAX];
        jr_seg *s = &r->segs[r->n];
        rc = jr_ctl_seg_name(p->ctl, idx[i], name, sizeof name);
        if (rc == 0)
            rc = jr_shm_attach(s, name, 0);
        if (rc < 0)
            goto fail;
        r->n++;
        const uint8_t *b = s->base;
        if (s->len < 32 || jr_get_u32(b) != JR_RUN_MAGIC ||
            jr_get_u64(b + 16) > s->len || jr_get_u64(b + 16) < 32) {
            rc = JR_EPROTO;
            goto fail;
        }
        cursor *c = &r->cur[r->n - 1];
        c->rd = (jr_rd){b + 32, (size_t)jr_get_u64(b + 16) - 32};
        r->count += jr_get_u64(b + 8);
        rc = load(c);
        if (rc < 0)
            goto fail;
        if (rc == 1)
            r->heap[r->nheap++] = r->n - 1;
    }
    for (size_t i = r->nheap / 2; i-- > 0;)
        sift_down(r, i);
    *out = r;
    return 0;
nomem:
    rc = JR_ENOMEM;
fail:
    jr_pool_fail(p, rc, "cannot read the reducers' runs: %s",
                 jr_strerror(rc));
    jr_result_destroy(&r);
    return rc;
}

JR_API int jr_result_next(jr_result *r, const void **key, size_t *klen,
                          uint64_t *value)
{
    if (!r || r->nheap == 0)
        return 0;
    cursor *c = &r->cur[r->heap[0]];
    *key = c->rec.key;
    *klen = c->rec.klen;
    *value = c->rec.v;
    /* The record stays valid: it lives in the mapping, not in c. */
    if (load(c) != 1)
        r->heap[0] = r->heap[--r->nheap];
    sift_down(r, 0);
    return 1;
}

JR_API uint64_t jr_result_count(const jr_result *r)
{
    return r ? r->count : 0;
}

JR_API void jr_result_destroy(jr_result **rp)
{
    if (!rp || !*rp)
        return;
    jr_result *r = *rp;
    for (size_t i = 0; i < r->n; i++)
        jr_shm_unmap(&r->segs[i]);
    free(r->segs);
    free(r->cur);
    free(r->heap);
    free(r);
    *rp = NULL;
}
