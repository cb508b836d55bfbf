/*
 * order.c - jr_orec_sort() and jr_job_cmp() (see order.h).
 *
 * The library's own orders (key bytes, value descending) are sorted by
 * most-significant-digit radix: the value first (a bucket per value up to
 * 254, the larger ones by their bytes), then the key's 12 prefix bytes one
 * at a time, each pass a stable scatter into a scratch array as large as
 * the input; on large inputs the first pass takes the value and the first
 * key byte together.  A reducer's records are 32-byte entries over tens of MB
 * that mostly tie on the value (in a large vocabulary most words occur once or
 * twice), and the comparison sort alone moved each record about 20 times,
 * out of cache: 90 ms for the 1.07 M records of a 200 MiB corpus, 70 ms
 * by radix.  Small buckets, keys whose 12-byte prefixes are equal, custom
 * orders, and any sort whose scratch cannot be had go to an introsort:
 * quicksort on the median of three with a block partition (branch-free
 * comparisons against the pivot), insertion sort for short ranges,
 * heapsort when a range recurses too deep (adversarial keys cannot make
 * it quadratic).  The comparison sort is written once, inlined into one
 * copy per order so that the comparison is inline code and not a call.
 */
#include <stdlib.h>

#include "util/order.h"
#include "util/util.h"

#define SMALL 16

enum mode { BY_KEY, BY_VALUE_DESC, BY_CMP };

#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE int less(enum mode m, const jr_job *job, const jr_orec *a,
                       const jr_orec *b)
{
    /* Flags, not branches, on the value and the prefix; the keys
     * themselves are compared only when both tie, which is rare. */
    switch (m) {
    case BY_VALUE_DESC: {
        int same = a->v == b->v;
        if (__builtin_expect(same & (a->pfx == b->pfx), 0))
            return jr_orec_key_cmp(a, b) < 0;
        return (a->v > b->v) | (same & (a->pfx < b->pfx));
    }
    case BY_CMP:
        return job->cmp(a->key, a->klen, a->v, b->key, b->klen, b->v) < 0;
    case BY_KEY:
    default:
        if (__builtin_expect(a->pfx == b->pfx, 0))
            return jr_orec_key_cmp(a, b) < 0;
        return a->pfx < b->pfx;
    }
}

ALWAYS_INLINE void swap(jr_orec *a, jr_orec *b)
{
    jr_orec t = *a;
    *a = *b;
    *b = t;
}

ALWAYS_INLINE void insertion(enum mode m, const jr_job *job, jr_orec *a,
                             size_t n)
{
    for (size_t i = 1; i < n; i++) {
        jr_orec x = a[i];
        size_t j = i;
        while (j > 0 && less(m, job, &x, &a[j - 1])) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = x;
    }
}

ALWAYS_INLINE void sift(enum mode m, const jr_job *job, jr_orec *a, size_t i,
                        size_t n)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            return;
        if (c + 1 < n && less(m, job, &a[c], &a[c + 1]))
            c++;
        if (!less(m, job, &a[i], &a[c]))
            return;
        swap(&a[i], &a[c]);
        i = c;
    }
}

ALWAYS_INLINE void heapsort(enum mode m, const jr_job *job, jr_orec *a,
                            size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift(m, job, a, i, n);
    for (size_t k = n; k-- > 1;) {
        swap(&a[0], &a[k]);
        sift(m, job, a, 0, k);
    }
}

/* Records compared with the pivot at a time, their verdicts kept as
 * offsets before any record moves (fits the offsets in a byte). */
#define BLOCK 64

/* Split a[0..n), n > SMALL, around the median of its first, middle and
 * last records: returns p with a[0..p) < a[p] (the pivot) <= a[p+1..n).
 * BlockQuicksort (Edelkamp and Weiss), as pdqsort does it: a block of
 * records is compared with the pivot and the positions of those on the
 * wrong side are recorded without a branch, then swapped in bulk, so the
 * comparisons' outcomes (a coin toss on random input) are never jumped
 * on.  That misprediction was most of the sort's time. */
ALWAYS_INLINE size_t partition(enum mode m, const jr_job *job, jr_orec *a,
                               size_t n)
{
    size_t mid = n / 2, last = n - 1;
    if (less(m, job, &a[mid], &a[0]))
        swap(&a[mid], &a[0]);
    if (less(m, job, &a[last], &a[mid])) {
        swap(&a[last], &a[mid]);
        if (less(m, job, &a[mid], &a[0]))
            swap(&a[mid], &a[0]);
    }
    swap(&a[0], &a[mid]); /* the median leads; a[last] is not below it */
    const jr_orec pivot = a[0];
    size_t first = 0, end = n;
    while (less(m, job, &a[++first], &pivot))
        ;
    if (first == 1)
        while (first < end && !less(m, job, &a[--end], &pivot))
            ;
    else /* a record below the pivot lies before first: a sentinel */
        while (!less(m, job, &a[--end], &pivot))
            ;
    if (first < end) {
        swap(&a[first], &a[end]);
        first++;
        /* [first, end) is unknown; offsets_l[] holds the positions from
         * base_l of records >= pivot found on the left, offsets_r[] those
         * (counted down from base_r) of records < pivot on the right. */
        uint8_t offsets_l[BLOCK], offsets_r[BLOCK];
        size_t base_l = first, base_r = end;
        size_t num_l = 0, num_r = 0, start_l = 0, start_r = 0;
        while (first < end) {
            size_t unknown = end - first;
            size_t split_l =
                num_l == 0 ? (num_r == 0 ? unknown / 2 : unknown) : 0;
            size_t split_r = num_r == 0 ? unknown - split_l : 0;
            if (split_l > BLOCK)
                split_l = BLOCK;
            if (split_r > BLOCK)
                split_r = BLOCK;
            for (size_t i = 0; i < split_l; i++) {
                offsets_l[num_l] = (uint8_t)i;
                num_l += !less(m, job, &a[first++], &pivot);
            }
            for (size_t i = 0; i < split_r;) {
                offsets_r[num_r] = (uint8_t)++i;
                num_r += less(m, job, &a[--end], &pivot);
            }
            size_t k = num_l < num_r ? num_l : num_r;
            for (size_t i = 0; i < k; i++)
                swap(&a[base_l + offsets_l[start_l + i]],
                     &a[base_r - offsets_r[start_r + i]]);
            num_l -= k;
            num_r -= k;
            start_l += k;
            start_r += k;
            if (num_l == 0) {
                start_l = 0;
                base_l = first;
            }
            if (num_r == 0) {
                start_r = 0;
                base_r = end;
            }
        }
        /* One side's misplaced records are left: move them past the
         * boundary, from the far end of their block inwards. */
        while (num_l > 0) {
            num_l--;
            swap(&a[base_l + offsets_l[start_l + num_l]], &a[--end]);
            first = end;
        }
        while (num_r > 0) {
            num_r--;
            swap(&a[base_r - offsets_r[start_r + num_r]], &a[first]);
            end = ++first;
        }
    }
    size_t p = first - 1;
    a[0] = a[p];
    a[p] = pivot;
    return p;
}

ALWAYS_INLINE void introsort(enum mode m, const jr_job *job, jr_orec *a,
                             size_t n)
{
    /* Recursing into the smaller side keeps the stack at log2(n) ranges. */
    struct range {
        jr_orec *a;
        size_t n;
        unsigned depth;
    } stack[64];
    unsigned top = 0, depth = 0;
    for (size_t k = n; k > 1; k >>= 1)
        depth += 2;
    stack[top++] = (struct range){a, n, depth};
    while (top > 0) {
        struct range r = stack[--top];
        while (r.n > SMALL) {
            if (r.depth == 0) {
                heapsort(m, job, r.a, r.n);
                r.n = 0;
                break;
            }
            r.depth--;
            size_t p = partition(m, job, r.a, r.n);
            struct range lo = {r.a, p, r.depth};
            struct range hi = {r.a + p + 1, r.n - p - 1, r.depth};
            if (lo.n < hi.n) {
                stack[top++] = hi;
                r = lo;
            } else {
                stack[top++] = lo;
                r = hi;
            }
        }
        insertion(m, job, r.a, r.n);
    }
}

/* One copy of the comparison sort per order. */
static void sort_by_key(jr_orec *a, size_t n)
{
    introsort(BY_KEY, NULL, a, n);
}

static void sort_by_value_desc(jr_orec *a, size_t n)
{
    introsort(BY_VALUE_DESC, NULL, a, n);
}

/*-************************************
 *  Radix sort
 **************************************/
/* Buckets this small are left to the comparison sort. */
#define RADIX_MIN 64

/* Digits of the value pass, ascending in the output order: values 0 to
 * 254 one each, descending; 255 and above share digit 0 (sorted further
 * by their own bytes). */
#define VALUE_PASS (-1)
/* Digits of the value's byte at bit `level - VALUE_BYTE`, descending. */
#define VALUE_BYTE 64

ALWAYS_INLINE unsigned digit_of(const jr_orec *r, int level)
{
    if (level == VALUE_PASS)
        return r->v >= 255 ? 0 : 255 - (unsigned)r->v;
    if (level >= VALUE_BYTE)
        return 255 - (unsigned)(r->v >> (level - VALUE_BYTE) & 0xff);
    if (level < 8) /* key bytes */
        return (unsigned)(r->pfx >> (56 - 8 * level) & 0xff);
    return (unsigned)(r->pfx2 >> (24 - 8 * (level - 8)) & 0xff);
}

/* Copy src[0..n) to dst[0..n) by ascending digit of `level` (stable);
 * start[d] becomes where digit d's bucket begins, start[256] = n.
 * Out of place on purpose: the in-place (American flag) permutation
 * misses the cache at nearly every move over a large array, and was no
 * faster than the comparison sort.  Not inlined, so that the recursion
 * (up to 20 levels) keeps only start[] in each frame.  @return 1 when
 * every record has the same digit: nothing is copied then. */
static __attribute__((noinline)) int scatter(const jr_orec *src, jr_orec *dst,
                                             size_t n, int level,
                                             size_t start[257])
{
    size_t count[256] = {0}, next[256];
    for (size_t i = 0; i < n; i++)
        count[digit_of(&src[i], level)]++;
    size_t at = 0;
    int one = 0;
    for (unsigned d = 0; d < 256; d++) {
        start[d] = next[d] = at;
        at += count[d];
        one |= count[d] == n;
    }
    start[256] = n;
    if (one)
        return 1;
    for (size_t i = 0; i < n; i++)
        dst[next[digit_of(&src[i], level)]++] = src[i];
    return 0;
}

/* The radix sorts below take records in a[0..n) and scratch b[0..n), and
 * leave the sorted records in b when to_b, else in a: each pass moves
 * the records to the other array, and the last one decides where. */
static void leave(jr_orec *a, jr_orec *b, size_t n, int to_b)
{
    if (to_b)
        memcpy(b, a, n * sizeof *a);
}

/* Key order over records whose first `byte` key bytes are equal. */
static void radix_key(jr_orec *a, jr_orec *b, size_t n, int byte, int to_b)
{
    size_t start[257];
    if (n <= RADIX_MIN || byte == 12) {
        sort_by_key(a, n); /* equal prefixes: the keys decide */
        leave(a, b, n, to_b);
    } else if (scatter(a, b, n, byte, start)) {
        radix_key(a, b, n, byte + 1, to_b);
    } else {
        for (unsigned d = 0; d < 256; d++)
            if (start[d + 1] > start[d])
                radix_key(b + start[d], a + start[d], start[d + 1] - start[d],
                          byte + 1, !to_b);
    }
}

/* Value descending, then key order, over records whose values agree
 * above bit shift + 8. */
static void radix_value(jr_orec *a, jr_orec *b, size_t n, int shift, int to_b)
{
    size_t start[257];
    if (n <= RADIX_MIN) {
        sort_by_value_desc(a, n);
        leave(a, b, n, to_b);
        return;
    }
    int same = scatter(a, b, n, VALUE_BYTE + shift, start);
    jr_orec *from = same ? a : b, *to = same ? b : a;
    int flip = !same;
    for (unsigned d = 0; d < 256; d++) {
        size_t m = start[d + 1] - start[d];
        if (m == 0)
            continue;
        if (shift > 0)
            radix_value(from + start[d], to + start[d], m, shift - 8,
                        to_b ^ flip);
        else /* one value */
            radix_key(from + start[d], to + start[d], m, 0, to_b ^ flip);
    }
}

/* Value descending over records of values 255 and above, from their
 * highest byte down; sorted into b when to_b. */
static void radix_large_values(jr_orec *a, jr_orec *b, size_t n, int to_b)
{
    uint64_t all = 0;
    for (size_t i = 0; i < n; i++)
        all |= a[i].v;
    int shift = 0;
    while (shift < 56 && all >> (shift + 8))
        shift += 8;
    radix_value(a, b, n, shift, to_b);
}

static void radix_value_desc(jr_orec *a, jr_orec *b, size_t n)
{
    size_t start[257];
    int same = scatter(a, b, n, VALUE_PASS, start);
    jr_orec *from = same ? a : b, *to = same ? b : a;
    int to_b = !same; /* the result goes back to a */
    if (start[1] > 0) /* digit 0: values of 255 and above */
        radix_large_values(from, to, start[1], to_b);
    for (unsigned d = 1; d < 256; d++)
        if (start[d + 1] > start[d])
            radix_key(from + start[d], to + start[d], start[d + 1] - start[d],
                      0, to_b);
}

/* Records from which the first pass takes the value and the key's first
 * byte at once: 16-bit digits, 65,536 buckets, of which a large
 * vocabulary fills a few thousand (a value times the letters).  The pass
 * over the whole array that sorting each value's records by their first
 * byte took is saved (bench corpus at -j 2, a reducer's 537,000 records,
 * a busy host: sorted in 35.8-39.5 ms in five runs of six, 40.3-42.5 by
 * value first in five of six; one run of each took about 51). */
#define WIDE_MIN 65536

static inline unsigned wide_digit(const jr_orec *r)
{
    if (r->v >= 255)
        return 0;
    return (255 - (unsigned)r->v) << 8 | (unsigned)(r->pfx >> 56);
}

/* radix_value_desc() by a first pass on wide digits.  @return 0, or -1
 * with nothing done (no memory for the buckets). */
static int radix_value_desc_wide(jr_orec *a, jr_orec *b, size_t n)
{
    size_t *end = calloc(65536, sizeof *end); /* a bucket's end, at last */
    if (!end)
        return -1;
    for (size_t i = 0; i < n; i++)
        end[wide_digit(&a[i])]++;
    size_t at = 0;
    for (unsigned d = 0; d < 65536; d++) { /* now each bucket's start */
        size_t c = end[d];
        end[d] = at;
        at += c;
    }
    for (size_t i = 0; i < n; i++)
        b[end[wide_digit(&a[i])]++] = a[i];
    /* The records are in b; each bucket goes back to a sorted. */
    if (end[0] > 0)
        radix_large_values(b, a, end[0], 1);
    for (unsigned d = 256; d < 65536; d++) { /* values below 255 */
        size_t from = end[d - 1];
        if (end[d] > from)
            radix_key(b + from, a + from, end[d] - from, 1, 1);
    }
    free(end);
    return 0;
}

void jr_orec_sort(const jr_job *job, jr_orec *r, size_t n)
{
    int by_value = job && job->order == JR_ORDER_VALUE_DESC;
    if (!by_value && job && job->cmp) {
        introsort(BY_CMP, job, r, n);
        return;
    }
    /* The radix sort needs as much again; without it, compare. */
    jr_orec *tmp = n > RADIX_MIN ? jr_big_alloc(n * sizeof *r) : NULL;
    if (!tmp && by_value)
        sort_by_value_desc(r, n);
    else if (!tmp)
        sort_by_key(r, n);
    else if (!by_value)
        radix_key(r, tmp, n, 0, 0);
    else if (n < WIDE_MIN || radix_value_desc_wide(r, tmp, n) < 0)
        radix_value_desc(r, tmp, n);
    jr_big_free(tmp, n * sizeof *r);
}

JR_API int jr_job_cmp(const jr_job *job, const void *ka, size_t kalen,
                      uint64_t va, const void *kb, size_t kblen, uint64_t vb)
{
    if (kalen > UINT32_MAX || kblen > UINT32_MAX) { /* no jr_orec holds it */
        if (job && job->order != JR_ORDER_VALUE_DESC && job->cmp)
            return job->cmp(ka, kalen, va, kb, kblen, vb);
        if (job && job->order == JR_ORDER_VALUE_DESC && va != vb)
            return va > vb ? -1 : 1;
        size_t n = kalen < kblen ? kalen : kblen;
        int c = memcmp(ka, kb, n);
        if (c)
            return c < 0 ? -1 : 1;
        return (kalen > kblen) - (kalen < kblen);
    }
    jr_orec a = jr_orec_of(va, ka, (uint32_t)kalen);
    jr_orec b = jr_orec_of(vb, kb, (uint32_t)kblen);
    return jr_orec_cmp(job, &a, &b);
}
