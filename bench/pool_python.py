#!/usr/bin/env python3
"""Python's multiprocessing.Pool as the peer of bench_pool (bench/pool.sh).

    pool_python.py [--workers N] [--starts N] [--tasks N] [--runs N]

Measures, with N workers (default 2, the 'fork' start method):
  start_stop_s          median of --starts (20) cycles of Pool(N) then
                        close() and join(): every worker started and
                        stopped.  (start_stop_terminate_s: the same ending
                        with terminate(), what `with Pool() as p:` does.)
  map1_tasks_per_s      pool.map over --tasks (200,000) empty tasks with
                        chunksize=1: one message per task
  map1000_tasks_per_s   the same with chunksize=1000
Map figures are the median of --runs (3) runs on a pool already started.
Prints "KEY VALUE" lines (the form bench/pool.sh reads from bench_pool too)
after '#' comment lines.
"""

import argparse
import multiprocessing
import statistics
import sys
import time


def empty(_):
    return None


def start_stop(ctx, workers, terminate):
    t0 = time.perf_counter()
    pool = ctx.Pool(workers)
    if terminate:
        pool.terminate()
    else:
        pool.close()
    pool.join()
    return time.perf_counter() - t0


def map_rate(pool, tasks, chunksize):
    t0 = time.perf_counter()
    pool.map(empty, range(tasks), chunksize=chunksize)
    return tasks / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--starts", type=int, default=20)
    ap.add_argument("--tasks", type=int, default=200000)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    ctx = multiprocessing.get_context("fork")
    print("# python %s, multiprocessing.Pool(%d), start method fork"
          % (sys.version.split()[0], a.workers))
    ss = statistics.median(start_stop(ctx, a.workers, False)
                           for _ in range(a.starts))
    st = statistics.median(start_stop(ctx, a.workers, True)
                           for _ in range(a.starts))
    with ctx.Pool(a.workers) as pool:
        pool.map(empty, range(1000))  # workers up and warm
        m1 = statistics.median(map_rate(pool, a.tasks, 1)
                               for _ in range(a.runs))
        m1000 = statistics.median(map_rate(pool, a.tasks, 1000)
                                  for _ in range(a.runs))
    print("start_stop_s %.6f" % ss)
    print("start_stop_terminate_s %.6f" % st)
    print("map1_tasks_per_s %.0f" % m1)
    print("map1000_tasks_per_s %.0f" % m1000)


if __name__ == "__main__":
    main()
