/*
 * cli_result.c - writing a key-count result as TSV or JSON
 * (spec/wordcount.md, Output).
 *
 * The master's merge of the reducers' runs and the formatting of every
 * line would be the one serial step left at the end of a run: with many
 * workers it takes longer than the reduce.  So a large result is cut into
 * consecutive parts (jr_result_split) that threads merge and format into
 * memory at once, while this thread writes the finished parts in order.
 * Only a window of parts is formatted ahead of the writer, so memory stays
 * bounded whatever the size of the result.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "runner/cli.h"

/* Text gathers here: a FILE's sink reaches stdio a block at a time (a
 * million lines through a stdio call each cost more than the merge that
 * made them); a part's sink grows in memory until the writer takes it. */
typedef struct sink {
    char *p;
    size_t len, cap;
    FILE *f; /* flushed there when full; NULL: grows instead */
    int err;
} sink;

#define SINK_BLOCK (1u << 18)

/* Hand a FILE's sink's text to stdio; a part's sink keeps its text. */
static void sink_flush(sink *s)
{
    if (!s->f)
        return;
    if (s->len && fwrite(s->p, 1, s->len, s->f) != s->len)
        s->err = 1;
    s->len = 0;
}

/* The slow path of sink_room(). */
static int sink_make_room(sink *s, size_t n)
{
    if (s->f) {
        sink_flush(s);
        if (s->err) /* a full disk or a closed pipe: stop formatting */
            return -1;
        if (s->cap >= n)
            return 0;
    }
    size_t cap = s->cap ? s->cap : SINK_BLOCK;
    while (cap - s->len < n) {
        if (cap > SIZE_MAX / 2)
            return s->err = 1, -1;
        cap *= 2;
    }
    char *p = realloc(s->p, cap);
    if (!p)
        return s->err = 1, -1;
    s->p = p;
    s->cap = cap;
    return 0;
}

/* Room for n more bytes at s->p + s->len.  @return 0 or -1. */
static inline int sink_room(sink *s, size_t n)
{
    return s->cap - s->len >= n ? 0 : sink_make_room(s, n);
}

/* Write v in decimal at p.  @return the end of the digits. */
static inline char *put_decimal(char *p, uint64_t v)
{
    char digits[20];
    int n = 0;
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0)
        *p++ = digits[--n];
    return p;
}

static inline int tsv_line(sink *s, uint64_t v, const uint8_t *key, size_t klen)
{
    if (sink_room(s, 21 + klen + 1) < 0)
        return -1;
    char *p = put_decimal(s->p + s->len, v);
    *p++ = '\t';
    memcpy(p, key, klen);
    p[klen] = '\n';
    s->len = (size_t)(p + klen + 1 - s->p);
    return 0;
}

/* {"word":"KEY","count":V}, after a comma unless first. */
static int json_object(sink *s, int first, uint64_t v, const uint8_t *key,
                       size_t klen)
{
    static const char hex[] = "0123456789abcdef";
    if (klen > (SIZE_MAX - 64) / 6 || sink_room(s, 6 * klen + 64) < 0)
        return -1;
    char *p = s->p + s->len;
    if (!first)
        *p++ = ',';
    memcpy(p, "{\"word\":\"", 9);
    p += 9;
    for (size_t i = 0; i < klen; i++) {
        unsigned char ch = key[i];
        const char *esc = NULL;
        switch (ch) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            if (ch < 0x20) {
                memcpy(p, "\\u00", 4);
                p[4] = hex[ch >> 4];
                p[5] = hex[ch & 15];
                p += 6;
            } else {
                *p++ = (char)ch;
            }
            continue;
        }
        *p++ = esc[0];
        *p++ = esc[1];
    }
    memcpy(p, "\",\"count\":", 10);
    p = put_decimal(p + 10, v);
    *p++ = '}';
    s->len = (size_t)(p - s->p);
    return 0;
}

/* Write res's records to s (the first top of them; 0: all), as TSV lines
 * or JSON objects separated by commas, and sum their counts into *words:
 * over every record when all is set, else over those written.  *n counts
 * the records written.  @return 0, or -1 on a signal or an error. */
static int write_records(jr_result *res, sink *s, int json, uint64_t top,
                         int all, uint64_t *words, uint64_t *n)
{
    const void *key;
    size_t klen;
    /* Counted here, stored at the end: *words and *n may share a cache
     * line with another thread's. */
    uint64_t v, sum = 0, done = 0, seen = 0;
    int rc = 0;
    while ((top == 0 || done < top || all) &&
           jr_result_next(res, &key, &klen, &v)) {
        sum += v;
        if ((++seen & 4095) == 0 && cli_signal()) {
            rc = -1;
            break;
        }
        if (top && done >= top)
            continue; /* past --top: counted, not written */
        rc = json ? json_object(s, done == 0, v, key, klen)
                  : tsv_line(s, v, key, klen);
        if (rc < 0)
            break;
        done++;
    }
    *words = sum;
    *n = done;
    sink_flush(s);
    return rc == 0 && !s->err ? 0 : -1;
}

/*-************************************
 *  Parts written by threads
 **************************************/
/* Results of fewer records are written by one thread: cutting and
 * joining them would cost more than it saves. */
#define PAR_MIN 32768
/* Records per part at least: a part's text waits in memory for the
 * writer, in one of a few buffers used over and over (fresh memory is
 * slow to touch: the first write of each page faults). */
#define PART_RECS 16384
#define MAX_PARTS 65536

enum { WAITING, DONE, FAILED }; /* a part's state; WAITING is 0 */

typedef struct part {
    jr_result *res; /* owned until formatted */
    sink *out;      /* where its text is: buf[k % window] */
    uint64_t words, n;
    int state;
} part;

typedef struct par {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    part *parts;
    size_t nparts;
    size_t next;       /* the next part to take */
    size_t written;    /* parts written out */
    size_t window;     /* parts taken ahead of the writer at most */
    sink *buf;         /* window sinks; part k uses buf[k % window] */
    unsigned nthreads; /* 0: the writer formats each part itself */
    int stop;          /* the writer gave up: threads take no more parts */
    int json;
} par;

/* Merge and format part p into its sink.  @return 0 or -1. */
static int format_part(const par *w, part *p)
{
    /* A copy on this thread's stack: the sinks lie side by side, and one
     * written per record from two threads would bounce its cache line. */
    sink s = *p->out;
    s.len = 0;
    int rc = write_records(p->res, &s, w->json, 0, 0, &p->words, &p->n);
    *p->out = s;
    jr_result_destroy(&p->res); /* its records are text now */
    return rc;
}

static void *formatter(void *arg)
{
    par *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && w->next < w->nparts &&
               w->next >= w->written + w->window)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->stop || w->next >= w->nparts)
            break;
        part *p = &w->parts[w->next];
        p->out = &w->buf[w->next++ % w->window];
        pthread_mutex_unlock(&w->mu);
        int rc = format_part(w, p);
        pthread_mutex_lock(&w->mu);
        p->state = rc == 0 ? DONE : FAILED;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Write the finished parts in order.  @return 0 or -1. */
static int write_parts(par *w, FILE *f, uint64_t *words)
{
    int rc = 0, any = 0;
    for (size_t k = 0; k < w->nparts && rc == 0; k++) {
        part *p = &w->parts[k];
        if (w->nthreads == 0) { /* no thread could start */
            p->out = &w->buf[0];
            p->state = format_part(w, p) == 0 ? DONE : FAILED;
        }
        pthread_mutex_lock(&w->mu);
        while (p->state != DONE && p->state != FAILED)
            pthread_cond_wait(&w->cv, &w->mu);
        pthread_mutex_unlock(&w->mu);
        if (p->state == FAILED || cli_signal()) {
            rc = -1;
            break;
        }
        if (w->json && any && p->n)
            putc(',', f);
        any |= p->n != 0;
        if (p->out->len && fwrite(p->out->p, 1, p->out->len, f) != p->out->len)
            rc = -1;
        *words += p->words;
        pthread_mutex_lock(&w->mu);
        w->written = k + 1;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
    pthread_mutex_lock(&w->mu);
    w->stop = rc != 0;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* Write res in parts formatted by up to nthreads threads.  @return 0, -1
 * on a write error or a signal, or 1 when res was left whole (too small
 * to gain from cutting, or the cut failed) for the caller to write. */
static int write_parallel(jr_result *res, FILE *f, int json, unsigned nthreads,
                          uint64_t *words)
{
    uint64_t count = jr_result_count(res);
    if (nthreads < 2 || count < PAR_MIN)
        return 1;
    size_t n = (size_t)nthreads * 4;
    if (count / PART_RECS > n)
        n = count / PART_RECS < MAX_PARTS ? (size_t)(count / PART_RECS)
                                          : MAX_PARTS;
    jr_result **cut = calloc(n, sizeof *cut);
    pthread_t *tid = calloc(nthreads, sizeof *tid);
    par w = {.json = json, .window = (size_t)nthreads * 2};
    w.parts = calloc(n, sizeof *w.parts);
    w.buf = calloc(w.window, sizeof *w.buf);
    int rc = 1;
    if (!cut || !tid || !w.parts || !w.buf ||
        jr_result_split(res, n, cut, &w.nparts) != 0)
        goto out; /* res is whole: the caller writes it */
    for (size_t k = 0; k < w.nparts; k++)
        w.parts[k].res = cut[k];
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    /* Signals are for this thread, which is the one that stops. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    unsigned started = 0;
    for (; started < nthreads && started < w.nparts; started++)
        if (pthread_create(&tid[started], NULL, formatter, &w) != 0)
            break;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    *words = 0;
    w.nthreads = started;
    rc = write_parts(&w, f, words);
    for (unsigned i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    for (size_t k = 0; k < w.nparts; k++)
        jr_result_destroy(&w.parts[k].res);
    for (size_t i = 0; i < w.window; i++)
        free(w.buf[i].p);
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
out:
    free(w.buf);
    free(cut);
    free(tid);
    free(w.parts);
    return rc;
}

int cli_write_result(jr_result *res, FILE *f, int json, uint64_t top, int all,
                     unsigned nthreads, uint64_t *words)
{
    static char buf[1 << 16];
    setvbuf(f, buf, _IOFBF, sizeof buf);
    if (json)
        putc('[', f);
    int rc = top ? 1 : write_parallel(res, f, json, nthreads, words);
    if (rc == 1) {
        sink s = {.f = f};
        uint64_t n;
        rc = write_records(res, &s, json, top, all, words, &n);
        free(s.p);
    }
    if (rc == 0 && json)
        fputs("]\n", f);
    return rc == 0 && !ferror(f) ? 0 : -1;
}
