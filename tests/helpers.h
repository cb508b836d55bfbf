/*
 * helpers.h - what every test file shares: leak checks for processes and
 * shared-memory segments, and running the CLI with captured output.
 */
#ifndef JR_TEST_HELPERS_H
#define JR_TEST_HELPERS_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Count /dev/shm entries whose name holds this process's pid as master,
 * i.e. "jobrun.<uid>.<pid>.". */
static inline int jr_test_segments_of(pid_t pid)
{
    char pre[64];
    snprintf(pre, sizeof pre, "jobrun.%u.%d.", (unsigned)getuid(), (int)pid);
    DIR *d = opendir("/dev/shm");
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, pre, strlen(pre)) == 0)
            n++;
    closedir(d);
    return n;
}

/* Assert that this process has no child left and no segment.  Call it at
 * the end of a test body: Criterion 2.4 ignores failed asserts in .fini. */
static inline void jr_test_assert_clean(void)
{
    errno = 0;
    pid_t w = waitpid(-1, NULL, WNOHANG);
    cr_assert(w == -1 && errno == ECHILD, "a child process was left");
    cr_assert_eq(jr_test_segments_of(getpid()), 0,
                 "a shared-memory segment was left");
}

/* Number of open file descriptors of this process. */
static inline int jr_test_fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n - 3; /* ".", "..", and the DIR's own fd */
}

#endif
