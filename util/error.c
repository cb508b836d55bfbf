/*
 * error.c - the texts and names of jobrun's error codes, generated from
 * the one JR_ERRNO_MAP table in jobrun.h so that a code, its name and its
 * text can never drift apart; plus the version string and jr_free(), the
 * public odds and ends that belong to no module.
 */
#include <stdlib.h>
#include <string.h>

#include "jobrun.h"

/* CMake passes the version from project(); a hand build of a few files
 * (the fuzzers, a quick gcc test) gets the same text from jobrun.h. */
#ifndef JR_VERSION_STRING
#define JR_STR_(x) #x
#define JR_STR(x) JR_STR_(x)
#define JR_VERSION_STRING                                                      \
    JR_STR(JR_VERSION_MAJOR) "." JR_STR(JR_VERSION_MINOR) "." JR_STR(          \
        JR_VERSION_PATCH)
#endif

const char *jr_version_string(void)
{
    return JR_VERSION_STRING;
}

/* -errno codes the map does not name (EROFS from a read-only /dev/shm,
 * ENOTDIR, ...): the C library's text ("Read-only file system"), static
 * and thread-safe.  "unknown error" for a failed system call told nobody
 * anything. */
static const char *sys_err_text(int err)
{
    return err < 0 && err > -4096 ? strerrordesc_np(-err) : NULL;
}

/* 0 is not an error, but a caller that prints jr_strerror(rc) for every
 * rc should not read "unknown error" on success. */
const char *jr_strerror(int err)
{
#define JR_XX_(name, val, text)                                                \
    case JR_##name:                                                            \
        return text;
    switch (err) {
    case 0:
        return "success";
        JR_ERRNO_MAP(JR_XX_)
    default: {
        const char *t = sys_err_text(err);
        return t ? t : "unknown error";
    }
    }
#undef JR_XX_
}

const char *jr_err_name(int err)
{
#define JR_XX_(name, val, text)                                                \
    case JR_##name:                                                            \
        return #name;
    switch (err) {
    case 0:
        return "OK";
        JR_ERRNO_MAP(JR_XX_)
    default: {
        const char *n = sys_err_text(err) ? strerrorname_np(-err) : NULL;
        return n ? n : "UNKNOWN"; /* "EROFS" */
    }
    }
#undef JR_XX_
}

void jr_free(void *p)
{
    free(p);
}
