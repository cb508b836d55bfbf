#!/usr/bin/env python3
"""Run a command N times and print its median, min and max wall time.

    timeit.py [-n N] [--warmup W] [--stdin FILE] [--ok CODES] -- CMD [ARG...]

Prints one line on stdout, "MEDIAN MIN MAX" in seconds, so that scripts can
`read` it.  The command's stdout goes to /dev/null (its stderr is kept).
W warm-up runs (default 1) are made first and not counted: they bring the
input into the page cache, which a benchmark cannot drop.  A run that exits
with a status not in CODES (default 0) stops everything with status 1.
No dependency beyond Python's standard library (no hyperfine needed).
"""

import argparse
import statistics
import subprocess
import sys
import time


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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=5, help="timed runs (default 5)")
    ap.add_argument("--warmup", type=int, default=1,
                    help="untimed runs first (default 1)")
    ap.add_argument("--stdin", help="file given as the command's stdin")
    ap.add_argument("--ok", default="0",
                    help="exit statuses that count as success (default 0)")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd or a.n < 1:
        ap.error("a command and -n >= 1 are needed")
    ok = {int(c) for c in a.ok.split(",")}
    try:
        for _ in range(a.warmup):
            run_once(cmd, a.stdin, ok)
        times = [run_once(cmd, a.stdin, ok) for _ in range(a.n)]
    except FileNotFoundError as e:
        sys.exit("timeit: %s" % e)
    print("%.6f %.6f %.6f" % (statistics.median(times), min(times),
                              max(times)))


if __name__ == "__main__":
    main()
