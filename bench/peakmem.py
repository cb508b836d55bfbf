#!/usr/bin/env python3
"""Run a command and print the peak memory of its whole process tree.

    peakmem.py [--interval S] [--shm-prefix P] [--stdin FILE]
               [--timeline FILE] -- CMD [ARG...]

Every S seconds (default 0.02) the tree of the command (its children, their
children, ...) is found through /proc and, for each process, Pss and Rss are
read from /proc/PID/smaps_rollup (Rss from /proc/PID/statm on kernels without
it).  Pss splits shared pages between the processes that map them, so the
sum of Pss is the memory the tree really uses; the sum of Rss counts shared
pages (libraries, shared-memory segments) once per process and is shown for
comparison.  Shared-memory files under /dev/shm whose names start with P
(default "jobrun") are summed too: a segment that no process maps at the
moment of a sample is in no process's Pss.

Prints one line on stdout:
  peak_pss_kib=N peak_rss_kib=N peak_shm_kib=N peak_procs=N
  maxrss_kib=N wall_s=S samples=N rc=N
where maxrss_kib is the kernel's figure for the largest single process
(what /usr/bin/time -v shows).  The command's stdout goes to /dev/null.
Exits with the command's status (128+signal if it was killed).

--timeline FILE also writes every sample there, one line each:
  seconds since the start, the tree's Pss in KiB, /dev/shm in KiB, then
  pid:Pss KiB of each process
to see when the peak comes and which processes make it.
"""

import argparse
import os
import subprocess
import sys
import time

PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def children(pid):
    """Direct children of pid, from /proc/PID/task/*/children."""
    out = []
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out.extend(int(x) for x in f.read().split())
        except OSError:
            pass
    return out


def children_by_scan():
    """pid -> children, from every /proc/PID/stat (older kernels)."""
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    return kids


HAVE_CHILDREN = os.path.exists("/proc/self/task/%d/children" % os.getpid())
HAVE_ROLLUP = os.path.exists("/proc/self/smaps_rollup")


def tree(root):
    pids, todo = [], [root]
    kids = None if HAVE_CHILDREN else children_by_scan()
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children(pid) if kids is None else kids.get(pid, []))
    return pids


def mem_kib(pid):
    """(pss, rss) of one process in KiB; (0, 0) if it is gone."""
    try:
        if HAVE_ROLLUP:
            pss = rss = 0
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss = int(line.split()[1])
                    elif line.startswith("Rss:"):
                        rss = int(line.split()[1])
            return pss, rss
        with open("/proc/%d/statm" % pid) as f:
            rss = int(f.read().split()[1]) * PAGE_KIB
        return rss, rss
    except (OSError, ValueError, IndexError):
        return 0, 0


def shm_kib(prefix):
    total = 0
    try:
        with os.scandir("/dev/shm") as it:
            for e in it:
                if e.name.startswith(prefix):
                    try:
                        total += e.stat(follow_symlinks=False).st_blocks // 2
                    except OSError:
                        pass
    except OSError:
        pass
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--interval", type=float, default=0.02)
    ap.add_argument("--shm-prefix", default="jobrun")
    ap.add_argument("--stdin")
    ap.add_argument("--timeline")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        ap.error("a command is needed")
    stdin = open(a.stdin, "rb") if a.stdin else subprocess.DEVNULL
    timeline = open(a.timeline, "w") if a.timeline else None
    t0 = time.perf_counter()
    try:
        proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.DEVNULL)
    except OSError as e:
        sys.exit("peakmem: %s: %s" % (cmd[0], e))
    peak_pss = peak_rss = peak_shm = peak_procs = samples = 0
    while True:
        # Reap without blocking first: a sample of a finished tree is empty.
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        pids = tree(proc.pid)
        pss = rss = 0
        each = []
        for p in pids:
            a_pss, a_rss = mem_kib(p)
            pss += a_pss
            rss += a_rss
            each.append("%d:%d" % (p, a_pss))
        shm = shm_kib(a.shm_prefix)
        peak_pss = max(peak_pss, pss)
        peak_rss = max(peak_rss, rss)
        peak_shm = max(peak_shm, shm)
        if timeline:
            timeline.write("%.3f %d %d %s\n" % (time.perf_counter() - t0, pss,
                                                shm, " ".join(each)))
        peak_procs = max(peak_procs, len(pids))
        samples += 1
        time.sleep(a.interval)
    wall = time.perf_counter() - t0
    if timeline:
        timeline.close()
    proc.returncode = 0  # reaped above; keep Popen from waiting again
    if os.WIFSIGNALED(status):
        rc = 128 + os.WTERMSIG(status)
    else:
        rc = os.WEXITSTATUS(status)
    print("peak_pss_kib=%d peak_rss_kib=%d peak_shm_kib=%d peak_procs=%d "
          "maxrss_kib=%d wall_s=%.3f samples=%d rc=%d"
          % (peak_pss, peak_rss, peak_shm, peak_procs, ru.ru_maxrss, wall,
             samples, rc))
    sys.exit(rc)


if __name__ == "__main__":
    main()
