/*
 * input.c - what a job reads: the jr_input list given by the caller, and
 * its expansion into sources at the start of a run.
 *
 * Directories are walked here, in the master, by the rules of the
 * wordcount spec: recursive, hidden files included, symbolic links inside
 * skipped unless JR_INPUT_FOLLOW (then followed, never entering a
 * directory twice, by device and inode), FIFOs, sockets and devices inside
 * skipped with a warning.  A directory's entries are read and closed
 * before descending, so a deep tree does not hold one fd per level.
 *
 * A regular file is split into tasks by its size, except where that size
 * says nothing of its contents: procfs and cgroup files report 0 bytes
 * and sysfs ones a page, whatever they hold.  Those, every file of 0
 * bytes (an unknown filesystem may do the same), and files named through
 * the master's descriptors (/dev/fd/5) are read to their end as streams,
 * opened by the master when their turn comes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "runner/runner.h"

#ifndef CONFIGFS_MAGIC
#define CONFIGFS_MAGIC 0x62656570 /* not in every linux/magic.h */
#endif

JR_API int jr_input_new(jr_input **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : JR_ENOMEM;
}

JR_API void jr_input_destroy(jr_input **in)
{
    if (!in || !*in)
        return;
    for (size_t i = 0; i < (*in)->n; i++) {
        free((*in)->v[i].path);
        free((*in)->v[i].mem);
    }
    free((*in)->v);
    free(*in);
    *in = NULL;
}

static jr_path *push(jr_input *in, const char *name, int kind)
{
    if (jr_array_reserve(&in->v, &in->cap, in->n + 1, sizeof *in->v, 8) < 0)
        return NULL;
    jr_path *p = &in->v[in->n];
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->fd = -1;
    if (!(p->path = strdup(name)))
        return NULL;
    in->n++;
    return p;
}

JR_API int jr_input_add_path(jr_input *in, const char *path, unsigned flags)
{
    jr_path *p = push(in, path, JR_SRC_FILE);
    if (!p)
        return JR_ENOMEM;
    p->flags = flags;
    return 0;
}

JR_API int jr_input_add_fd(jr_input *in, int fd, const char *name)
{
    if (fd < 0)
        return JR_EINVAL;
    jr_path *p = push(in, name ? name : "-", JR_SRC_FD);
    if (!p)
        return JR_ENOMEM;
    p->fd = fd;
    return 0;
}

JR_API int jr_input_add_mem(jr_input *in, const void *data, size_t len,
                            const char *name)
{
    jr_path *p = push(in, name ? name : "memory", JR_SRC_MEM);
    if (!p)
        return JR_ENOMEM;
    p->mem = malloc(len ? len : 1);
    if (!p->mem) {
        in->n--;
        free(p->path);
        return JR_ENOMEM;
    }
    memcpy(p->mem, data, len);
    p->n = len;
    return 0;
}

JR_API int jr_input_add_count(jr_input *in, uint64_t n, const char *name)
{
    jr_path *p = push(in, name ? name : "generated", JR_SRC_COUNT);
    if (!p)
        return JR_ENOMEM;
    p->n = n;
    return 0;
}

void jr_diag(const jr_run_opts *ro, int kind, const char *name, uint64_t line,
             const char *msg)
{
    if (!ro || !ro->on_diag)
        return;
    char esc[1024];
    jr_escape_name(esc, sizeof esc, name);
    ro->on_diag(ro->ctx, kind, esc, line, msg);
}

/* ---- expansion ---------------------------------------------------------- */

typedef struct walk {
    const jr_pool *pool; /* canceled: the walk stops */
    const jr_run_opts *ro;
    jr_src *v;
    size_t n, cap;
    struct dir_id *seen;   /* directories entered: a set, open addressing */
    size_t nseen, capseen; /* capseen: 0 or a power of two */
    struct level *levels; /* the directories being walked, outermost first */
    size_t nlevels, caplevels;
    int errors;
    int oom;
    int stop; /* the pool was canceled */
} walk;

/* Whether the walk is to end now: out of memory, or canceled (a SIGINT
 * in the walk of a large tree stops it there, not after its last
 * directory). */
static int walk_over(walk *w)
{
    if (!w->stop && w->pool && jr_pool_canceled(w->pool))
        w->stop = 1;
    return w->oom || w->stop;
}

static jr_src *add_src(walk *w, const char *name, int kind)
{
    if (jr_array_reserve(&w->v, &w->cap, w->n + 1, sizeof *w->v, 64) < 0) {
        w->oom = 1;
        return NULL;
    }
    jr_src *s = &w->v[w->n];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->fd = -1;
    if (!(s->name = strdup(name))) {
        w->oom = 1;
        return NULL;
    }
    w->n++;
    return s;
}

static void problem(walk *w, const char *path, int err)
{
    w->errors++;
    jr_diag(w->ro, JR_DIAG_INPUT, path, 0, strerror(err));
}

/* A directory's identity.  A set of them, not a list: a list searched
 * for each directory entered made a walk of 50,000 directories take 2.5 s
 * of CPU (0.07 s now), and grew as their square. */
typedef struct dir_id {
    uint64_t dev, ino; /* an empty slot is {0, 0}: no inode is 0 */
} dir_id;

static size_t id_slot(dir_id id, size_t cap)
{
    uint64_t h =
        (id.ino ^ id.dev * 0x9e3779b97f4a7c15ull) * 0xd6e8feb86659fd93ull;
    return (size_t)(h >> 32) & (cap - 1);
}

/* Put id in the set of cap slots (a power of two, not full); 0 if it was
 * there already. */
static int id_put(dir_id *set, size_t cap, dir_id id)
{
    for (size_t i = id_slot(id, cap);; i = (i + 1) & (cap - 1)) {
        if (set[i].dev == id.dev && set[i].ino == id.ino)
            return 0;
        if (set[i].dev == 0 && set[i].ino == 0) {
            set[i] = id;
            return 1;
        }
    }
}

/* Mark a directory seen; 0 if it was seen before. */
static int first_visit(walk *w, const struct stat *st)
{
    if (w->nseen * 2 >= w->capseen) { /* at most half full */
        size_t cap = w->capseen ? 2 * w->capseen : 64;
        dir_id *v = calloc(cap, sizeof *v);
        if (!v) {
            w->oom = 1;
            return 0;
        }
        for (size_t i = 0; i < w->capseen; i++)
            if (w->seen[i].dev || w->seen[i].ino)
                id_put(v, cap, w->seen[i]);
        free(w->seen);
        w->seen = v;
        w->capseen = cap;
    }
    dir_id id = {(uint64_t)st->st_dev, (uint64_t)st->st_ino};
    if (id.dev == 0 && id.ino == 0)
        id.ino = UINT64_MAX; /* cannot be: but never the empty mark */
    if (!id_put(w->seen, w->capseen, id))
        return 0;
    w->nseen++;
    return 1;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether the files of a filesystem report sizes unrelated to their
 * contents (the kernel's pseudo-filesystems). */
static int sizeless_fs(const struct statfs *sf)
{
    switch (sf->f_type) {
    case PROC_SUPER_MAGIC:
    case SYSFS_MAGIC:
    case DEBUGFS_MAGIC:
    case TRACEFS_MAGIC:
    case SECURITYFS_MAGIC:
    case CONFIGFS_MAGIC:
    case CGROUP_SUPER_MAGIC:
    case CGROUP2_SUPER_MAGIC:
        return 1;
    default:
        return 0;
    }
}

static int sizeless_path(const char *path)
{
    struct statfs sf;
    return statfs(path, &sf) == 0 && sizeless_fs(&sf);
}

/* Whether a path names its file through the master's own descriptors
 * (/dev/fd/5, /proc/self/fd/5): in a worker it would name the worker's,
 * which are not those. */
static int masters_own(const char *path)
{
    static const char *const via_fds[] = {"/dev/fd/", "/proc/self/fd/",
                                          "/proc/thread-self/fd/"};
    for (size_t i = 0; i < sizeof via_fds / sizeof *via_fds; i++)
        if (strncmp(path, via_fds[i], strlen(via_fds[i])) == 0)
            return 1;
    return 0;
}

/* A regular file: by its size, or as a stream read by the master when
 * the size cannot be trusted or the path means something only there.  The
 * stream's fd is not opened here: a walk of /proc meets thousands of
 * files, and one fd each would run out. */
static void add_regular(walk *w, const char *path, const struct stat *st,
                        int sizeless)
{
    if (st->st_size > 0 && !sizeless && !masters_own(path)) {
        jr_src *s = add_src(w, path, JR_SRC_FILE);
        if (s) {
            s->size = (uint64_t)st->st_size;
            s->dev = (uint64_t)st->st_dev;
            s->ino = (uint64_t)st->st_ino;
            s->mtime_ns = jr_mtime_ns(st);
        }
        return;
    }
    jr_src *s = add_src(w, path, JR_SRC_FD);
    if (s) {
        s->lazy = 1;
        s->owns_fd = 1;
    }
}

/* A directory being walked: the names of its entries, read and sorted
 * when it was entered, and the next one to visit. */
typedef struct level {
    char *dir;    /* owned */
    char **names; /* owned, and each name until visited */
    size_t n, next;
    int sizeless; /* on a sizeless filesystem (a mount point is a
                     directory, entered with its own) */
} level;

static void level_free(level *l)
{
    for (size_t i = l->next; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    free(l->dir);
}

/* Enter dir: read its entries' names, sorted, into a new level on top of
 * the walk's stack.  A directory that cannot be read is reported and
 * adds no level. */
static void enter_dir(walk *w, const char *dir)
{
    if (jr_array_reserve(&w->levels, &w->caplevels, w->nlevels + 1,
                         sizeof *w->levels, 16) < 0) {
        w->oom = 1;
        return;
    }
    DIR *d = opendir(dir);
    if (!d) {
        problem(w, dir, errno);
        return;
    }
    level l = {.dir = strdup(dir)};
    struct statfs sf;
    l.sizeless = fstatfs(dirfd(d), &sf) == 0 && sizeless_fs(&sf);
    size_t cap = 0;
    struct dirent *e = NULL;
    while (l.dir && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (jr_array_reserve(&l.names, &cap, l.n + 1, sizeof *l.names, 32) < 0)
            break;
        if (!(l.names[l.n] = strdup(e->d_name)))
            break;
        l.n++;
    }
    int oom = !l.dir || e != NULL; /* stopped before the end */
    closedir(d);
    if (oom) {
        w->oom = 1;
        level_free(&l);
        return;
    }
    /* Sorted: not required by any output, but runs are reproducible. */
    if (l.n > 1)
        qsort(l.names, l.n, sizeof *l.names, cmp_names);
    w->levels[w->nlevels++] = l;
}

/* One entry met inside a directory, on a sizeless filesystem or not: a
 * directory not seen before is entered. */
static void walk_entry(walk *w, const char *path, unsigned flags, int sizeless)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        problem(w, path, errno);
        return;
    }
    int linked = S_ISLNK(st.st_mode);
    if (linked) {
        if (!(flags & JR_INPUT_FOLLOW))
            return; /* the spec: links inside are skipped, silently */
        if (stat(path, &st) < 0) {
            problem(w, path, errno);
            return;
        }
        /* The link may lead to another filesystem. */
        if (S_ISREG(st.st_mode))
            sizeless = sizeless_path(path);
    }
    if (S_ISREG(st.st_mode)) {
        add_regular(w, path, &st, sizeless);
    } else if (S_ISDIR(st.st_mode)) {
        if (!first_visit(w, &st))
            return;
        /* A directory reached through a link is walked by its resolved
         * path: a path through links (d/0/next/next/...) stops resolving
         * after 40 of them (ELOOP), and grows with each one. */
        char *real = linked ? realpath(path, NULL) : NULL;
        if (linked && !real)
            problem(w, path, errno);
        else
            enter_dir(w, real ? real : path);
        free(real);
    } else {
        jr_diag(w->ro, JR_DIAG_SKIP, path, 0,
                S_ISFIFO(st.st_mode)   ? "skipped: a FIFO"
                : S_ISSOCK(st.st_mode) ? "skipped: a socket"
                                       : "skipped: a device");
    }
}

/* The tree under dir, depth first, each directory's entries in name
 * order.  A loop over the walk's own stack of levels, not a recursion: a
 * tree 2,000 directories deep (a path's limit allows that many) took
 * more than 8 MB of C stack under AddressSanitizer. */
static void walk_dir(walk *w, const char *dir, unsigned flags)
{
    size_t base = w->nlevels;
    enter_dir(w, dir);
    while (w->nlevels > base) {
        level *l = &w->levels[w->nlevels - 1];
        if (l->next == l->n || walk_over(w)) {
            level_free(l);
            w->nlevels--;
            continue;
        }
        char *name = l->names[l->next++];
        size_t dl = strlen(l->dir), len = dl + 1 + strlen(name) + 1;
        char *path = malloc(len);
        if (!path) {
            w->oom = 1;
        } else {
            snprintf(path, len, "%s%s%s", l->dir,
                     dl && l->dir[dl - 1] == '/' ? "" : "/", name);
            /* May enter a directory: l is not to be used after. */
            walk_entry(w, path, flags, l->sizeless);
            free(path);
        }
        free(name);
    }
}

/* A path named by the caller: links are followed, FIFOs and devices are
 * read as streams. */
static void walk_top(walk *w, const jr_path *p)
{
    if (strcmp(p->path, "-") == 0) {
        jr_src *s = add_src(w, "-", JR_SRC_FD);
        if (s)
            s->fd = STDIN_FILENO;
        return;
    }
    struct stat st;
    if (stat(p->path, &st) < 0) {
        problem(w, p->path, errno);
        return;
    }
    if (S_ISREG(st.st_mode)) {
        add_regular(w, p->path, &st, sizeless_path(p->path));
    } else if (S_ISDIR(st.st_mode)) {
        if (first_visit(w, &st))
            walk_dir(w, p->path, p->flags);
    } else {
        /* Opening a FIFO waits for its writer: a signal ends the wait,
         * which is no problem of the input's.  A canceling one ends the
         * walk; another (one the program handles) resumes the wait. */
        int fd;
        while ((fd = open(p->path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0 &&
               errno == EINTR && !walk_over(w))
            ;
        if (fd < 0) {
            if (errno != EINTR)
                problem(w, p->path, errno);
            return;
        }
        jr_src *s = add_src(w, p->path, JR_SRC_FD);
        if (s) {
            s->fd = fd;
            s->owns_fd = 1;
        } else {
            close(fd);
        }
    }
}

int jr_input_expand(const jr_input *in, const jr_pool *pool,
                    const jr_run_opts *ro, jr_src **out, size_t *nout,
                    int *input_errors)
{
    walk w = {.pool = pool, .ro = ro};
    for (size_t i = 0; i < in->n && !walk_over(&w); i++) {
        const jr_path *p = &in->v[i];
        jr_src *s;
        switch (p->kind) {
        case JR_SRC_FILE:
            walk_top(&w, p);
            break;
        case JR_SRC_FD:
            if ((s = add_src(&w, p->path, JR_SRC_FD)))
                s->fd = p->fd;
            break;
        case JR_SRC_MEM:
            if ((s = add_src(&w, p->path, JR_SRC_MEM))) {
                s->mem = p->mem;
                s->size = p->n;
            }
            break;
        case JR_SRC_COUNT:
            if ((s = add_src(&w, p->path, JR_SRC_COUNT)))
                s->size = p->n;
            break;
        }
    }
    free(w.seen);
    free(w.levels); /* every level was left */
    *input_errors += w.errors;
    if (w.oom) {
        jr_srcs_free(w.v, w.n);
        return JR_ENOMEM;
    }
    *out = w.v;
    *nout = w.n;
    return 0;
}

void jr_srcs_free(jr_src *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i].owns_fd && v[i].fd >= 0)
            close(v[i].fd);
        free(v[i].name);
    }
    free(v);
}
