/*
 * order.c - jr_orec_sort() and jr_job_cmp() (see order.h).
 *
 * An introsort: quicksort on the median of three with a block partition
 * (branch-free comparisons against the pivot), insertion sort for short
 * ranges, heapsort when a range recurses too deep (adversarial keys
 * cannot make it quadratic).  The sort is written once, inlined into one
 * copy per order so that the comparison is inline code and not a call.
 */
#include "util/order.h"

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

void jr_orec_sort(const jr_job *job, jr_orec *r, size_t n)
{
    if (job && job->order == JR_ORDER_VALUE_DESC)
        introsort(BY_VALUE_DESC, job, r, n);
    else if (job && job->cmp)
        introsort(BY_CMP, job, r, n);
    else
        introsort(BY_KEY, job, r, n);
}

JR_API int jr_job_cmp(const jr_job *job, const void *ka, size_t kalen,
                      uint64_t va, const void *kb, size_t kblen, uint64_t vb)
{
    jr_orec a = {va, jr_key_prefix(ka, kalen), ka, kalen};
    jr_orec b = {vb, jr_key_prefix(kb, kblen), kb, kblen};
    return jr_orec_cmp(job, &a, &b);
}
