/*
 * factor.h - the "factor" job: prime factorisation of every number below
 * 2^128, printed byte for byte as GNU coreutils factor prints it.
 *
 * Owns: the 128-bit type; Montgomery arithmetic (inline here, since the
 * primality tests, rho, ECM and the sieve all live in its inner loops);
 * the small-prime table and Miller-Rabin (prime.c); the Lucas half of
 * BPSW and integer roots (lucas.c); Pollard-Brent rho (rho.c); ECM below
 * 2^64 (ecm.c); the quadratic sieve for hard numbers above (qs.c, and its
 * relations and linear algebra in qsrel.c); the driver that tries them in
 * turn (factor.c); token parsing and line formatting (parse.c); and the
 * job: text scanning, the counter-based generator, the jr_job (job.c).
 *
 * Everything but map() in job.c is pure.  The only global state is two
 * read-only tables (small primes, ECM plans) built once under
 * pthread_once, so workers and threads may share them, and each kernel
 * is unit-tested alone (tests/test_factor.c).
 *
 * Numbers at or above 2^128 are refused, each with its own message (see
 * jr_factor_tok_message); coreutils factors them with GMP, we do not.
 */
#ifndef JR_FACTOR_H
#define JR_FACTOR_H

#include <stddef.h>
#include <stdint.h>

#include "jobrun.h"

#ifndef __SIZEOF_INT128__
#error "the factor job needs unsigned __int128 (GCC or Clang, 64-bit target)"
#endif
__extension__ typedef unsigned __int128 jr_u128;

#define JR_U128(hi, lo) (((jr_u128)(hi) << 64) | (uint64_t)(lo))
#define JR_U128_MAX (~(jr_u128)0)

/* At most this many prime factors, with repetition: 2^127 has 127. */
#define JR_FACTOR_MAX 128
/* Longest output line, "N: p1 p2 ...\n": 39 digits of N, and the factors'
 * digits add up to at most 39 + 2 per factor. */
#define JR_FACTOR_LINE_MAX 512

/*-************************************
 *  Montgomery arithmetic, 64-bit
 **************************************/
/* Residues modulo an odd n, in Montgomery form x*2^64 mod n, in [0, n).
 * Filled by jr_mont64_init(); read-only after. */
typedef struct jr_mont64 {
    uint64_t n;
    uint64_t ninv; /* n^-1 mod 2^64 */
    uint64_t one;  /* 2^64 mod n: 1 in Montgomery form */
    uint64_t r2;   /* 2^128 mod n: converts into Montgomery form */
} jr_mont64;

/* n^-1 mod 2^64 for odd n: 5 correct bits from (3n)^2, then each Newton
 * step doubles them. */
static inline uint64_t jr_inv64(uint64_t n)
{
    uint64_t x = (3 * n) ^ 2;
    x *= 2 - n * x;
    x *= 2 - n * x;
    x *= 2 - n * x;
    x *= 2 - n * x;
    return x;
}

/* REDC of t < n*2^64 in its subtracting form: q*n has the low word of t,
 * so t - q*n is exactly (hi - hi(q*n)) * 2^64, in (-n*2^64, n*2^64).  No
 * 129-bit carry, so n may use all 64 bits. */
static inline uint64_t jr_mont64_redc(const jr_mont64 *m, jr_u128 t)
{
    uint64_t q = (uint64_t)t * m->ninv;
    uint64_t qh = (uint64_t)(((jr_u128)q * m->n) >> 64);
    uint64_t hi = (uint64_t)(t >> 64);
    uint64_t r = hi - qh;
    return hi < qh ? r + m->n : r;
}

static inline uint64_t jr_mont64_mul(const jr_mont64 *m, uint64_t a, uint64_t b)
{
    return jr_mont64_redc(m, (jr_u128)a * b);
}

static inline uint64_t jr_mont64_add(const jr_mont64 *m, uint64_t a, uint64_t b)
{
    uint64_t t = m->n - b; /* a + b - n without the 65th bit */
    uint64_t r = a - t;
    return a < t ? r + m->n : r;
}

static inline uint64_t jr_mont64_sub(const jr_mont64 *m, uint64_t a, uint64_t b)
{
    uint64_t r = a - b;
    return a < b ? r + m->n : r;
}

static inline uint64_t jr_mont64_to(const jr_mont64 *m, uint64_t a)
{
    return jr_mont64_mul(m, a % m->n, m->r2);
}

static inline uint64_t jr_mont64_from(const jr_mont64 *m, uint64_t a)
{
    return jr_mont64_redc(m, a);
}

/* Set up arithmetic modulo n (odd, > 1). */
void jr_mont64_init(jr_mont64 *m, uint64_t n);
/* a^e, a and the result in Montgomery form. */
uint64_t jr_mont64_pow(const jr_mont64 *m, uint64_t a, uint64_t e);

/*-************************************
 *  Montgomery arithmetic, 128-bit
 **************************************/
typedef struct jr_mont128 {
    jr_u128 n;
    jr_u128 ninv; /* n^-1 mod 2^128 */
    jr_u128 one;  /* 2^128 mod n */
    jr_u128 r2;   /* 2^256 mod n */
} jr_mont128;

/* The full 256-bit product a*b as hi:lo. */
static inline void jr_mul128(jr_u128 a, jr_u128 b, jr_u128 *hi, jr_u128 *lo)
{
    uint64_t a0 = (uint64_t)a, a1 = (uint64_t)(a >> 64);
    uint64_t b0 = (uint64_t)b, b1 = (uint64_t)(b >> 64);
    jr_u128 p00 = (jr_u128)a0 * b0, p01 = (jr_u128)a0 * b1;
    jr_u128 p10 = (jr_u128)a1 * b0, p11 = (jr_u128)a1 * b1;
    /* At most 3 * (2^64 - 1): the middle column cannot overflow. */
    jr_u128 mid = (p00 >> 64) + (uint64_t)p01 + (uint64_t)p10;
    *lo = (mid << 64) | (uint64_t)p00;
    *hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
}

static inline jr_u128 jr_mont128_redc(const jr_mont128 *m, jr_u128 hi,
                                      jr_u128 lo)
{
    jr_u128 qh, ql;
    jr_mul128(lo * m->ninv, m->n, &qh, &ql);
    jr_u128 r = hi - qh;
    return hi < qh ? r + m->n : r;
}

static inline jr_u128 jr_mont128_mul(const jr_mont128 *m, jr_u128 a, jr_u128 b)
{
    jr_u128 hi, lo;
    jr_mul128(a, b, &hi, &lo);
    return jr_mont128_redc(m, hi, lo);
}

static inline jr_u128 jr_mont128_add(const jr_mont128 *m, jr_u128 a, jr_u128 b)
{
    jr_u128 t = m->n - b;
    jr_u128 r = a - t;
    return a < t ? r + m->n : r;
}

static inline jr_u128 jr_mont128_sub(const jr_mont128 *m, jr_u128 a, jr_u128 b)
{
    jr_u128 r = a - b;
    return a < b ? r + m->n : r;
}

static inline jr_u128 jr_mont128_to(const jr_mont128 *m, jr_u128 a)
{
    return jr_mont128_mul(m, a % m->n, m->r2);
}

static inline jr_u128 jr_mont128_from(const jr_mont128 *m, jr_u128 a)
{
    return jr_mont128_redc(m, 0, a);
}

void jr_mont128_init(jr_mont128 *m, jr_u128 n);
jr_u128 jr_mont128_pow(const jr_mont128 *m, jr_u128 a, jr_u128 e);

/*-************************************
 *  Primes and primality (prime.c, lucas.c)
 **************************************/
/* The trial-division table.  Each odd prime comes with the inverse and
 * limit that make divisibility one multiply and one compare:
 *   p divides n  <=>  n * p^-1 mod 2^w <= (2^w - 1) / p.
 * Numbers below 2^32 are divided by every prime below 2^16, eight at a
 * time (AVX2 when the CPU has it, else 4-lane vectors), so they need no
 * other method; bigger ones by the primes below JR_FACTOR_TRIAL, then
 * rho, ECM or the sieve.
 * Built on first use, read-only after; thread-safe. */
#define JR_FACTOR_TRIAL 4096
typedef struct jr_factor_primes {
    unsigned nprimes;   /* odd primes below JR_FACTOR_TRIAL */
    unsigned nblocks32; /* blocks of 8 below 2^16; the last one padded
                           with 65537s that divide nothing */
    const uint32_t *p;  /* 8 * nblocks32 primes, ascending */
    const uint32_t *inv32, *lim32; /* w = 32, all primes */
    const uint64_t *inv, *lim;     /* w = 64, the first nprimes */
    const jr_u128 *inv2, *lim2;    /* w = 128, the first nprimes */
    /* The first block from b on with a prime dividing n (n < 2^32), or
     * whose last prime exceeds s = floor(sqrt(n)); nblocks32 if none. */
    unsigned (*skip32)(uint32_t n, uint32_t s, unsigned b);
} jr_factor_primes;

const jr_factor_primes *jr_factor_table(void);

/* Deterministic Miller-Rabin with the proven base sets of
 * miller-rabin.appspot.com (1 base below 341531, ..., 7 below 2^64). */
int jr_factor_is_prime64(uint64_t n);
/* Strong probable prime to base a (a in Montgomery form, n odd > 2). */
int jr_factor_sprp64(const jr_mont64 *m, uint64_t a);
/* BPSW: strong base-2 test and strong Lucas test (Selfridge's D).  No
 * counterexample is known; below 2^64 none exists (Feitsma, Gilchrist). */
int jr_factor_is_prime128(jr_u128 n);
int jr_factor_sprp128(const jr_mont128 *m, jr_u128 a);
int jr_factor_lucas128(jr_u128 n); /* n odd, > 2, not a square */

/* floor(sqrt(n)) and floor(n^(1/k)). */
uint64_t jr_isqrt128(jr_u128 n);
jr_u128 jr_iroot128(jr_u128 n, unsigned k);
/* Jacobi symbol (a/n), n odd. */
int jr_jacobi128(jr_u128 a, jr_u128 n);

/*-************************************
 *  Finding factors (rho.c, ecm.c, qs.c, qsrel.c)
 **************************************/
uint64_t jr_gcd64(uint64_t a, uint64_t b);
jr_u128 jr_gcd128(jr_u128 a, jr_u128 b);

/* Pollard rho, Brent's cycle finding, x -> x^2 + c, Montgomery form.
 * n odd and composite.  @return a factor of n, n itself on failure (try
 * another c), or 1 when max_iter steps found nothing (128-bit only;
 * max_iter 0: no limit). */
uint64_t jr_factor_rho64(uint64_t n, uint64_t c);
jr_u128 jr_factor_rho128(jr_u128 n, uint64_t c, uint64_t max_iter);

/* Lenstra's elliptic curve method, up to max_curves curves.  n odd,
 * composite, below 2^64.  @return a proper factor, or 1. */
uint64_t jr_factor_ecm64(uint64_t n, unsigned max_curves);

/* The multiple-polynomial quadratic sieve (Silverman's MPQS with one
 * large prime) for odd composite n from 2^40 to 2^128 that is not a
 * perfect power and has no prime factor below JR_FACTOR_TRIAL.  Sets *d
 * to a proper factor.  @return 0, JR_ENOMEM, or JR_EINVAL when n is out
 * of range or no factor turned up (the caller falls back to rho). */
int jr_factor_qs(jr_u128 n, jr_u128 *d);

/* The sieve's relations (qsrel.c).  One relation says
 *   y^2 = extra^2 * (-1)^neg * prod fb[f[i]], i < nf   (mod n)
 * with f the indices of its factor-base primes, repeated.  A relation
 * with a large prime lp > 1 left over waits until a second one with the
 * same lp comes; the two make a full relation (lp squared goes into
 * extra).  Owns every array below; jr_qs_rels_fini() frees them. */
typedef struct jr_qs_rel {
    jr_u128 y, extra;
    uint32_t off; /* of f in the pool */
    uint16_t nf;
    uint8_t neg;
} jr_qs_rel;

typedef struct jr_qs_slot {
    uint64_t lp; /* 0: empty */
    uint32_t rel;
} jr_qs_slot;

typedef struct jr_qs_rels {
    jr_mont128 mn; /* arithmetic mod n */
    jr_qs_rel *full, *part;
    size_t nfull, capfull, npart, cappart;
    uint16_t *pool;
    size_t npool, cappool;
    jr_qs_slot *hash; /* partials by lp, open addressing */
    size_t hcap, hlen;
} jr_qs_rels;

void jr_qs_rels_init(jr_qs_rels *s, jr_u128 n);
void jr_qs_rels_fini(jr_qs_rels *s);
/* Add y^2 = extra^2 (-1)^neg lp prod fb[f[i]] (lp = 1: a full relation).
 * r->off and r->nf are ignored.  @return 0, JR_ENOMEM. */
int jr_qs_rels_add(jr_qs_rels *s, const jr_qs_rel *r, const uint16_t *f,
                   unsigned nf, uint64_t lp);
/* Find dependencies among the full relations over GF(2) and try each for
 * a factor.  fb[0..nfb) are the factor-base primes.  @return 0 with *d a
 * proper factor, JR_EINVAL when every dependency was trivial, or
 * JR_ENOMEM. */
int jr_qs_rels_solve(const jr_qs_rels *s, const uint32_t *fb, unsigned nfb,
                     jr_u128 *d);

/* The prime factors of n into f[0..JR_FACTOR_MAX), ascending, repeated.
 * 0 and 1 have none.  @return their count, or JR_ENOMEM (the sieve). */
int jr_factor(jr_u128 n, jr_u128 *f);

/*-************************************
 *  Tokens and lines (parse.c)
 **************************************/
/* A token read in pieces: the value so far, its length, and its first
 * JR_FACTOR_KEEP bytes for the message, so an endless token costs no
 * memory. */
#define JR_FACTOR_KEEP 64
typedef struct jr_factor_tok {
    jr_u128 value;
    uint64_t len; /* bytes seen */
    int state;    /* private: sign, digits, bad, too big */
    uint8_t keep[JR_FACTOR_KEEP];
} jr_factor_tok;

void jr_factor_tok_init(jr_factor_tok *t);
void jr_factor_tok_feed(jr_factor_tok *t, const uint8_t *p, size_t len);
/* @return 0 with *value set, JR_EINVAL (not digits with an optional
 * leading '+'), or JR_ERANGE (at or above 2^128). */
int jr_factor_tok_end(const jr_factor_tok *t, jr_u128 *value);
/* The message for a token that jr_factor_tok_end() refused with err:
 *   'TOKEN' is not a valid positive integer
 *   'TOKEN' is too large to factor (2^128 or more)
 * TOKEN with \xHH for bytes outside printable ASCII, \\ and \'.  A token
 * longer than JR_FACTOR_KEEP bytes shows its first JR_FACTOR_KEEP and
 * "...", and " (N bytes)" follows the closing quote.  Writes at most cap
 * bytes with the NUL.  @return the length written. */
size_t jr_factor_tok_message(const jr_factor_tok *t, int err, char *buf,
                             size_t cap);

/* A whole token, as coreutils reads it: "+5", "007".  Same codes. */
int jr_factor_parse(const uint8_t *p, size_t len, jr_u128 *value);

/* n in decimal, no NUL.  buf holds at least 40 bytes.  @return length. */
size_t jr_u128_format(char *buf, jr_u128 n);
/* "N: p1 p2 ...\n" into buf[JR_FACTOR_LINE_MAX].  @return the length. */
size_t jr_factor_format(char *buf, jr_u128 n, const jr_u128 *f, int nf);

/*-************************************
 *  Text, random numbers and the job (job.c)
 **************************************/
/* Where jr_factor_text() and jr_factor_range() send what they make; the
 * job sends it on to jr_write(), jr_report(), jr_chunk_more() and
 * jr_progress(); the tests collect it. */
typedef struct jr_factor_sink {
    void *ctx;
    int (*write)(void *ctx, const void *data, size_t len);
    int (*report)(void *ctx, uint64_t line, const char *msg);
    /* Bytes after the chunk, for a token that runs past its end: 1 with
     * bytes, 0 at the end of input, or a negative code.  NULL: the chunk's
     * end ends the token. */
    int (*more)(void *ctx, const uint8_t **p, size_t *len);
    void (*beat)(void *ctx); /* "still alive"; may be NULL */
} jr_factor_sink;

static inline int jr_factor_is_space(uint8_t c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Factor every token that starts in p[0..len) (tokens are split by ASCII
 * whitespace).  mid_token: p[0] continues a token that started before, so
 * the bytes up to the first whitespace belong to someone else.  Sets
 * *nlines to the number of '\n' in p[0..len).  @return 0, or the first
 * negative code of a sink callback or of jr_factor(). */
int jr_factor_text(const uint8_t *p, size_t len, int mid_token,
                   const jr_factor_sink *sink, uint64_t *nlines);

/* Parameters of the generated workload, passed as chunk->params bytes. */
struct jr_factor_params {
    uint64_t seed;
    uint64_t min, max; /* inclusive, min <= max */
};
#define JR_FACTOR_DEFAULT_SEED 2024u
#define JR_FACTOR_DEFAULT_MIN 20000u
#define JR_FACTOR_DEFAULT_MAX 100000000u

/* The i-th number of stream `seed`, uniform in [a, b] (a <= b): a hash of
 * (seed, i) and a rejection counter, so it depends on nothing else. */
uint64_t jr_factor_random(uint64_t seed, uint64_t i, uint64_t a, uint64_t b);

/* Factor the numbers i = first .. first+count-1 of the workload.
 * @return 0, JR_EINVAL (bad params), or a sink's code. */
int jr_factor_range(const struct jr_factor_params *pa, uint64_t first,
                    uint64_t count, const jr_factor_sink *sink);

/* Chunks end after ASCII whitespace. */
size_t jr_factor_split(const uint8_t *buf, size_t len, int eof);

extern const jr_job jr_job_factor;

#endif /* JR_FACTOR_H */
