/*
 * ecm.c - Lenstra's elliptic curve method for odd composite n below 2^64:
 * Montgomery curves in (X:Z) coordinates with Suyama's parametrisation
 * (group order divisible by 12), stage 1 by Montgomery ladders over
 * products of prime powers, and a baby-step giant-step stage 2 that
 * multiplies the cross differences of all pairs mD +- j that are prime.
 *
 * Rho needs about sqrt(p) steps; ECM finds a 32-bit p with a few dozen
 * curves of a few thousand multiplications each, which is several times
 * faster for the hard 64-bit numbers (two factors near 2^32).  The bounds
 * per size are those of Ben Buhrow's micro-ECM (yafu): B1 from 27 for
 * 40-bit n to 205 for 64-bit n, B2 = 25 B1.
 */
#include <pthread.h>

#include "jobs/factor/factor.h"

#define D 60    /* giant step */
#define NBABY 8 /* the j < D/2 prime to D */
#define NLEVEL 7
#define B2_MUL 25
#define PAIRS_CAP 720 /* primes below 25 * 205, with room */
#define SCAL_CAP 8    /* 64-bit products of prime powers up to B1 */

static const uint8_t baby[NBABY] = {1, 7, 11, 13, 17, 19, 23, 29};
static const unsigned level_b1[NLEVEL] = {27, 47, 70, 85, 125, 165, 205};

/* What a curve does at one B1, worked out once: the stage-1 multiplier
 * as 2^e2 times odd 64-bit pieces, and the (m, j) pairs of stage 2. */
typedef struct plan {
    unsigned e2, nscal, m0, npairs;
    uint64_t scal[SCAL_CAP];
    uint16_t pair[PAIRS_CAP]; /* m << 3 | index of j in baby[] */
} plan;

static plan plans[NLEVEL];
static pthread_once_t plans_once = PTHREAD_ONCE_INIT;

static void plan_build(plan *pl, unsigned b1, const uint8_t *composite)
{
    /* Stage 1 must pass 29: stage 2 starts at m = 1, i.e. at 31. */
    unsigned s1 = b1 < 29 ? 29 : b1, b2 = B2_MUL * b1;
    pl->e2 = 0;
    for (unsigned q = 2; q <= s1; q *= 2)
        pl->e2++;
    pl->nscal = 0;
    uint64_t acc = 1;
    for (unsigned p = 3; p <= s1; p += 2) {
        if (composite[p])
            continue;
        uint64_t pe = p;
        while (pe * p <= s1)
            pe *= p;
        if (acc > UINT64_MAX / pe) {
            pl->scal[pl->nscal++] = acc;
            acc = 1;
        }
        acc *= pe;
    }
    pl->scal[pl->nscal++] = acc;
    pl->npairs = 0;
    pl->m0 = 0;
    for (unsigned m = 1; m * D <= b2 + D; m++) {
        for (unsigned j = 0; j < NBABY; j++) {
            unsigned hi = m * D + baby[j], lo = m * D - baby[j];
            int use = (hi > s1 && hi <= b2 && !composite[hi]) ||
                      (lo > s1 && lo <= b2 && !composite[lo]);
            if (!use || pl->npairs == PAIRS_CAP)
                continue;
            if (pl->m0 == 0)
                pl->m0 = m;
            pl->pair[pl->npairs++] = (uint16_t)(m << 3 | j);
        }
    }
}

static void plans_build(void)
{
    enum { LIMIT = B2_MUL * 205 + D + 32 };
    uint8_t composite[LIMIT] = {1, 1};
    for (unsigned p = 2; p * p < LIMIT; p++)
        if (!composite[p])
            for (unsigned q = p * p; q < LIMIT; q += p)
                composite[q] = 1;
    for (unsigned i = 0; i < NLEVEL; i++)
        plan_build(&plans[i], level_b1[i], composite);
}

/*-************************************
 *  Curve arithmetic
 **************************************/
typedef struct pt {
    uint64_t x, z;
} pt;

static inline pt dbl(const jr_mont64 *m, pt p, uint64_t a24)
{
    uint64_t s = jr_mont64_add(m, p.x, p.z), d = jr_mont64_sub(m, p.x, p.z);
    s = jr_mont64_mul(m, s, s);
    d = jr_mont64_mul(m, d, d);
    uint64_t t = jr_mont64_sub(m, s, d); /* 4xz */
    pt r;
    r.x = jr_mont64_mul(m, s, d);
    r.z = jr_mont64_mul(m, t, jr_mont64_add(m, d, jr_mont64_mul(m, a24, t)));
    return r;
}

/* p + q, given their difference. */
static inline pt dadd(const jr_mont64 *m, pt p, pt q, pt diff)
{
    uint64_t u = jr_mont64_mul(m, jr_mont64_sub(m, p.x, p.z),
                               jr_mont64_add(m, q.x, q.z));
    uint64_t v = jr_mont64_mul(m, jr_mont64_add(m, p.x, p.z),
                               jr_mont64_sub(m, q.x, q.z));
    uint64_t s = jr_mont64_add(m, u, v), d = jr_mont64_sub(m, u, v);
    pt r;
    r.x = jr_mont64_mul(m, diff.z, jr_mont64_mul(m, s, s));
    r.z = jr_mont64_mul(m, diff.x, jr_mont64_mul(m, d, d));
    return r;
}

/* Swap a and b when bit is 1, without a branch: the bits of a ladder's
 * scalar would mispredict half the time. */
static inline void cswap(pt *a, pt *b, uint64_t bit)
{
    uint64_t mask = 0 - bit;
    uint64_t tx = (a->x ^ b->x) & mask, tz = (a->z ^ b->z) & mask;
    a->x ^= tx;
    b->x ^= tx;
    a->z ^= tz;
    b->z ^= tz;
}

/* Montgomery's ladder: [k]p into *r0 and [k+1]p into *r1, k >= 1.  The
 * pair (a, b) = ([j]p, [j+1]p) always differs by p, which dadd needs. */
static void ladder(const jr_mont64 *m, pt p, uint64_t k, uint64_t a24, pt *r0,
                   pt *r1)
{
    pt a = p, b = dbl(m, p, a24);
    for (int i = 62 - __builtin_clzll(k); i >= 0; i--) {
        uint64_t bit = (k >> i) & 1;
        cswap(&a, &b, bit);
        b = dadd(m, b, a, p);
        a = dbl(m, a, a24);
        cswap(&a, &b, bit);
    }
    *r0 = a;
    *r1 = b;
}

/* x^-1 mod n by Euclid, or 0 with *g = gcd(x, n) > 1. */
static uint64_t inverse(uint64_t x, uint64_t n, uint64_t *g)
{
    __extension__ typedef __int128 i128;
    uint64_t r0 = n, r1 = x;
    i128 t0 = 0, t1 = 1;
    while (r1 != 0) {
        uint64_t q = r0 / r1, r = r0 - q * r1;
        i128 t = t0 - (i128)q * t1;
        r0 = r1;
        r1 = r;
        t0 = t1;
        t1 = t;
    }
    *g = r0;
    if (r0 != 1)
        return 0;
    return (uint64_t)(t0 < 0 ? t0 + (i128)n : t0);
}

/* Suyama's curve for sigma: u = s^2 - 5, v = 4s, start (u^3 : v^3),
 * (A + 2)/4 = (v - u)^3 (3u + v) / (16 u^3 v).  @return 0 and the curve,
 * or a factor of n that the inversion met (n itself: a useless sigma). */
static uint64_t curve(const jr_mont64 *m, uint64_t sigma, pt *p, uint64_t *a24)
{
    uint64_t s = jr_mont64_to(m, sigma);
    uint64_t five = jr_mont64_to(m, 5);
    uint64_t u = jr_mont64_sub(m, jr_mont64_mul(m, s, s), five);
    uint64_t v = jr_mont64_add(m, s, s);
    v = jr_mont64_add(m, v, v);
    uint64_t u3 = jr_mont64_mul(m, jr_mont64_mul(m, u, u), u);
    p->x = u3;
    p->z = jr_mont64_mul(m, jr_mont64_mul(m, v, v), v);
    uint64_t w = jr_mont64_sub(m, v, u);
    uint64_t num = jr_mont64_mul(m, jr_mont64_mul(m, w, w), w);
    uint64_t three_u = jr_mont64_add(m, jr_mont64_add(m, u, u), u);
    num = jr_mont64_mul(m, num, jr_mont64_add(m, three_u, v));
    uint64_t den = jr_mont64_mul(m, u3, v);
    for (int i = 0; i < 4; i++)
        den = jr_mont64_add(m, den, den);
    uint64_t g, inv = inverse(jr_mont64_from(m, den), m->n, &g);
    if (g != 1)
        return g;
    *a24 = jr_mont64_mul(m, num, jr_mont64_to(m, inv));
    return 0;
}

/*-************************************
 *  The two stages
 **************************************/
static pt stage1(const jr_mont64 *m, const plan *pl, pt p, uint64_t a24)
{
    for (unsigned i = 0; i < pl->e2; i++)
        p = dbl(m, p, a24);
    for (unsigned i = 0; i < pl->nscal; i++) {
        pt next;
        ladder(m, p, pl->scal[i], a24, &p, &next);
    }
    return p;
}

/* The product of x(mD) z(j) - x(j) z(mD) over the plan's pairs, written
 * as (X - x)(Z + z) - XZ + xz so that a pair costs one multiplication
 * plus one for the product. */
static uint64_t stage2(const jr_mont64 *m, const plan *pl, pt q, uint64_t a24)
{
    pt odd[16], two = dbl(m, q, a24); /* odd[i] = [2i + 1]q */
    odd[0] = q;
    odd[1] = dadd(m, two, q, q);
    for (int i = 2; i < 16; i++)
        odd[i] = dadd(m, odd[i - 1], two, odd[i - 2]);
    pt bp[NBABY];
    uint64_t bxz[NBABY];
    for (int j = 0; j < NBABY; j++) {
        bp[j] = odd[baby[j] / 2];
        bxz[j] = jr_mont64_mul(m, bp[j].x, bp[j].z);
    }
    pt g = dadd(m, odd[15], odd[14], two); /* [60]q = [31]q + [29]q */
    pt cur, next;
    ladder(m, g, pl->m0, a24, &cur, &next);
    unsigned at = pl->m0;
    uint64_t gxz = jr_mont64_mul(m, cur.x, cur.z), acc = m->one;
    for (unsigned i = 0; i < pl->npairs; i++) {
        unsigned mm = pl->pair[i] >> 3, j = pl->pair[i] & 7;
        while (at < mm) {
            pt after = dadd(m, next, g, cur);
            cur = next;
            next = after;
            at++;
            gxz = jr_mont64_mul(m, cur.x, cur.z);
        }
        uint64_t t = jr_mont64_mul(m, jr_mont64_sub(m, cur.x, bp[j].x),
                                   jr_mont64_add(m, cur.z, bp[j].z));
        t = jr_mont64_add(m, jr_mont64_sub(m, t, gxz), bxz[j]);
        acc = jr_mont64_mul(m, acc, t);
    }
    return acc;
}

uint64_t jr_factor_ecm64(uint64_t n, unsigned max_curves)
{
    pthread_once(&plans_once, plans_build);
    int bits = 64 - __builtin_clzll(n);
    unsigned lv = bits <= 40   ? 0
                  : bits <= 44 ? 1
                  : bits <= 48 ? 2
                  : bits <= 52 ? 3
                  : bits <= 58 ? 4
                  : bits <= 62 ? 5
                               : 6;
    const plan *pl = &plans[lv];
    jr_mont64 m;
    jr_mont64_init(&m, n);
    for (unsigned c = 0; c < max_curves; c++) {
        pt p;
        uint64_t a24 = 0, g = curve(&m, 6 + c, &p, &a24);
        if (g != 0) {
            if (g != n)
                return g;
            continue;
        }
        p = stage1(&m, pl, p, a24);
        g = jr_gcd64(p.z, n);
        if (g == n)
            continue; /* every factor at once: try another curve */
        if (g != 1)
            return g;
        g = jr_gcd64(stage2(&m, pl, p, a24), n);
        if (g != 1 && g != n)
            return g;
    }
    return 1;
}
