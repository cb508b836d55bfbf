/*
 * job.c - the "factor" job as the pool sees it.  Two kinds of chunk
 * reach map(): pieces of a text input (data != NULL), whose tokens are
 * factored or reported in place, and slices [first, first + count) of a
 * generated input (data == NULL), whose numbers each worker draws itself
 * from the seed in chunk->params with a counter-based generator, so the
 * output is the same for any number of workers.
 *
 * The producers, jr_factor_text() and jr_factor_range(), are pure: what
 * they make goes to a jr_factor_sink, which map() connects to jr_write(),
 * jr_report(), jr_chunk_more() and jr_progress(), and the tests to
 * buffers.  Lines are gathered in a local buffer and written in blocks.
 */
#include <string.h>

#include "jobs/factor/factor.h"
#include "jobs/jobs.h"

/*-************************************
 *  Random numbers by index
 **************************************/
#define GOLDEN 0x9e3779b97f4a7c15u

/* The finaliser of splitmix64 (Steele, Lea, Flood 2014): a bijection
 * that mixes every input bit into every output bit. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

uint64_t jr_factor_random(uint64_t seed, uint64_t i, uint64_t a, uint64_t b)
{
    /* Output i of splitmix64 started at a key made from the seed: what
     * the sequential generator gives, but reachable directly. */
    uint64_t x = mix64(mix64(seed ^ 0x6a09e667f3bcc909u) + GOLDEN * (i + 1));
    uint64_t range = b - a + 1; /* 0: all of [0, 2^64) */
    if (range == 0)
        return x;
    /* Lemire's multiply-shift with rejection: the high word of x*range is
     * uniform once the low words below 2^64 mod range are refused.  The
     * k-th retry hashes (x, k) again, so it still depends on i alone. */
    for (uint64_t k = 1;; k++) {
        jr_u128 m = (jr_u128)x * range;
        uint64_t lo = (uint64_t)m;
        if (lo >= range || lo >= (0 - range) % range)
            return a + (uint64_t)(m >> 64);
        x = mix64(x + GOLDEN * k);
    }
}

/*-************************************
 *  Splitting streams
 **************************************/
size_t jr_factor_split(const uint8_t *buf, size_t len, int eof)
{
    if (eof)
        return len;
    for (size_t i = len; i > 0; i--)
        if (jr_factor_is_space(buf[i - 1]))
            return i;
    return 0;
}

/*-************************************
 *  Producers of lines
 **************************************/
#define OUT_CAP 16384
/* A heartbeat every this many numbers below 2^64 (about 1 ms of work at
 * worst), and after each number above, which may take the sieve. */
#define BEAT_EVERY 256

typedef struct lines {
    const jr_factor_sink *sink;
    size_t len;
    unsigned since_beat;
    char buf[OUT_CAP];
} lines;

static int flush(lines *o)
{
    int rc = o->len ? o->sink->write(o->sink->ctx, o->buf, o->len) : 0;
    o->len = 0;
    return rc;
}

static void beat(lines *o)
{
    o->since_beat = 0;
    if (o->sink->beat)
        o->sink->beat(o->sink->ctx);
}

static int number(lines *o, jr_u128 v)
{
    jr_u128 f[JR_FACTOR_MAX];
    int nf = jr_factor(v, f);
    if (nf < 0)
        return nf;
    if (o->len + JR_FACTOR_LINE_MAX > OUT_CAP) {
        int rc = flush(o);
        if (rc < 0)
            return rc;
    }
    o->len += jr_factor_format(o->buf + o->len, v, f, nf);
    if (v >> 64 != 0 || ++o->since_beat >= BEAT_EVERY)
        beat(o);
    return 0;
}

static int refuse(lines *o, uint64_t line, const jr_factor_tok *t, int err)
{
    char msg[512];
    jr_factor_tok_message(t, err, msg, sizeof msg);
    return o->sink->report(o->sink->ctx, line, msg);
}

/* The token that starts at p[0..len) and runs on past the chunk: read the
 * rest through sink->more, keeping only what the message needs. */
static int tail(lines *o, uint64_t line, const uint8_t *p, size_t len)
{
    jr_factor_tok t;
    jr_factor_tok_init(&t);
    jr_factor_tok_feed(&t, p, len);
    for (;;) {
        const uint8_t *q;
        size_t n;
        int rc = o->sink->more(o->sink->ctx, &q, &n);
        if (rc < 0)
            return rc;
        if (rc == 0)
            break;
        size_t k = 0;
        while (k < n && !jr_factor_is_space(q[k]))
            k++;
        jr_factor_tok_feed(&t, q, k);
        if (k < n)
            break;
    }
    jr_u128 v;
    int rc = jr_factor_tok_end(&t, &v);
    return rc == 0 ? number(o, v) : refuse(o, line, &t, rc);
}

int jr_factor_text(const uint8_t *p, size_t len, int mid_token,
                   const jr_factor_sink *sink, uint64_t *nlines)
{
    lines o;
    o.sink = sink;
    o.len = 0;
    o.since_beat = 0;
    size_t i = 0;
    uint64_t line = 0;
    int rc = 0;
    /* The bytes up to the first space end a token that an earlier chunk
     * owns and has read past its end already. */
    if (mid_token)
        while (i < len && !jr_factor_is_space(p[i]))
            i++;
    while (rc == 0) {
        while (i < len && jr_factor_is_space(p[i]))
            line += p[i++] == '\n';
        if (i == len)
            break;
        size_t start = i;
        while (i < len && !jr_factor_is_space(p[i]))
            i++;
        if (i == len && sink->more) {
            rc = tail(&o, line, p + start, len - start);
            break;
        }
        jr_u128 v;
        rc = jr_factor_parse(p + start, i - start, &v);
        if (rc == 0) {
            rc = number(&o, v);
        } else {
            jr_factor_tok t;
            jr_factor_tok_init(&t);
            jr_factor_tok_feed(&t, p + start, i - start);
            rc = refuse(&o, line, &t, rc);
        }
    }
    /* Lines count to the chunk's end even when a callback failed, so the
     * caller can always report them. */
    for (; i < len; i++)
        line += p[i] == '\n';
    *nlines = line;
    int frc = flush(&o);
    return rc < 0 ? rc : frc;
}

int jr_factor_range(const struct jr_factor_params *pa, uint64_t first,
                    uint64_t count, const jr_factor_sink *sink)
{
    if (pa->min > pa->max)
        return JR_EINVAL;
    lines o;
    o.sink = sink;
    o.len = 0;
    o.since_beat = 0;
    int rc = 0;
    for (uint64_t i = 0; i < count && rc == 0; i++)
        rc =
            number(&o, jr_factor_random(pa->seed, first + i, pa->min, pa->max));
    int frc = flush(&o);
    return rc < 0 ? rc : frc;
}

/*-************************************
 *  The map callback
 **************************************/
static int sink_write(void *ctx, const void *data, size_t len)
{
    return jr_write(ctx, data, len);
}

static int sink_report(void *ctx, uint64_t line, const char *msg)
{
    return jr_report(ctx, line, msg);
}

static int sink_more(void *ctx, const uint8_t **p, size_t *len)
{
    return jr_chunk_more(ctx, p, len);
}

/* Zero bytes: the worker counts the chunk's bytes itself when map()
 * returns; this only says the worker is alive. */
static void sink_beat(void *ctx)
{
    jr_progress(ctx, 0);
}

static int map(jr_map_ctx *ctx, const jr_chunk *ch)
{
    const jr_factor_sink sink = {ctx, sink_write, sink_report, sink_more,
                                 sink_beat};
    if (ch->data == NULL) {
        if (ch->count == 0) {
            jr_lines(ctx, 0);
            return 0;
        }
        struct jr_factor_params pa = {JR_FACTOR_DEFAULT_SEED,
                                      JR_FACTOR_DEFAULT_MIN,
                                      JR_FACTOR_DEFAULT_MAX};
        if (ch->params_len != 0) {
            if (ch->params_len != sizeof pa || ch->params == NULL)
                return JR_EINVAL;
            memcpy(&pa, ch->params, sizeof pa);
        }
        return jr_factor_range(&pa, ch->first, ch->count, &sink);
    }
    int mid =
        ch->prev_len > 0 && !jr_factor_is_space(ch->prev[ch->prev_len - 1]);
    uint64_t nlines = 0;
    int rc = jr_factor_text(ch->data, ch->len, mid, &sink, &nlines);
    jr_lines(ctx, nlines);
    return rc;
}

const jr_job jr_job_factor = {
    .name = "factor",
    .map = map,
    .combine = NULL,
    .cmp = NULL,
    .split = jr_factor_split,
    .lookback = 1,
};
