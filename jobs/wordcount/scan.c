/*
 * scan.c - wordcount's tokenizer: UTF-8 bytes in, lowercased words out.
 *
 * A byte not part of a well-formed UTF-8 sequence separates words, as does
 * every code point outside L*, M*, N* and Pc; word code points are mapped
 * to their simple lowercase (utf8proc).  ASCII never reaches utf8proc: a
 * 256-entry class table drives the loops, and a whole ASCII word that is
 * already lowercase is emitted straight from the input, uncopied.  Other
 * code points of the BMP are looked up in a table built once per process
 * from utf8proc.  The scanner is streaming: a word or a sequence cut by
 * the end of a piece carries over to the next.
 *
 * A word is emitted with JR_WC_PAD bytes readable from its start, so that
 * the table reads a short key with two loads and no branch on its length
 * (jr_emit_padded): short ASCII words are lowered into a 16-byte buffer
 * of the scanner's, the word buffer keeps JR_WC_PAD bytes of slack, and a
 * word emitted from the input is longer than JR_WC_PAD.
 *
 * With a batch callback (jr_wc_scan_batch) the short words go out
 * JR_WC_BATCH at a time, lowered into an array of 16-byte keys, so that
 * the table they go to overlaps their lookups.
 */
#include <stdlib.h>
#include <string.h>

#include "jobs/wordcount/wordcount.h"
#include "util/pad16.h"
#include "util/util.h"

static inline uint8_t ascii_lower(uint8_t c)
{
    /* 'A' + 32 == 'a' */
    return (uint8_t)(c + ((jr_wc_class[c] & JR_WC_UP) << 4));
}

static inline size_t encode(uint8_t *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xc0 | cp >> 6);
        o[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xe0 | cp >> 12);
        o[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (uint8_t)(0xf0 | cp >> 18);
    o[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/*-************************************
 *  Eight bytes at a time
 **************************************/
static inline uint64_t load8(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline void store8(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

/* Eight ASCII bytes lowercased at once: a byte gains 0x20 when adding
 * 0x3f carries it past 0x7f (it is >= 'A') and adding 0x25 does not (it
 * is <= 'Z').  No byte carries into the next: every byte is below 0x80. */
static inline uint64_t lower8(uint64_t x)
{
    uint64_t ge_a = x + 0x3f3f3f3f3f3f3f3full, gt_z = x + 0x2525252525252525ull;
    return x | (ge_a & ~gt_z & 0x8080808080808080ull) >> 2;
}

/* Whether eight ASCII bytes hold an A-Z. */
static inline int upper8(uint64_t x)
{
    uint64_t ge_a = x + 0x3f3f3f3f3f3f3f3full, gt_z = x + 0x2525252525252525ull;
    return (ge_a & ~gt_z & 0x8080808080808080ull) != 0;
}

/*-************************************
 *  Runs of ASCII
 **************************************/
/* Most of the input is ASCII words and the spaces between them.  With
 * SSE2 (every x86-64) 16 bytes are classified at once and a run's end is
 * found by a bit scan, so the loops below do not mispredict at the end of
 * every word as a byte loop does. */
#if defined(__SSE2__)
#include <emmintrin.h>

/* Bit j set when p[j] is an ASCII word byte; *upper: the A-Z ones. */
static inline unsigned word_mask(const uint8_t *p, unsigned *upper)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i x20 = _mm_set1_epi8(0x20);
    /* Signed compares: bytes >= 0x80 are negative and match no range. */
    __m128i folded = _mm_or_si128(v, x20);
    __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(folded, _mm_set1_epi8(0x60)),
                                   _mm_cmplt_epi8(folded, _mm_set1_epi8(0x7b)));
    __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(0x2f)),
                                  _mm_cmplt_epi8(v, _mm_set1_epi8(0x3a)));
    __m128i under = _mm_cmpeq_epi8(v, _mm_set1_epi8('_'));
    __m128i lower = _mm_cmpeq_epi8(_mm_and_si128(v, x20), x20);
    *upper = (unsigned)_mm_movemask_epi8(_mm_andnot_si128(lower, letter));
    return (unsigned)_mm_movemask_epi8(
        _mm_or_si128(_mm_or_si128(letter, digit), under));
}

/* Bit j set when p[j] is an ASCII word byte or not ASCII. */
static inline unsigned word_or_high_mask(const uint8_t *p)
{
    unsigned upper;
    unsigned w = word_mask(p, &upper);
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    return w | (unsigned)_mm_movemask_epi8(v);
}

/* Classify 64 bytes: W word bytes, H bytes >= 0x80. */
static inline void masks64(const uint8_t *p, uint64_t *w, uint64_t *h)
{
    *w = *h = 0;
    for (unsigned j = 0; j < 64; j += 16) {
        unsigned up, wm = word_mask(p + j, &up);
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + j));
        *w |= (uint64_t)wm << j;
        *h |= (uint64_t)(unsigned)_mm_movemask_epi8(v) << j;
    }
}

static int ascii_word(jr_wc_scan *s, const uint8_t *p, size_t len,
                      size_t avail);

/* Scan whole 64-byte blocks of pure ASCII from p[*at], which is not
 * inside a word, emitting the words that end in them.  Words are found
 * from bit masks, one branch per word and not per byte.  Stops before a
 * block with a non-ASCII byte (*retry: the byte after it) or past the end,
 * with *at at the start of the word still open (not emitted yet) or at
 * the block. */
static int ascii_blocks(jr_wc_scan *s, const uint8_t *p, size_t len, size_t *at,
                        size_t *retry)
{
    size_t i = *at, wstart = 0;
    int open = 0;
    *retry = len;
    while (i + 64 <= len) {
        uint64_t w, h;
        masks64(p + i, &w, &h);
        if (h) {
            *retry = i + (size_t)__builtin_ctzll(h) + 1;
            break;
        }
        uint64_t prev = (w << 1) | (uint64_t)open;
        uint64_t starts = w & ~prev, ends = ~w & prev;
        for (;;) {
            if (!open) {
                if (!starts)
                    break;
                wstart = i + (size_t)__builtin_ctzll(starts);
                starts &= starts - 1;
                open = 1;
            }
            if (!ends)
                break;
            unsigned e = (unsigned)__builtin_ctzll(ends);
            ends &= ends - 1;
            open = 0;
            int rc = ascii_word(s, p + wstart, i + e - wstart, len - wstart);
            if (rc)
                return rc;
        }
        i += 64;
    }
    *at = open ? wstart : i;
    return 0;
}
#endif

/* Skip separators from p[i]: @return the first byte that may start a
 * word (an ASCII word byte or a lead byte), or len. */
static inline size_t skip_sep(const uint8_t *p, size_t i, size_t len)
{
#if defined(__SSE2__)
    while (i + 16 <= len) {
        unsigned m = word_or_high_mask(p + i);
        if (!m) {
            i += 16;
            continue;
        }
        i += (size_t)__builtin_ctz(m);
        if (jr_wc_class[p[i]] != JR_WC_SEP)
            return i;
        i++; /* a stray continuation byte or an invalid lead */
    }
#endif
    while (i < len && jr_wc_class[p[i]] == JR_WC_SEP)
        i++;
    return i;
}

/* The end of the run of ASCII word bytes from p[i]; *upper becomes
 * non-zero when the run holds an A-Z. */
static inline size_t ascii_run(const uint8_t *p, size_t i, size_t len,
                               unsigned *upper)
{
#if defined(__SSE2__)
    while (i + 16 <= len) {
        unsigned up, w = word_mask(p + i, &up);
        unsigned n = (unsigned)__builtin_ctz(~w); /* <= 16: w < 2^16 */
        *upper |= up & ((1u << n) - 1);
        i += n;
        if (n < 16)
            return i;
    }
#endif
    while (i < len && (jr_wc_class[p[i]] & JR_WC_ALNUM)) {
        *upper |= jr_wc_class[p[i]] & JR_WC_UP;
        i++;
    }
    return i;
}

/*-************************************
 *  The word buffer
 **************************************/
/* Room for `more` bytes after the word, and JR_WC_PAD after those: the
 * word is emitted from here. */
static int grow_word(jr_wc_scan *s, size_t more)
{
    if (more > SIZE_MAX - JR_WC_PAD || s->wlen > SIZE_MAX - JR_WC_PAD - more)
        return JR_ENOMEM;
    return jr_array_reserve(&s->word, &s->wcap, s->wlen + more + JR_WC_PAD, 1,
                            64);
}

static inline int reserve(jr_wc_scan *s, size_t more)
{
    return s->wcap - s->wlen >= more + JR_WC_PAD ? 0 : grow_word(s, more);
}

/* Append ASCII word bytes, lowercased: eight at a time from 8 bytes on,
 * the last eight overlapping the ones before (their common bytes are
 * written twice, alike). */
static int put_ascii(jr_wc_scan *s, const uint8_t *p, size_t len)
{
    if (s->discard)
        return 0;
    if (reserve(s, len) < 0)
        return JR_ENOMEM;
    uint8_t *w = s->word + s->wlen;
    s->wlen += len;
    if (len < 8) {
        for (size_t i = 0; i < len; i++)
            w[i] = ascii_lower(p[i]);
        return 0;
    }
    for (size_t i = 0; i + 8 < len; i += 8)
        store8(w + i, lower8(load8(p + i)));
    store8(w + len - 8, lower8(load8(p + len - 8)));
    return 0;
}

/* Append one code point's lowercase, UTF-8 encoded.  Its length may
 * differ from the input's (U+023A, 2 bytes, lowers to U+2C65, 3 bytes). */
static inline int put_cp(jr_wc_scan *s, uint32_t info)
{
    if (s->discard)
        return 0;
    if (reserve(s, 4) < 0)
        return JR_ENOMEM;
    s->wlen += encode(s->word + s->wlen, JR_WC_LOWER(info));
    return 0;
}

/*-************************************
 *  Emitting
 **************************************/
/* Deliver the batched words.  (s->batch is set when any are waiting.) */
static int flush_batch(jr_wc_scan *s)
{
    unsigned n = s->nbatch;
    if (n == 0)
        return 0;
    s->nbatch = 0;
    return s->batch(s->arg, (const uint8_t(*)[JR_WC_PAD])s->keys, s->lens, n);
}

/* A word to emit: after the batched words before it, so that words come
 * out in input order. */
static int emit_one(jr_wc_scan *s, const uint8_t *word, size_t len)
{
    int rc = flush_batch(s);
    return rc ? rc : s->emit(s->arg, word, len);
}

/* Add a word of len <= JR_WC_PAD to the batch, as two zero-padded words;
 * a full batch goes out. */
static inline int batch_add(jr_wc_scan *s, uint64_t lo, uint64_t hi, size_t len)
{
    unsigned n = s->nbatch++;
    store8(s->keys[n], lo);
    store8(s->keys[n] + 8, hi);
    s->lens[n] = (uint8_t)len;
    return n + 1 == JR_WC_BATCH ? flush_batch(s) : 0;
}

/* The word in s->word, lowercased: to the batch when it is short (the
 * buffer's slack makes JR_WC_PAD bytes readable), else to emit. */
static int emit_buffered(jr_wc_scan *s)
{
    size_t len = s->wlen;
    if (!s->batch || len > JR_WC_PAD)
        return emit_one(s, s->word, len);
    uint64_t lo, hi;
    jr_load16_padded(s->word, len, &lo, &hi);
    return batch_add(s, lo, hi, len);
}

static int end_word(jr_wc_scan *s)
{
    s->in_word = 0;
    if (s->discard) {
        s->discard = 0;
        return 0;
    }
    return emit_buffered(s);
}

/* A unit decoded whole: a code point's info, or 0 for an invalid byte. */
static int unit(jr_wc_scan *s, uint32_t info)
{
    if (!(info & JR_WC_WORD))
        return s->in_word ? end_word(s) : 0;
    if (!s->in_word) {
        s->in_word = 1;
        s->wlen = 0;
    }
    return put_cp(s, info);
}

/*-************************************
 *  Scanning
 **************************************/
/* Finish the sequence cut at the end of the last piece with the first
 * bytes of p.  @return -1 if p ends before it does (all kept), else the
 * unit's info (0: invalid) with *at set where scanning resumes in p. */
static int64_t finish_seq(jr_wc_scan *s, const uint8_t *p, size_t len,
                          size_t *at)
{
    uint8_t tmp[4];
    size_t had = s->nseq, k = 4 - had < len ? 4 - had : len;
    memcpy(tmp, s->seq, had);
    memcpy(tmp + had, p, k);
    uint32_t cp;
    int r = jr_wc_decode(tmp, had + k, &cp);
    if (r < 0) {
        memcpy(s->seq + had, p, k);
        s->nseq += k;
        return -1;
    }
    s->nseq = 0;
    if (r == 0) {
        /* The lead byte alone is the separator; what followed it in p is
         * scanned again, its continuation bytes as stray ones. */
        *at = 0;
        return 0;
    }
    *at = (size_t)r - had;
    return jr_wc_info(cp);
}

/* Continue the open word through p[*at..len): it ends at the first unit
 * that is not a word character, which is consumed.  Returns with
 * s->in_word still set when p ends first (and maybe a sequence cut). */
static int word_rest(jr_wc_scan *s, const uint8_t *p, size_t len, size_t *at)
{
    size_t i = *at;
    for (;;) {
        size_t start = i;
        unsigned upper = 0;
        i = ascii_run(p, i, len, &upper);
        int rc = put_ascii(s, p + start, i - start);
        if (rc)
            return rc;
        if (i == len)
            break;
        if (jr_wc_class[p[i]] != JR_WC_LEAD) {
            *at = i + 1;
            return end_word(s);
        }
        uint32_t cp;
        int r = jr_wc_decode(p + i, len - i, &cp);
        if (r < 0) {
            memcpy(s->seq, p + i, len - i);
            s->nseq = len - i;
            i = len;
            break;
        }
        uint32_t info = r ? jr_wc_info(cp) : 0;
        i += r ? (size_t)r : 1;
        if (!(info & JR_WC_WORD)) {
            *at = i;
            return end_word(s);
        }
        if ((rc = put_cp(s, info)) != 0)
            return rc;
    }
    *at = i;
    return 0;
}

/* ascii_word() for every word but a short one with a batch: a short word
 * is lowered with no branch on its length or its case, into s->small; a
 * long one is emitted from the input when it has no A-Z. */
static int ascii_word_one(jr_wc_scan *s, const uint8_t *p, size_t len,
                          size_t avail)
{
    if (len <= JR_WC_PAD && avail >= JR_WC_PAD) {
        uint64_t lo, hi;
        jr_load16_padded(p, len, &lo, &hi);
        s->small[0] = lower8(lo);
        s->small[1] = lower8(hi);
        return s->emit(s->arg, (const uint8_t *)s->small, len);
    }
    if (len > JR_WC_PAD) {
        int upper = upper8(load8(p + len - 8));
        for (size_t i = 0; i + 8 < len && !upper; i += 8)
            upper = upper8(load8(p + i));
        if (!upper)
            return emit_one(s, p, len);
    }
    s->wlen = 0;
    int rc = put_ascii(s, p, len);
    return rc ? rc : emit_buffered(s);
}

/* An ASCII word p[0..len) whole in the piece, ended by an ASCII byte;
 * avail bytes can be read from p.  A short one joins the batch, lowered
 * as ascii_word_one() does it, by code inlined into the loops that find
 * words: no call per word. */
static inline int ascii_word(jr_wc_scan *s, const uint8_t *p, size_t len,
                             size_t avail)
{
    if (!s->batch || len > JR_WC_PAD || avail < JR_WC_PAD)
        return ascii_word_one(s, p, len, avail);
    uint64_t lo, hi;
    jr_load16_padded(p, len, &lo, &hi);
    return batch_add(s, lower8(lo), lower8(hi), len);
}

static int scan_words(jr_wc_scan *s, const uint8_t *p, size_t len, int tail,
                      size_t *used)
{
    size_t i = 0;
    int rc = 0;
    *used = 0;
    if (s->nseq) {
        int64_t info = finish_seq(s, p, len, &i);
        if (info < 0) {
            *used = len;
            return 0;
        }
        if ((rc = unit(s, (uint32_t)info)) != 0)
            return rc;
    }
    if (s->in_word && (rc = word_rest(s, p, len, &i)) != 0)
        return rc;
    if (tail || s->in_word || s->nseq) {
        *used = i;
        return 0;
    }
    size_t retry = 0; /* no use trying blocks before this byte */
    for (;;) {
#if defined(__SSE2__)
        if (i >= retry && i + 64 <= len &&
            (rc = ascii_blocks(s, p, len, &i, &retry)) != 0)
            return rc;
#endif
        i = skip_sep(p, i, len);
        if (i >= len)
            break;
        if (jr_wc_class[p[i]] != JR_WC_LEAD) {
            /* The ASCII fast path: find the run, then look at what ended
             * it.  Only a word cut by a non-ASCII byte or by the end of
             * the piece goes to the word buffer. */
            size_t start = i;
            unsigned upper = 0;
            i = ascii_run(p, i, len, &upper);
            if (i < len && p[i] < 0x80) {
                rc = ascii_word(s, p + start, i - start, len - start);
                if (rc)
                    return rc;
                i++;
                continue;
            }
            s->wlen = 0;
            if ((rc = put_ascii(s, p + start, i - start)) != 0)
                return rc;
            s->in_word = 1;
        } else {
            uint32_t cp;
            int r = jr_wc_decode(p + i, len - i, &cp);
            if (r < 0) {
                memcpy(s->seq, p + i, len - i);
                s->nseq = len - i;
                break;
            }
            if (r == 0) {
                i++;
                continue;
            }
            i += (size_t)r;
            uint32_t info = jr_wc_info(cp);
            if (!(info & JR_WC_WORD))
                continue;
            s->wlen = 0;
            s->in_word = 1;
            if ((rc = put_cp(s, info)) != 0)
                return rc;
        }
        if ((rc = word_rest(s, p, len, &i)) != 0)
            return rc;
        if (s->in_word)
            break;
    }
    *used = len;
    return 0;
}

/* scan_words(), and the words still batched at its end delivered. */
static int scan(jr_wc_scan *s, const uint8_t *p, size_t len, int tail,
                size_t *used)
{
    int rc = scan_words(s, p, len, tail, used);
    if (rc) {
        s->nbatch = 0; /* failed or stopped: no word goes out after it */
        return rc;
    }
    return flush_batch(s);
}

/*-************************************
 *  The scanner's API
 **************************************/
void jr_wc_scan_init(jr_wc_scan *s, jr_wc_emit_fn emit, void *arg)
{
    jr_wc_tables();
    memset(s, 0, sizeof *s);
    s->emit = emit;
    s->arg = arg;
}

void jr_wc_scan_batch(jr_wc_scan *s, jr_wc_batch_fn batch)
{
    s->batch = batch;
}

void jr_wc_scan_fini(jr_wc_scan *s)
{
    free(s->word);
    s->word = NULL;
    s->wlen = s->wcap = 0;
}

void jr_wc_scan_reset(jr_wc_scan *s, int after_word)
{
    s->wlen = 0;
    s->nseq = 0;
    s->nbatch = 0;
    s->in_word = after_word != 0;
    s->discard = after_word != 0;
}

int jr_wc_scan_feed(jr_wc_scan *s, const uint8_t *p, size_t len)
{
    size_t used;
    return len ? scan(s, p, len, 0, &used) : 0;
}

int jr_wc_scan_tail(jr_wc_scan *s, const uint8_t *p, size_t len, size_t *used)
{
    *used = 0;
    return len ? scan(s, p, len, 1, used) : 0;
}

int jr_wc_scan_busy(const jr_wc_scan *s)
{
    /* A word that is not ours needs no more bytes: nothing of it or
     * after it is ours. */
    return !s->discard && (s->in_word || s->nseq > 0);
}

int jr_wc_scan_finish(jr_wc_scan *s)
{
    s->nseq = 0; /* a sequence cut by the end of input is invalid */
    int rc = s->in_word ? end_word(s) : 0;
    if (rc) {
        s->nbatch = 0;
        return rc;
    }
    return flush_batch(s); /* the last word may be waiting there */
}
