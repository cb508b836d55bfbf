/*
 * mapctx.c - the calls a map callback makes: jr_emit, jr_write, jr_report,
 * jr_lines, jr_progress and jr_chunk_more.  They run in a worker, inside
 * the callback, and only touch the worker's own context.
 */
#include <stdatomic.h>
#include <string.h>

#include "worker/table.h"
#include "worker/worker.h"

#define MORE_BYTES (64u << 10)

void jr_mapctx_begin(struct jr_map_ctx *ctx, int fd, uint64_t next_off)
{
    ctx->out.len = 0;
    ctx->reports.len = 0;
    ctx->nreports = 0;
    ctx->nlines = 0;
    ctx->fd = fd;
    ctx->next_off = next_off;
    ctx->reported = 0;
}

JR_API int jr_emit(jr_map_ctx *ctx, const void *key, size_t klen,
                   uint64_t value)
{
    int rc = jr_table_add_soon(ctx->table, key, klen, value);
    if (rc < 0)
        ctx->failed = rc;
    return rc;
}

JR_API int jr_emit_padded(jr_map_ctx *ctx, const void *key, size_t klen,
                          uint64_t value)
{
    int rc = jr_table_add_soon_padded(ctx->table, key, klen, value);
    if (rc < 0)
        ctx->failed = rc;
    return rc;
}

_Static_assert(JR_EMIT_PAD == JR_TABLE_INLINE,
               "a padded key is read as a table's inline key");

JR_API int jr_emit_short(jr_map_ctx *ctx, const uint8_t (*keys)[JR_EMIT_PAD],
                         const uint8_t *lens, size_t n, uint64_t value)
{
    int rc = jr_table_add_short(ctx->table, keys, lens, n, value);
    if (rc < 0)
        ctx->failed = rc;
    return rc;
}

int jr_mapctx_end(struct jr_map_ctx *ctx)
{
    /* The table's queued adds wait for the flush: draining its front after
     * every task took each of up to 4,096 keys to a slot that missed the
     * cache (this function was 2.6% of a -j 2 run's samples in perf). */
    int rc = ctx->failed;
    ctx->failed = 0;
    return rc;
}

JR_API int jr_write(jr_map_ctx *ctx, const void *data, size_t len)
{
    int rc = jr_buf_append(&ctx->out, data, len);
    if (rc < 0)
        ctx->failed = rc;
    return rc;
}

JR_API int jr_report(jr_map_ctx *ctx, uint64_t line, const char *msg)
{
    size_t len = strlen(msg);
    if (len > 4096)
        len = 4096; /* a report is one line for a person, not a payload */
    int rc = jr_buf_put_u64(&ctx->reports, line);
    if (rc == 0)
        rc = jr_buf_put_u32(&ctx->reports, (uint32_t)len);
    if (rc == 0)
        rc = jr_buf_append(&ctx->reports, msg, len);
    if (rc < 0) {
        ctx->failed = rc;
        return rc;
    }
    ctx->nreports++;
    return 0;
}

JR_API void jr_lines(jr_map_ctx *ctx, uint64_t nlines)
{
    ctx->nlines = nlines;
}

JR_API void jr_progress(jr_map_ctx *ctx, uint64_t bytes)
{
    ctx->reported += bytes;
    atomic_fetch_add_explicit(&ctx->me->progress, bytes,
                              memory_order_relaxed);
    atomic_store_explicit(&ctx->me->beat_ns, jr_now_ns(),
                          memory_order_relaxed);
}

JR_API int jr_chunk_more(jr_map_ctx *ctx, const uint8_t **p, size_t *len)
{
    *p = NULL;
    *len = 0;
    if (ctx->fd < 0)
        return 0;
    if (jr_buf_reserve(&ctx->more, MORE_BYTES) < 0)
        return JR_ENOMEM;
    /* pread, not mmap: a file that shrinks under us gives a short read
     * here, where a mapping would give SIGBUS. */
    ssize_t n = jr_pread_full(ctx->fd, ctx->more.data, MORE_BYTES,
                              ctx->next_off);
    if (n < 0)
        return (int)n;
    if (n == 0)
        return 0;
    ctx->next_off += (uint64_t)n;
    *p = ctx->more.data;
    *len = (size_t)n;
    jr_progress(ctx, 0);
    return 1;
}
