/*
 * result.c - a job's result: the k-way merge of the reducers' sorted
 * runs, one record per jr_result_next() call, in the job's order, and
 * its split into consecutive ranges that threads merge at once.
 *
 * The result maps the runs itself, so their names can be unlinked as soon
 * as it exists.  The mappings are shared by the result and the parts split
 * from it, and the last of them destroyed unmaps them.  Runs were written
 * by workers: every record and index entry is checked against its run's
 * size.
 */
#include <stdlib.h>
#include <string.h>

#include "runner/runner.h"
#include "util/order.h"
#include "util/pad16.h"

/* One reducer's run, as mapped. */
typedef struct run {
    const uint8_t *base;
    uint64_t end;            /* records lie in [JR_RUN_HDR, end) */
    const uint8_t *padded;   /* keys up to here have 16 bytes readable */
    const uint8_t *index;    /* nindex u64 offsets, one per stride records */
    uint64_t nindex, stride; /* 0 and 0 when the run has no index */
} run;

/* The mappings, shared by a result and its parts. */
typedef struct runs {
    jr_seg *segs;
    run *run;
    size_t n;
    unsigned refs; /* atomic: parts may be destroyed by several threads */
} runs;

/* A place in a run: a record's offset and number. */
typedef struct pos {
    uint64_t off, no;
} pos;

typedef struct cursor {
    const run *run;
    jr_rd rd;        /* the records after rec, to the end of the range */
    jr_orec rec;     /* the next record */
    const uint8_t *at; /* where it starts */
    uint64_t no;     /* the number of the record rd starts with */
    uint64_t end_no; /* the number of the record after the range */
} cursor;

struct jr_result {
    const jr_job *job;
    int by_value; /* job's order is JR_ORDER_VALUE_DESC */
    runs *rs;
    cursor *cur;
    size_t *heap; /* indices into cur, a binary min-heap */
    size_t ncur, nheap;
    uint64_t count;
};

static int load(cursor *c)
{
    if (c->rd.len == 0)
        return 0;
    uint32_t klen;
    uint64_t v;
    size_t h = jr_rec_get_hdr(c->rd.p, c->rd.len, &klen, &v);
    if (h == 0 || c->rd.len - h < klen)
        return JR_EPROTO;
    const uint8_t *key = c->rd.p + h;
    c->at = c->rd.p;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (klen <= 16 && key <= c->run->padded) { /* nearly every word */
        uint64_t k0, k1;
        jr_load16_padded(key, klen, &k0, &k1);
        c->rec = jr_orec_of_words(v, key, klen, k0, k1);
    } else
#endif
        c->rec = jr_orec_of(v, key, klen);
    c->rd.p += h + (size_t)klen;
    c->rd.len -= h + (size_t)klen;
    c->no++;
    return 1;
}

static inline int before(const jr_result *r, size_t a, size_t b)
{
    const jr_orec *x = &r->cur[a].rec, *y = &r->cur[b].rec;
    if (r->by_value) /* wordcount's order, compared inline */
        return jr_orec_value_desc_cmp(x, y) < 0;
    return jr_orec_cmp(r->job, x, y) < 0;
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

/* Start cursor i of r over records [a, b) of run u and put it in the
 * heap when the range is not empty.  @return 0, JR_EPROTO. */
static int start_cursor(jr_result *r, const run *u, pos a, pos b)
{
    if (a.no >= b.no)
        return 0;
    if (b.off < a.off)
        return JR_EPROTO;
    cursor *c = &r->cur[r->ncur++];
    *c = (cursor){.run = u,
                  .rd = {u->base + a.off, (size_t)(b.off - a.off)},
                  .no = a.no,
                  .end_no = b.no};
    int rc = load(c);
    if (rc < 0)
        return rc;
    if (rc == 1)
        r->heap[r->nheap++] = r->ncur - 1;
    r->count += b.no - a.no;
    return 0;
}

static void heapify(jr_result *r)
{
    for (size_t i = r->nheap / 2; i-- > 0;)
        sift_down(r, i);
}

/* Zeroed memory of whole cache lines: the parts of a split are merged by
 * threads at once, and a line shared by two parts' cursors would bounce
 * between their cores at every record. */
static void *lines_alloc(size_t n)
{
    size_t len = (n + 63) / 64 * 64;
    void *p = len >= n ? aligned_alloc(64, len) : NULL;
    if (p)
        memset(p, 0, len);
    return p;
}

/* A result over rs (a reference taken) with room for n cursors. */
static jr_result *result_new(const jr_job *job, runs *rs, size_t n)
{
    if (n > SIZE_MAX / sizeof(cursor))
        return NULL;
    jr_result *r = lines_alloc(sizeof *r);
    if (!r)
        return NULL;
    r->job = job;
    r->by_value = job && job->order == JR_ORDER_VALUE_DESC;
    r->cur = lines_alloc((n ? n : 1) * sizeof *r->cur);
    r->heap = lines_alloc((n ? n : 1) * sizeof *r->heap);
    if (!r->cur || !r->heap) {
        free(r->cur);
        free(r->heap);
        free(r);
        return NULL;
    }
    r->rs = rs;
    __atomic_add_fetch(&rs->refs, 1, __ATOMIC_RELAXED);
    return r;
}

static void runs_release(runs *rs)
{
    if (!rs || __atomic_sub_fetch(&rs->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (size_t i = 0; i < rs->n; i++)
        jr_shm_unmap(&rs->segs[i]);
    free(rs->segs);
    free(rs->run);
    free(rs);
}

/* Check run u's header against its mapping and fill it in.
 * @return its record count, or JR_EPROTO. */
static int64_t run_open(run *u, const jr_seg *s)
{
    const uint8_t *b = s->base;
    if (s->len < JR_RUN_HDR || jr_get_u32(b) != JR_RUN_MAGIC)
        return JR_EPROTO;
    uint64_t stride = jr_get_u32(b + 4), nrec = jr_get_u64(b + 8);
    uint64_t end = jr_get_u64(b + 16), at = jr_get_u64(b + 24);
    if (end > s->len || end < JR_RUN_HDR ||
        nrec > (end - JR_RUN_HDR) / JR_REC_MIN)
        return JR_EPROTO;
    *u = (run){.base = b, .end = end, .padded = b + s->len - 16};
    if (stride) {
        uint64_t n = nrec / stride + (nrec % stride != 0);
        if (at < end || at > s->len || (s->len - at) / 8 < n)
            return JR_EPROTO;
        u->index = b + at;
        u->nindex = n;
        u->stride = stride;
    }
    return (int64_t)nrec;
}

int jr_result_build(jr_pool *p, const jr_job *job, const uint32_t *idx,
                    size_t n, jr_result **out)
{
    jr_result *r = NULL;
    runs *rs = calloc(1, sizeof *rs);
    int rc = JR_ENOMEM;
    if (!rs)
        goto fail;
    rs->refs = 1; /* until r holds it */
    rs->segs = calloc(n ? n : 1, sizeof *rs->segs);
    rs->run = calloc(n ? n : 1, sizeof *rs->run);
    r = rs->segs && rs->run ? result_new(job, rs, n) : NULL;
    runs_release(rs); /* r's reference, or none left to keep it */
    if (!r)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if (idx[i] == JR_NO_SEG)
            continue;
        char name[JR_SHM_NAME_MAX];
        jr_seg *s = &rs->segs[rs->n];
        rc = jr_ctl_seg_name(p->ctl, idx[i], name, sizeof name);
        if (rc == 0)
            rc = jr_shm_attach(s, name, 0);
        if (rc < 0)
            goto fail;
        run *u = &rs->run[rs->n++];
        int64_t nrec = run_open(u, s);
        if (nrec < 0) {
            rc = (int)nrec;
            goto fail;
        }
        rc = start_cursor(r, u, (pos){JR_RUN_HDR, 0},
                          (pos){u->end, (uint64_t)nrec});
        if (rc < 0)
            goto fail;
    }
    heapify(r);
    *out = r;
    return 0;
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

/*-************************************
 *  Splitting
 **************************************/
/* The record at off in run u and the offset after it.
 * @return 0, JR_EPROTO. */
static int rec_at(const run *u, uint64_t off, jr_orec *rec, uint64_t *next)
{
    if (off < JR_RUN_HDR || off > u->end)
        return JR_EPROTO;
    const uint8_t *p = u->base + off;
    uint32_t klen;
    uint64_t v;
    size_t h = jr_rec_get_hdr(p, (size_t)(u->end - off), &klen, &v);
    if (h == 0 || u->end - off - h < klen)
        return JR_EPROTO;
    *rec = jr_orec_of(v, p + h, klen);
    *next = off + h + klen;
    return 0;
}

/* The indexed place j of run u, checked to lie inside [lo, hi). */
static int index_pos(const run *u, uint64_t j, pos lo, pos hi, pos *at)
{
    *at = (pos){jr_get_u64(u->index + 8 * j), j * u->stride};
    return at->off >= lo.off && at->off < hi.off ? 0 : JR_EPROTO;
}

/* The first record of u in [lo, hi) that is not before s in job's order
 * (hi when there is none): a binary search over the index, then a walk of
 * at most one stride.  @return 0, JR_EPROTO. */
static int bound(const jr_job *job, const run *u, const jr_orec *s, pos lo,
                 pos hi, pos *out)
{
    jr_orec m;
    uint64_t next;
    if (u->stride) {
        /* Indexed records strictly inside the range: numbers lo.no + 1
         * to hi.no - 1. */
        uint64_t a = lo.no / u->stride + 1, b = (hi.no - 1) / u->stride + 1;
        uint64_t first = a;
        if (b > u->nindex)
            b = u->nindex;
        while (a < b) {
            uint64_t mid = a + (b - a) / 2;
            pos at;
            if (index_pos(u, mid, lo, hi, &at) < 0 ||
                rec_at(u, at.off, &m, &next) < 0)
                return JR_EPROTO;
            if (jr_orec_cmp(job, &m, s) < 0)
                a = mid + 1;
            else
                b = mid;
        }
        if (a > first && index_pos(u, a - 1, lo, hi, &lo) < 0)
            return JR_EPROTO;
    }
    while (lo.no < hi.no) {
        if (rec_at(u, lo.off, &m, &next) < 0)
            return JR_EPROTO;
        if (jr_orec_cmp(job, &m, s) >= 0)
            break;
        lo = (pos){next, lo.no + 1};
    }
    *out = lo;
    return 0;
}

/* Where cursor c's records start and end. */
static void cursor_range(const cursor *c, pos *a, pos *b)
{
    const uint8_t *end = c->rd.p + c->rd.len;
    *a = (pos){(uint64_t)(c->at - c->run->base), c->no - 1};
    *b = (pos){(uint64_t)(end - c->run->base), c->end_no};
}

/* Up to n - 1 splitters: indexed records of the longest range, spread
 * evenly, each after the one before.  @return how many. */
static size_t splitters(const jr_result *r, const pos *b, size_t n,
                        size_t *longest, pos *sp)
{
    size_t m = r->nheap, L = 0;
    for (size_t i = 1; i < m; i++)
        if (b[2 * i + 1].no - b[2 * i].no > b[2 * L + 1].no - b[2 * L].no)
            L = i;
    *longest = L;
    const run *u = r->cur[r->heap[L]].run;
    pos lo = b[2 * L], hi = b[2 * L + 1];
    size_t k = 0;
    if (!u->stride)
        return 0;
    if (n > u->nindex + 1) /* a part is at least a stride of L's */
        n = (size_t)u->nindex + 1;
    for (size_t i = 1; i < n; i++) {
        uint64_t want =
            lo.no + (uint64_t)((double)(hi.no - lo.no) * (double)i / (double)n);
        uint64_t j = (want + u->stride - 1) / u->stride;
        if (j >= u->nindex || j * u->stride >= hi.no ||
            j * u->stride <= (k ? sp[k - 1].no : lo.no))
            continue;
        /* A bad index (out of the range, or out of order): no split; the
         * merge of the whole result checks every record still. */
        if (index_pos(u, j, lo, hi, &sp[k]) < 0 ||
            sp[k].off <= (k ? sp[k - 1].off : lo.off))
            return 0;
        k++;
    }
    return k;
}

JR_API int jr_result_split(jr_result *r, size_t n, jr_result **out,
                           size_t *nout)
{
    if (nout)
        *nout = 0;
    if (!r || !out || !nout || n == 0)
        return JR_EINVAL;
    for (size_t k = 0; k < n; k++)
        out[k] = NULL;
    size_t m = r->nheap, nsp = 0, L = 0;
    /* No more parts than one a stride of the longest run, plus one: the
     * arrays below stay small whatever n is asked. */
    uint64_t most = 0;
    for (size_t i = 0; i < m; i++)
        if (r->cur[r->heap[i]].run->nindex > most)
            most = r->cur[r->heap[i]].run->nindex;
    if (n > most + 1)
        n = (size_t)most + 1;
    pos *b = calloc(2 * (m ? m : 1), sizeof *b);
    pos *sp = calloc(n, sizeof *sp);
    jr_orec *srec = calloc(n, sizeof *srec);
    pos *cut = calloc((m ? m : 1) * (n + 1), sizeof *cut);
    int rc = JR_ENOMEM;
    if (!b || !sp || !srec || !cut)
        goto out;
    for (size_t i = 0; i < m; i++)
        cursor_range(&r->cur[r->heap[i]], &b[2 * i], &b[2 * i + 1]);
    if (m > 0)
        nsp = splitters(r, b, n, &L, sp);
    /* cut[i * w + k]: where part k begins in range i; part nsp ends at
     * cut[i * w + nsp + 1], the range's end. */
    size_t w = nsp + 2;
    const run *lu = m ? r->cur[r->heap[L]].run : NULL;
    for (size_t k = 0; k < nsp; k++) {
        uint64_t next;
        rc = rec_at(lu, sp[k].off, &srec[k], &next);
        if (rc < 0)
            goto out;
    }
    for (size_t i = 0; i < m; i++) {
        const run *u = r->cur[r->heap[i]].run;
        cut[i * w] = b[2 * i];
        cut[i * w + nsp + 1] = b[2 * i + 1];
        for (size_t k = 0; k < nsp; k++) {
            if (i == L) {
                cut[i * w + k + 1] = sp[k];
                continue;
            }
            rc = bound(r->job, u, &srec[k], cut[i * w + k], b[2 * i + 1],
                       &cut[i * w + k + 1]);
            if (rc < 0)
                goto out;
        }
    }
    for (size_t k = 0; k <= nsp; k++) {
        rc = JR_ENOMEM;
        out[k] = result_new(r->job, r->rs, m);
        if (!out[k])
            goto out;
        for (size_t i = 0; i < m; i++) {
            rc = start_cursor(out[k], r->cur[r->heap[i]].run, cut[i * w + k],
                              cut[i * w + k + 1]);
            if (rc < 0)
                goto out;
        }
        heapify(out[k]);
    }
    *nout = nsp + 1;
    r->nheap = 0; /* every record now belongs to a part */
    rc = 0;
out:
    if (rc < 0)
        for (size_t k = 0; k < n; k++)
            jr_result_destroy(&out[k]);
    free(b);
    free(sp);
    free(srec);
    free(cut);
    return rc;
}

JR_API void jr_result_destroy(jr_result **rp)
{
    if (!rp || !*rp)
        return;
    jr_result *r = *rp;
    runs_release(r->rs);
    free(r->cur);
    free(r->heap);
    free(r);
    *rp = NULL;
}
