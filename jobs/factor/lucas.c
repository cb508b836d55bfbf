/*
 * lucas.c - the strong Lucas probable-prime test that completes BPSW for
 * numbers above 2^64, and the integer helpers it and the factoring driver
 * share: square and k-th roots, and the Jacobi symbol.
 *
 * Lucas parameters are Selfridge's method A: the first D in 5, -7, 9, -11,
 * ... with (D/n) = -1, P = 1, Q = (1 - D)/4 (Baillie and Wagstaff 1980).
 */
#include <math.h>

#include "jobs/factor/factor.h"

/*-************************************
 *  Roots
 **************************************/
static uint64_t isqrt64(uint64_t n)
{
    /* The double is off by at most one either way below 2^64. */
    uint64_t s = (uint64_t)sqrt((double)n);
    if (s > UINT32_MAX)
        s = UINT32_MAX;
    while ((jr_u128)s * s > n)
        s--;
    while ((jr_u128)(s + 1) * (s + 1) <= n)
        s++;
    return s;
}

uint64_t jr_isqrt128(jr_u128 n)
{
    if (n >> 64 == 0)
        return isqrt64((uint64_t)n);
    /* Newton from a double estimate: the first step lands at or above
     * the root (arithmetic-geometric mean), then it only descends. */
    jr_u128 x = (jr_u128)sqrt((double)n);
    x = (x + n / x) >> 1;
    for (;;) {
        jr_u128 y = (x + n / x) >> 1;
        if (y >= x)
            break;
        x = y;
    }
    return (uint64_t)x;
}

/* r^k <= n, without overflow. */
static int pow_le(jr_u128 r, unsigned k, jr_u128 n)
{
    jr_u128 acc = 1;
    for (unsigned i = 0; i < k; i++) {
        if (r != 0 && acc > n / r)
            return 0;
        acc *= r;
    }
    return acc <= n;
}

jr_u128 jr_iroot128(jr_u128 n, unsigned k)
{
    if (k < 2)
        return n;
    if (k == 2)
        return jr_isqrt128(n);
    if (n == 0)
        return 0;
    if (k >= 128)
        return 1;
    /* For k >= 3 the root is below 2^43, where the double is within one
     * of the truth; the two loops below settle it exactly. */
    jr_u128 r = (jr_u128)pow((double)n, 1.0 / k);
    while (r > 0 && !pow_le(r, k, n))
        r--;
    while (pow_le(r + 1, k, n))
        r++;
    return r;
}

/*-************************************
 *  Jacobi symbol
 **************************************/
int jr_jacobi128(jr_u128 a, jr_u128 n)
{
    int t = 1;
    a %= n;
    while (a != 0) {
        while (!(a & 1)) {
            a >>= 1;
            unsigned r = (unsigned)(n & 7);
            if (r == 3 || r == 5)
                t = -t;
        }
        jr_u128 tmp = a;
        a = n;
        n = tmp;
        if ((a & 3) == 3 && (n & 3) == 3)
            t = -t;
        a %= n;
    }
    return n == 1 ? t : 0;
}

/*-************************************
 *  Strong Lucas test
 **************************************/
/* x/2 mod n: an odd residue borrows n first; written so n + x cannot
 * overflow even when n is close to 2^128. */
static jr_u128 half(jr_u128 x, jr_u128 n)
{
    return (x & 1) ? (x >> 1) + (n >> 1) + 1 : x >> 1;
}

/* A small signed value in Montgomery form. */
static jr_u128 mont_small(const jr_mont128 *m, int64_t v)
{
    jr_u128 a = jr_mont128_to(m, (jr_u128)(v < 0 ? -(uint64_t)v : (uint64_t)v));
    return v < 0 && a != 0 ? m->n - a : a;
}

int jr_factor_lucas128(jr_u128 n)
{
    if (n == JR_U128_MAX) /* n + 1 would wrap; 3 divides it anyway */
        return 0;
    int64_t d = 5;
    for (;;) {
        jr_u128 ad = (jr_u128)(d < 0 ? -d : d);
        jr_u128 dm = d < 0 ? n - ad % n : ad % n;
        int j = jr_jacobi128(dm, n);
        if (j == -1)
            break;
        if (j == 0 && ad % n != 0)
            return 0; /* |D| shares a factor with n */
        d = d < 0 ? -d + 2 : -(d + 2);
        if (d > 1000000 || d < -1000000)
            return 0; /* only a square gets here; callers exclude them */
    }
    int64_t q = (1 - d) / 4;
    jr_u128 aq = (jr_u128)(q < 0 ? -q : q);
    if (aq > 1 && jr_gcd128(aq, n) != 1)
        return n == aq;

    jr_mont128 m;
    jr_mont128_init(&m, n);
    jr_u128 dmont = mont_small(&m, d);
    jr_u128 qmont = mont_small(&m, q);
    jr_u128 e = n + 1;
    int s = 0;
    while (!(e & 1)) {
        e >>= 1;
        s++;
    }
    /* U_1 = 1, V_1 = P = 1; left to right over the bits of e, doubling
     * with U_2k = U_k V_k, V_2k = V_k^2 - 2Q^k, and stepping by one with
     * U_k+1 = (P U_k + V_k)/2, V_k+1 = (D U_k + P V_k)/2. */
    jr_u128 u = m.one, v = m.one, qk = qmont;
    int top = 127;
    while (!((e >> top) & 1))
        top--;
    for (int b = top - 1; b >= 0; b--) {
        u = jr_mont128_mul(&m, u, v);
        v = jr_mont128_sub(&m, jr_mont128_mul(&m, v, v),
                           jr_mont128_add(&m, qk, qk));
        qk = jr_mont128_mul(&m, qk, qk);
        if ((e >> b) & 1) {
            jr_u128 u2 = half(jr_mont128_add(&m, u, v), n);
            jr_u128 v2 =
                half(jr_mont128_add(&m, jr_mont128_mul(&m, dmont, u), v), n);
            u = u2;
            v = v2;
            qk = jr_mont128_mul(&m, qk, qmont);
        }
    }
    if (u == 0 || v == 0)
        return 1;
    while (--s > 0) {
        v = jr_mont128_sub(&m, jr_mont128_mul(&m, v, v),
                           jr_mont128_add(&m, qk, qk));
        if (v == 0)
            return 1;
        qk = jr_mont128_mul(&m, qk, qk);
    }
    return 0;
}
