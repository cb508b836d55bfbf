/*
 * fuzz_factor.c - libFuzzer target for the number parser and the factor
 * text scanner: any bytes give lines and reports, never a crash, never a
 * line count above the newlines present, and every valid number's factors
 * multiply back to it (checked on the printed line for numbers < 2^64).
 * Built and run by tests/fuzz/run.sh.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/factor/factor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The map callback's calls, unused here (jobs/factor links them). */
int jr_write(jr_map_ctx *c, const void *d, size_t n)
{
    (void)c, (void)d, (void)n;
    return 0;
}
int jr_report(jr_map_ctx *c, uint64_t l, const char *m)
{
    (void)c, (void)l, (void)m;
    return 0;
}
void jr_lines(jr_map_ctx *c, uint64_t n)
{
    (void)c, (void)n;
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

/* Check "N: p1 p2 ..." when N fits in 64 bits. */
static void check_line(const char *l, size_t n)
{
    char buf[256];
    if (n >= sizeof buf)
        return;
    memcpy(buf, l, n);
    buf[n] = '\0';
    char *colon = strchr(buf, ':');
    if (!colon || colon - buf > 19)
        return;
    uint64_t v = strtoull(buf, NULL, 10), prod = 1;
    if (v < 2)
        return;
    for (char *p = colon + 1; *p;) {
        char *end;
        uint64_t f = strtoull(p, &end, 10);
        if (end == p)
            break;
        if (f < 2)
            abort();
        prod *= f;
        p = end;
    }
    if (prod != v)
        abort(); /* the factors do not multiply back */
}

static int on_write(void *ctx, const void *data, size_t len)
{
    (void)ctx;
    const char *p = data, *end = p + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            abort(); /* output is whole lines */
        check_line(p, (size_t)(nl - p));
        p = nl + 1;
    }
    return 0;
}

static int on_report(void *ctx, uint64_t line, const char *msg)
{
    uint64_t *nl = ctx;
    if (line > *nl || !msg || !*msg)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t newlines = 0, nlines = 0;
    for (size_t i = 0; i < size; i++)
        newlines += data[i] == '\n';
    jr_factor_sink sink = {.ctx = &newlines, .write = on_write,
                           .report = on_report};
    if (jr_factor_text(data, size, 0, &sink, &nlines) < 0)
        return 0;
    if (nlines != newlines)
        abort();
    return 0;
}
