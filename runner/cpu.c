/*
 * cpu.c - how many workers by default: the CPUs this process may use.
 * The affinity mask (taskset, cpusets) and, when the process is in a
 * cgroup v2 with a cpu.max quota (containers, systemd slices), the quota
 * rounded up.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner/runner.h"

/* The cgroup v2 quota in CPUs (rounded up), or 0 when none is set. */
static unsigned cgroup_quota(void)
{
    char path[600] = "/sys/fs/cgroup", line[512];
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f)
        return 0;
    /* cgroup v2 has one line "0::/path". */
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "0::", 3) == 0) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(path, sizeof path, "/sys/fs/cgroup%s/cpu.max",
                     line + 3);
            break;
        }
    fclose(f);
    f = fopen(path, "r");
    if (!f)
        f = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (!f)
        return 0;
    char quota[32];
    unsigned long long period = 0;
    unsigned n = 0;
    if (fscanf(f, "%31s %llu", quota, &period) == 2 &&
        strcmp(quota, "max") != 0 && period > 0) {
        unsigned long long q = strtoull(quota, NULL, 10);
        n = (unsigned)((q + period - 1) / period);
    }
    fclose(f);
    return n;
}

JR_API unsigned jr_cpu_count(void)
{
    cpu_set_t set;
    unsigned n = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        n = (unsigned)CPU_COUNT(&set);
    if (n == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (unsigned)c : 1;
    }
    unsigned q = cgroup_quota();
    if (q > 0 && q < n)
        n = q;
    return n ? n : 1;
}
