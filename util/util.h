/*
 * util.h - small pieces every module uses: a growable byte buffer, clocks,
 * EINTR-safe I/O and overflow-checked sizes.  Owns nothing global.
 */
#ifndef JR_UTIL_H
#define JR_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "jobrun.h"

/* A growable byte buffer.  data is owned by the buffer: release it with
 * jr_buf_fini().  A zeroed jr_buf is a valid empty buffer. */
typedef struct jr_buf {
    uint8_t *data;
    size_t len; /* bytes present */
    size_t cap; /* room allocated */
} jr_buf;

/* Make room for `more` bytes past len.  @return 0, JR_ENOMEM. */
int jr_buf_reserve(jr_buf *b, size_t more);

/* Room for `need` elements of `size` bytes in a growable array: arrayp
 * is the address of the array's pointer (NULL while empty), *cap its
 * room in elements.  The room doubles from `first` until it holds need;
 * the elements in it are kept.  @return 0, or JR_ENOMEM (the array and
 * *cap as they were), also when the bytes would not fit a size_t. */
int jr_array_reserve(void *arrayp, size_t *cap, size_t need, size_t size,
                     size_t first);
/* Append.  @return 0, JR_ENOMEM. */
int jr_buf_append(jr_buf *b, const void *p, size_t len);
int jr_buf_put_u32(jr_buf *b, uint32_t v); /* little-endian */
int jr_buf_put_u64(jr_buf *b, uint64_t v);
void jr_buf_fini(jr_buf *b);

/* Zeroed memory for a large array that is read at random (hash slots,
 * records to sort).  From bytes >= JR_BIG_BYTES: mapped, aligned to and
 * advised for transparent huge pages, so a random access does not miss
 * the TLB as well as the cache, and the kernel's zeroed pages need no
 * pass of ours.  Smaller: calloc.  Free with jr_big_free(p, bytes), the
 * same bytes.  @return NULL when out of memory. */
#define JR_BIG_BYTES ((size_t)2 << 20)
void *jr_big_alloc(size_t bytes);
void jr_big_free(void *p, size_t bytes);
/* Make bytes [off, off + len) of a block of jr_big_alloc(bytes) read as
 * zeros again, giving their whole pages back to the kernel when the block
 * is mapped (a table written out elsewhere need not exist twice); the
 * rest is cleared.  The range must lie in the block. */
void jr_big_zero(void *p, size_t bytes, size_t off, size_t len);

/* Little-endian loads and stores that need no alignment. */
static inline uint32_t jr_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}
static inline uint64_t jr_get_u64(const uint8_t *p)
{
    return (uint64_t)jr_get_u32(p) | (uint64_t)jr_get_u32(p + 4) << 32;
}
static inline void jr_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void jr_put_u64(uint8_t *p, uint64_t v)
{
    jr_put_u32(p, (uint32_t)v);
    jr_put_u32(p + 4, (uint32_t)(v >> 32));
}

/* A reader over untrusted bytes: every take checks the length left. */
typedef struct jr_rd {
    const uint8_t *p;
    size_t len;
} jr_rd;
int jr_rd_u32(jr_rd *r, uint32_t *v);                 /* 0 or JR_EPROTO */
int jr_rd_u64(jr_rd *r, uint64_t *v);                 /* 0 or JR_EPROTO */
int jr_rd_bytes(jr_rd *r, size_t n, const uint8_t **p); /* 0 or JR_EPROTO */

/* A file's modification time in nanoseconds since the epoch. */
struct stat;
uint64_t jr_mtime_ns(const struct stat *st);

/* Monotonic clock in nanoseconds and milliseconds. */
uint64_t jr_now_ns(void);
static inline uint64_t jr_now_ms(void) { return jr_now_ns() / 1000000u; }

/* read()/write() until done, retrying EINTR.  @return bytes or -errno. */
ssize_t jr_read_full(int fd, void *buf, size_t len);
ssize_t jr_write_full(int fd, const void *buf, size_t len);
/* pread() retrying EINTR and short reads; stops at EOF. */
ssize_t jr_pread_full(int fd, void *buf, size_t len, uint64_t off);

/* Name of a signal ("SIGSEGV"), static.  A signal without a name gets
 * "SIG<n>" in a thread-local buffer, valid until the thread's next such
 * call. */
const char *jr_signame(int sig);

/* Copy name into out (cap bytes) with control bytes and invalid UTF-8
 * escaped as \xHH, so that a hostile file name cannot forge output.
 * Also escaped: the backslash itself (so the output is unambiguous) and
 * the C1 controls U+0080..U+009F.  Valid UTF-8 is copied as it is.  A
 * name that does not fit is cut before an escape or a UTF-8 sequence,
 * never inside one; out is always terminated when cap > 0.  name NULL
 * reads as "". */
void jr_escape_name(char *out, size_t cap, const char *name);

#endif /* JR_UTIL_H */
