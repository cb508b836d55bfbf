/*
 * harness.h - what tests/test_factor.c needs around the factor job's pure
 * functions: a sink that collects output and reports in memory, the same
 * input run through coreutils factor (popen), and small 128-bit helpers.
 */
#ifndef JR_TEST_FACTOR_HARNESS_H
#define JR_TEST_FACTOR_HARNESS_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobs/factor/factor.h"

/*-************************************
 *  Collecting sink
 **************************************/
typedef struct capture {
    char *out, *rep; /* NUL-terminated, malloc'd */
    size_t nout, nrep;
    const uint8_t *more; /* what sink->more hands out, piece by piece */
    size_t nmore, piece;
    unsigned beats;
} capture;

static void cat(char **buf, size_t *len, const void *data, size_t n)
{
    *buf = realloc(*buf, *len + n + 1);
    cr_assert(*buf != NULL);
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static int cap_write(void *ctx, const void *data, size_t len)
{
    capture *c = ctx;
    cat(&c->out, &c->nout, data, len);
    return 0;
}

/* Reports as "LINE: MSG\n", LINE 0-based within the chunk. */
static int cap_report(void *ctx, uint64_t line, const char *msg)
{
    capture *c = ctx;
    char head[32];
    int n = snprintf(head, sizeof head, "%llu: ", (unsigned long long)line);
    cat(&c->rep, &c->nrep, head, (size_t)n);
    cat(&c->rep, &c->nrep, msg, strlen(msg));
    cat(&c->rep, &c->nrep, "\n", 1);
    return 0;
}

static int cap_more(void *ctx, const uint8_t **p, size_t *len)
{
    capture *c = ctx;
    if (c->nmore == 0)
        return 0;
    size_t n = c->nmore < c->piece ? c->nmore : c->piece;
    *p = c->more;
    *len = n;
    c->more += n;
    c->nmore -= n;
    return 1;
}

static void cap_beat(void *ctx)
{
    ((capture *)ctx)->beats++;
}

static jr_factor_sink cap_sink(capture *c)
{
    memset(c, 0, sizeof *c);
    c->out = calloc(1, 1);
    c->rep = calloc(1, 1);
    jr_factor_sink s = {c, cap_write, cap_report, cap_more, cap_beat};
    return s;
}

static void cap_free(capture *c)
{
    free(c->out);
    free(c->rep);
}

/* Our output for a whole text, as one chunk.  Caller frees. */
static char *ours(const char *text)
{
    capture c;
    jr_factor_sink s = cap_sink(&c);
    s.more = NULL;
    uint64_t nl;
    cr_assert_eq(
        jr_factor_text((const uint8_t *)text, strlen(text), 0, &s, &nl), 0);
    free(c.rep);
    return c.out;
}

/*-************************************
 *  coreutils factor
 **************************************/
/* coreutils factor's stdout for text on its stdin, or NULL when there is
 * no factor to run.  Caller frees. */
static char *coreutils(const char *text)
{
    char path[] = "/tmp/jr_factor_test.XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    size_t len = strlen(text);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "factor < %s 2>/dev/null", path);
    FILE *f = popen(cmd, "r");
    char *out = calloc(1, 1);
    size_t nout = 0, n;
    char buf[65536];
    while (f && (n = fread(buf, 1, sizeof buf, f)) > 0)
        cat(&out, &nout, buf, n);
    int st = f ? pclose(f) : -1;
    unlink(path);
    if (st == -1 || (nout == 0 && len > 0)) {
        free(out);
        return NULL;
    }
    return out;
}

/* Compare ours with coreutils on text, byte for byte. */
static void same_as_coreutils(const char *text)
{
    char *want = coreutils(text);
    if (!want)
        cr_skip_test("coreutils factor is not available");
    char *got = ours(text);
    size_t i = 0;
    while (got[i] && got[i] == want[i])
        i++;
    cr_assert(got[i] == want[i],
              "differs at byte %zu:\nours: %.80s\ncoreutils: %.80s", i, got + i,
              want + i);
    free(got);
    free(want);
}

/*-************************************
 *  128-bit helpers
 **************************************/
static jr_u128 u128(const char *s)
{
    jr_u128 v;
    cr_assert_eq(jr_factor_parse((const uint8_t *)s, strlen(s), &v), 0,
                 "bad number %s", s);
    return v;
}

/* a*b mod n by doubling: slow, obviously right. */
static jr_u128 mulmod_slow(jr_u128 a, jr_u128 b, jr_u128 n)
{
    jr_u128 r = 0;
    a %= n;
    for (int i = 127; i >= 0; i--) {
        r = r >= n - r ? r - (n - r) : r + r;
        if ((b >> i) & 1)
            r = r >= n - a ? r - (n - a) : r + a;
    }
    return r;
}

/* The i-th random 128-bit number of stream seed, with `bits` bits (the
 * top one set). */
static jr_u128 random_bits(uint64_t seed, uint64_t i, unsigned bits)
{
    jr_u128 v = JR_U128(jr_factor_random(seed, 2 * i, 0, UINT64_MAX),
                        jr_factor_random(seed, 2 * i + 1, 0, UINT64_MAX));
    v >>= 128 - bits;
    return v | (jr_u128)1 << (bits - 1);
}

/* Append "N\n" to a growing text. */
static void put_number(char **text, size_t *len, jr_u128 n)
{
    char buf[48];
    size_t k = jr_u128_format(buf, n);
    buf[k++] = '\n';
    cat(text, len, buf, k);
}

/*-************************************
 *  Small drivers
 **************************************/
static int parse(const char *s, jr_u128 *v)
{
    return jr_factor_parse((const uint8_t *)s, strlen(s), v);
}

/* The message jr_factor_text would report for this token. */
static char *message(const char *tok, size_t len)
{
    jr_factor_tok t;
    jr_factor_tok_init(&t);
    jr_factor_tok_feed(&t, (const uint8_t *)tok, len);
    jr_u128 v;
    int err = jr_factor_tok_end(&t, &v);
    static char buf[512];
    jr_factor_tok_message(&t, err, buf, sizeof buf);
    return buf;
}

/* Run one chunk: mid says it starts inside a token, rest is what the
 * input holds after it (handed out 3 bytes at a time), or NULL. */
static capture chunk(const char *data, int mid, const char *rest,
                     uint64_t *nlines)
{
    capture c;
    jr_factor_sink s = cap_sink(&c);
    c.more = (const uint8_t *)rest;
    c.nmore = rest ? strlen(rest) : 0;
    c.piece = 3;
    cr_assert_eq(
        jr_factor_text((const uint8_t *)data, strlen(data), mid, &s, nlines),
        0);
    return c;
}

/* The primes next to x: below and above. */
static void near(jr_u128 x, jr_u128 *lo, jr_u128 *hi)
{
    for (*lo = x - 1; !jr_factor_is_prime128(*lo); (*lo)--)
        ;
    for (*hi = x + 1; !jr_factor_is_prime128(*hi); (*hi)++)
        ;
}

#endif /* JR_TEST_FACTOR_HARNESS_H */
