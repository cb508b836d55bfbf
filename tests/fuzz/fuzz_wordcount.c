/*
 * fuzz_wordcount.c - libFuzzer target for the tokenizer: any bytes, split
 * anywhere into two chunks (the first input byte picks where), must give
 * exactly the words of the whole input scanned at once (the chunks with
 * short words by batches, as the job scans), every word valid UTF-8 with
 * JR_WC_PAD bytes readable from its start (ASan checks the read), every
 * batched word zero-padded; jr_wc_split() must cut inside the buffer.
 * Built and run by tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/wordcount/wordcount.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The map callback's calls, unused here (jobs/wordcount links them). */
int jr_emit_padded(jr_map_ctx *c, const void *k, size_t n, uint64_t v)
{
    (void)c, (void)k, (void)n, (void)v;
    return 0;
}
int jr_emit_short(jr_map_ctx *c, const uint8_t (*k)[JR_EMIT_PAD],
                  const uint8_t *l, size_t n, uint64_t v)
{
    (void)c, (void)k, (void)l, (void)n, (void)v;
    return 0;
}
int jr_chunk_more(jr_map_ctx *c, const uint8_t **p, size_t *n)
{
    (void)c, (void)p, (void)n;
    return 0;
}
void jr_progress(jr_map_ctx *c, uint64_t b)
{
    (void)c, (void)b;
}

typedef struct tally {
    uint64_t n, sum;
} tally;

static int valid_utf8(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3
                                : (c >> 3) == 30 ? 4 : 0;
        if (k == 0 || i + k > n)
            return 0;
        for (size_t j = 1; j < k; j++)
            if ((p[i + j] & 0xc0) != 0x80)
                return 0;
        i += k;
    }
    return 1;
}

static int count(void *arg, const uint8_t *w, size_t n)
{
    tally *t = arg;
    if (n == 0 || !valid_utf8(w, n))
        abort();
    uint8_t pad[JR_WC_PAD];
    memcpy(pad, w, sizeof pad);
    volatile uint8_t sink = pad[0] ^ pad[JR_WC_PAD - 1];
    (void)sink;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ w[i]) * 1099511628211ull;
    t->n++;
    t->sum += h;
    return 0;
}

/* count() for a batch of short words, zero-padded as promised. */
static int count_batch(void *arg, const uint8_t (*keys)[JR_WC_PAD],
                       const uint8_t *lens, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        for (size_t j = lens[i]; j < JR_WC_PAD; j++)
            if (keys[i][j] != 0)
                abort();
        count(arg, keys[i], lens[i]);
    }
    return 0;
}

typedef struct rest {
    const uint8_t *p;
    size_t len;
    int given;
} rest;

static int more(void *arg, const uint8_t **p, size_t *len)
{
    rest *r = arg;
    if (r->given || r->len == 0)
        return 0;
    r->given = 1;
    *p = r->p;
    *len = r->len;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t cut = (size_t)data[0] * (size - 1) / 255;
    data++;
    size--;

    tally whole = {0}, parts = {0};
    jr_wc_scan s;
    jr_wc_scan_init(&s, count, &whole);
    if (jr_wc_scan_feed(&s, data, size) != 0 || jr_wc_scan_finish(&s) != 0)
        abort();
    jr_wc_scan_fini(&s);

    jr_wc_scan_init(&s, count, &parts);
    jr_wc_scan_batch(&s, count_batch); /* as the job does */
    rest r1 = {data + cut, size - cut, 0}, r2 = {NULL, 0, 0};
    jr_wc_io io1 = {more, NULL, &r1}, io2 = {more, NULL, &r2};
    size_t pl = cut < 4 ? cut : 4;
    if (jr_wc_chunk(&s, data, cut, NULL, 0, &io1) != 0 ||
        jr_wc_chunk(&s, data + cut, size - cut, data + cut - pl, pl, &io2) != 0)
        abort();
    jr_wc_scan_fini(&s);
    if (whole.n != parts.n || whole.sum != parts.sum)
        abort(); /* a word lost, doubled or changed at the cut */
    if (jr_wc_split(data, size, 0) > size || jr_wc_split(data, size, 1) != size)
        abort();
    return 0;
}
