#!/usr/bin/env python3
"""Run commands N times each and print their median, min and max wall time.

    timeit.py [-n N] [--warmup W] [--stdin FILE] [--ok CODES] -- CMD [ARG...]
              [::: CMD [ARG...] ...]

Prints one line per command on stdout, "MEDIAN MIN MAX" in seconds, so that
scripts can `read` it.  A command's stdout goes to /dev/null (its stderr is
kept).  W warm-up runs of each (default 1) are made first and not counted:
they bring the input into the page cache, which a benchmark cannot drop.
A run that exits with a status not in CODES (default 0) stops everything
with status 1.  No dependency beyond Python's standard library (no
hyperfine needed).

Several commands, separated by ":::", are timed in rounds: each round runs
every command once, in turn.  On a shared machine the load comes and goes
over seconds; timed one after the other, a command of 0.4 s would take its
five runs within two seconds, which a burst of load can cover whole, while
a peer of ten seconds averages over a minute.  In rounds, every command's
runs are spread over the same minute, and their ratio compares runs made
under the same load.
"""

import argparse
import statistics
import subprocess
import sys
import time

SEP = ":::"


def run_once(cmd, stdin_path, ok):
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    try:
        t0 = time.perf_counter()
        rc = subprocess.call(cmd, stdin=stdin, stdout=subprocess.DEVNULL)
        t = time.perf_counter() - t0
    finally:
        if stdin_path:
            stdin.close()
    if rc not in ok:
        sys.exit("timeit: %s exited with status %d" % (" ".join(cmd), rc))
    return t


def split_cmds(args):
    cmds = [[]]
    for a in args:
        if a == SEP:
            cmds.append([])
        else:
            cmds[-1].append(a)
    return cmds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=5,
                    help="timed runs of each command (default 5)")
    ap.add_argument("--warmup", type=int, default=1,
                    help="untimed runs of each first (default 1)")
    ap.add_argument("--stdin", help="file given as the commands' stdin")
    ap.add_argument("--ok", default="0",
                    help="exit statuses that count as success (default 0)")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmds = split_cmds(a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd)
    if not all(cmds) or a.n < 1:
        ap.error("commands (none empty) and -n >= 1 are needed")
    ok = {int(c) for c in a.ok.split(",")}
    times = [[] for _ in cmds]
    try:
        for _ in range(a.warmup):
            for cmd in cmds:
                run_once(cmd, a.stdin, ok)
        for _ in range(a.n):
            for cmd, ts in zip(cmds, times):
                ts.append(run_once(cmd, a.stdin, ok))
    except FileNotFoundError as e:
        sys.exit("timeit: %s" % e)
    for ts in times:
        print("%.6f %.6f %.6f" % (statistics.median(ts), min(ts), max(ts)))


if __name__ == "__main__":
    main()
