/*
 * wordcount.h - the built-in "wordcount" job and the tokenizer under it.
 *
 * The job (jr_job_wordcount) counts words as the wordcount spec defines
 * them (its "Words" section).  Its core is a streaming scanner that knows
 * nothing of the engine: bytes go in by jr_wc_scan_feed(), in pieces cut
 * anywhere, and each word comes out, lowercased, through an emit callback.
 * jr_wc_chunk() adds the rule that lets any split of an input into chunks
 * count every word exactly once; the job's map callback is a thin wrapper
 * around it.
 *
 * The chunk-boundary rule.  Decoding is local: every byte that is not a
 * UTF-8 continuation byte (10xxxxxx) starts a unit, either a well-formed
 * code point or an invalid byte, and continuation bytes belong to the
 * nearest lead byte before them or are separators.  So a chunk [s, e):
 *  - skips the continuation bytes at its start (they belong to a code point
 *    led before s, or are stray separators) to its sync point p, the first
 *    other byte at or after s; with no such byte it owns no word;
 *  - decides from the up to 4 bytes just before p (chunk->prev, then the
 *    skipped bytes) whether the unit before p is a word character: it is
 *    when the last non-continuation byte there leads a well-formed sequence
 *    that ends exactly at p and is a word character;
 *  - counts every word that starts at or after p, dropping the word that
 *    runs through p when the unit before p is a word character (the chunk
 *    where that word starts counts it);
 *  - at e, reads on (jr_chunk_more) while a word or a UTF-8 sequence is
 *    open, until the word ends or the input does; no new word starts there.
 * A word thus belongs to the chunk holding its first byte, and the words
 * counted over any split of an input are those of the whole input.  A
 * stream chunk cannot read on (jr_chunk_more gives nothing), so streams
 * are cut by jr_wc_split(), just after a separator.
 */
#ifndef JR_WORDCOUNT_H
#define JR_WORDCOUNT_H

#include <stddef.h>
#include <stdint.h>

#include "jobrun.h"

/* The "wordcount" job: keys are lowercased words, values their counts,
 * in count-descending then word-ascending (memcmp) order.  Static. */
extern const jr_job jr_job_wordcount;

/* Called once per word with its lowercased UTF-8 bytes, borrowed for the
 * call only; word[0 .. max(len, JR_WC_PAD)) can be read (what
 * jr_emit_padded asks).  A non-zero return stops the scan, which returns
 * it. */
typedef int (*jr_wc_emit_fn)(void *arg, const uint8_t *word, size_t len);
#define JR_WC_PAD 16

/* Called, when a scanner has one (jr_wc_scan_batch), with n words at once
 * of JR_WC_PAD bytes or fewer: word i is keys[i][0 .. lens[i]), lowercased
 * and zero-padded to JR_WC_PAD bytes; all borrowed for the call only.  A
 * non-zero return stops the scan, which returns it.  Such a batch is
 * delivered before the next word that goes to emit, and by the end of
 * each feed, tail or finish call: words come out in input order either
 * way. */
typedef int (*jr_wc_batch_fn)(void *arg, const uint8_t (*keys)[JR_WC_PAD],
                              const uint8_t *lens, unsigned n);
/* The most words in a batch. */
#define JR_WC_BATCH 32

/* A scanner, in caller storage: jr_wc_scan_init() / jr_wc_scan_fini().
 * Fields are private. */
typedef struct jr_wc_scan {
    jr_wc_emit_fn emit;
    void *arg;
    uint8_t *word; /* the word in progress, lowercased; owned */
    size_t wlen, wcap;
    uint8_t seq[4]; /* a UTF-8 sequence cut by the end of a piece */
    size_t nseq;
    int in_word; /* the last unit was a word character */
    int discard; /* the word in progress is not ours: do not emit it */
    uint64_t small[2]; /* a short ASCII word, lowered and zero-padded */
    jr_wc_batch_fn batch; /* NULL: every word goes to emit */
    unsigned nbatch;      /* words waiting in keys[] and lens[] */
    uint8_t lens[JR_WC_BATCH];
    uint8_t keys[JR_WC_BATCH][JR_WC_PAD];
} jr_wc_scan;

/* Set up s to report words to emit(arg, ...).  Allocates nothing: the
 * word buffer grows on first use.  Builds the process's code point table
 * on its first call (thread-safe). */
void jr_wc_scan_init(jr_wc_scan *s, jr_wc_emit_fn emit, void *arg);

/* Send the words of JR_WC_PAD bytes or fewer (nearly all the words of
 * most text) to batch, JR_WC_BATCH at a time, rather than one by one to
 * emit: a caller that looks each word up in a table can then overlap the
 * lookups.  Longer words still go to emit.  NULL goes back to emit
 * alone. */
void jr_wc_scan_batch(jr_wc_scan *s, jr_wc_batch_fn batch);

/* Free the word buffer.  The scanner may be initialised again. */
void jr_wc_scan_fini(jr_wc_scan *s);

/* Forget any state: the next byte starts an input.  after_word: the unit
 * just before that byte is a word character, and the word it ends is
 * somebody else's, so its rest is skipped, not emitted. */
void jr_wc_scan_reset(jr_wc_scan *s, int after_word);

/* Scan the next len bytes of the input.  Words that end inside them are
 * emitted; one still open at the end is kept for the next call.
 * @return 0, JR_ENOMEM, or the emit callback's non-zero value. */
int jr_wc_scan_feed(jr_wc_scan *s, const uint8_t *p, size_t len);

/* Like feed, for bytes past the end of a chunk: only finish the word or
 * sequence that is open, start none.  *used: bytes consumed.
 * @return as jr_wc_scan_feed(). */
int jr_wc_scan_tail(jr_wc_scan *s, const uint8_t *p, size_t len, size_t *used);

/* @return 1 while a word of ours, or a UTF-8 sequence that may start or
 * continue one, is open: the end of a chunk is then not the end of its
 * scan. */
int jr_wc_scan_busy(const jr_wc_scan *s);

/* End of the input: a cut sequence is invalid (a separator), an open word
 * is emitted.  @return as jr_wc_scan_feed(). */
int jr_wc_scan_finish(jr_wc_scan *s);

/*-************************************
 *  Chunks
 **************************************/
/* Where a chunk's scan reads past its end (more: as jr_chunk_more(), 1
 * with bytes, 0 at the end of the input, or a negative code) and tells
 * its progress (may be NULL). */
typedef struct jr_wc_io {
    int (*more)(void *arg, const uint8_t **p, size_t *len);
    void (*progress)(void *arg, uint64_t bytes);
    void *arg;
} jr_wc_io;

/* The offset of the chunk's sync point: its first byte that is not a
 * continuation byte, or len when there is none. */
size_t jr_wc_sync(const uint8_t *data, size_t len);

/* Whether the unit just before data[skip] is a word character, seen from
 * the prev_len bytes before data (0: the input starts at data) and the
 * skip continuation bytes data[0..skip). */
int jr_wc_word_before(const uint8_t *prev, size_t prev_len, const uint8_t *data,
                      size_t skip);

/* Count the words that belong to a chunk data[0..len) (see the rule at
 * the top), reading past its end through io->more.  s is reset first;
 * words go to its emit callback.
 * @return 0, JR_ENOMEM, a negative code from io->more, or emit's value. */
int jr_wc_chunk(jr_wc_scan *s, const uint8_t *data, size_t len,
                const uint8_t *prev, size_t prev_len, const jr_wc_io *io);

/* The job's jr_split_fn: a cut such that no word and no UTF-8 sequence
 * spans it (just after a separator), len at eof, 0 when there is none. */
size_t jr_wc_split(const uint8_t *buf, size_t len, int eof);

/*-************************************
 *  Internals shared by this folder's files
 **************************************/
/* Byte classes (jr_wc_class, unicode.c): SEP separates (ASCII non-word, a
 * continuation byte met where a unit starts, C0, C1, F5..FF), LOW and UP
 * are ASCII word bytes (UP: A-Z, lowered by adding 32), LEAD leads a
 * multi-byte sequence (C2..F4). */
enum { JR_WC_SEP = 0, JR_WC_LOW = 1, JR_WC_UP = 2, JR_WC_LEAD = 4 };
#define JR_WC_ALNUM (JR_WC_LOW | JR_WC_UP)
extern const uint8_t jr_wc_class[256];

/* A code point's info: JR_WC_WORD when its category is L*, M*, N* or Pc,
 * and its simple lowercase in the low 21 bits.  0 stands for an invalid
 * byte.  jr_wc_bmp holds the info of U+0000..U+FFFF once jr_wc_tables()
 * has returned (thread-safe, idempotent); jr_wc_info_of() asks utf8proc. */
#define JR_WC_WORD 0x80000000u
#define JR_WC_LOWER(info) ((info)&0x1fffffu)
extern uint32_t jr_wc_bmp[0x10000];
void jr_wc_tables(void);
uint32_t jr_wc_info_of(uint32_t cp);

static inline uint32_t jr_wc_info(uint32_t cp)
{
    return cp < 0x10000 ? jr_wc_bmp[cp] : jr_wc_info_of(cp);
}

/* Decode the sequence led by p[0] (a LEAD byte) from avail bytes.
 * @return its length with *cp set; 0 if it is ill-formed (the lead byte
 * alone is then a separator); -1 if it is well-formed so far but needs
 * more bytes than avail. */
static inline int jr_wc_decode(const uint8_t *p, size_t avail, uint32_t *cp)
{
    uint8_t b = p[0];
    if (avail < 2)
        return -1;
    uint8_t c1 = p[1];
    if (b < 0xe0) {
        if ((c1 & 0xc0) != 0x80)
            return 0;
        *cp = (uint32_t)(b & 0x1f) << 6 | (c1 & 0x3f);
        return 2;
    }
    /* The second byte's range rules out overlong forms (E0, F0),
     * surrogates (ED) and values above U+10FFFF (F4). */
    uint8_t lo = b == 0xe0 ? 0xa0 : b == 0xf0 ? 0x90 : 0x80;
    uint8_t hi = b == 0xed ? 0x9f : b == 0xf4 ? 0x8f : 0xbf;
    if (c1 < lo || c1 > hi)
        return 0;
    if (avail < 3)
        return -1;
    if ((p[2] & 0xc0) != 0x80)
        return 0;
    if (b < 0xf0) {
        *cp = (uint32_t)(b & 0x0f) << 12 | (uint32_t)(c1 & 0x3f) << 6 |
              (p[2] & 0x3f);
        return 3;
    }
    if (avail < 4)
        return -1;
    if ((p[3] & 0xc0) != 0x80)
        return 0;
    *cp = (uint32_t)(b & 0x07) << 18 | (uint32_t)(c1 & 0x3f) << 12 |
          (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
    return 4;
}

#endif /* JR_WORDCOUNT_H */
