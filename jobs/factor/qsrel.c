/*
 * qsrel.c - the quadratic sieve's relations and its end game: storing
 * full relations, pairing partial ones by their large prime, then
 * Gaussian elimination over GF(2) on the exponent parities and, for each
 * dependency, the congruence of squares X^2 = Y^2 (mod n) and gcd(X - Y, n).
 *
 * The matrix is small (a few hundred rows below 2^128), so it is dense:
 * each row holds its parity bits and, beside them, the identity bits that
 * record which relations were added into it.  A row whose parity part
 * becomes zero names a dependency.  Each one splits n with probability at
 * least 1/2, and the sieve gathers a few dozen more rows than columns.
 */
#include <stdlib.h>
#include <string.h>

#include "jobs/factor/factor.h"
#include "util/util.h"

/* a*b mod n through Montgomery form: two products, no division. */
static jr_u128 mulmod(const jr_mont128 *mn, jr_u128 a, jr_u128 b)
{
    return jr_mont128_mul(mn, jr_mont128_mul(mn, a, b), mn->r2);
}

/*-************************************
 *  Storing relations
 **************************************/
void jr_qs_rels_init(jr_qs_rels *s, jr_u128 n)
{
    memset(s, 0, sizeof *s);
    jr_mont128_init(&s->mn, n);
}

void jr_qs_rels_fini(jr_qs_rels *s)
{
    free(s->full);
    free(s->part);
    free(s->pool);
    free(s->hash);
    memset(s, 0, sizeof *s);
}

static int append(jr_qs_rels *s, int full, const jr_qs_rel *r,
                  const uint16_t *f, unsigned nf)
{
    jr_qs_rel **set = full ? &s->full : &s->part;
    size_t *n = full ? &s->nfull : &s->npart;
    size_t *cap = full ? &s->capfull : &s->cappart;
    if (jr_array_reserve(set, cap, *n + 1, sizeof **set, 256) < 0 ||
        jr_array_reserve(&s->pool, &s->cappool, s->npool + nf, sizeof *s->pool,
                         256) < 0)
        return JR_ENOMEM;
    jr_qs_rel *d = &(*set)[(*n)++];
    *d = *r;
    d->off = (uint32_t)s->npool;
    d->nf = (uint16_t)nf;
    memcpy(s->pool + s->npool, f, nf * sizeof *f);
    s->npool += nf;
    return 0;
}

static size_t slot_of(uint64_t lp, size_t cap)
{
    return (size_t)(lp * 0x9e3779b97f4a7c15u >> 32) & (cap - 1);
}

/* Keep the table at most half full, so probes stay short. */
static int rehash(jr_qs_rels *s)
{
    size_t cap = s->hcap ? s->hcap * 2 : 4096;
    jr_qs_slot *h = calloc(cap, sizeof *h);
    if (!h)
        return JR_ENOMEM;
    for (size_t i = 0; i < s->hcap; i++) {
        if (!s->hash[i].lp)
            continue;
        size_t j = slot_of(s->hash[i].lp, cap);
        while (h[j].lp)
            j = (j + 1) & (cap - 1);
        h[j] = s->hash[i];
    }
    free(s->hash);
    s->hash = h;
    s->hcap = cap;
    return 0;
}

int jr_qs_rels_add(jr_qs_rels *s, const jr_qs_rel *r, const uint16_t *f,
                   unsigned nf, uint64_t lp)
{
    if (lp == 1)
        return append(s, 1, r, f, nf);
    if (s->hlen * 2 >= s->hcap && rehash(s) < 0)
        return JR_ENOMEM;
    size_t j = slot_of(lp, s->hcap);
    while (s->hash[j].lp && s->hash[j].lp != lp)
        j = (j + 1) & (s->hcap - 1);
    if (!s->hash[j].lp) {
        s->hash[j].lp = lp;
        s->hash[j].rel = (uint32_t)s->npart;
        s->hlen++;
        return append(s, 0, r, f, nf);
    }
    /* The first relation with this lp stays, and pairs with every later
     * one: each pair is a new full relation with lp squared. */
    const jr_qs_rel *o = &s->part[s->hash[j].rel];
    uint16_t both[256];
    if (nf + o->nf > sizeof both / sizeof *both)
        return 0; /* cannot happen below 2^128; drop it if it did */
    memcpy(both, f, nf * sizeof *f);
    memcpy(both + nf, s->pool + o->off, o->nf * sizeof *f);
    jr_qs_rel full = *r;
    full.y = mulmod(&s->mn, r->y, o->y);
    full.extra =
        mulmod(&s->mn, mulmod(&s->mn, r->extra, o->extra), lp % s->mn.n);
    full.neg = r->neg ^ o->neg;
    return append(s, 1, &full, both, nf + o->nf);
}

/*-************************************
 *  Linear algebra
 **************************************/
typedef struct matrix {
    unsigned nrows, ncols, words; /* words per row: ncols + nrows bits */
    uint64_t *bits;
} matrix;

static uint64_t *row(const matrix *m, unsigned r)
{
    return m->bits + (size_t)r * m->words;
}

static void flip(uint64_t *w, unsigned bit)
{
    w[bit / 64] ^= (uint64_t)1 << (bit % 64);
}

static int test(const uint64_t *w, unsigned bit)
{
    return (w[bit / 64] >> (bit % 64)) & 1;
}

/* Forward elimination; @return the rank.  Rows rank..nrows-1 end with a
 * zero parity part. */
static unsigned eliminate(matrix *m)
{
    unsigned rank = 0;
    for (unsigned c = 0; c < m->ncols && rank < m->nrows; c++) {
        unsigned p = rank;
        while (p < m->nrows && !test(row(m, p), c))
            p++;
        if (p == m->nrows)
            continue;
        uint64_t *pr = row(m, p);
        if (p != rank) {
            uint64_t *rr = row(m, rank);
            for (unsigned w = 0; w < m->words; w++) {
                uint64_t t = pr[w];
                pr[w] = rr[w];
                rr[w] = t;
            }
            pr = rr;
        }
        /* Columns before c are already zero below the pivot. */
        for (unsigned r = rank + 1; r < m->nrows; r++) {
            uint64_t *x = row(m, r);
            if (test(x, c))
                for (unsigned w = c / 64; w < m->words; w++)
                    x[w] ^= pr[w];
        }
        rank++;
    }
    return rank;
}

/* X and Y of one dependency (the identity bits of dep) and the gcd. */
static jr_u128 try_dependency(const jr_qs_rels *s, const uint32_t *fb,
                              unsigned nfb, const uint64_t *dep, unsigned base,
                              uint32_t *cnt)
{
    const jr_mont128 *mn = &s->mn;
    jr_u128 n = mn->n, x = 1, y = 1;
    memset(cnt, 0, nfb * sizeof *cnt);
    for (size_t r = 0; r < s->nfull; r++) {
        if (!test(dep, base + (unsigned)r))
            continue;
        const jr_qs_rel *q = &s->full[r];
        y = mulmod(mn, y, q->y);
        x = mulmod(mn, x, q->extra);
        for (unsigned i = 0; i < q->nf; i++)
            cnt[s->pool[q->off + i]]++;
    }
    for (unsigned i = 0; i < nfb; i++) {
        if (cnt[i] & 1)
            return 1; /* not a square after all: skip it */
        for (uint32_t e = cnt[i] / 2; e > 0; e--)
            x = mulmod(mn, x, fb[i]);
    }
    jr_u128 diff = x >= y ? x - y : y - x;
    return jr_gcd128(diff, n);
}

int jr_qs_rels_solve(const jr_qs_rels *s, const uint32_t *fb, unsigned nfb,
                     jr_u128 *d)
{
    matrix m;
    unsigned nrel = (unsigned)s->nfull;
    m.nrows = nrel;
    m.ncols = nfb + 1; /* column 0: the sign; 1 + i: fb[i] */
    m.words = (m.ncols + nrel + 63) / 64;
    m.bits = calloc((size_t)m.nrows * m.words, sizeof *m.bits);
    uint32_t *cnt = malloc(nfb * sizeof *cnt);
    int rc = JR_ENOMEM;
    if (!m.bits || !cnt)
        goto fail;
    for (unsigned r = 0; r < nrel; r++) {
        const jr_qs_rel *q = &s->full[r];
        uint64_t *w = row(&m, r);
        if (q->neg)
            flip(w, 0);
        for (unsigned i = 0; i < q->nf; i++)
            flip(w, 1 + s->pool[q->off + i]);
        flip(w, m.ncols + r);
    }
    unsigned rank = eliminate(&m);
    rc = JR_EINVAL;
    for (unsigned r = rank; r < nrel; r++) {
        jr_u128 g = try_dependency(s, fb, nfb, row(&m, r), m.ncols, cnt);
        if (g != 1 && g != s->mn.n) {
            *d = g;
            rc = 0;
            break;
        }
    }
fail:
    free(cnt);
    free(m.bits);
    return rc;
}
