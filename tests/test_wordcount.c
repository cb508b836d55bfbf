/*
 * test_wordcount.c - the wordcount tokenizer (jobs/wordcount) and the
 * worker's combining table (worker/table.c), without the engine: words of
 * every script and every class of invalid UTF-8; the chunk-boundary rule,
 * checked on random inputs split at random bytes; the job's split and
 * order; and the tokenizer against the Python reference (tests/ref) on a
 * generated corpus.  Words are gathered in a jr_table and compared as the
 * TSV that `jobrun wordcount` prints.
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "jobs/wordcount/wordcount.h"
#include "worker/table.h"

#include "helpers.h"

/*-************************************
 *  Helpers
 **************************************/
/* Counts each word into table t, after reading the JR_WC_PAD bytes the
 * scanner promises (under ASan, a promise broken is a report). */
static int bag_add(void *t, const uint8_t *word, size_t len)
{
    uint8_t pad[JR_WC_PAD];
    memcpy(pad, word, sizeof pad);
    volatile uint8_t sink = pad[0] ^ pad[JR_WC_PAD - 1];
    (void)sink;
    return jr_table_add(t, word, len, 1);
}

typedef struct rec {
    const void *key;
    size_t len;
    uint64_t v;
} rec;

static int rec_cmp(const void *a, const void *b)
{
    const rec *x = a, *y = b;
    return jr_job_cmp(&jr_job_wordcount, x->key, x->len, x->v, y->key, y->len,
                      y->v);
}

/* The table's records in `jobrun wordcount` order, borrowing its keys;
 * caller frees. */
static rec *records_of(const jr_table *t)
{
    size_t n = jr_table_count(t), cur = 0, i = 0;
    rec *r = calloc(n + 1, sizeof *r);
    uint64_t h;
    while (jr_table_next(t, &cur, &r[i].key, &r[i].len, &r[i].v, &h))
        i++;
    cr_assert_eq(i, n);
    qsort(r, n, sizeof *r, rec_cmp);
    return r;
}

/* The table as `jobrun wordcount` prints it; caller frees. */
static char *tsv_of(const jr_table *t)
{
    size_t n = jr_table_count(t), i, len;
    rec *r = records_of(t);
    char *out = NULL;
    FILE *f = open_memstream(&out, &len);
    for (i = 0; i < n; i++) {
        fprintf(f, "%llu\t", (unsigned long long)r[i].v);
        fwrite(r[i].key, 1, r[i].len, f);
        fputc('\n', f);
    }
    fclose(f);
    free(r);
    return out;
}

/* Scan buf whole, in pieces of at most `piece` bytes; caller frees. */
static char *count_fed(const void *buf, size_t len, size_t piece)
{
    jr_table *t;
    cr_assert_eq(jr_table_new(&t, NULL), 0);
    jr_wc_scan s;
    jr_wc_scan_init(&s, bag_add, t);
    for (size_t at = 0; at < len; at += piece) {
        size_t n = len - at < piece ? len - at : piece;
        uint8_t *copy = malloc(n); /* so ASan sees a read past it */
        memcpy(copy, (const uint8_t *)buf + at, n);
        cr_assert_eq(jr_wc_scan_feed(&s, copy, n), 0);
        free(copy);
    }
    cr_assert_eq(jr_wc_scan_finish(&s), 0);
    jr_wc_scan_fini(&s);
    char *out = tsv_of(t);
    jr_table_destroy(&t);
    return out;
}

static char *count_whole(const void *buf, size_t len)
{
    return count_fed(buf, len, len ? len : 1);
}

static void expect(const char *in, const char *want)
{
    char *got = count_whole(in, strlen(in));
    cr_expect_str_eq(got, want, "input \"%s\"", in);
    free(got);
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* jr_chunk_more() as a worker gives it: what follows the chunk, in pieces
 * of random size, each in its own buffer; or nothing (a stream slot). */
typedef struct more_src {
    const uint8_t *buf;
    size_t len, pos;
    uint64_t *rng;
    uint8_t *piece;
    int none;
} more_src;

static int more(void *arg, const uint8_t **p, size_t *len)
{
    more_src *m = arg;
    free(m->piece);
    m->piece = NULL;
    if (m->none || m->pos >= m->len)
        return 0;
    uint64_t r = rnd(m->rng);
    size_t n = r & 1 ? 1 + r % 7 : 1 + r % 65536;
    if (n > m->len - m->pos)
        n = m->len - m->pos;
    m->piece = malloc(n);
    memcpy(m->piece, m->buf + m->pos, n);
    m->pos += n;
    *p = m->piece;
    *len = n;
    return 1;
}

/* bag_add() for a batch of short words. */
static int bag_batch(void *t, const uint8_t (*keys)[JR_WC_PAD],
                     const uint8_t *lens, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (jr_table_add(t, keys[i], lens[i], 1) < 0)
            return -1;
    return 0;
}

/* Count buf as chunks [cuts[i], cuts[i+1]) the way the map callback does,
 * each with its 4 bytes of lookback, into t; every other chunk sends its
 * short words by batches, as the job does. */
static void count_chunks(jr_table *t, const uint8_t *buf, size_t len,
                         const size_t *cuts, size_t ncuts, uint64_t *rng,
                         int stream)
{
    for (size_t c = 0; c + 1 < ncuts; c++) {
        size_t at = cuts[c], n = cuts[c + 1] - at;
        size_t plen =
            at < jr_job_wordcount.lookback ? at : jr_job_wordcount.lookback;
        uint8_t *data = malloc(n + 1), *prev = malloc(plen + 1);
        memcpy(data, buf + at, n);
        memcpy(prev, buf + at - plen, plen);
        more_src m = {buf, len, at + n, rng, NULL, stream};
        jr_wc_io io = {more, NULL, &m};
        jr_wc_scan s;
        jr_wc_scan_init(&s, bag_add, t);
        if (c % 2)
            jr_wc_scan_batch(&s, bag_batch);
        cr_assert_eq(jr_wc_chunk(&s, data, n, prev, plen, &io), 0);
        jr_wc_scan_fini(&s);
        free(m.piece);
        free(data);
        free(prev);
    }
}

static int size_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* Random bytes made of pieces that matter: words of several scripts,
 * separators, and invalid or cut-short UTF-8. */
static size_t random_text(uint8_t *out, size_t cap, uint64_t *rng)
{
    /* clang-format off */
    static const char *const bits[] = {
        "a", "Ab", "xyz", "Q", "_", "7", " ", ", ", "\n", "'", ".",
        "\xc3\xa9", "\xc3\x89", "\xce\xa3", "\xcf\x82", "\xd0\x96",
        "\xe7\xb7\x9a", "\xe3\x80\x80", "\xef\xbc\x8c", "\xcc\x81",
        "\xf0\x90\x90\x80", "\xf0\x9f\x98\x80", "\xc8\xba", "\xc4\xb0",
        "\xe1\xba\x9e", "\xe2\x80\x99", "\xc2\xa0", "\xe2\x80\xbf",
        "\x80", "\xbf", "\xc0\xaf", "\xc1", "\xe0\x80\xaf", "\xed\xa0\x80",
        "\xf4\x90\x80\x80", "\xf5", "\xff", "\xe2\x82", "\xf0\x9f\x98",
        "\xc3", "\xe7", "\xf0", "\xf4\x8f\xbf\xbf", "\xef\xbf\xbf",
    };
    /* clang-format on */
    size_t nbits = sizeof bits / sizeof bits[0], len = 0;
    size_t want = rnd(rng) % cap;
    while (len < want) {
        uint64_t r = rnd(rng);
        if (r % 16 == 0) { /* any byte at all */
            out[len++] = (uint8_t)(r >> 8);
            continue;
        }
        const char *b = bits[(r >> 8) % nbits];
        size_t n = strlen(b);
        if (len + n > cap)
            break;
        memcpy(out + len, b, n);
        len += n;
    }
    return len;
}

/*-************************************
 *  Words
 **************************************/
Test(scan, lowercases_ascii_words_and_splits_on_punctuation)
{
    expect("Hello, World! hello\tWORLD\nhi", "2\thello\n2\tworld\n1\thi\n");
    expect("", "");
    expect("  ,.;  ", "");
    expect("x", "1\tx\n");
}

Test(scan, keeps_french_accents_and_lowercases_them)
{
    expect("Généralement, ÉTÉ été Œuvre cœur",
           "2\tété\n1\tcœur\n1\tgénéralement\n1\tœuvre\n");
}

Test(scan, lowercases_russian_words)
{
    expect("Процесс ПРОЦЕСС процесс Ёж", "3\tпроцесс\n1\tёж\n");
}

Test(scan, maps_capital_sigma_to_sigma_and_keeps_final_sigma)
{
    expect("ΣΟΦΟΣ σοφοσ σοφος", "2\tσοφοσ\n1\tσοφος\n");
}

Test(scan, keeps_a_run_of_chinese_as_one_word)
{
    expect("線程和進程，線程", "1\t線程\n1\t線程和進程\n");
}

Test(scan, keeps_combining_marks_in_words)
{
    /* e + U+0301, a mark alone, and U+20DD (Me). */
    expect("e\xcc\x81te\xcc\x81 \xcc\x81 a\xe2\x83\x9d",
           "1\ta\xe2\x83\x9d\n1\te\xcc\x81te\xcc\x81\n1\t\xcc\x81\n");
}

Test(scan, counts_digits_and_other_numbers_as_words)
{
    expect("3.14 2024 \xd9\xa3\xd9\xa4 \xc2\xbd x\xc2\xb2",
           "1\t14\n1\t2024\n1\t3\n1\tx\xc2\xb2\n1\t\xc2\xbd\n"
           "1\t\xd9\xa3\xd9\xa4\n");
}

Test(scan, joins_words_with_connector_punctuation)
{
    expect("thread_task __init__ a\xe2\x80\xbf"
           "b _",
           "1\t_\n1\t__init__\n1\ta\xe2\x80\xbf"
           "b\n1\tthread_task\n");
}

Test(scan, splits_words_at_apostrophes)
{
    expect("don't don\xe2\x80\x99t", "2\tdon\n2\tt\n");
}

Test(scan, uses_simple_lowercase_for_dotted_i_and_sharp_s)
{
    expect("\xc4\xb0STANBUL \xc4\xb0", "1\ti\n1\tistanbul\n");
    expect("STRA\xe1\xba\x9e"
           "E \xe1\xba\x9e",
           "1\tstra\xc3\x9f"
           "e\n1\t\xc3\x9f\n");
}

Test(scan, lowercases_to_a_longer_sequence_and_outside_the_bmp)
{
    /* U+023A -> U+2C65; U+10400 -> U+10428. */
    expect("\xc8\xba \xf0\x90\x90\x80x",
           "1\t\xe2\xb1\xa5\n1\t\xf0\x90\x90\xa8x\n");
}

Test(scan, treats_separators_outside_ascii_as_separators)
{
    expect("a\xc2\xa0"
           "b\xe3\x80\x80"
           "c\xf0\x9f\x98\x80"
           "d\xe2\x80\xa8"
           "e",
           "1\ta\n1\tb\n1\tc\n1\td\n1\te\n");
}

/*-************************************
 *  Invalid UTF-8
 **************************************/
Test(scan, splits_words_at_overlong_forms)
{
    expect("ab\xc0\xaf"
           "cd",
           "1\tab\n1\tcd\n");
    expect("ab\xc1\xbf"
           "cd",
           "1\tab\n1\tcd\n");
    expect("ab\xe0\x80\xaf"
           "cd",
           "1\tab\n1\tcd\n");
    expect("ab\xe0\x9f\xbf"
           "cd",
           "1\tab\n1\tcd\n");
    expect("ab\xf0\x80\x80\xaf"
           "cd",
           "1\tab\n1\tcd\n");
    expect("ab\xf0\x8f\xbf\xbf"
           "cd",
           "1\tab\n1\tcd\n");
}

Test(scan, splits_words_at_surrogates)
{
    expect("ab\xed\xa0\x80"
           "cd",
           "1\tab\n1\tcd\n");
    expect("ab\xed\xbf\xbf"
           "cd\xed\xa0\x80\xed\xb0\x80",
           "1\tab\n1\tcd\n");
}

Test(scan, splits_words_at_sequences_cut_short)
{
    expect("ab\xe2\x82"
           "cd",
           "1\tab\n1\tcd\n");
    expect("ab\xf0\x9f\x98"
           "cd",
           "1\tab\n1\tcd\n");
    expect("ab\xc3 cd\xe7\xb7", "1\tab\n1\tcd\n");
}

Test(scan, ends_a_word_at_a_sequence_cut_by_the_end_of_input)
{
    expect("abc\xc3", "1\tabc\n");
    expect("abc\xe2\x82", "1\tabc\n");
    expect("\xf0\x90\x90", "");
}

Test(scan, splits_words_at_stray_continuation_bytes)
{
    expect("ab\x80"
           "cd",
           "1\tab\n1\tcd\n");
    expect("\xbf"
           "ab\x80\x80\x80\x80\x80",
           "1\tab\n");
    expect("\xc3\xa9\xa9x", "1\tx\n1\t\xc3\xa9\n");
}

Test(scan, splits_words_at_values_above_the_last_code_point)
{
    expect("ab\xf4\x90\x80\x80"
           "cd",
           "1\tab\n1\tcd\n");
    expect("ab\xf5\x80\x80\x80"
           "cd",
           "1\tab\n1\tcd\n");
    expect("ab\xf7\xbf\xbf\xbf"
           "cd\xff"
           "ef\xfe"
           "g",
           "1\tab\n1\tcd\n1\tef\n1\tg\n");
    expect("\xf4\x8f\xbf\xbf", ""); /* U+10FFFF is valid but no letter */
}

Test(scan, gives_the_same_words_whatever_the_pieces_fed)
{
    uint64_t rng = 88172645463325252ull;
    uint8_t buf[600];
    for (int it = 0; it < 300; it++) {
        size_t len = random_text(buf, sizeof buf, &rng);
        char *whole = count_whole(buf, len);
        for (size_t piece = 1; piece <= 9; piece += 4) {
            char *fed = count_fed(buf, len, piece);
            cr_assert_str_eq(fed, whole, "iteration %d, pieces of %zu", it,
                             piece);
            free(fed);
        }
        free(whole);
    }
}

/* Text with long runs of ASCII words (whole 64-byte blocks of them, the
 * scanner's fastest path) between random_text()'s mixed scripts and bad
 * bytes. */
static size_t mixed_text(uint8_t *out, size_t cap, uint64_t *rng)
{
    size_t len = 0;
    while (len + 700 <= cap && rnd(rng) % 8 != 0) {
        if (rnd(rng) % 2) {
            len += random_text(out + len, 200, rng);
            continue;
        }
        for (size_t end = len + rnd(rng) % 500; len < end;) {
            size_t w = 1 + rnd(rng) % 20;
            for (size_t i = 0; i < w; i++) {
                uint64_t r = rnd(rng);
                out[len++] = (uint8_t)(r % 3 == 0 ? 'A' + (r >> 8) % 26
                                                  : 'a' + (r >> 8) % 26);
            }
            out[len++] = " .,\n"[rnd(rng) % 4];
        }
    }
    return len;
}

/* The words a scanner gives, in order, a line each; batches are checked
 * as jr_wc_batch_fn promises them. */
typedef struct seq {
    FILE *f;
    unsigned batches;
} seq;

static int seq_emit(void *arg, const uint8_t *word, size_t len)
{
    seq *q = arg;
    fwrite(word, 1, len, q->f);
    fputc('\n', q->f);
    return 0;
}

static int seq_batch(void *arg, const uint8_t (*keys)[JR_WC_PAD],
                     const uint8_t *lens, unsigned n)
{
    seq *q = arg;
    cr_assert(n >= 1 && n <= JR_WC_BATCH, "%u words", n);
    for (unsigned i = 0; i < n; i++) {
        cr_assert_leq(lens[i], JR_WC_PAD);
        for (size_t j = lens[i]; j < JR_WC_PAD; j++)
            cr_assert_eq(keys[i][j], 0, "zero-padded");
        fwrite(keys[i], 1, lens[i], q->f);
        fputc('\n', q->f);
    }
    q->batches++;
    return 0;
}

/* buf's words in order, fed in pieces of `piece`; caller frees. */
static char *words_in_order(const uint8_t *buf, size_t len, size_t piece,
                            int batched, unsigned *batches)
{
    char *out = NULL;
    size_t n;
    seq q = {open_memstream(&out, &n), 0};
    jr_wc_scan s;
    jr_wc_scan_init(&s, seq_emit, &q);
    if (batched)
        jr_wc_scan_batch(&s, seq_batch);
    for (size_t at = 0; at < len; at += piece) {
        size_t k = len - at < piece ? len - at : piece;
        uint8_t *copy = malloc(k); /* so ASan sees a read past it */
        memcpy(copy, buf + at, k);
        cr_assert_eq(jr_wc_scan_feed(&s, copy, k), 0);
        free(copy);
    }
    cr_assert_eq(jr_wc_scan_finish(&s), 0);
    jr_wc_scan_fini(&s);
    fclose(q.f);
    *batches += q.batches;
    return out;
}

/* The batch callback carries most words of ASCII text, and the order of
 * the words does not change: those batched come before the next word that
 * goes to emit, and by the end of each piece. */
Test(scan, batched_words_come_in_the_order_of_the_input)
{
    uint64_t rng = 0x853c49e6748fea9bull;
    static uint8_t buf[6000];
    unsigned batches = 0, none = 0;
    for (int it = 0; it < 150; it++) {
        size_t len = mixed_text(buf, sizeof buf, &rng);
        char *want = words_in_order(buf, len, len ? len : 1, 0, &none);
        static const size_t pieces[] = {0, 1, 7, 64, 333};
        for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
            size_t piece = pieces[k] ? pieces[k] : len ? len : 1;
            char *got = words_in_order(buf, len, piece, 1, &batches);
            cr_assert_str_eq(got, want, "iteration %d, pieces of %zu", it,
                             piece);
            free(got);
        }
        free(want);
    }
    cr_assert_eq(none, 0);
    cr_assert_gt(batches, 1000, "the words went by batches");
}

static int count_call(void *arg, const uint8_t *word, size_t len)
{
    (void)word;
    (void)len;
    ++*(unsigned *)arg;
    return 0;
}

static int refuse_batch(void *arg, const uint8_t (*keys)[JR_WC_PAD],
                        const uint8_t *lens, unsigned n)
{
    (void)keys;
    (void)lens;
    (void)n;
    ++*(unsigned *)arg;
    return 7;
}

/* A batch callback's non-zero return stops the scan as emit's does: the
 * feed returns it, and no word goes out after it. */
Test(scan, a_batch_refused_stops_the_scan)
{
    char text[4096] = "";
    for (int i = 0; i < 200; i++)
        strcat(text, "word ");
    strcat(text, "\xc3\xa9t\xc3\xa9 Long_enough_for_emit_alone");
    unsigned calls = 0;
    jr_wc_scan s;
    jr_wc_scan_init(&s, count_call, &calls);
    jr_wc_scan_batch(&s, refuse_batch);
    cr_assert_eq(jr_wc_scan_feed(&s, (const uint8_t *)text, strlen(text)), 7);
    cr_assert_eq(calls, 1, "one batch, then nothing");
    jr_wc_scan_fini(&s);
}

/* A piece that ends where an unreadable page begins: every word ending
 * near there, in either case and of every length, is emitted with its
 * JR_WC_PAD bytes readable (bag_add reads them: a word emitted in place
 * without them would fault), and counted as from an ordinary buffer. */
Test(scan, emits_words_at_the_end_of_a_page_with_their_padding_readable)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(map, MAP_FAILED);
    cr_assert_eq(mprotect(map + page, page, PROT_NONE), 0);
    char text[200];
    for (size_t len = 1; len <= 40; len++)
        for (int upper = 0; upper < 2; upper++)
            for (size_t tail = 0; tail < 3; tail++) { /* bytes after it */
                /* 70 bytes of words before, so the scanner has whole
                 * 64-byte blocks to take the word in. */
                int n =
                    snprintf(text, sizeof text, "%s%s %.*s%.*s",
                             "one two Three four five six seven eight ",
                             "nine ten Eleven twelve ", (int)len,
                             upper ? "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMN"
                                   : "abcdefghijklmnopqrstuvwxyzabcdefghijklmn",
                             (int)tail, " ,.");
                cr_assert_gt(n, 0);
                uint8_t *at = map + page - (size_t)n;
                memcpy(at, text, (size_t)n);
                for (size_t piece = (size_t)n; piece >= 1; piece /= 3) {
                    jr_table *t;
                    cr_assert_eq(jr_table_new(&t, NULL), 0);
                    jr_wc_scan s;
                    jr_wc_scan_init(&s, bag_add, t);
                    /* The last piece ends at the page's end. */
                    size_t first = (size_t)n % piece;
                    if (first)
                        cr_assert_eq(jr_wc_scan_feed(&s, at, first), 0);
                    for (size_t i = first; i < (size_t)n; i += piece)
                        cr_assert_eq(jr_wc_scan_feed(&s, at + i, piece), 0);
                    cr_assert_eq(jr_wc_scan_finish(&s), 0);
                    jr_wc_scan_fini(&s);
                    char *got = tsv_of(t), *want = count_whole(text, (size_t)n);
                    cr_assert_str_eq(got, want,
                                     "len %zu upper %d tail %zu "
                                     "piece %zu",
                                     len, upper, tail, piece);
                    free(got);
                    free(want);
                    jr_table_destroy(&t);
                }
            }
    munmap(map, 2 * page);
}

Test(scan, keeps_a_word_of_a_megabyte_whole)
{
    size_t n = 1 << 20;
    char *buf = malloc(n + 8);
    memset(buf, 'A', n);
    memcpy(buf + n, " b", 3);
    char *got = count_fed(buf, n + 2, 4096);
    cr_assert_eq(strlen(got), 2 + n + 1 + 4);
    cr_assert_eq(strncmp(got, "1\taaaa", 6), 0);
    cr_assert_str_eq(got + 2 + n + 1, "1\tb\n");
    free(got);
    free(buf);
}

/*-************************************
 *  Chunks
 **************************************/
Test(chunk, counts_every_word_once_for_any_split_into_chunks)
{
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    uint8_t buf[400];
    for (int it = 0; it < 2000; it++) {
        size_t len = random_text(buf, sizeof buf, &rng);
        char *whole = count_whole(buf, len);
        for (int split = 0; split < 4; split++) {
            size_t cuts[6], nchunks = 2 + rnd(&rng) % 4;
            cuts[0] = 0;
            cuts[nchunks] = len;
            for (size_t c = 1; c < nchunks; c++)
                cuts[c] = len ? rnd(&rng) % (len + 1) : 0;
            qsort(cuts + 1, nchunks - 1, sizeof cuts[0], size_cmp);
            jr_table *t;
            cr_assert_eq(jr_table_new(&t, NULL), 0);
            count_chunks(t, buf, len, cuts, nchunks + 1, &rng, 0);
            char *got = tsv_of(t);
            cr_assert_str_eq(got, whole, "iteration %d, %zu chunks", it,
                             nchunks);
            free(got);
            jr_table_destroy(&t);
        }
        free(whole);
    }
}

Test(chunk, reads_past_its_end_to_finish_a_megabyte_word)
{
    size_t n = 1 << 20;
    uint8_t *buf = malloc(n + 2);
    memset(buf, 'z', n);
    memcpy(buf + n, " y", 2);
    size_t cuts[] = {0, 1000, 500000, 500001, n + 2};
    uint64_t rng = 42;
    jr_table *t;
    cr_assert_eq(jr_table_new(&t, NULL), 0);
    count_chunks(t, buf, n + 2, cuts, 5, &rng, 0);
    cr_assert_eq(jr_table_count(t), 2);
    cr_assert_eq(jr_table_key_bytes(t), n + 1);
    jr_table_destroy(&t);
    free(buf);
}

Test(chunk, decides_the_unit_before_a_chunk_from_its_lookback)
{
    const uint8_t *p = (const uint8_t *)"x\xc3\xa9\xe7\xb7\x9a \x80";
    cr_assert_eq(jr_wc_word_before(NULL, 0, p, 0), 0);
    cr_assert_eq(jr_wc_word_before(p, 1, p + 1, 0), 1); /* x */
    cr_assert_eq(jr_wc_word_before(p, 2, p + 2, 1), 1); /* é, cut */
    cr_assert_eq(jr_wc_word_before(p, 6, p + 6, 0), 1); /* 線 */
    cr_assert_eq(jr_wc_word_before(p, 7, p + 7, 0), 0); /* space */
    cr_assert_eq(jr_wc_word_before(p, 7, p + 7, 1), 0); /* stray */
    cr_assert_eq(jr_wc_word_before(p, 4, p + 4, 0), 0); /* cut short */
    cr_assert_eq(jr_wc_sync(p + 4, 4), 2);
    cr_assert_eq(jr_wc_sync(p + 7, 1), 1);
}

Test(chunk, split_cuts_where_a_stream_chunk_needs_nothing_after_it)
{
    uint64_t rng = 7;
    uint8_t buf[400];
    int cut_some = 0;
    for (int it = 0; it < 3000; it++) {
        size_t len = random_text(buf, sizeof buf, &rng);
        cr_assert_eq(jr_wc_split(buf, len, 1), len);
        size_t cut = jr_wc_split(buf, len, 0);
        cr_assert_leq(cut, len);
        if (cut == 0)
            continue;
        cut_some++;
        /* A stream slot's chunk cannot read past its end: jr_chunk_more
         * gives nothing.  The counts must not change. */
        size_t cuts[] = {0, cut, len};
        jr_table *t;
        cr_assert_eq(jr_table_new(&t, NULL), 0);
        count_chunks(t, buf, len, cuts, 3, &rng, 1);
        char *got = tsv_of(t), *whole = count_whole(buf, len);
        cr_assert_str_eq(got, whole, "iteration %d, cut at %zu", it, cut);
        free(got);
        free(whole);
        jr_table_destroy(&t);
    }
    cr_assert_gt(cut_some, 1000);
}

Test(chunk, split_finds_no_cut_inside_one_word)
{
    cr_assert_eq(jr_wc_split((const uint8_t *)"abc", 3, 0), 0);
    cr_assert_eq(jr_wc_split((const uint8_t *)"ab cd", 5, 0), 3);
    cr_assert_eq(jr_wc_split((const uint8_t *)"ab \xc3\xa9\xc3", 6, 0), 3);
    cr_assert_eq(jr_wc_split((const uint8_t *)"ab\xe2\x80\x99"
                                              "cd",
                             7, 0),
                 5);
}

static int cmp(const void *ka, size_t kalen, uint64_t va, const void *kb,
               size_t kblen, uint64_t vb)
{
    return jr_job_cmp(&jr_job_wordcount, ka, kalen, va, kb, kblen, vb);
}

Test(job, orders_by_count_then_by_word_bytes)
{
    cr_assert_eq(jr_job_wordcount.order, JR_ORDER_VALUE_DESC);
    cr_assert_lt(cmp("b", 1, 5, "a", 1, 4), 0);
    cr_assert_gt(cmp("a", 1, 4, "b", 1, 5), 0);
    cr_assert_lt(cmp("a", 1, 4, "b", 1, 4), 0);
    cr_assert_lt(cmp("ab", 2, 4, "abc", 3, 4), 0);
    cr_assert_lt(cmp("z", 1, 1, "\xc3\xa9", 2, 1), 0);
    cr_assert_eq(cmp("", 0, 1, "", 0, 1), 0);
    cr_assert_str_eq(jr_job_wordcount.name, "wordcount");
    cr_assert_null(jr_job_wordcount.combine);
    cr_assert_geq(jr_job_wordcount.lookback, 4);
}

/*-************************************
 *  The combining table
 **************************************/
static uint64_t max_of(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

Test(table, sums_the_values_of_a_key_by_default)
{
    jr_table *t;
    cr_assert_eq(jr_table_new(&t, NULL), 0);
    cr_assert_eq(jr_table_add(t, "a", 1, 1), 0);
    cr_assert_eq(jr_table_add(t, "a", 1, 2), 0);
    cr_assert_eq(jr_table_add(t, "a longer key than eight", 23, 3), 0);
    cr_assert_eq(jr_table_add(t, "a longer key than eight", 23, 4), 0);
    cr_assert_eq(jr_table_add(t, "", 0, 5), 0);
    cr_assert_eq(jr_table_count(t), 3);
    cr_assert_eq(jr_table_key_bytes(t), 24);
    char *got = tsv_of(t);
    cr_assert_str_eq(got, "7\ta longer key than eight\n5\t\n3\ta\n");
    free(got);
    jr_table_destroy(&t);
    jr_table_destroy(&t); /* NULL: a no-op */
    jr_table_destroy(NULL);
}

Test(table, combines_with_the_given_function)
{
    jr_table *t;
    cr_assert_eq(jr_table_new(&t, max_of), 0);
    cr_assert_eq(jr_table_add(t, "k", 1, 3), 0);
    cr_assert_eq(jr_table_add(t, "k", 1, 9), 0);
    cr_assert_eq(jr_table_add(t, "k", 1, 4), 0);
    size_t cur = 0, klen;
    const void *key;
    uint64_t v, h;
    cr_assert_eq(jr_table_next(t, &cur, &key, &klen, &v, &h), 1);
    cr_assert_eq(v, 9);
    cr_assert_eq(h >> 8, jr_hash("k", 1) >> 8);
    cr_assert_eq(jr_table_next(t, &cur, &key, &klen, &v, &h), 0);
    jr_table_destroy(&t);
}

/* The number a test key starts with, in hex: up to its first byte that is
 * not a hex digit. */
static size_t key_number(const void *k, size_t klen)
{
    char copy[64];
    cr_assert_lt(klen, sizeof copy);
    memcpy(copy, k, klen);
    copy[klen] = '\0';
    return strtoull(copy, NULL, 16);
}

Test(table, grows_and_keeps_every_key_of_every_length)
{
    jr_table *t;
    cr_assert_eq(jr_table_new(&t, NULL), 0);
    char key[64];
    size_t n = 200000, bytes = 0;
    for (int pass = 1; pass <= 2; pass++)
        for (size_t i = 0; i < n; i++) {
            int len = snprintf(key, sizeof key, "%zx%.*s", i, (int)(i % 40),
                               "----------------------"
                               "--------------------");
            cr_assert_eq(jr_table_add_hashed(t, jr_hash(key, (size_t)len), key,
                                             (size_t)len, i),
                         0);
            if (pass == 1)
                bytes += (size_t)len;
        }
    cr_assert_eq(jr_table_count(t), n);
    cr_assert_eq(jr_table_key_bytes(t), bytes);
    size_t cur = 0, klen, seen = 0;
    const void *k;
    uint64_t v, h;
    while (jr_table_next(t, &cur, &k, &klen, &v, &h)) {
        size_t i = key_number(k, klen); /* the '-' are padding */
        cr_assert_eq(v, 2 * i);
        cr_assert_eq(h >> 8, jr_hash(k, klen) >> 8);
        seen++;
    }
    cr_assert_eq(seen, n);
    jr_table_clear(t);
    cr_assert_eq(jr_table_count(t), 0);
    cr_assert_eq(jr_table_key_bytes(t), 0);
    cr_assert_eq(jr_table_add(t, "again", 5, 1), 0);
    cr_assert_eq(jr_table_count(t), 1);
    jr_table_destroy(&t);
}

/* Resident memory of this process, in bytes. */
static size_t resident_bytes(void)
{
    long kb = jr_test_status_kb(getpid(), "VmRSS");
    cr_assert_geq(kb, 0);
    return (size_t)kb * 1024;
}

static void add_numbered(jr_table *t, size_t from, size_t to)
{
    char key[64];
    for (size_t i = from; i < to; i++) {
        int len = snprintf(key, sizeof key, "%zx%.*s", i, (int)(i % 29),
                           "+++++++++++++++++++++++++++++");
        cr_assert_eq(jr_table_add(t, key, (size_t)len, i + 1), 0);
    }
}

/* What the flush walks with: every entry once, the slots' memory given
 * back behind the walk, and an empty table after, with no entry left to
 * come back (a block not zeroed would bring its keys back). */
Test(table, take_yields_every_entry_once_and_leaves_an_empty_table)
{
    jr_table *t;
    cr_assert_eq(jr_table_new(&t, NULL), 0);
    cr_assert_eq(jr_table_count_parts(t, 3), 0);
    /* Through the doubling steps and both finer ones: 2^20, 3 x 2^19,
     * then 2^21 slots of 32 bytes (64 MB, 32 blocks). */
    size_t n = 1200000;
    add_numbered(t, 0, n);
    uint8_t *seen = calloc(n, 1);
    cr_assert_not_null(seen);
    size_t before = resident_bytes(), least = before;
    size_t cur = 0, klen, got = 0;
    const void *k;
    uint64_t v, h, last = 0;
    while (jr_table_take(t, &cur, &k, &klen, &v, &h)) {
        cr_assert_geq(h, last, "out of tag order"); /* what reducers merge */
        last = h;
        size_t i = key_number(k, klen);
        cr_assert_lt(i, n);
        cr_assert_eq(v, i + 1);
        cr_assert_eq(seen[i], 0, "key %zx twice", i);
        seen[i] = 1;
        if (++got % 50000 == 0) {
            size_t now = resident_bytes();
            least = now < least ? now : least;
        }
    }
    cr_assert_eq(got, n);
    /* Most of the slots are gone before the walk ends. */
    cr_assert_lt(least + (16u << 20), before,
                 "resident %zu before the walk, never below %zu during it",
                 before, least);
    cr_assert_eq(jr_table_count(t), 0);
    cr_assert_eq(jr_table_key_bytes(t), 0);
    for (uint32_t p = 0; p < 3; p++) {
        size_t pk, pb;
        jr_table_part(t, p, &pk, &pb);
        cr_assert_eq(pk + pb, 0);
    }
    cur = 0;
    cr_assert_eq(jr_table_next(t, &cur, &k, &klen, &v, &h), 0);
    /* Usable again: the old keys come back with their new values only. */
    add_numbered(t, 1000, 3000);
    cr_assert_eq(jr_table_count(t), 2000);
    cur = 0;
    while (jr_table_next(t, &cur, &k, &klen, &v, &h)) {
        size_t i = key_number(k, klen);
        cr_assert(i >= 1000 && i < 3000 && v == i + 1, "%zx: %" PRIu64, i, v);
    }
    /* A walk stopped halfway, then a clear: empty too. */
    add_numbered(t, 0, n / 4);
    cur = 0;
    for (size_t i = 0; i < n / 8; i++)
        cr_assert_eq(jr_table_take(t, &cur, &k, &klen, &v, &h), 1);
    jr_table_clear(t);
    cr_assert_eq(jr_table_count(t), 0);
    cur = 0;
    cr_assert_eq(jr_table_next(t, &cur, &k, &klen, &v, &h), 0);
    add_numbered(t, 5, 6);
    cr_assert_eq(jr_table_count(t), 1);
    free(seen);
    jr_table_destroy(&t);
}

/* The flush writes each partition in tag order, and the reducers merge
 * the map outputs as sorted runs.  The slots are in tag order but for
 * linear probing's clusters, and for the keys that probe past the last
 * slot into the first ones: keys made to start probing in the last three
 * slots of 1,024 (they wrap), and in the first two (the first cluster
 * then holds both kinds), among random ones; then random tables of every
 * size up to growth. */
Test(table, take_yields_entries_in_tag_order_the_wrapped_ones_last)
{
    for (int round = 0; round < 40; round++) {
        jr_table *t;
        cr_assert_eq(jr_table_new(&t, NULL), 0);
        size_t cap = jr_table_slots(t), want_top = 8, want_low = 4, n = 0;
        cr_assert_eq(cap, 1024);
        char key[32];
        srand((unsigned)round);
        size_t limit = round < 20 ? 600 : (size_t)rand() % 5000;
        for (unsigned i = 0; n < limit; i++) {
            int len = snprintf(key, sizeof key, "w%u.%d", i, round);
            uint64_t tag = jr_tag_of(jr_hash(key, (size_t)len), (size_t)len);
            size_t home = (size_t)(tag >> 54); /* of 2^10 slots */
            int add = 1;
            if (round < 20 && home >= cap - 3)
                add = want_top > 0 ? (want_top--, 1) : 0;
            else if (round < 20 && home <= 1)
                add = want_low > 0 ? (want_low--, 1) : 0;
            else if (round < 20)
                add = rand() % 64 == 0;
            if (add) {
                cr_assert_eq(jr_table_add(t, key, (size_t)len, i + 1), 0);
                n++;
            }
        }
        cr_assert(round >= 20 || want_top + want_low == 0);
        cr_assert_eq(jr_table_count(t), n);
        size_t cur = 0, klen, got = 0;
        const void *k;
        uint64_t v, h, last = 0;
        if (round >= 10 && round < 20) {
            /* A walk stopped halfway, then a clear, leaves no entry: the
             * blocks kept for the wrapped entries go too. */
            for (size_t i = 0; i < n / 2; i++)
                cr_assert_eq(jr_table_take(t, &cur, &k, &klen, &v, &h), 1);
            jr_table_clear(t);
            cur = 0;
            cr_assert_eq(jr_table_next(t, &cur, &k, &klen, &v, &h), 0,
                         "round %d: an entry left after a clear", round);
            jr_table_destroy(&t);
            continue;
        }
        while (jr_table_take(t, &cur, &k, &klen, &v, &h)) {
            cr_assert_geq(h, last, "round %d: entry %zu out of tag order",
                          round, got);
            cr_assert_eq(h, jr_tag_of(jr_hash(k, klen), klen));
            unsigned i;
            cr_assert_lt(klen, sizeof key);
            memcpy(key, k, klen);
            key[klen] = '\0';
            cr_assert_eq(sscanf(key, "w%u.", &i), 1);
            cr_assert_eq(v, i + 1);
            last = h;
            got++;
        }
        cr_assert_eq(got, n, "round %d: %zu of %zu entries", round, got, n);
        cr_assert_eq(jr_table_count(t), 0);
        jr_table_destroy(&t);
    }
}

static int tag_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x < y) - (x > y);
}

/* An adversary's cluster: 300 keys that all start probing at one slot,
 * added in descending tag order, lie in the cluster backwards; take sorts
 * it all the same (by heapsort, once insertion sort has moved too much). */
Test(table, take_sorts_one_long_cluster_added_backwards)
{
    enum { N = 300 };
    uint64_t found[N][2]; /* tag, key number */
    size_t n = 0;
    char key[32];
    for (unsigned i = 0; n < N; i++) {
        int len = snprintf(key, sizeof key, "c%u", i);
        uint64_t tag = jr_tag_of(jr_hash(key, (size_t)len), (size_t)len);
        if (tag >> 54 == 500) { /* slot 500 of 1,024 */
            found[n][0] = tag;
            found[n++][1] = i;
        }
    }
    qsort(found, N, sizeof found[0], tag_desc);
    jr_table *t;
    cr_assert_eq(jr_table_new(&t, NULL), 0);
    cr_assert_eq(jr_table_slots(t), 1024);
    for (size_t j = 0; j < N; j++) {
        int len = snprintf(key, sizeof key, "c%u", (unsigned)found[j][1]);
        cr_assert_eq(jr_table_add(t, key, (size_t)len, found[j][1]), 0);
    }
    cr_assert_eq(jr_table_slots(t), 1024, "grew: the cluster is not tested");
    size_t cur = 0, klen, got = 0;
    const void *k;
    uint64_t v, h;
    while (jr_table_take(t, &cur, &k, &klen, &v, &h)) {
        cr_assert_eq(h, found[N - 1 - got][0], "entry %zu", got);
        cr_assert_eq(v, found[N - 1 - got][1]);
        got++;
    }
    cr_assert_eq(got, N);
    jr_table_destroy(&t);
}

/* A large table grows by finer steps than doubling: a million short keys
 * (the bench corpus's vocabulary) fit in 3 x 2^19 slots, 48 MB, where
 * doubling made 2^21, 64 MB. */
Test(table, a_million_keys_take_48_mb_of_slots_not_64)
{
    size_t before = resident_bytes();
    jr_table *t;
    cr_assert_eq(jr_table_new(&t, NULL), 0);
    char key[32];
    size_t n = 1070000;
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(key, sizeof key, "w%zx", i);
        cr_assert_eq(jr_table_add(t, key, (size_t)len, 1), 0);
    }
    cr_assert_eq(jr_table_count(t), n);
    size_t grew = resident_bytes() - before;
    cr_assert(grew > (40u << 20) && grew < (60u << 20),
              "%zu keys: %zu bytes more resident", n, grew);
    jr_table_destroy(&t);
}

/* Add keys "w0", "w1", ... until t holds `keys` of them: @return its
 * slots then. */
static size_t slots_after(jr_table *t, size_t keys)
{
    char key[32];
    for (size_t i = jr_table_count(t); i < keys; i++) {
        int len = snprintf(key, sizeof key, "w%zx", i);
        cr_assert_eq(jr_table_add(t, key, (size_t)len, 1), 0);
    }
    cr_assert_eq(jr_table_count(t), keys);
    return jr_table_slots(t);
}

/* A table of 2^20 slots holds 733,999 keys (70%) before it grows, or
 * 838,856 (80%) once 90% of the bytes foreseen are done. */
Test(table, grows_at_80_percent_full_late_in_a_large_input)
{
    size_t big = (size_t)1 << 20;
    jr_table *t;
    cr_assert_eq(jr_table_new(&t, NULL), 0);
    cr_assert_eq(jr_table_expect(t, 500000), 0);
    cr_assert_eq(slots_after(t, 733999), big);
    cr_assert_eq(jr_table_foresee(t, 89, 100), 0);
    cr_assert_eq(slots_after(t, 734000), big + big / 2, "89%%: not late");
    jr_table_destroy(&t);

    cr_assert_eq(jr_table_new(&t, NULL), 0);
    cr_assert_eq(jr_table_expect(t, 500000), 0);
    cr_assert_eq(slots_after(t, 700000), big);
    cr_assert_eq(jr_table_foresee(t, 90, 100), 0);
    cr_assert_eq(slots_after(t, 838856), big);
    cr_assert_eq(slots_after(t, 838857), big + big / 2);
    jr_table_destroy(&t);

    /* Small tables still double at 70%, late or not. */
    cr_assert_eq(jr_table_new(&t, NULL), 0);
    cr_assert_eq(jr_table_foresee(t, 100, 100), 0);
    cr_assert_eq(slots_after(t, 714), 1024);
    cr_assert_eq(slots_after(t, 715), 2048);
    jr_table_destroy(&t);
}

/* A table told how many keys to expect moves to that size at once (keys
 * intact), never past 2^20 slots; foreseen from the bytes done, the keys
 * so far grow by the square root of the bytes still to come, then by the
 * power measured between two calls, and the table makes room for half. */
Test(table, makes_room_for_the_keys_it_expects_at_once_up_to_2_20_slots)
{
    jr_table *t;
    cr_assert_eq(jr_table_new(&t, NULL), 0);
    cr_assert_eq(jr_table_slots(t), 1024);
    char key[32];
    for (int i = 0; i < 100; i++) {
        int len = snprintf(key, sizeof key, "k%d", i);
        cr_assert_eq(jr_table_add(t, key, (size_t)len, (uint64_t)i + 1), 0);
    }
    cr_assert_eq(jr_table_expect(t, 714), 0); /* 70% of 1,024 */
    cr_assert_eq(jr_table_slots(t), 1024);
    cr_assert_eq(jr_table_expect(t, 715), 0);
    cr_assert_eq(jr_table_slots(t), 2048);
    cr_assert_eq(jr_table_expect(t, 500000), 0);
    cr_assert_eq(jr_table_slots(t), (size_t)1 << 20);
    cr_assert_eq(jr_table_expect(t, 50000000), 0);
    cr_assert_eq(jr_table_slots(t), (size_t)1 << 20);
    for (int i = 0; i < 100; i++) { /* found where they moved: no new key */
        int len = snprintf(key, sizeof key, "k%d", i);
        cr_assert_eq(jr_table_add(t, key, (size_t)len, 1000), 0);
    }
    cr_assert_eq(jr_table_count(t), 100);
    size_t cur = 0, klen;
    const void *k;
    uint64_t v, h, sum = 0;
    while (jr_table_next(t, &cur, &k, &klen, &v, &h))
        sum += v;
    cr_assert_eq(sum, 5050 + 100 * 1000);
    jr_table_destroy(&t);

    cr_assert_eq(jr_table_new(&t, NULL), 0);
    for (int i = 0; i < 1000; i++) {
        int len = snprintf(key, sizeof key, "f%d", i);
        cr_assert_eq(jr_table_add(t, key, (size_t)len, 1), 0);
    }
    cr_assert_eq(jr_table_foresee(t, 0, 100u << 20), 0);
    cr_assert_eq(jr_table_foresee(t, 100u << 20, 100u << 20), 0);
    cr_assert_eq(jr_table_slots(t), 2048);
    /* 1,000 keys in 1 MB of 100: 10,000 to come, room for half. */
    cr_assert_eq(jr_table_foresee(t, 1u << 20, 100u << 20), 0);
    cr_assert_eq(jr_table_slots(t), 8192);
    for (int i = 1000; i < 4000; i++) {
        int len = snprintf(key, sizeof key, "f%d", i);
        cr_assert_eq(jr_table_add(t, key, (size_t)len, 1), 0);
    }
    /* Four times the keys in four times the bytes: they grow as the bytes
     * do, 100,000 in 100 MB; room for 50,000 is 131,072 slots. */
    cr_assert_eq(jr_table_foresee(t, 4u << 20, 100u << 20), 0);
    cr_assert_eq(jr_table_slots(t), 131072);
    cr_assert_eq(jr_table_count(t), 4000);
    jr_table_destroy(&t);

    /* Keys that do not grow with the bytes (one per file) foresee few. */
    cr_assert_eq(jr_table_new(&t, NULL), 0);
    for (int i = 0; i < 10; i++) {
        int len = snprintf(key, sizeof key, "file%d", i);
        cr_assert_eq(jr_table_add(t, key, (size_t)len, 1), 0);
    }
    cr_assert_eq(jr_table_foresee(t, 1u << 20, (uint64_t)1 << 30), 0);
    cr_assert_eq(jr_table_slots(t), 1024);
    jr_table_destroy(&t);
}

/* The counts per partition that the flush lays a map output out by: what
 * a walk of the slots finds in each, through growth, long keys, adds
 * that combine, adds that wait in the queue, and after a clear. */
Test(table, counts_keys_and_bytes_per_partition_as_a_walk_finds_them)
{
    jr_table *t;
    uint32_t nparts = 7;
    cr_assert_eq(jr_table_new(&t, NULL), 0);
    cr_assert_eq(jr_table_count_parts(t, 0), JR_EINVAL);
    cr_assert_eq(jr_table_count_parts(t, nparts), 0);
    cr_assert_eq(jr_table_nparts(t), nparts);
    char key[64];
    for (int round = 0; round < 2; round++) {
        size_t n = round ? 1000 : 120000;
        for (size_t i = 0; i < 2 * n; i++) {
            size_t k = i % n; /* every key twice: the second combines */
            int len = snprintf(key, sizeof key, "%zx%.*s", k, (int)(k % 37),
                               "=====================================");
            cr_assert_eq(jr_table_add_soon(t, key, (size_t)len, 1), 0);
        }
        cr_assert_eq(jr_table_drain(t), 0);
        size_t keys[7] = {0}, bytes[7] = {0}, cur = 0, klen, all = 0;
        const void *k;
        uint64_t v, h;
        while (jr_table_next(t, &cur, &k, &klen, &v, &h)) {
            keys[jr_part_of(h, nparts)]++;
            bytes[jr_part_of(h, nparts)] += klen;
            cr_assert_eq(v, 2);
        }
        for (uint32_t p = 0; p < nparts; p++) {
            size_t pk, pb;
            jr_table_part(t, p, &pk, &pb);
            cr_assert_eq(pk, keys[p], "round %d partition %u keys", round, p);
            cr_assert_eq(pb, bytes[p], "round %d partition %u bytes", round, p);
            cr_assert_gt(pk, n / nparts / 2, "partitions are even enough");
            all += pk;
        }
        cr_assert_eq(all, n);
        cr_assert_eq(jr_table_count_parts(t, 3), JR_EINVAL, "not empty");
        jr_table_clear(t);
        for (uint32_t p = 0; p < nparts; p++) {
            size_t pk, pb;
            jr_table_part(t, p, &pk, &pb);
            cr_assert_eq(pk + pb, 0, "cleared");
        }
    }
    jr_table_destroy(&t);
}

/* t, its queue drained, holds the keys and values of ref, more keys than
 * the front holds.  Keys hold zero bytes: compared as records, not as
 * text. */
static void expect_same_table(jr_table *t, const jr_table *ref)
{
    cr_assert_eq(jr_table_drain(t), 0);
    cr_assert_gt(jr_table_count(ref), 4096, "more keys than the front holds");
    cr_assert_eq(jr_table_count(t), jr_table_count(ref));
    cr_assert_eq(jr_table_key_bytes(t), jr_table_key_bytes(ref));
    size_t n = jr_table_count(t);
    rec *got = records_of(t), *want = records_of(ref);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(got[i].len, want[i].len, "record %zu", i);
        cr_assert_eq(memcmp(got[i].key, want[i].key, got[i].len), 0);
        cr_assert_eq(got[i].v, want[i].v, "record %zu", i);
    }
    free(got);
    free(want);
}

/* jr_table_add_soon_padded() reads a short key's 16 bytes whole: what
 * lies after klen must not count.  Keys of every length with random bytes
 * after them, and keys that differ only by trailing zero bytes, more of
 * them than the front holds, come out as jr_table_add() counts them. */
Test(table, padded_adds_ignore_the_bytes_after_the_key)
{
    jr_table *t, *ref;
    cr_assert_eq(jr_table_new(&t, NULL), 0);
    cr_assert_eq(jr_table_new(&ref, NULL), 0);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    uint8_t buf[64 + JR_EMIT_PAD];
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < 30000; i++) {
            size_t klen = i % 41;
            for (size_t j = 0; j < sizeof buf; j++)
                buf[j] = (uint8_t)rnd(&rng);
            /* i's digits, then zeros: "7", "7\0", "7\0\0"... apart. */
            memset(buf, 0, klen);
            snprintf((char *)buf, klen + 1 > 8 ? 8 : klen + 1, "%zx",
                     i / 41 % 4000);
            cr_assert_eq(jr_table_add_soon_padded(t, buf, klen, i + 1), 0);
            cr_assert_eq(jr_table_add(ref, buf, klen, i + 1), 0);
        }
    expect_same_table(t, ref);
    jr_table_destroy(&t);
    jr_table_destroy(&ref);
}

/* jr_table_add_short() finds a key's front slot from its 16 bytes as they
 * lie, stray bytes after it included, and compares the key masked: the
 * same key with other bytes after it may sit in two front slots, and must
 * still be counted once.  Keys of every length up to 16, in groups of 1
 * to 100 (a call takes them 32 at a time), come out as jr_table_add()
 * counts them; a length over 16 is refused. */
Test(table, short_adds_ignore_the_bytes_after_the_key)
{
    jr_table *t, *ref;
    cr_assert_eq(jr_table_new(&t, NULL), 0);
    cr_assert_eq(jr_table_new(&ref, NULL), 0);
    uint64_t rng = 0x2545f4914f6cdd1dull;
    static uint8_t keys[100][JR_TABLE_INLINE];
    uint8_t lens[100];
    size_t added = 0;
    for (uint64_t round = 1; added < 90000; round++) {
        size_t n = 1 + rnd(&rng) % 100;
        for (size_t i = 0; i < n; i++, added++) {
            size_t klen = added % (JR_TABLE_INLINE + 1);
            for (size_t j = 0; j < JR_TABLE_INLINE; j++)
                keys[i][j] = (uint8_t)rnd(&rng);
            /* added's digits, then zeros: "7", "7\0", "7\0\0"... apart. */
            memset(keys[i], 0, klen);
            snprintf((char *)keys[i], klen + 1 > 8 ? 8 : klen + 1, "%zx",
                     added / 17 % 3000);
            lens[i] = (uint8_t)klen;
            cr_assert_eq(jr_table_add(ref, keys[i], klen, round), 0);
        }
        cr_assert_eq(
            jr_table_add_short(t, (const uint8_t(*)[16])keys, lens, n, round),
            0);
    }
    expect_same_table(t, ref);
    lens[40] = JR_TABLE_INLINE + 1;
    cr_assert_eq(jr_table_add_short(t, (const uint8_t(*)[16])keys, lens, 41, 1),
                 JR_EKEYLEN);
    jr_table_destroy(&t);
    jr_table_destroy(&ref);
}

Test(table, keeps_keys_apart_when_their_hashes_collide)
{
    jr_table *t;
    cr_assert_eq(jr_table_new(&t, NULL), 0);
    /* Every key gets the same hash: one probe chain, through a growth. */
    char key[32];
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < 3000; i++) {
            int len = snprintf(key, sizeof key, i % 2 ? "%d" : "%020d", i);
            cr_assert_eq(jr_table_add_hashed(t, 42, key, (size_t)len, 1), 0);
        }
    cr_assert_eq(jr_table_count(t), 3000);
    size_t cur = 0, klen;
    const void *k;
    uint64_t v, h;
    while (jr_table_next(t, &cur, &k, &klen, &v, &h)) {
        cr_assert_eq(v, 2);
        cr_assert_eq(h >> 8, 42 >> 8);
    }
    jr_table_destroy(&t);
}

Test(table, hashes_keys_that_differ_anywhere_differently)
{
    uint8_t a[300] = {0}, b[300] = {0};
    for (size_t len = 0; len < sizeof a; len++) {
        cr_assert_eq(jr_hash(a, len), jr_hash(b, len));
        cr_assert_neq(jr_hash(a, len), jr_hash(a, len + 1));
        for (size_t i = 0; i < len; i++) {
            b[i] = 1;
            cr_assert_neq(jr_hash(a, len), jr_hash(b, len), "%zu/%zu", i, len);
            b[i] = 0;
        }
    }
}

/*-************************************
 *  Against the Python reference
 **************************************/
static jr_table *ref_whole, *ref_chunked;
static uint64_t ref_rng = 12345;

static int count_file(const char *path, const struct stat *st, int type,
                      struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type != FTW_F)
        return 0; /* directories, and links, which the reference skips */
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    size_t len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(len + 1);
    cr_assert_eq(fread(buf, 1, len, f), len);
    fclose(f);

    jr_wc_scan s;
    jr_wc_scan_init(&s, bag_add, ref_whole);
    cr_assert_eq(jr_wc_scan_feed(&s, buf, len), 0);
    cr_assert_eq(jr_wc_scan_finish(&s), 0);
    jr_wc_scan_fini(&s);

    /* The same file in chunks of a random size, as the engine cuts it. */
    size_t step = 1 + rnd(&ref_rng) % 5000, cuts[4096], n = 0;
    for (size_t at = 0; at < len && n < 4095; at += step)
        cuts[n++] = at;
    cuts[n++] = len;
    if (n == 1)
        cuts[n++] = len;
    count_chunks(ref_chunked, buf, len, cuts, n, &ref_rng, 0);
    free(buf);
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int type,
                      struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    remove(path);
    return 0;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    char *out = NULL;
    size_t len = 0, cap = 0, n;
    char buf[65536];
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (len + n + 1 > cap) {
            cap = 2 * (len + n + 1);
            out = realloc(out, cap);
        }
        memcpy(out + len, buf, n);
        len += n;
    }
    fclose(f);
    if (!out)
        out = calloc(1, 1);
    out[len] = '\0';
    return out;
}

Test(reference, scanner_agrees_with_the_python_reference_on_a_corpus,
     .timeout = 300)
{
    const char *py = JR_PYTHON;
    if (!py[0] || access(py, X_OK) != 0)
        cr_skip_test("python3 was not found at configure time");
    char dir[96];
    jr_test_mkdtemp(dir, sizeof dir, "jr-wordcount");
    char cmd[4096], corpus[128], ref[128];
    snprintf(corpus, sizeof corpus, "%s/corpus", dir);
    snprintf(ref, sizeof ref, "%s/ref.tsv", dir);
    snprintf(cmd, sizeof cmd,
             "'%s' '%s/tests/ref/gen_corpus.py' --seed 2024 --size 700000 "
             "'%s' && '%s' '%s/tests/ref/wordcount_ref.py' '%s' > '%s'",
             py, JR_SOURCE_DIR, corpus, py, JR_SOURCE_DIR, corpus, ref);
    cr_assert_eq(system(cmd), 0, "%s", cmd);

    cr_assert_eq(jr_table_new(&ref_whole, NULL), 0);
    cr_assert_eq(jr_table_new(&ref_chunked, NULL), 0);
    cr_assert_eq(nftw(corpus, count_file, 16, FTW_PHYS), 0);
    char *want = read_all(ref);
    char *whole = tsv_of(ref_whole), *chunked = tsv_of(ref_chunked);
    cr_assert_gt(strlen(want), 10000);
    cr_expect(strcmp(whole, want) == 0,
              "the scanner and wordcount_ref.py differ on %s", corpus);
    cr_expect(strcmp(chunked, want) == 0,
              "chunked counts and wordcount_ref.py differ on %s", corpus);
    int same = strcmp(whole, want) == 0 && strcmp(chunked, want) == 0;
    free(want);
    free(whole);
    free(chunked);
    jr_table_destroy(&ref_whole);
    jr_table_destroy(&ref_chunked);
    if (same) /* keep the corpus of a failure to look at */
        nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

Test(table, trim_gives_memory_back_only_when_empty)
{
    jr_table *t;
    cr_assert_eq(jr_table_new(&t, NULL), 0);
    char key[64];
    for (int i = 0; i < 50000; i++) {
        int len = snprintf(key, sizeof key, "key-number-%d-long-enough", i);
        cr_assert_eq(jr_table_add(t, key, (size_t)len, 1), 0);
    }
    cr_assert_eq(jr_table_trim(t), 0); /* not empty: kept */
    cr_assert_eq(jr_table_count(t), 50000);
    jr_table_clear(t);
    cr_assert_eq(jr_table_trim(t), 0);
    cr_assert_eq(jr_table_count(t), 0);
    /* Usable again, long keys (arena) and short ones. */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < 3000; i++) {
            int len = snprintf(key, sizeof key, i % 2 ? "k%d" : "a-long-key-%020d", i);
            cr_assert_eq(jr_table_add(t, key, (size_t)len, 1), 0);
        }
    cr_assert_eq(jr_table_count(t), 3000);
    size_t cur = 0, klen;
    const void *k;
    uint64_t v, h;
    while (jr_table_next(t, &cur, &k, &klen, &v, &h))
        cr_assert_eq(v, 2);
    jr_table_destroy(&t);
}
