#!/usr/bin/env python3
"""The seeds' sequential factoring, kept as a peer for bench/factor.sh.

    factor_seeds.py [--count N] [--seed S] [--quiet]

The classic workload of the course material: N (default 10,000) random
numbers drawn uniformly from [20000, 100000000], each factored in plain
Python by trial division by every integer from 2 up to its square root,
one after the other.  Its lines go to stdout in coreutils' form
("N: p1 p2 ..."), so bench/factor.sh can check them; the time of the whole
loop goes to stderr (unless --quiet).  The course notes report 1.75 s for this workload.
The numbers are those of `bench/gen_numbers.py classic N S`.
"""

import argparse
import random
import sys
import time


def trial_division(n):
    factors = []
    d = 2
    while d * d <= n:
        while n % d == 0:
            factors.append(d)
            n //= d
        d += 1
    if n > 1:
        factors.append(n)
    return factors


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quiet", action="store_true",
                    help="do not print the time on stderr")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    out = sys.stdout
    t0 = time.perf_counter()
    for _ in range(a.count):
        n = rng.randint(20000, 100000000)
        out.write("%d:%s\n" % (n, "".join(" %d" % p
                                          for p in trial_division(n))))
    out.flush()
    if not a.quiet:
        sys.stderr.write("factor_seeds: %d numbers in %.3f s\n"
                         % (a.count, time.perf_counter() - t0))


if __name__ == "__main__":
    main()
