#!/usr/bin/env python3
"""Write the numbers that bench/factor.sh factors, one per line.

    gen_numbers.py random64 COUNT [SEED]   uniform in [0, 2^64)
    gen_numbers.py semiprime COUNT [SEED]  p*q, p and q random primes in
                                           [2^31, 2^32): 63-64 bits, two
                                           32-bit factors
    gen_numbers.py classic COUNT [SEED]    uniform in [20000, 100000000],
                                           drawn as factor_seeds.py does

Deterministic for a given SEED (default 1).
"""

import random
import sys


def is_prime32(n):
    """Miller-Rabin with bases 2, 7, 61: exact for n < 4,759,123,141."""
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53,
              59, 61):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in (2, 7, 61):
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def prime32(rng):
    while True:
        n = rng.randrange(1 << 31, 1 << 32) | 1
        if is_prime32(n):
            return n


def main():
    if len(sys.argv) not in (3, 4) or sys.argv[1] not in (
            "random64", "semiprime", "classic"):
        sys.exit(__doc__)
    kind, count = sys.argv[1], int(sys.argv[2])
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) == 4 else 1)
    out = []
    for _ in range(count):
        if kind == "random64":
            out.append(rng.getrandbits(64))
        elif kind == "semiprime":
            out.append(prime32(rng) * prime32(rng))
        else:
            out.append(rng.randint(20000, 100000000))
    sys.stdout.write("".join("%d\n" % n for n in out))


if __name__ == "__main__":
    main()
