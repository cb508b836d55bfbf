/*
 * inmap.h - a piece of an input file mapped in place, guarded against
 * SIGBUS.
 *
 * Workers read file ranges through a read-only mapping of the page cache,
 * not a copy of it.  A file that shrinks while mapped would make the next
 * read past its new end raise SIGBUS; the guard (installed once per
 * worker) answers that fault by mapping zero pages over the rest of the
 * piece and noting it, so the reader goes on, sees zeros, and the piece
 * ends as "file shrank".  A SIGBUS anywhere else still kills the worker.
 * One piece is mapped at a time, by the worker's main thread.
 */
#ifndef JR_INMAP_H
#define JR_INMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct jr_inmap {
    const uint8_t *data; /* the piece's first byte; NULL when not mapped */
    size_t len;          /* the piece's bytes (those of the file then) */
    void *base;          /* the mapping: page-aligned, owned */
    size_t span;
} jr_inmap;

/* Install the SIGBUS guard for this process.  @return 0, or -1 (then
 * no piece may be mapped: jr_inmap_open() refuses). */
int jr_inmap_guard(void);

/* Map [off, off + len) of fd, of which st_size bytes exist now (the piece
 * is cut there).  @return 0 with m->data and m->len set, or -1 where
 * the file cannot be mapped (the caller reads it instead). */
int jr_inmap_open(jr_inmap *m, int fd, uint64_t off, uint64_t len,
                  uint64_t st_size);

/* Unmap it.  @return 1 when the file shrank under the mapping (the
 * reader saw zeros in place of bytes), 0 otherwise.  NULL-safe. */
int jr_inmap_close(jr_inmap *m);

#endif /* JR_INMAP_H */
