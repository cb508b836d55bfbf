/*
 * order.c - jr_orec_sort() and jr_job_cmp() (see order.h).
 *
 * An introsort: quicksort on the median of three with Hoare's partition,
 * insertion sort for short ranges, heapsort when a range recurses too
 * deep (adversarial keys cannot make it quadratic).  The sort is written
 * once, inlined into one copy per order so that the comparison is inline
 * code and not a call.
 */
#include "util/order.h"

#define SMALL 16

enum mode { BY_KEY, BY_VALUE_DESC, BY_CMP };

#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE int less(enum mode m, const jr_job *job, const jr_orec *a,
                       const jr_orec *b)
{
    switch (m) {
    case BY_VALUE_DESC:
        return jr_orec_value_desc_cmp(a, b) < 0;
    case BY_CMP:
        return job->cmp(a->key, a->klen, a->v, b->key, b->klen, b->v) < 0;
    case BY_KEY:
    default:
        return jr_orec_key_cmp(a, b) < 0;
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

/* Split a[0..n), n > SMALL, around the median of its first, middle and
 * last records; returns j with a[0..j] <= pivot <= a[j+1..n), both
 * non-empty (the pivot sits at a[0], so j < n - 1). */
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
    swap(&a[0], &a[mid]); /* the median leads */
    jr_orec p = a[0];
    size_t i = 0, j = n;
    for (;;) {
        while (less(m, job, &a[i], &p))
            i++;
        do
            j--;
        while (less(m, job, &p, &a[j]));
        if (i >= j)
            return j;
        swap(&a[i], &a[j]);
        i++;
    }
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
            size_t j = partition(m, job, r.a, r.n) + 1;
            struct range lo = {r.a, j, r.depth};
            struct range hi = {r.a + j, r.n - j, r.depth};
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
