/*
 * parse.c - reading a number token the way coreutils factor does, and
 * writing numbers and "N: p1 p2 ...\n" lines.
 *
 * A token is ASCII digits with one optional leading '+'; leading zeros
 * are fine ("+007" is 7).  Anything else is invalid, and validity is
 * decided before size: "99...9x" is invalid, not too large.  Numbers at
 * or above 2^128 are refused (JR_ERANGE) with their own message.
 */
#include <string.h>

#include "jobs/factor/factor.h"

enum { ST_EMPTY, ST_SIGN, ST_DIGITS, ST_BIG, ST_BAD };

#define MAX_DIV10 (JR_U128_MAX / 10)
#define MAX_MOD10 ((unsigned)(JR_U128_MAX % 10))

/*-************************************
 *  Tokens in pieces
 **************************************/
void jr_factor_tok_init(jr_factor_tok *t)
{
    t->value = 0;
    t->len = 0;
    t->state = ST_EMPTY;
}

void jr_factor_tok_feed(jr_factor_tok *t, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t c = p[i];
        if (t->len < JR_FACTOR_KEEP)
            t->keep[t->len] = c;
        t->len++;
        unsigned d = (unsigned)c - '0';
        switch (t->state) {
        case ST_EMPTY:
            t->state = c == '+' ? ST_SIGN : d <= 9 ? ST_DIGITS : ST_BAD;
            t->value = d <= 9 ? d : 0;
            break;
        case ST_SIGN:
            t->state = d <= 9 ? ST_DIGITS : ST_BAD;
            t->value = d;
            break;
        case ST_DIGITS:
            if (d > 9)
                t->state = ST_BAD;
            else if (t->value > MAX_DIV10 ||
                     (t->value == MAX_DIV10 && d > MAX_MOD10))
                t->state = ST_BIG;
            else
                t->value = t->value * 10 + d;
            break;
        case ST_BIG:
            if (d > 9)
                t->state = ST_BAD;
            break;
        default:
            /* Bad for good: only the length and the kept bytes matter. */
            if (t->len >= JR_FACTOR_KEEP) {
                t->len += len - i - 1;
                return;
            }
            break;
        }
    }
}

int jr_factor_tok_end(const jr_factor_tok *t, jr_u128 *value)
{
    *value = 0;
    if (t->state == ST_DIGITS) {
        *value = t->value;
        return 0;
    }
    return t->state == ST_BIG ? JR_ERANGE : JR_EINVAL;
}

/* A whole token: 19 digits at a time in 64 bits, the common case. */
int jr_factor_parse(const uint8_t *p, size_t len, jr_u128 *value)
{
    size_t i = len > 0 && p[0] == '+';
    *value = 0;
    if (i == len)
        return JR_EINVAL;
    uint64_t v = 0;
    size_t end = len - i > 19 ? i + 19 : len;
    for (; i < end; i++) {
        unsigned d = (unsigned)p[i] - '0';
        if (d > 9)
            return JR_EINVAL;
        v = v * 10 + d;
    }
    jr_u128 w = v;
    int big = 0;
    for (; i < len; i++) {
        unsigned d = (unsigned)p[i] - '0';
        if (d > 9)
            return JR_EINVAL;
        if (w > MAX_DIV10 || (w == MAX_DIV10 && d > MAX_MOD10))
            big = 1;
        else
            w = w * 10 + d;
    }
    if (big)
        return JR_ERANGE;
    *value = w;
    return 0;
}

/*-************************************
 *  Messages
 **************************************/
typedef struct out {
    char *buf;
    size_t cap, len; /* len counts what did not fit too */
} out;

static void put(out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, o->len++)
        if (o->len + 1 < o->cap)
            o->buf[o->len] = s[i];
}

static void put_str(out *o, const char *s)
{
    put(o, s, strlen(s));
}

size_t jr_factor_tok_message(const jr_factor_tok *t, int err, char *buf,
                             size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    out o = {buf, cap, 0};
    size_t shown = t->len < JR_FACTOR_KEEP ? (size_t)t->len : JR_FACTOR_KEEP;
    put_str(&o, "'");
    for (size_t i = 0; i < shown; i++) {
        uint8_t c = t->keep[i];
        char e[4] = {'\\', (char)c, 0, 0};
        if (c == '\\' || c == '\'') {
            put(&o, e, 2);
        } else if (c >= 0x20 && c < 0x7f) {
            put(&o, e + 1, 1);
        } else {
            e[1] = 'x';
            e[2] = hex[c >> 4];
            e[3] = hex[c & 15];
            put(&o, e, 4);
        }
    }
    if (t->len > JR_FACTOR_KEEP) {
        char num[48];
        size_t n = jr_u128_format(num, t->len);
        put_str(&o, "...' (");
        put(&o, num, n);
        put_str(&o, " bytes)");
    } else {
        put_str(&o, "'");
    }
    put_str(&o, err == JR_ERANGE ? " is too large to factor (2^128 or more)"
                                 : " is not a valid positive integer");
    if (cap > 0)
        buf[o.len < cap ? o.len : cap - 1] = '\0';
    return o.len < cap ? o.len : cap > 0 ? cap - 1 : 0;
}

/*-************************************
 *  Numbers and lines
 **************************************/
static const char pairs[201] = "00010203040506070809"
                               "10111213141516171819"
                               "20212223242526272829"
                               "30313233343536373839"
                               "40414243444546474849"
                               "50515253545556575859"
                               "60616263646566676869"
                               "70717273747576777879"
                               "80818283848586878889"
                               "90919293949596979899";

/* Digits of v ending just before end; @return where they start. */
static char *digits64(char *end, uint64_t v)
{
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        end -= 2;
        memcpy(end, pairs + 2 * r, 2);
    }
    if (v >= 10) {
        end -= 2;
        memcpy(end, pairs + 2 * v, 2);
    } else {
        *--end = (char)('0' + v);
    }
    return end;
}

/* Digits of v < 2^64: count them, then write from the right in place. */
static size_t format64(char *buf, uint64_t v)
{
    static const uint64_t pow10[20] = {1u,
                                       10u,
                                       100u,
                                       1000u,
                                       10000u,
                                       100000u,
                                       1000000u,
                                       10000000u,
                                       100000000u,
                                       1000000000u,
                                       10000000000u,
                                       100000000000u,
                                       1000000000000u,
                                       10000000000000u,
                                       100000000000000u,
                                       1000000000000000u,
                                       10000000000000000u,
                                       100000000000000000u,
                                       1000000000000000000u,
                                       10000000000000000000u};
    /* t = floor(bits * log10(2)) (1233 / 4096), and the length is t or
     * t + 1. */
    size_t t = (64 - (size_t)__builtin_clzll(v | 1)) * 1233 >> 12;
    size_t len = t + (v >= pow10[t]);
    len += len == 0;
    digits64(buf + len, v);
    return len;
}

size_t jr_u128_format(char *buf, jr_u128 n)
{
    if (n >> 64 == 0)
        return format64(buf, (uint64_t)n);
    /* 19 digits at a time, zero-padded but for the leading block. */
    const uint64_t e19 = 10000000000000000000u;
    char tmp[40], *end = tmp + sizeof tmp, *p = end;
    while (n >> 64 != 0) {
        uint64_t r = (uint64_t)(n % e19);
        n /= e19;
        char *q = digits64(p, r);
        while (q > p - 19)
            *--q = '0';
        p = q;
    }
    p = digits64(p, (uint64_t)n);
    size_t len = (size_t)(end - p);
    memcpy(buf, p, len);
    return len;
}

size_t jr_factor_format(char *buf, jr_u128 n, const jr_u128 *f, int nf)
{
    size_t len = jr_u128_format(buf, n);
    buf[len++] = ':';
    for (int i = 0; i < nf; i++) {
        buf[len++] = ' ';
        len += jr_u128_format(buf + len, f[i]);
    }
    buf[len++] = '\n';
    return len;
}
