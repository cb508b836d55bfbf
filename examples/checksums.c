/*
 * checksums.c - a parallel map of a user function over a list: the
 * FNV-1a 64-bit checksum of each file named on the command line, computed
 * in the workers, printed in input order (like Python's Pool.map).
 *
 *   example_checksums [-j N] FILE...
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jobrun.h>

/* Runs in a worker: `in` is the file name (not NUL-terminated); the
 * result is written with jr_write() and comes back in input order. */
static int checksum(jr_map_ctx *ctx, const void *in, size_t len)
{
    char path[4096];
    if (len >= sizeof path)
        return jr_write(ctx, "name too long", 13);
    memcpy(path, in, len);
    path[len] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return jr_write(ctx, "cannot open", 11);
    uint64_t h = 14695981039346656037ull;
    unsigned char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++)
            h = (h ^ buf[i]) * 1099511628211ull;
    close(fd);
    if (n < 0)
        return jr_write(ctx, "read error", 10);
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
    if (rc == 0)
        for (size_t i = 0; i < n; i++) {
            printf("%.*s  %s\n", (int)out[i].len, (const char *)out[i].data,
                   argv[first + (int)i]);
            jr_free(out[i].data); /* results are the caller's */
        }
    else
        fprintf(stderr, "checksums: %s\n",
                pool ? jr_pool_errmsg(pool) : jr_strerror(rc));
    jr_pool_destroy(&pool);
    free(in);
    free(out);
    return rc == 0 ? 0 : 3;
}
