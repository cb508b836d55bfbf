/*
 * prime.c - Montgomery set-up and powers, the small-prime table, and the
 * probable-prime tests: deterministic Miller-Rabin below 2^64, BPSW above
 * (its Lucas half is in lucas.c).
 *
 * The table is global state, like ECM's plans: built once under
 * pthread_once and read-only after, so workers and threads may share it.
 */
#include <pthread.h>
#include <string.h>

#include "jobs/factor/factor.h"

/*-************************************
 *  Montgomery set-up and powers
 **************************************/
void jr_mont64_init(jr_mont64 *m, uint64_t n)
{
    m->n = n;
    m->ninv = jr_inv64(n);
    m->one = (0 - n) % n; /* 2^64 - n is 2^64 mod n */
    m->r2 = (uint64_t)((jr_u128)m->one * m->one % n);
}

uint64_t jr_mont64_pow(const jr_mont64 *m, uint64_t a, uint64_t e)
{
    if (e == 0)
        return m->one;
    int b = 63 - __builtin_clzll(e);
    uint64_t x = a;
    while (b-- > 0) {
        x = jr_mont64_mul(m, x, x);
        if ((e >> b) & 1)
            x = jr_mont64_mul(m, x, a);
    }
    return x;
}

void jr_mont128_init(jr_mont128 *m, jr_u128 n)
{
    m->n = n;
    jr_u128 x = jr_inv64((uint64_t)n);
    m->ninv = x * (2 - n * x); /* one Newton step: 64 -> 128 bits */
    m->one = (0 - n) % n;
    /* 2^256 mod n by 128 doublings of 2^128 mod n: no 256-bit division,
     * and set-up is rare next to the work it serves. */
    jr_u128 r = m->one;
    for (int i = 0; i < 128; i++)
        r = jr_mont128_add(m, r, r);
    m->r2 = r;
}

static int clz128(jr_u128 x)
{
    uint64_t hi = (uint64_t)(x >> 64);
    return hi ? __builtin_clzll(hi) : 64 + __builtin_clzll((uint64_t)x);
}

jr_u128 jr_mont128_pow(const jr_mont128 *m, jr_u128 a, jr_u128 e)
{
    if (e == 0)
        return m->one;
    int b = 127 - clz128(e);
    jr_u128 x = a;
    while (b-- > 0) {
        x = jr_mont128_mul(m, x, x);
        if ((e >> b) & 1)
            x = jr_mont128_mul(m, x, a);
    }
    return x;
}

/*-************************************
 *  The small-prime table
 **************************************/
#define LIMIT32 65536
#define CAP32 6544 /* 6541 odd primes below 2^16, padded to a block */
#define CAP64 (JR_FACTOR_TRIAL / 4)

static uint32_t tab_p[CAP32], tab_inv32[CAP32], tab_lim32[CAP32];
static uint64_t tab_inv[CAP64], tab_lim[CAP64];
static jr_u128 tab_inv2[CAP64], tab_lim2[CAP64];
static jr_factor_primes table;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

/* Eight primes per step in two 4-lane vectors (GCC and Clang vector
 * extensions: SSE2, NEON, or plain code where there is neither). */
typedef uint32_t v4u32 __attribute__((vector_size(16)));

static unsigned skip_vec(uint32_t n, uint32_t s, unsigned b)
{
    const v4u32 nv = {n, n, n, n};
    for (; b < table.nblocks32; b++) {
        v4u32 i0, i1, l0, l1;
        memcpy(&i0, tab_inv32 + 8 * b, sizeof i0);
        memcpy(&i1, tab_inv32 + 8 * b + 4, sizeof i1);
        memcpy(&l0, tab_lim32 + 8 * b, sizeof l0);
        memcpy(&l1, tab_lim32 + 8 * b + 4, sizeof l1);
        v4u32 hit = (v4u32)(nv * i0 <= l0) | (v4u32)(nv * i1 <= l1);
        if ((hit[0] | hit[1] | hit[2] | hit[3]) || tab_p[8 * b + 7] > s)
            break;
    }
    return b;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* Eight primes per step: vpmulld, then n*inv <= lim as min(x, lim) == x
 * since AVX2 has no unsigned compare. */
__attribute__((target("avx2"))) static unsigned
skip_avx2(uint32_t n, uint32_t s, unsigned b)
{
    const __m256i nv = _mm256_set1_epi32((int)n);
    for (; b < table.nblocks32; b++) {
        __m256i x = _mm256_mullo_epi32(
            nv, _mm256_loadu_si256((const __m256i *)(tab_inv32 + 8 * b)));
        __m256i lim = _mm256_loadu_si256((const __m256i *)(tab_lim32 + 8 * b));
        __m256i le = _mm256_cmpeq_epi32(_mm256_min_epu32(x, lim), x);
        if (!_mm256_testz_si256(le, le) || tab_p[8 * b + 7] > s)
            break;
    }
    return b;
}
#endif

static void table_build(void)
{
    uint8_t composite[LIMIT32 / 2] = {0}; /* odd numbers: q at q / 2 */
    unsigned n = 0;
    for (uint32_t p = 3; p < LIMIT32; p += 2) {
        if (composite[p / 2])
            continue;
        for (uint32_t q = p * p; q < LIMIT32; q += 2 * p)
            composite[q / 2] = 1;
        jr_u128 inv = jr_inv64(p);
        tab_p[n] = p;
        tab_inv32[n] = (uint32_t)inv;
        tab_lim32[n] = UINT32_MAX / p;
        if (p < JR_FACTOR_TRIAL) {
            tab_inv[n] = (uint64_t)inv;
            tab_lim[n] = UINT64_MAX / p;
            tab_inv2[n] = inv * (2 - (jr_u128)p * inv);
            tab_lim2[n] = JR_U128_MAX / p;
            table.nprimes = n + 1;
        }
        n++;
    }
    /* n * 1 <= 0 never holds for n >= 1: the padding divides nothing. */
    for (; n % 8; n++) {
        tab_p[n] = LIMIT32 + 1;
        tab_inv32[n] = 1;
        tab_lim32[n] = 0;
    }
    table.nblocks32 = n / 8;
    table.p = tab_p;
    table.inv32 = tab_inv32;
    table.lim32 = tab_lim32;
    table.inv = tab_inv;
    table.lim = tab_lim;
    table.inv2 = tab_inv2;
    table.lim2 = tab_lim2;
    table.skip32 = skip_vec;
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx2"))
        table.skip32 = skip_avx2;
#endif
}

const jr_factor_primes *jr_factor_table(void)
{
    pthread_once(&table_once, table_build);
    return &table;
}

/*-************************************
 *  Miller-Rabin below 2^64
 **************************************/
int jr_factor_sprp64(const jr_mont64 *m, uint64_t a)
{
    uint64_t d = m->n - 1;
    int s = __builtin_ctzll(d);
    d >>= s;
    uint64_t minus1 = m->n - m->one;
    uint64_t x = jr_mont64_pow(m, a, d);
    if (x == m->one || x == minus1)
        return 1;
    while (--s > 0) {
        x = jr_mont64_mul(m, x, x);
        if (x == minus1)
            return 1;
        if (x == m->one)
            return 0; /* a nontrivial square root of 1 */
    }
    return 0;
}

/* The base sets of miller-rabin.appspot.com (Jaeschke, Izykowski,
 * Panasiuk; the 7 bases of Jim Sinclair), each proven for every n below
 * its bound.  A base that is 0 mod n is skipped, as they were verified;
 * the composites that divide a base of their own tier all have a prime
 * factor below 53 or are squares, which base 2 catches (tests check). */
static const struct {
    uint64_t below;
    unsigned count;
    uint64_t base[7];
} tiers[] = {
    {341531u, 1, {9345883071009581737u}},
    {1050535501u, 2, {336781006125u, 9639812373923155u}},
    {350269456337u,
     3,
     {4230279247111683200u, 14694767155120705706u, 16641139526367750375u}},
    {55245642489451u,
     4,
     {2, 141889084524735u, 1199124725622454117u, 11096072698276303650u}},
    {7999252175582851u,
     5,
     {2, 4130806001517u, 149795463772692060u, 186635894390467037u,
      3967304179347715805u}},
    {585226005592931977u,
     6,
     {2, 123635709730000u, 9233062284813009u, 43835965440333360u,
      761179012939631437u, 1263739024124850375u}},
    {UINT64_MAX, 7, {2, 325, 9375, 28178, 450775, 9780504, 1795265022}},
};

/* n odd and > 53. */
static int miller_rabin(uint64_t n)
{
    jr_mont64 m;
    jr_mont64_init(&m, n);
    unsigned t = 0;
    while (n >= tiers[t].below && tiers[t].below != UINT64_MAX)
        t++;
    for (unsigned i = 0; i < tiers[t].count; i++) {
        uint64_t a = tiers[t].base[i];
        uint64_t am =
            a == 2 ? jr_mont64_add(&m, m.one, m.one) : jr_mont64_to(&m, a);
        if (am != 0 && !jr_factor_sprp64(&m, am))
            return 0;
    }
    return 1;
}

int jr_factor_is_prime64(uint64_t n)
{
    if (n < 2)
        return 0;
    if (n % 2 == 0)
        return n == 2;
    const jr_factor_primes *t = jr_factor_table();
    for (unsigned i = 0; i < 15; i++) { /* 3 .. 53 */
        if (n * t->inv[i] <= t->lim[i])
            return n == t->p[i];
    }
    if (n < 59 * 59)
        return 1;
    return miller_rabin(n);
}

/*-************************************
 *  BPSW above 2^64
 **************************************/
int jr_factor_sprp128(const jr_mont128 *m, jr_u128 a)
{
    jr_u128 d = m->n - 1;
    int s = 0;
    while (!(d & 1)) {
        d >>= 1;
        s++;
    }
    jr_u128 minus1 = m->n - m->one;
    jr_u128 x = jr_mont128_pow(m, a, d);
    if (x == m->one || x == minus1)
        return 1;
    while (--s > 0) {
        x = jr_mont128_mul(m, x, x);
        if (x == minus1)
            return 1;
        if (x == m->one)
            return 0;
    }
    return 0;
}

int jr_factor_is_prime128(jr_u128 n)
{
    if (n >> 64 == 0)
        return jr_factor_is_prime64((uint64_t)n);
    if (!(n & 1))
        return 0;
    /* A cheap sieve first: most composites have a small factor, and the
     * Lucas test wants gcd(n, Q*D) = 1, which this makes near certain. */
    const jr_factor_primes *t = jr_factor_table();
    for (unsigned i = 0; i < 100 && i < t->nprimes; i++)
        if (n * t->inv2[i] <= t->lim2[i])
            return 0;
    jr_mont128 m;
    jr_mont128_init(&m, n);
    if (!jr_factor_sprp128(&m, jr_mont128_add(&m, m.one, m.one)))
        return 0;
    uint64_t r = jr_isqrt128(n);
    if ((jr_u128)r * r == n)
        return 0;
    return jr_factor_lucas128(n);
}
