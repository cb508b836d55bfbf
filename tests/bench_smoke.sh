#!/usr/bin/env bash
# bench_smoke.sh - the benchmark scripts still run, on a tiny corpus.
#
#   tests/bench_smoke.sh BUILD_DIR
#
# The figures of the issues' closing notes come from bench/*.sh, which
# the suite does not otherwise run (they take minutes and judge nothing
# a test could).  This runs wordcount.sh (memory part included) and
# scaling.sh with one round each on a corpus of a few kilobytes, in a
# scratch directory under $TMPDIR, and checks that each exits 0 and prints
# every row it should; the figures themselves are not judged.  Not here:
# factor.sh and pool.sh, whose Python peers take fixed workloads of tens
# of seconds.  Skipped (77) without python3.
set -euo pipefail
build=$(cd -- "${1:?usage: bench_smoke.sh BUILD_DIR}" && pwd)
bench=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../bench" && pwd)
command -v python3 >/dev/null 2>&1 || { echo "no python3: skipped"; exit 77; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/jr-bench-smoke.XXXXXX")
trap 'rm -rf -- "$scratch"' EXIT
corpus=$scratch/corpus
mkdir -p "$corpus/en" "$corpus/fr"
for i in 1 2 3 4 5 6; do
    printf 'The quick brown fox %d jumps over the lazy dog.\n' "$i" >"$corpus/en/$i.txt"
    printf 'Le renard brun %d saute par-dessus le chien paresseux.\n' "$i" >"$corpus/fr/$i.txt"
done

fail() {
    echo "bench_smoke: $1" >&2
    echo "--- its output:" >&2
    cat "$2" >&2
    exit 1
}
# has FILE PATTERN...: every pattern (an extended regex) matches a line.
has() {
    local file=$1
    shift
    for pat in "$@"; do
        grep -Eq -- "$pat" "$file" || fail "no line matches '$pat'" "$file"
    done
}

export BENCH_RUNS=1 TMPDIR=$scratch
out=$scratch/wordcount.out
BENCH_MEM=1 "$bench/wordcount.sh" "$build" "$corpus" >"$out" 2>&1 ||
    fail "wordcount.sh exited $?" "$out"
has "$out" '^check: -j 1 and -j 2 outputs identical, 22 distinct words' \
    '^  jobrun -j 2 wordcount +[0-9.]+' \
    '^  python Counter\+re, Pool\(2\) \(seeds\) +[0-9.]+' \
    '^  the same, two at once +[0-9.]+' \
    '^  jobrun-j1 / jobrun-j2 +[0-9.]+ +>= 1\.8' \
    '^  host: 2 x half / pair +[0-9.]+' \
    '^  x25 +[0-9.]+' \
    '^  peak PSS x25 / x5 +[0-9.]+ +<= 1\.1'

out=$scratch/scaling.out
BENCH_JOBS="1 2" BENCH_NUMBERS=2000 BENCH_PYTHON=0 \
    "$bench/scaling.sh" "$build" "$corpus" >"$out" 2>&1 ||
    fail "scaling.sh exited $?" "$out"
has "$out" '^ +2 \| +[0-9.]+s' '^  coreutils factor'
echo "bench_smoke: wordcount.sh and scaling.sh ran"
