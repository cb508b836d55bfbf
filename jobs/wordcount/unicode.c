/*
 * unicode.c - what wordcount knows of bytes and code points: the class of
 * each byte (jr_wc_class); from utf8proc, whether a code point is a word
 * character and its simple lowercase (jr_wc_bmp, jr_wc_info_of); and from
 * those, where a chunk may start or be cut (jr_wc_sync, jr_wc_word_before,
 * jr_wc_split), which must agree with the scanner's decoding exactly.
 *
 * The BMP is tabled once per process (4 bytes a code point, 256 KiB), on
 * the first scanner's init, so that non-ASCII text costs a load per code
 * point and not two utf8proc lookups.  ASCII never gets here: the class
 * table is enough for it.  The UTF-8 decoder is inline in wordcount.h.
 */
#include <pthread.h>
#include <string.h>
#include <utf8proc.h>

#include "jobs/wordcount/wordcount.h"

/* The table as it is spelt: S JR_WC_SEP, L JR_WC_LOW, U JR_WC_UP,
 * M JR_WC_LEAD. */
enum { S = JR_WC_SEP, L = JR_WC_LOW, U = JR_WC_UP, M = JR_WC_LEAD };

const uint8_t jr_wc_class[256] = {
    S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, /* 00 */
    S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, /* 10 */
    S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, /* 20 */
    L, L, L, L, L, L, L, L, L, L, S, S, S, S, S, S, /* 30 */
    S, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, /* 40 */
    U, U, U, U, U, U, U, U, U, U, U, S, S, S, S, L, /* 50 */
    S, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, /* 60 */
    L, L, L, L, L, L, L, L, L, L, L, S, S, S, S, S, /* 70 */
    S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, /* 80 */
    S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, /* 90 */
    S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, /* A0 */
    S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, /* B0 */
    S, S, M, M, M, M, M, M, M, M, M, M, M, M, M, M, /* C0 */
    M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, /* D0 */
    M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, /* E0 */
    M, M, M, M, M, S, S, S, S, S, S, S, S, S, S, S, /* F0 */
};

uint32_t jr_wc_bmp[0x10000]; /* written once, under bmp_once */
static pthread_once_t bmp_once = PTHREAD_ONCE_INIT;

uint32_t jr_wc_info_of(uint32_t cp)
{
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    uint32_t lower = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
    /* Categories L*, M*, N* and Pc are utf8proc's values LU..PC. */
    int word = c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_PC;
    return (word ? JR_WC_WORD : 0) | lower;
}

static void build_bmp(void)
{
    for (uint32_t cp = 0; cp < 0x10000; cp++)
        jr_wc_bmp[cp] = jr_wc_info_of(cp);
}

void jr_wc_tables(void)
{
    pthread_once(&bmp_once, build_bmp);
}

/*-************************************
 *  Chunk boundaries
 **************************************/
size_t jr_wc_sync(const uint8_t *data, size_t len)
{
    size_t i = 0;
    while (i < len && (data[i] & 0xc0) == 0x80)
        i++;
    return i;
}

int jr_wc_word_before(const uint8_t *prev, size_t prev_len, const uint8_t *data,
                      size_t skip)
{
    /* A code point is at most 4 bytes: one ending at data[skip] has its
     * lead among the 4 bytes before.  Past 4 continuation bytes, the unit
     * before is a stray one. */
    if (skip >= 4)
        return 0;
    uint8_t w[4];
    size_t from_prev = prev_len < 4 - skip ? prev_len : 4 - skip;
    if (from_prev)
        memcpy(w, prev + prev_len - from_prev, from_prev);
    if (skip)
        memcpy(w + from_prev, data, skip);
    size_t m = from_prev + skip, q = m;
    while (q > 0 && (w[q - 1] & 0xc0) == 0x80)
        q--;
    if (q-- == 0)
        return 0; /* only continuation bytes, or the input's start */
    if (jr_wc_class[w[q]] != JR_WC_LEAD)
        return q == m - 1 && (jr_wc_class[w[q]] & JR_WC_ALNUM);
    /* Well-formed and ending exactly at data[skip]: a shorter sequence
     * leaves stray bytes between, and one cut short by data[skip] (not a
     * continuation byte) is ill-formed. */
    jr_wc_tables();
    uint32_t cp;
    int r = jr_wc_decode(w + q, m - q, &cp);
    return r > 0 && q + (size_t)r == m && (jr_wc_info(cp) & JR_WC_WORD);
}

size_t jr_wc_split(const uint8_t *buf, size_t len, int eof)
{
    if (eof)
        return len;
    jr_wc_tables();
    /* Walk back to the last unit that is a separator and cut after it:
     * the chunk then ends outside any word and any sequence. */
    for (size_t i = len; i-- > 0;) {
        uint8_t b = buf[i];
        if (b < 0x80) {
            if (jr_wc_class[b] == JR_WC_SEP)
                return i + 1;
            continue;
        }
        if (jr_wc_class[b] != JR_WC_LEAD) {
            if (b >= 0xc0) /* C0, C1, F5..FF: always a separator */
                return i + 1;
            continue; /* a continuation byte: its lead decides */
        }
        uint32_t cp;
        int r = jr_wc_decode(buf + i, len - i, &cp);
        if (r == 0)
            return i + 1; /* ill-formed: the lead byte is a separator */
        if (r > 0 && !(jr_wc_info(cp) & JR_WC_WORD))
            return i + (size_t)r;
        /* r < 0: cut by the end of buf, undecided; look further back. */
    }
    return 0;
}
