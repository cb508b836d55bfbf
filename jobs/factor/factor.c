/*
 * factor.c - the driver: trial division by the small-prime table, then
 * probable-prime tests and splitting until every piece is prime: rho or
 * ECM below 2^64, a bounded rho then the quadratic sieve above.  Factors
 * come out sorted.
 *
 * Every piece handed to split64()/split128() has no prime factor below
 * JR_FACTOR_TRIAL, so a piece below JR_FACTOR_TRIAL^2 is prime without a
 * test, and rho never meets the tiny factors it is slow on.
 */
#include <math.h>

#include "jobs/factor/factor.h"

#define T2 ((uint64_t)JR_FACTOR_TRIAL * JR_FACTOR_TRIAL)

/* Pieces below 2^40 go to rho, whose sqrt(p) steps are cheap there (p is
 * below 2^20); bigger ones to ECM, which needs a few dozen curves of a few
 * thousand products for p near 2^32 where rho needs 2^16 steps and more. */
#define ECM_ABOVE ((uint64_t)1 << 40)

/* Rho steps tried on a piece above 2^64 before the sieve: a third of the
 * sieve's time for that size (measured: 1 ms at 72 bits, 30 ms at 128),
 * which lets rho take the factors below 2^24 to 2^36 that it finds faster
 * than the sieve would. */
static uint64_t rho128_steps(jr_u128 n)
{
    int bits = 128 - __builtin_clzll((uint64_t)(n >> 64));
    return (uint64_t)(7000 * pow(2.0, (bits - 72) / 10.0));
}

typedef struct flist {
    int n;
    jr_u128 *f;
} flist;

static void push(flist *l, jr_u128 p)
{
    if (l->n < JR_FACTOR_MAX) /* a bound, never reached below 2^128 */
        l->f[l->n++] = p;
}

/*-************************************
 *  Below 2^64
 **************************************/
static void split64(flist *l, uint64_t n);

/* n > 1 with no factor below JR_FACTOR_TRIAL. */
static void piece64(flist *l, uint64_t n)
{
    if (n < T2)
        push(l, n);
    else
        split64(l, n);
}

static int is_square64(uint64_t n, uint64_t *root)
{
    /* Squares mod 64 are 12 of 64 residues: skip the root most times. */
    if (!((0x0202021202030213ull >> (n & 63)) & 1))
        return 0;
    *root = jr_isqrt128(n);
    return *root * *root == n;
}

static void split64(flist *l, uint64_t n)
{
    if (jr_factor_is_prime64(n)) {
        push(l, n);
        return;
    }
    uint64_t r;
    if (is_square64(n, &r)) {
        int before = l->n;
        piece64(l, r);
        for (int i = before, end = l->n; i < end; i++)
            push(l, l->f[i]);
        return;
    }
    uint64_t d = n < ECM_ABOVE ? 1 : jr_factor_ecm64(n, 1000);
    for (uint64_t c = 1; d == n || d == 1; c++)
        d = jr_factor_rho64(n, c);
    piece64(l, d);
    piece64(l, n / d);
}

/* Divide odd n < 2^32 by the primes from index i on, until p^2 > n: what
 * is left is 1 or prime, as the table reaches 2^16.  Whole blocks of 8
 * that divide nothing are skipped by t->skip32. */
static void trial32(flist *l, uint32_t n, unsigned i)
{
    const jr_factor_primes *t = jr_factor_table();
    const uint32_t *inv = t->inv32, *lim = t->lim32;
    uint32_t s = (uint32_t)sqrt((double)n); /* exact below 2^53 */
    for (; i % 8 != 0; i++) {
        while (n * inv[i] <= lim[i]) {
            n *= inv[i];
            push(l, t->p[i]);
        }
    }
    for (unsigned b = i / 8;; b++) {
        b = t->skip32(n, s, b);
        if (b == t->nblocks32)
            break;
        uint32_t before = n;
        for (unsigned j = 8 * b; j < 8 * b + 8; j++) {
            while (n * inv[j] <= lim[j]) {
                n *= inv[j];
                push(l, t->p[j]);
            }
        }
        if (n != before)
            s = (uint32_t)sqrt((double)n);
        if (t->p[8 * b + 7] > s)
            break;
    }
    if (n > 1)
        push(l, n);
}

/* Divide odd n by the primes below JR_FACTOR_TRIAL from index i on,
 * leaving a cofactor with none of them.  Stops as soon as p^2 > n (n is
 * then 1 or prime) or n < 2^32 (trial32 takes over).  Eight primes are
 * tested per round with one branch: the multiplies overlap, and hardly
 * any prime divides. */
static void trial64(flist *l, uint64_t n, unsigned i)
{
    const jr_factor_primes *t = jr_factor_table();
    const uint64_t *inv = t->inv, *lim = t->lim;
    unsigned np = t->nprimes;
    for (; i + 8 <= np; i += 8) {
        if (n >> 32 == 0) {
            trial32(l, (uint32_t)n, i);
            return;
        }
        int hit = 0;
#pragma GCC unroll 8
        for (unsigned j = 0; j < 8; j++)
            hit |= n * inv[i + j] <= lim[i + j];
        if (hit) {
            for (unsigned j = i; j < i + 8; j++) {
                while (n * inv[j] <= lim[j]) {
                    n *= inv[j];
                    push(l, t->p[j]);
                }
            }
        }
        uint64_t p = t->p[i + 7];
        if (p * p > n)
            goto prime;
    }
    for (; i < np; i++) {
        while (n * inv[i] <= lim[i]) {
            n *= inv[i];
            push(l, t->p[i]);
        }
    }
    if (n >> 32 == 0) {
        trial32(l, (uint32_t)n, i);
        return;
    }
    if ((uint64_t)t->p[np - 1] * t->p[np - 1] <= n) {
        piece64(l, n);
        return;
    }
prime:
    if (n > 1)
        push(l, n);
}

/*-************************************
 *  Above 2^64
 **************************************/
static int split128(flist *l, jr_u128 n);

static int piece128(flist *l, jr_u128 n)
{
    if (n >> 64 == 0) {
        piece64(l, (uint64_t)n);
        return 0;
    }
    return split128(l, n);
}

/* n = r^k for k >= 2: factor r once, then repeat its factors.  Prime k
 * up to 7 are enough: r^9 is (r^3)^3, and r >= JR_FACTOR_TRIAL makes
 * r^11 > 2^128.  The sieve cannot split a perfect power. */
static int power128(flist *l, jr_u128 n, int *done)
{
    static const unsigned ks[] = {2, 3, 5, 7};
    *done = 0;
    for (unsigned ik = 0; ik < sizeof ks / sizeof *ks; ik++) {
        unsigned k = ks[ik];
        jr_u128 r = jr_iroot128(n, k), acc = 1;
        for (unsigned i = 0; i < k; i++)
            acc *= r;
        if (acc != n)
            continue;
        int before = l->n;
        int rc = piece128(l, r);
        if (rc < 0)
            return rc;
        int cnt = l->n - before;
        for (unsigned j = 1; j < k; j++)
            for (int i = 0; i < cnt; i++)
                push(l, l->f[before + i]);
        *done = 1;
        return 0;
    }
    return 0;
}

static int split128(flist *l, jr_u128 n)
{
    if (jr_factor_is_prime128(n)) {
        push(l, n);
        return 0;
    }
    int done, rc = power128(l, n, &done);
    if (rc < 0 || done)
        return rc;
    jr_u128 d = jr_factor_rho128(n, 1, rho128_steps(n));
    if (d == 1 || d == n) {
        rc = jr_factor_qs(n, &d);
        if (rc == JR_ENOMEM)
            return rc;
        /* The sieve came back empty handed (never seen): unbounded rho,
         * slow but sure. */
        for (uint64_t c = 2; rc < 0 && (d == 1 || d == n); c++) {
            d = jr_factor_rho128(n, c, 0);
            if (d != 1 && d != n)
                rc = 0;
        }
    }
    rc = piece128(l, d);
    return rc < 0 ? rc : piece128(l, n / d);
}

static int trial128(flist *l, jr_u128 n)
{
    const jr_factor_primes *t = jr_factor_table();
    for (unsigned i = 0; i < t->nprimes; i++) {
        if (n >> 64 == 0) {
            /* Resume in 64-bit arithmetic; the primes before i are gone. */
            trial64(l, (uint64_t)n, i);
            return 0;
        }
        while (n * t->inv2[i] <= t->lim2[i]) {
            n *= t->inv2[i];
            push(l, t->p[i]);
        }
    }
    return piece128(l, n);
}

/*-************************************
 *  The whole
 **************************************/
int jr_factor(jr_u128 n, jr_u128 *f)
{
    flist l = {0, f};
    if (n < 2)
        return 0;
    while (!(n & 1)) {
        push(&l, 2);
        n >>= 1;
    }
    int rc = 0;
    if (n >> 64 == 0)
        trial64(&l, (uint64_t)n, 0);
    else
        rc = trial128(&l, n);
    if (rc < 0)
        return rc;
    /* Insertion sort: the list is short and mostly sorted already. */
    for (int i = 1; i < l.n; i++) {
        jr_u128 v = f[i];
        int j = i;
        while (j > 0 && f[j - 1] > v) {
            f[j] = f[j - 1];
            j--;
        }
        f[j] = v;
    }
    return l.n;
}
