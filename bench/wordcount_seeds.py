#!/usr/bin/env python3
"""The seeds' word count, kept as a peer for bench/wordcount.sh (timing only).

    wordcount_seeds.py [--procs N] [--top N] PATH...

The approach of the course material jobrun replaces: a multiprocessing.Pool
of N processes (default 2) maps over the files; each worker reads a whole
file as text (UTF-8, undecodable bytes replaced), lowercases it, finds the
words with re.findall(r"\\w+") and returns a collections.Counter, which the
parent adds up.  Prints the top N (default 20) as "COUNT<TAB>WORD".  Its
notion of a word and of lowercase (Python's \\w, str.lower) is close to, but
not exactly, jobrun's, so only its time is compared, not its output.
"""

import argparse
import collections
import multiprocessing
import os
import re
import sys

WORD = re.compile(r"\w+")


def count_file(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return collections.Counter(WORD.findall(f.read().lower()))


def files_of(paths):
    for p in paths:
        if os.path.isdir(p):
            for dirpath, dirnames, names in os.walk(p):
                dirnames.sort()
                for n in sorted(names):
                    full = os.path.join(dirpath, n)
                    if os.path.isfile(full) and not os.path.islink(full):
                        yield full
        else:
            yield p


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("paths", nargs="+")
    a = ap.parse_args()
    files = list(files_of(a.paths))
    total = collections.Counter()
    with multiprocessing.Pool(a.procs) as pool:
        # One file per task, results in completion order: the best this
        # approach can do with files of very different sizes.
        for counts in pool.imap_unordered(count_file, files, chunksize=1):
            total.update(counts)
    out = sys.stdout
    for word, n in sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[
            :a.top]:
        out.write("%d\t%s\n" % (n, word))


if __name__ == "__main__":
    main()
