/*
 * checksums.c - a parallel map of a user function over a list: the
 * FNV-1a 64-bit checksum of each file named on the command line, computed
 * in the workers, printed in input order (like Python's Pool.map).  A
 * file that cannot be read is named on stderr with the reason, and the
 * exit status is 1 (as sha256sum does); the others are still printed.
 *
 *   example_checksums [-j N] FILE...
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jobrun.h>

/* A file the worker could not read: "!" and the reason come back in
 * place of its checksum. */
static int failed(jr_map_ctx *ctx, int err)
{
    char msg[256];
    snprintf(msg, sizeof msg, "!%s", strerror(err));
    return jr_write(ctx, msg, strlen(msg));
}

/* Runs in a worker: `in` is the file name (not NUL-terminated); the
 * result is written with jr_write() and comes back in input order. */
static int checksum(jr_map_ctx *ctx, const void *in, size_t len)
{
    char path[4096];
    if (len >= sizeof path)
        return failed(ctx, ENAMETOOLONG);
    memcpy(path, in, len);
    path[len] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return failed(ctx, errno);
    uint64_t h = 14695981039346656037ull;
    unsigned char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++)
            h = (h ^ buf[i]) * 1099511628211ull;
    int err = errno;
    close(fd);
    if (n < 0)
        return failed(ctx, err);
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
    return jr_write(ctx, hex, 16);
}

int main(int argc, char **argv)
{
    jr_opts opts = {0};
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "-j") == 0) {
        opts.workers = (unsigned)atoi(argv[2]);
        first = 3;
    }
    size_t n = argc > first ? (size_t)(argc - first) : 0;
    jr_blob *in = calloc(n + 1, sizeof *in), *out = calloc(n + 1, sizeof *out);
    for (size_t i = 0; i < n; i++)
        in[i] = (jr_blob){argv[first + (int)i], strlen(argv[first + (int)i])};

    jr_pool *pool = NULL;
    int rc = jr_pool_new(&pool, &opts);
    if (rc == 0)
        rc = jr_pool_map(pool, checksum, in, n, 0, out);
    int unread = 0;
    if (rc == 0)
        for (size_t i = 0; i < n; i++) {
            const char *r = out[i].data;
            int len = (int)out[i].len;
            if (len > 0 && r[0] == '!') {
                fflush(stdout); /* the lines stay in input order */
                fprintf(stderr, "checksums: %s: %.*s\n", argv[first + (int)i],
                        len - 1, r + 1);
                unread = 1;
            } else {
                printf("%.*s  %s\n", len, r, argv[first + (int)i]);
            }
            jr_free(out[i].data); /* results are the caller's */
        }
    else
        fprintf(stderr, "checksums: %s\n",
                pool ? jr_pool_errmsg(pool) : jr_strerror(rc));
    jr_pool_destroy(&pool);
    free(in);
    free(out);
    return rc == 0 ? unread : 3;
}
