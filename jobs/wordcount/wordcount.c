/*
 * wordcount.c - the built-in "wordcount" job: how a chunk is counted (the
 * boundary rule of wordcount.h), the map callback that wraps it, the
 * result order and the job's table.
 *
 * Each word is emitted with the value 1 and summed by the table's default
 * combine, in the worker first and then across workers.  The tokenizer
 * itself is scan.c.
 */
#include "jobs/jobs.h"
#include "jobs/wordcount/wordcount.h"

/* Report progress (and so liveness) after this many bytes of a chunk. */
#define PROGRESS_BYTES ((size_t)4 << 20)

int jr_wc_chunk(jr_wc_scan *s, const uint8_t *data, size_t len,
                const uint8_t *prev, size_t prev_len, const jr_wc_io *io)
{
    size_t at = jr_wc_sync(data, len);
    if (at == len)
        return 0; /* no unit starts here: every byte is the chunk before's */
    jr_wc_scan_reset(s, jr_wc_word_before(prev, prev_len, data, at));
    while (at < len) {
        size_t n = len - at < PROGRESS_BYTES ? len - at : PROGRESS_BYTES;
        int rc = jr_wc_scan_feed(s, data + at, n);
        if (rc)
            return rc;
        at += n;
        if (io->progress)
            io->progress(io->arg, n);
    }
    /* A word or a sequence open at the end is still ours: read on until
     * it ends.  No word starts out there; the next chunk owns those. */
    while (jr_wc_scan_busy(s)) {
        const uint8_t *p = NULL;
        size_t n = 0, used;
        int r = io->more(io->arg, &p, &n);
        if (r < 0)
            return r;
        if (r == 0 || n == 0)
            return jr_wc_scan_finish(s);
        int rc = jr_wc_scan_tail(s, p, n, &used);
        if (rc)
            return rc;
    }
    return 0;
}

/*-************************************
 *  The job
 **************************************/
_Static_assert(JR_WC_PAD == JR_EMIT_PAD, "the scanner pads words as "
                                         "jr_emit_padded() asks");

static int emit_word(void *ctx, const uint8_t *word, size_t len)
{
    return jr_emit_padded(ctx, word, len, 1);
}

static int emit_words(void *ctx, const uint8_t (*keys)[JR_WC_PAD],
                      const uint8_t *lens, unsigned n)
{
    return jr_emit_short(ctx, keys, lens, n, 1);
}

static int more(void *ctx, const uint8_t **p, size_t *len)
{
    return jr_chunk_more(ctx, p, len);
}

static void progress(void *ctx, uint64_t bytes)
{
    jr_progress(ctx, bytes);
}

static int map(jr_map_ctx *ctx, const jr_chunk *chunk)
{
    if (!chunk->data || chunk->len == 0)
        return 0;
    jr_wc_scan s;
    jr_wc_scan_init(&s, emit_word, ctx);
    jr_wc_scan_batch(&s, emit_words);
    jr_wc_io io = {more, progress, ctx};
    int rc = jr_wc_chunk(&s, chunk->data, chunk->len, chunk->prev,
                         chunk->prev_len, &io);
    jr_wc_scan_fini(&s);
    return rc;
}

const jr_job jr_job_wordcount = {
    .name = "wordcount",
    .map = map,
    .combine = NULL, /* sum */
    .cmp = NULL,
    .order = JR_ORDER_VALUE_DESC, /* count descending, then bytes */
    .split = jr_wc_split,
    .lookback = 4, /* the longest UTF-8 sequence: see jr_wc_word_before */
};
