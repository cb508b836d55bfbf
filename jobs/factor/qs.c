/*
 * qs.c - the multiple-polynomial quadratic sieve (Silverman 1987) with
 * one large prime, for the numbers rho and ECM are too slow on: products
 * of two primes near 2^64 take rho about 2^32 steps, and the sieve about
 * 20 ms.
 *
 * With a Knuth-Schroeppel multiplier k and a = q^2 (q prime, q = 3 mod 4,
 * kN a square mod q), b^2 = kN (mod a) and c = (b^2 - kN)/a, every x in
 * [-M, M) gives (ax + b)^2 = a*g(x) (mod N), g(x) = ax^2 + 2bx + c, of
 * size about M*sqrt(kN/2): below 2^84, so all of it fits in __int128 even
 * though kN itself may pass 2^128 (it is never formed).  A sieve on
 * log|g| finds the x whose g(x) is smooth over the factor base; those
 * with one prime left over, below the large-prime bound, pair up by that
 * prime.  Relations and the linear algebra are in qsrel.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/factor/factor.h"

__extension__ typedef __int128 i128;

#define EXTRA 24          /* rows beyond columns: about 2^-24 to fail */
#define SMALL_SKIP 30     /* primes below are trial divided, not sieved */
#define MAX_POLYS 200000u /* a give-up bound, far above any real need */

static const struct {
    unsigned bits, nfb, m; /* bits of kN; factor base; half interval */
    double slack;          /* threshold below log2 max|g|, in bits */
} params[] = {
    {72, 60, 8192, 18},    {80, 90, 12288, 20},   {90, 130, 16384, 22},
    {100, 190, 24576, 24}, {110, 260, 32768, 26}, {120, 360, 32768, 28},
    {130, 480, 40960, 30}, {999, 620, 49152, 31},
};

typedef struct prime {
    uint32_t p, t;    /* t^2 = kN (mod p) */
    uint32_t r1, r2;  /* sieve starts of this polynomial */
    uint64_t magic;   /* floor(2^40 / p) + 1: i mod p for i < 2^17 */
    jr_u128 inv, lim; /* exact division by p modulo 2^128 */
    uint8_t logp;
} prime;

typedef struct qs {
    jr_u128 n;
    uint32_t k;
    unsigned nfb, m;
    prime *fb;
    uint32_t *fbp; /* the primes alone, for the linear algebra */
    uint8_t *sieve;
    uint64_t lpmax;
    jr_qs_rels rels;
} qs;

/*-************************************
 *  Small modular helpers
 **************************************/
static uint32_t powmod32(uint32_t a, uint32_t e, uint32_t p)
{
    uint64_t r = 1, b = a % p;
    for (; e; e >>= 1, b = b * b % p)
        if (e & 1)
            r = r * b % p;
    return (uint32_t)r;
}

static uint32_t invmod32(uint32_t a, uint32_t p)
{
    int64_t t0 = 0, t1 = 1;
    uint32_t r0 = p, r1 = a % p;
    while (r1) {
        uint32_t q = r0 / r1, r = r0 - q * r1;
        int64_t t = t0 - (int64_t)q * t1;
        r0 = r1;
        r1 = r;
        t0 = t1;
        t1 = t;
    }
    return (uint32_t)(t0 < 0 ? t0 + p : t0);
}

/* Tonelli-Shanks: a square root of a quadratic residue a mod prime p. */
static uint32_t sqrtmod32(uint32_t a, uint32_t p)
{
    if (a == 0)
        return 0;
    if (p % 4 == 3)
        return powmod32(a, (p + 1) / 4, p);
    uint32_t q = p - 1, s = 0, z = 2;
    while (!(q & 1)) {
        q >>= 1;
        s++;
    }
    while (powmod32(z, (p - 1) / 2, p) != p - 1)
        z++;
    uint64_t c = powmod32(z, q, p), r = powmod32(a, (q + 1) / 2, p);
    uint64_t t = powmod32(a, q, p);
    while (t != 1) {
        uint32_t i = 0;
        for (uint64_t u = t; u != 1; u = u * u % p)
            i++;
        uint64_t b = c;
        for (uint32_t j = 0; j + i + 1 < s; j++)
            b = b * b % p;
        r = r * b % p;
        c = b * b % p;
        t = t * c % p;
        s = i;
    }
    return (uint32_t)r;
}

/* kN mod m for m < 2^64: kN is never formed. */
static uint64_t kn_mod(const qs *s, uint64_t m)
{
    return (uint64_t)((jr_u128)(uint64_t)(s->n % m) * s->k % m);
}

/*-************************************
 *  Set-up: multiplier and factor base
 **************************************/
/* p < 2^24 prime, by the trial-division table. */
static int small_prime(uint32_t p)
{
    const jr_factor_primes *t = jr_factor_table();
    if (p < 3 || !(p & 1))
        return p == 2;
    for (unsigned i = 0; i < t->nprimes && t->p[i] * t->p[i] <= p; i++)
        if (p * t->inv[i] <= t->lim[i])
            return 0;
    return 1;
}

/* Jacobi symbol (a/p) for odd p, by reciprocity. */
static int jacobi32(uint32_t a, uint32_t p)
{
    int t = 1;
    a %= p;
    while (a) {
        while (!(a & 1)) {
            a >>= 1;
            if ((p & 7) == 3 || (p & 7) == 5)
                t = -t;
        }
        uint32_t x = a;
        a = p;
        p = x;
        if ((a & 3) == 3 && (p & 3) == 3)
            t = -t;
        a %= p;
    }
    return p == 1 ? t : 0;
}

/* Knuth-Schroeppel: the k whose kN has the most small square roots,
 * weighed against the sqrt(k) it adds to every g(x). */
static uint32_t multiplier(jr_u128 n)
{
    static const uint8_t ks[] = {1,  3,  5,  7,  11, 13, 15, 17, 19, 21,
                                 23, 29, 31, 33, 35, 37, 39, 41, 43, 47,
                                 51, 53, 55, 57, 59, 61, 65, 67, 69, 71};
    double score[sizeof ks];
    for (unsigned i = 0; i < sizeof ks; i++) {
        unsigned kn8 = (unsigned)((n % 8) * ks[i] % 8);
        score[i] = -0.5 * log(ks[i]) + (kn8 == 1   ? 2
                                        : kn8 == 5 ? 1
                                                   : 0.5) *
                                           log(2);
    }
    for (uint32_t p = 3; p < 600; p += 2) {
        if (!small_prime(p))
            continue;
        uint32_t np = (uint32_t)(n % p);
        double lp = log(p);
        for (unsigned i = 0; i < sizeof ks; i++) {
            uint32_t r = (uint32_t)((uint64_t)np * ks[i] % p);
            if (r == 0)
                score[i] += lp / p;
            else if (jacobi32(r, p) == 1)
                score[i] += 2 * lp / (p - 1);
        }
    }
    unsigned best = 0;
    for (unsigned i = 1; i < sizeof ks; i++)
        if (score[i] > score[best])
            best = i;
    return ks[best];
}

static void add_prime(qs *s, uint32_t p, uint32_t t)
{
    prime *e = &s->fb[s->nfb];
    jr_u128 inv = jr_inv64(p);
    e->p = p;
    e->t = t;
    e->magic = ((uint64_t)1 << 40) / p + 1;
    e->inv = inv * (2 - (jr_u128)p * inv);
    e->lim = JR_U128_MAX / p;
    e->logp = (uint8_t)(log2(p) + 0.5);
    s->fbp[s->nfb++] = p;
}

static void factor_base(qs *s, unsigned want)
{
    add_prime(s, 2, 1); /* 2 is never sieved, only divided out */
    for (uint32_t p = 3; s->nfb < want; p += 2) {
        if (!small_prime(p))
            continue;
        uint32_t r = (uint32_t)kn_mod(s, p);
        if (r == 0 || jacobi32(r, p) == 1)
            add_prime(s, p, sqrtmod32(r, p));
    }
}

/*-************************************
 *  Polynomials
 **************************************/
typedef struct poly {
    uint64_t q, a, b;
    i128 c;
} poly;

/* The next q above *q with q = 3 mod 4, prime, (kN/q) = 1; then b by
 * Hensel lifting sqrt(kN) mod q to mod q^2, and c exactly. */
static void next_poly(qs *s, uint64_t *qcur, poly *py)
{
    uint64_t q = *qcur, t;
    for (;;) {
        q += 4;
        if (!jr_factor_is_prime64(q))
            continue;
        uint64_t r = kn_mod(s, q);
        jr_mont64 m;
        jr_mont64_init(&m, q);
        uint64_t rm = jr_mont64_to(&m, r);
        /* Euler's criterion, then the root: q = 3 mod 4 makes it a power. */
        if (jr_mont64_pow(&m, rm, (q - 1) / 2) != m.one)
            continue;
        t = jr_mont64_from(&m, jr_mont64_pow(&m, rm, (q + 1) / 4));
        break;
    }
    *qcur = q;
    uint64_t a = q * q;
    uint64_t kn2 = kn_mod(s, a);
    /* (kN - t^2)/q mod q, times (2t)^-1 mod q. */
    uint64_t t2 = (uint64_t)((jr_u128)t * t % a);
    uint64_t e = (kn2 >= t2 ? kn2 - t2 : kn2 + a - t2) / q;
    jr_mont64 m;
    jr_mont64_init(&m, q);
    uint64_t inv2t = jr_mont64_pow(&m, jr_mont64_to(&m, 2 * t % q), q - 2);
    uint64_t sft =
        jr_mont64_from(&m, jr_mont64_mul(&m, jr_mont64_to(&m, e), inv2t));
    py->q = q;
    py->a = a;
    py->b = t + q * sft;
    /* kN = k(N div a) a + k(N mod a): c = (b^2 - k(N mod a))/a - k(N div a) */
    jr_u128 nq = s->n / a, nr = s->n % a;
    i128 top = (i128)((jr_u128)py->b * py->b) - (i128)(nr * s->k);
    py->c = top / (i128)a - (i128)(nq * s->k);
}

/* Sieve starts: x = (+-t - b) / a (mod p), as indices i = x + M. */
static void roots(qs *s, const poly *py)
{
    for (unsigned i = 1; i < s->nfb; i++) {
        prime *e = &s->fb[i];
        uint32_t p = e->p;
        uint32_t ainv = invmod32((uint32_t)(py->a % p), p);
        uint32_t bm = (uint32_t)(py->b % p), mm = s->m % p;
        uint64_t x1 = (uint64_t)(e->t + p - bm) * ainv % p;
        uint64_t x2 = (uint64_t)(2 * p - e->t - bm) % p * ainv % p;
        e->r1 = (uint32_t)((x1 + mm) % p);
        e->r2 = (uint32_t)((x2 + mm) % p);
    }
}

/*-************************************
 *  Sieving
 **************************************/
/* Trial-divide g(x) at sieve index i by the factor base, using the sieve
 * starts: p divides g(x) exactly when i mod p is one of them. */
static int candidate(qs *s, const poly *py, unsigned i)
{
    i128 x = (i128)i - s->m;
    i128 g = ((i128)py->a * x + 2 * (i128)py->b) * x + py->c;
    if (g == 0)
        return 0;
    jr_qs_rel r;
    r.neg = g < 0;
    jr_u128 v = g < 0 ? (jr_u128)-g : (jr_u128)g;
    uint16_t f[160];
    unsigned nf = 0;
    for (; !(v & 1) && nf < 160; v >>= 1)
        f[nf++] = 0;
    for (unsigned j = 1; j < s->nfb; j++) {
        const prime *e = &s->fb[j];
        uint32_t rem = i - (uint32_t)((i * e->magic) >> 40) * e->p;
        if (rem != e->r1 && rem != e->r2)
            continue;
        do {
            v *= e->inv;
            if (nf < 160)
                f[nf++] = (uint16_t)j;
        } while (v * e->inv <= e->lim);
    }
    if (nf == 160 || (v != 1 && v > s->lpmax))
        return 0;
    i128 ax = (i128)py->a * x + (i128)py->b;
    r.y = (ax < 0 ? (jr_u128)-ax : (jr_u128)ax) % s->n;
    r.extra = py->q % s->n;
    return jr_qs_rels_add(&s->rels, &r, f, nf, (uint64_t)v);
}

static int sieve_poly(qs *s, const poly *py, uint8_t init)
{
    unsigned len = 2 * s->m;
    uint8_t *sv = s->sieve;
    memset(sv, init, len);
    for (unsigned j = 1; j < s->nfb; j++) {
        const prime *e = &s->fb[j];
        if (e->p < SMALL_SKIP)
            continue;
        uint8_t lg = e->logp;
        unsigned p = e->p;
        for (unsigned i = e->r1; i < len; i += p)
            sv[i] += lg;
        if (e->r2 != e->r1)
            for (unsigned i = e->r2; i < len; i += p)
                sv[i] += lg;
    }
    /* A byte past 127 is a candidate: eight at a time. */
    for (unsigned w = 0; w < len; w += 8) {
        uint64_t v;
        memcpy(&v, sv + w, 8);
        if (!(v & 0x8080808080808080u))
            continue;
        for (unsigned b = 0; b < 8; b++) {
            if (sv[w + b] & 0x80) {
                int rc = candidate(s, py, w + b);
                if (rc < 0)
                    return rc;
            }
        }
    }
    return 0;
}

int jr_factor_qs(jr_u128 n, jr_u128 *d)
{
    *d = 1;
    if (n >> 40 == 0 || !(n & 1))
        return JR_EINVAL;
    qs s;
    memset(&s, 0, sizeof s);
    jr_qs_rels_init(&s.rels, n);
    s.n = n;
    s.k = multiplier(n);
    double lkn = log2((double)n) + log2(s.k);
    unsigned pi = 0;
    while (params[pi].bits < lkn)
        pi++;
    s.m = params[pi].m;
    int rc = JR_ENOMEM;
    s.fb = malloc(params[pi].nfb * sizeof *s.fb);
    s.fbp = malloc(params[pi].nfb * sizeof *s.fbp);
    s.sieve = malloc(2 * (size_t)s.m);
    if (!s.fb || !s.fbp || !s.sieve)
        goto fail;
    factor_base(&s, params[pi].nfb);
    uint64_t pmax = s.fb[s.nfb - 1].p;
    s.lpmax = pmax * 64;
    /* Bytes start at 128 - threshold: a sum of logs reaching the
     * threshold sets the top bit.  log2 max|g| = log2 M + log2(kN/2)/2. */
    double top = log2(s.m) + (lkn - 1) / 2;
    int th = (int)(top - params[pi].slack + 0.5);
    uint8_t init = (uint8_t)(128 - (th < 8 ? 8 : th > 120 ? 120 : th));
    /* q near (2kN)^(1/4) / sqrt(M) makes a = q^2 = sqrt(2kN)/M, but above
     * the factor base, so that no base prime divides a. */
    double qd = pow(2.0, (lkn + 1) / 4) / sqrt(s.m);
    uint64_t q = qd > pmax ? (uint64_t)qd : pmax + 1;
    q = (q & ~(uint64_t)3) + 3 - 4; /* next_poly steps by 4 from here */
    unsigned want = s.nfb + 1 + EXTRA;
    for (unsigned np = 0; np < MAX_POLYS; np++) {
        poly py;
        next_poly(&s, &q, &py);
        roots(&s, &py);
        rc = sieve_poly(&s, &py, init);
        if (rc < 0)
            goto fail;
        if (s.rels.nfull >= want) {
            rc = jr_qs_rels_solve(&s.rels, s.fbp, s.nfb, d);
            if (rc != JR_EINVAL)
                goto fail;               /* done, either way */
            want = s.rels.nfull + EXTRA; /* all trivial: more rows */
        }
    }
    rc = JR_EINVAL;
fail:
    free(s.sieve);
    free(s.fbp);
    free(s.fb);
    jr_qs_rels_fini(&s.rels);
    return rc;
}
