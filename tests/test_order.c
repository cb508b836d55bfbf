/*
 * test_order.c - the library's own result orders (util/order.c): key
 * prefixes, comparisons and the sort, against plain qsort() with a
 * comparator written from the orders' definitions.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "util/order.h"
#include "util/pad16.h"

/* The definitions, written out: memcmp order with a proper prefix first,
 * and value descending before it. */
static int ref_key(const jr_orec *a, const jr_orec *b)
{
    size_t n = a->klen < b->klen ? a->klen : b->klen;
    int c = n ? memcmp(a->key, b->key, n) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return (a->klen > b->klen) - (a->klen < b->klen);
}

static int ref_value_desc(const void *x, const void *y)
{
    const jr_orec *a = x, *b = y;
    if (a->v != b->v)
        return a->v > b->v ? -1 : 1;
    return ref_key(a, b);
}

static int ref_key_q(const void *x, const void *y)
{
    return ref_key(x, y);
}

/* A custom order through job->cmp: value ascending, then key descending. */
static int custom(const void *ka, size_t kalen, uint64_t va, const void *kb,
                  size_t kblen, uint64_t vb)
{
    if (va != vb)
        return va < vb ? -1 : 1;
    jr_orec a = {.key = ka, .klen = (uint32_t)kalen};
    jr_orec b = {.key = kb, .klen = (uint32_t)kblen};
    return -ref_key(&a, &b);
}

static int ref_custom(const void *x, const void *y)
{
    const jr_orec *a = x, *b = y;
    return custom(a->key, a->klen, a->v, b->key, b->klen, b->v);
}

static int sign(int c)
{
    return (c > 0) - (c < 0);
}

Test(order, prefix_is_big_endian_and_zero_padded)
{
    cr_assert_eq(jr_key_prefix((const uint8_t *)"", 0), 0);
    cr_assert_eq(jr_key_prefix((const uint8_t *)"a", 1), 0x61ull << 56);
    cr_assert_eq(jr_key_prefix((const uint8_t *)"abcdefghij", 10),
                 0x6162636465666768ull);
    cr_assert_eq(jr_key_prefix((const uint8_t *)"ab\0", 3),
                 jr_key_prefix((const uint8_t *)"ab", 2));
    /* The second prefix: bytes 8 to 11. */
    cr_assert_eq(jr_key_prefix2((const uint8_t *)"abcdefgh", 8), 0);
    cr_assert_eq(jr_key_prefix2((const uint8_t *)"abcdefghi", 9),
                 0x69ull << 24);
    cr_assert_eq(jr_key_prefix2((const uint8_t *)"abcdefghijk", 11),
                 0x696a6b00u);
    cr_assert_eq(jr_key_prefix2((const uint8_t *)"abcdefghijklmn", 14),
                 0x696a6b6cu);
}

/* The run writer takes a short key's bytes from its record's prefixes:
 * every length to 12, zero bytes and high bytes anywhere. */
Test(order, a_short_key_comes_back_whole_from_its_prefixes)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int round = 0; round < 2000; round++) {
        uint8_t key[12], got[12];
        uint32_t klen = (uint32_t)(round % 13);
        for (uint32_t i = 0; i < klen; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* a third of the bytes 0 or 0xff, the rest anything */
            key[i] = x % 3 == 0 ? 0 : x % 3 == 1 ? 0xff : (uint8_t)(x >> 40);
        }
        jr_orec r = jr_orec_of(7, key, klen);
        memset(got, 0xaa, sizeof got);
        jr_orec_short_key(&r, got);
        cr_assert_eq(memcmp(got, key, klen), 0, "round %d, %u bytes", round,
                     klen);
    }
}

/* Keys that tie on their prefix and differ past it, or only in length,
 * or in zero bytes the padding could hide. */
Test(order, key_order_edges)
{
    static const struct {
        const char *a;
        size_t alen;
        const char *b;
        size_t blen;
    } pairs[] = {
        {"ab", 2, "ab\0", 3},
        {"", 0, "\0", 1},
        {"abcdefgh", 8, "abcdefgh\0", 9},
        {"abcdefghi", 9, "abcdefghj", 9},
        {"abcdefgh\xff", 9, "abcdefgi", 8},
        {"\xff", 1, "\x01", 1},
        {"abcdefghijklmnop", 16, "abcdefghijklmnoq", 16},
        {"abcdefghijk", 11, "abcdefghij", 10},
        /* around the second prefix (bytes 8 to 11) */
        {"abcdefghijkl", 12, "abcdefghijkl\0", 13},
        {"abcdefghijk", 11, "abcdefghijk\0", 12},
        {"abcdefghijklm", 13, "abcdefghijkm", 12},
        {"abcdefghijk\xff", 12, "abcdefghijl", 11},
        {"abcdefghijklmnopq", 17, "abcdefghijklmnopr", 17},
    };
    jr_job job = {.order = JR_ORDER_CMP};
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        jr_orec a =
            jr_orec_of(1, (const uint8_t *)pairs[i].a, (uint32_t)pairs[i].alen);
        jr_orec b =
            jr_orec_of(1, (const uint8_t *)pairs[i].b, (uint32_t)pairs[i].blen);
        cr_expect_eq(sign(jr_orec_cmp(&job, &a, &b)), sign(ref_key(&a, &b)),
                     "pair %zu", i);
        cr_expect_eq(sign(jr_orec_cmp(&job, &b, &a)), sign(ref_key(&b, &a)),
                     "pair %zu reversed", i);
        cr_expect_eq(sign(jr_job_cmp(&job, pairs[i].a, pairs[i].alen, 1,
                                     pairs[i].b, pairs[i].blen, 1)),
                     sign(ref_key(&a, &b)), "jr_job_cmp, pair %zu", i);
    }
}

/* n records over a small alphabet, so keys share long prefixes and many
 * are equal; values from a few, so they tie. */
static jr_orec *random_recs(unsigned seed, size_t n, uint8_t **keys)
{
    srand(seed);
    jr_orec *r = calloc(n ? n : 1, sizeof *r);
    *keys = malloc(n * 24 + 1);
    cr_assert(r && *keys);
    for (size_t i = 0; i < n; i++) {
        uint8_t *k = *keys + i * 24;
        size_t len = (size_t)rand() % 24;
        for (size_t j = 0; j < len; j++)
            k[j] = (uint8_t)"\0ab\xff"[rand() % 4];
        r[i] = jr_orec_of((uint64_t)(rand() % 5), k, (uint32_t)len);
    }
    return r;
}

static void check_sorted(const jr_job *job, int (*ref)(const void *, const void *),
                         jr_orec *r, size_t n)
{
    jr_orec *want = malloc((n ? n : 1) * sizeof *want);
    cr_assert(want);
    memcpy(want, r, n * sizeof *r);
    qsort(want, n, sizeof *want, ref);
    jr_orec_sort(job, r, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(ref(&r[i], &want[i]), 0, "record %zu of %zu differs", i, n);
    free(want);
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* The reducer's short keys get their prefixes from two words: the same
 * prefixes as jr_orec_of() for every length up to 16. */
Test(order, prefixes_from_words_equal_those_from_bytes)
{
    srand(7);
    for (int round = 0; round < 200; round++)
        for (uint32_t klen = 0; klen <= 16; klen++) {
            uint8_t key[16] = {0};
            for (uint32_t j = 0; j < klen; j++)
                key[j] = (uint8_t)rand();
            uint64_t k0, k1;
            memcpy(&k0, key, 8);
            memcpy(&k1, key + 8, 8);
            jr_orec a = jr_orec_of(3, key, klen);
            jr_orec b = jr_orec_of_words(3, key, klen, k0, k1);
            cr_assert(a.pfx == b.pfx && a.pfx2 == b.pfx2 && a.klen == b.klen,
                      "length %u", klen);
        }
}

/* jr_load16_padded() reads 16 bytes whatever the key's length (the
 * tokenizer, the table's front, the master's merge): the bytes after the
 * key must not reach the words. */
Test(order, padded_words_ignore_the_bytes_after_the_key)
{
    srand(11);
    for (int round = 0; round < 200; round++)
        for (uint32_t klen = 0; klen <= 16; klen++) {
            uint8_t bytes[16], key[16] = {0};
            for (int j = 0; j < 16; j++)
                bytes[j] = (uint8_t)(rand() | 1); /* never 0 */
            memcpy(key, bytes, klen);
            uint64_t k0, k1, w0, w1;
            jr_load16_padded(bytes, klen, &k0, &k1);
            memcpy(&w0, key, 8);
            memcpy(&w1, key + 8, 8);
            cr_assert(k0 == w0 && k1 == w1, "length %u", klen);
            jr_orec a = jr_orec_of(5, key, klen);
            jr_orec b = jr_orec_of_words(5, bytes, klen, k0, k1);
            cr_assert(a.pfx == b.pfx && a.pfx2 == b.pfx2, "length %u", klen);
        }
}
#endif

Test(order, sort_equals_qsort_for_every_order)
{
    static const size_t sizes[] = {0, 1, 2, 3, 15, 16, 17, 100, 1000, 20000};
    jr_job by_key = {.order = JR_ORDER_CMP};
    jr_job by_value = {.order = JR_ORDER_VALUE_DESC, .cmp = custom /* ignored */};
    jr_job by_cmp = {.order = JR_ORDER_CMP, .cmp = custom};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        for (unsigned seed = 1; seed <= 3; seed++) {
            uint8_t *keys;
            jr_orec *r = random_recs(seed, sizes[s], &keys);
            check_sorted(&by_key, ref_key_q, r, sizes[s]);
            check_sorted(&by_value, ref_value_desc, r, sizes[s]);
            check_sorted(&by_cmp, ref_custom, r, sizes[s]);
            free(r);
            free(keys);
        }
    }
}

/* Values that differ in any of their 8 bytes (or only in a low one), keys
 * that tie on their 8-byte prefix and differ after it, keys shorter than
 * the prefix, sizes around the insertion sort's and up to 100,000. */
Test(order, sort_equals_qsort_on_wide_values_and_shared_prefixes)
{
    static const size_t sizes[] = {63, 64, 65, 257, 5000, 100000};
    jr_job by_key = {.order = JR_ORDER_CMP};
    jr_job by_value = {.order = JR_ORDER_VALUE_DESC};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        for (unsigned kind = 0; kind < 4; kind++) {
            size_t n = sizes[s];
            jr_orec *r = calloc(n, sizeof *r);
            uint8_t *keys = malloc(n * 20);
            cr_assert(r && keys);
            srand(kind * 1000 + (unsigned)s);
            for (size_t i = 0; i < n; i++) {
                uint8_t *k = keys + i * 20;
                size_t len = (size_t)rand() % 21;
                memcpy(k, "commonpr", 8); /* many keys share a prefix */
                for (size_t j = kind == 1 ? 8 : 0; j < len; j++)
                    k[j] =
                        (uint8_t)(kind == 3 ? rand() % 3 : 'a' + rand() % 26);
                uint64_t v = kind == 0
                                 ? (uint64_t)rand() << 40 ^ (uint64_t)rand()
                             : kind == 2 ? (uint64_t)(rand() % 3) << 56
                                         : (uint64_t)(rand() % 2);
                r[i] = jr_orec_of(v, k, (uint32_t)len);
            }
            check_sorted(&by_value, ref_value_desc, r, n);
            check_sorted(&by_key, ref_key_q, r, n);
            free(r);
            free(keys);
        }
    }
}

/* The radix sort's edges: values on both sides of 255 (the last with a
 * bucket of its own) and of every byte boundary up to UINT64_MAX; keys
 * that tie on 8 and on 12 bytes (both prefixes) and differ after, or
 * only in zero bytes or length; sizes around the radix cut-off. */
Test(order, sort_equals_qsort_around_the_radix_edges)
{
    static const uint64_t values[] = {
        0,         1,   2,     253,   254,        255,
        256,       511, 65535, 65536, 1ull << 32, UINT64_MAX - 1,
        UINT64_MAX};
    static const size_t sizes[] = {65, 300, 4097, 120000};
    jr_job by_key = {.order = JR_ORDER_CMP};
    jr_job by_value = {.order = JR_ORDER_VALUE_DESC};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t n = sizes[s];
        jr_orec *r = calloc(n, sizeof *r);
        uint8_t *keys = malloc(n * 32);
        cr_assert(r && keys);
        srand(77 + (unsigned)s);
        for (size_t i = 0; i < n; i++) {
            uint8_t *k = keys + i * 32;
            size_t len = (size_t)rand() % 31, from = 0;
            if (rand() % 2) { /* a shared 12-byte prefix, cut anywhere */
                memcpy(k, "twelve bytes", 12);
                from = len < 12 ? len : 12;
            }
            for (size_t j = from; j < len; j++)
                k[j] = (uint8_t) "\0ab\xff"[rand() % 4];
            uint64_t v =
                values[(size_t)rand() % (sizeof values / sizeof *values)];
            if (rand() % 4 == 0) /* a Zipf-like mass of small counts */
                v = 1 + (uint64_t)(rand() % 2);
            r[i] = jr_orec_of(v, k, (uint32_t)len);
        }
        check_sorted(&by_value, ref_value_desc, r, n);
        check_sorted(&by_key, ref_key_q, r, n);
        free(r);
        free(keys);
    }
}

/* Inputs that make a naive quicksort quadratic or walk off its array:
 * sorted, reversed, all equal, organ pipe. */
Test(order, sort_survives_adversarial_inputs)
{
    size_t n = 50000;
    jr_orec *r = calloc(n, sizeof *r);
    uint8_t *keys = calloc(n, 8);
    cr_assert(r && keys);
    jr_job job = {.order = JR_ORDER_VALUE_DESC};
    for (int pattern = 0; pattern < 4; pattern++) {
        for (size_t i = 0; i < n; i++) {
            uint64_t v = pattern == 0   ? i
                         : pattern == 1 ? n - i
                         : pattern == 2 ? 7
                                        : (i < n / 2 ? i : n - i);
            memcpy(keys + 8 * i, &v, 8);
            r[i] = jr_orec_of(v, keys + 8 * i, 8);
        }
        check_sorted(&job, ref_value_desc, r, n);
    }
    free(r);
    free(keys);
}

/* Through a pool: every line of the input is a key emitted with the value
 * of its first byte; the result must come out in the job's order, with
 * equal keys combined, for both library orders.  Lines with JR_EMIT_PAD
 * bytes of the chunk from their start go by jr_emit_padded(), which must
 * ignore the newline and the lines after the key. */
static int map_lines(jr_map_ctx *ctx, const jr_chunk *c)
{
    const uint8_t *p = c->data, *end = c->data + c->len;
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            nl = end;
        size_t k = (size_t)(nl - p);
        if (k > 0 &&
            (end - p >= JR_EMIT_PAD ? jr_emit_padded(ctx, p, k, p[0] % 7)
                                    : jr_emit(ctx, p, k, p[0] % 7)) < 0)
            return -1;
        p = nl + 1;
    }
    return 0;
}

static size_t split_lines(const uint8_t *buf, size_t len, int eof)
{
    if (eof)
        return len;
    for (size_t i = len; i > 0; i--)
        if (buf[i - 1] == '\n')
            return i;
    return 0;
}

static void run_ordered(enum jr_order order, int (*ref)(const void *, const void *))
{
    char text[64 * 1024];
    size_t len = 0;
    srand(7);
    for (int i = 0; i < 3000; i++) {
        int n = rand() % 20 + 1;
        for (int j = 0; j < n; j++)
            text[len++] = "abcxyz"[rand() % 6];
        text[len++] = '\n';
    }
    /* Keys longer than the 12 bytes a record's prefixes hold, alike in
     * those 12, met many times: combined by their whole bytes (the test
     * that they are across workers is test_cli's long_words_alike_...). */
    static const char *const longs[] = {"abcabcabcabc",
                                        "abcabcabcabca",
                                        "abcabcabcabcb",
                                        "abcabcabcabcab",
                                        "abcabcabcabcabcabcabcabcx",
                                        "abcabcabcabcabcabcabcabcy",
                                        "abcabcabcab",
                                        "abcabcabcabcabcabcabcabcxz"};
    for (int i = 0; i < 800; i++) {
        const char *k = longs[rand() % 8];
        memcpy(text + len, k, strlen(k));
        len += strlen(k);
        text[len++] = '\n';
    }
    jr_job job = {.name = "lines", .map = map_lines, .split = split_lines,
                  .order = order};
    jr_opts o = {.workers = 2};
    jr_pool *p = NULL;
    jr_input *in = NULL;
    jr_result *res = NULL;
    cr_assert_eq(jr_pool_new(&p, &o), 0);
    cr_assert_eq(jr_input_new(&in), 0);
    cr_assert_eq(jr_input_add_mem(in, text, len, "text"), 0);
    jr_run_opts ro = {.chunk_size = 512};
    cr_assert_eq(jr_pool_run(p, &job, in, &ro, &res), 0, "%s", jr_pool_errmsg(p));

    /* The expected result, by hand: combine, then sort by the reference. */
    jr_orec want[3000 + 8];
    size_t nwant = 0;
    for (const char *s = text; s < text + len;) {
        const char *nl = memchr(s, '\n', (size_t)(text + len - s));
        size_t k = (size_t)(nl - s), w;
        for (w = 0; w < nwant; w++)
            if (want[w].klen == k && memcmp(want[w].key, s, k) == 0)
                break;
        if (w == nwant)
            want[nwant++] = (jr_orec){.key = (const uint8_t *)s, .klen = k};
        want[w].v += (uint8_t)s[0] % 7;
        s = nl + 1;
    }
    qsort(want, nwant, sizeof *want, ref);
    const void *key;
    size_t klen, got = 0;
    uint64_t v;
    while (jr_result_next(res, &key, &klen, &v) == 1) {
        cr_assert_lt(got, nwant);
        cr_assert_eq(klen, want[got].klen, "record %zu", got);
        cr_assert_eq(memcmp(key, want[got].key, klen), 0, "record %zu", got);
        cr_assert_eq(v, want[got].v, "record %zu", got);
        got++;
    }
    cr_assert_eq(got, nwant);
    jr_result_destroy(&res);

    job.order = (enum jr_order)99;
    cr_assert_eq(jr_pool_run(p, &job, in, &ro, &res), JR_EINVAL);
    cr_assert_null(res);
    jr_input_destroy(&in);
    jr_pool_destroy(&p);
}

Test(order, a_pool_returns_results_in_the_value_order, .timeout = 60)
{
    run_ordered(JR_ORDER_VALUE_DESC, ref_value_desc);
}

Test(order, a_pool_returns_results_in_the_key_order, .timeout = 60)
{
    run_ordered(JR_ORDER_CMP, ref_key_q);
}
