/*
 * fault.c - fault injection for the reliability tests; compiled to
 * nothing unless the build defines JR_FAULT (cmake -DJOBRUN_FAULT=ON).
 *
 * JOBRUN_FAULT holds one rule, "ACTION@POINT[:task=N][:attempt=N]": at
 * POINT (start, map, done, flush, reduce) of a matching task, the worker
 * does ACTION: kill, segv, stop, spin, exit, or hold (take the control
 * lock and die holding it).  corrupt and bomb at done are not done here:
 * the worker asks jr_fault_match() when it sends the DONE.  Omitted
 * task/attempt match any.
 */
#include "worker/fault.h"

#ifdef JR_FAULT
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker/worker.h"

jr_ctl *jr_fault_ctl;

/* The rule's action when it matches point, task and attempt; "" when
 * there is no rule or it does not match. */
static void rule_action(const char *point, uint64_t task, uint32_t attempt,
                        char action[16])
{
    action[0] = '\0';
    const char *rule = getenv("JOBRUN_FAULT");
    if (!rule)
        return;
    char where[16] = "";
    const char *at = strchr(rule, '@');
    if (!at || (size_t)(at - rule) >= 16)
        return;
    const char *end = strchr(at + 1, ':');
    size_t wl = end ? (size_t)(end - at - 1) : strlen(at + 1);
    if (wl >= sizeof where)
        return;
    memcpy(where, at + 1, wl);
    if (strcmp(where, point) != 0)
        return;
    const char *t = strstr(rule, ":task=");
    const char *a = strstr(rule, ":attempt=");
    if (t && strtoull(t + 6, NULL, 10) != task)
        return;
    if (a && strtoul(a + 9, NULL, 10) != attempt)
        return;
    memcpy(action, rule, (size_t)(at - rule));
    action[at - rule] = '\0';
}

int jr_fault_match(const char *want, const char *point, uint64_t task,
                   uint32_t attempt)
{
    char action[16];
    rule_action(point, task, attempt, action);
    return strcmp(action, want) == 0;
}

void jr_fault_point(const char *point, uint64_t task, uint32_t attempt)
{
    char action[16];
    rule_action(point, task, attempt, action);
    if (strcmp(action, "kill") == 0)
        raise(SIGKILL);
    else if (strcmp(action, "segv") == 0)
        raise(SIGSEGV);
    else if (strcmp(action, "stop") == 0)
        raise(SIGSTOP);
    else if (strcmp(action, "exit") == 0)
        _exit(1);
    else if (strcmp(action, "spin") == 0)
        for (volatile int x = 0;; x++)
            ;
    else if (strcmp(action, "hold") == 0 && jr_fault_ctl) {
        jr_lock_acquire(&jr_fault_ctl->lock, 1000, NULL, NULL, NULL);
        raise(SIGKILL);
    }
}
#else
typedef int jr_fault_unused; /* ISO C: no empty translation unit */
#endif
