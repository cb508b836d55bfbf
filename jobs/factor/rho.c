/*
 * rho.c - Pollard's rho with Brent's cycle finding, in Montgomery form,
 * for 64-bit and 128-bit moduli, and binary gcds.
 *
 * Rho finds a prime factor p in about sqrt(p) steps whatever the size of
 * the cofactor, so it does all the splitting below 2^64 and catches the
 * factors below about 2^32 of bigger numbers before the sieve is tried.
 * The differences are multiplied together and a gcd taken once per BATCH
 * steps (Brent 1980), which makes a step two multiplications.
 */
#include "jobs/factor/factor.h"

#define BATCH 128

uint64_t jr_gcd64(uint64_t a, uint64_t b)
{
    if (a == 0)
        return b;
    if (b == 0)
        return a;
    int k = __builtin_ctzll(a | b);
    a >>= __builtin_ctzll(a);
    do {
        b >>= __builtin_ctzll(b);
        if (a > b) {
            uint64_t t = a;
            a = b;
            b = t;
        }
        b -= a;
    } while (b != 0);
    return a << k;
}

static int ctz128(jr_u128 x)
{
    uint64_t lo = (uint64_t)x;
    return lo ? __builtin_ctzll(lo) : 64 + __builtin_ctzll((uint64_t)(x >> 64));
}

jr_u128 jr_gcd128(jr_u128 a, jr_u128 b)
{
    if (a == 0)
        return b;
    if (b == 0)
        return a;
    int k = ctz128(a | b);
    a >>= ctz128(a);
    do {
        b >>= ctz128(b);
        if (a > b) {
            jr_u128 t = a;
            a = b;
            b = t;
        }
        if (a >> 64 == 0 && b >> 64 == 0)
            return (jr_u128)jr_gcd64((uint64_t)a, (uint64_t)b - (uint64_t)a)
                   << k;
        b -= a;
    } while (b != 0);
    return a << k;
}

/*-************************************
 *  64-bit
 **************************************/
/* x -> x^2 + c, with c given as n - c so the addition cannot carry. */
static inline uint64_t step64(const jr_mont64 *m, uint64_t x, uint64_t nc)
{
    uint64_t s = jr_mont64_mul(m, x, x);
    uint64_t r = s - nc;
    return s < nc ? r + m->n : r;
}

static inline uint64_t absdiff64(uint64_t a, uint64_t b)
{
    return a > b ? a - b : b - a;
}

uint64_t jr_factor_rho64(uint64_t n, uint64_t c)
{
    jr_mont64 m;
    jr_mont64_init(&m, n);
    uint64_t nc = n - c % n;
    uint64_t y = 2, x = 2, ys = 2, q = m.one, g = 1;
    for (uint64_t r = 1; g == 1; r <<= 1) {
        x = y;
        for (uint64_t i = 0; i < r; i++)
            y = step64(&m, y, nc);
        for (uint64_t k = 0; k < r && g == 1; k += BATCH) {
            ys = y;
            uint64_t lim = r - k < BATCH ? r - k : BATCH;
            for (uint64_t i = 0; i < lim; i++) {
                y = step64(&m, y, nc);
                q = jr_mont64_mul(&m, q, absdiff64(x, y));
            }
            g = jr_gcd64(q, n);
        }
    }
    if (g == n) {
        /* The batch overshot: the product became 0 mod n.  Step again
         * from the batch's start one difference at a time. */
        do {
            ys = step64(&m, ys, nc);
            g = jr_gcd64(absdiff64(x, ys), n);
        } while (g == 1);
    }
    return g;
}

/*-************************************
 *  128-bit
 **************************************/
static inline jr_u128 step128(const jr_mont128 *m, jr_u128 x, jr_u128 nc)
{
    jr_u128 s = jr_mont128_mul(m, x, x);
    jr_u128 r = s - nc;
    return s < nc ? r + m->n : r;
}

static inline jr_u128 absdiff128(jr_u128 a, jr_u128 b)
{
    return a > b ? a - b : b - a;
}

jr_u128 jr_factor_rho128(jr_u128 n, uint64_t c, uint64_t max_iter)
{
    jr_mont128 m;
    jr_mont128_init(&m, n);
    jr_u128 nc = n - c % n;
    jr_u128 y = 2, x = 2, ys = 2, q = m.one, g = 1;
    uint64_t steps = 0;
    for (uint64_t r = 1; g == 1; r <<= 1) {
        if (max_iter && steps >= max_iter)
            return 1;
        x = y;
        for (uint64_t i = 0; i < r; i++)
            y = step128(&m, y, nc);
        steps += r;
        for (uint64_t k = 0; k < r && g == 1; k += BATCH) {
            ys = y;
            uint64_t lim = r - k < BATCH ? r - k : BATCH;
            for (uint64_t i = 0; i < lim; i++) {
                y = step128(&m, y, nc);
                q = jr_mont128_mul(&m, q, absdiff128(x, y));
            }
            steps += lim;
            g = jr_gcd128(q, n);
            if (g == 1 && max_iter && steps >= max_iter)
                return 1;
        }
    }
    if (g == n) {
        do {
            ys = step128(&m, ys, nc);
            g = jr_gcd128(absdiff128(x, ys), n);
        } while (g == 1);
    }
    return g;
}
