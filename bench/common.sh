# common.sh - helpers sourced by the bench/*.sh scripts (not run alone).
#
# Sets bench_dir, repo_dir, PY (python3, or $PYTHON) and RUNS ($BENCH_RUNS,
# default 5), and gives the scripts one way to find the build, time a
# command, and print ratios with their targets.
# shellcheck shell=bash

bench_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(dirname -- "$bench_dir")
PY=${PYTHON:-python3}
RUNS=${BENCH_RUNS:-5}

die() {
    echo "$(basename -- "$0"): $*" >&2
    exit 1
}

command -v "$PY" >/dev/null 2>&1 || die "$PY not found (set PYTHON)"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer"

# build_dir [DIR]: the absolute build directory (default: <repo>/build).
build_dir() {
    local dir=${1:-$repo_dir/build}
    [[ -d $dir ]] || die "build directory $dir not found; build first:
    $repo_dir/scripts/pgo-build.sh $dir"
    (cd -- "$dir" && pwd)
}

# need_bin BUILD NAME: the path of an executable the build must have made.
need_bin() {
    local bin=$1/$2
    [[ -x $bin && -f $bin ]] || die "$bin is missing or not executable; build it first:
    $repo_dir/scripts/pgo-build.sh $1"
    printf '%s\n' "$bin"
}

# corpus_dir [DIR]: the corpus of wordcount.sh and scaling.sh: DIR, else
# $BENCH_CORPUS, else ${TMPDIR:-/tmp}/jobrun-corpus; made by
# make-corpus.sh ($BENCH_MIB MiB, default 200) when missing or empty.
corpus_dir() {
    local dir=${1:-${BENCH_CORPUS:-${TMPDIR:-/tmp}/jobrun-corpus}}
    dir=${dir%/}
    if [[ ! -d $dir ]] || [[ -z $(ls -A -- "$dir") ]]; then
        "$bench_dir/make-corpus.sh" "$dir" "${BENCH_MIB:-200}" >&2
    fi
    printf '%s\n' "$dir"
}

# median [timeit options] -- CMD...: the median wall time of RUNS runs.
median() {
    local med _min _max
    read -r med _min _max < <("$PY" "$bench_dir/timeit.py" -n "$RUNS" "$@") ||
        die "timing failed: ${*}"
    [[ -n $med ]] || die "timing failed: ${*}"
    printf '%s\n' "$med"
}

# medians [timeit options] -- CMD... [::: CMD...]...: the median wall time
# of RUNS runs of each command, a line each, the commands run in rounds
# (timeit.py says why).
medians() {
    local out
    out=$("$PY" "$bench_dir/timeit.py" -n "$RUNS" "$@") || die "timing failed: ${*}"
    [[ -n $out ]] || die "timing failed: ${*}"
    awk '{ print $1 }' <<<"$out"
}

# div A B: A / B with 2 decimals ("-" when B is 0).
div() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'
}

# verdict VALUE OP TARGET: "ok" when VALUE OP TARGET holds (OP is <= or >=).
verdict() {
    awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
        if (v == "-") { print "?"; exit }
        ok = (op == "<=") ? (v + 0 <= t + 0) : (v + 0 >= t + 0)
        print ok ? "ok" : "MISS"
    }'
}

# machine: one line on where the figures were taken.
machine() {
    local cpu
    cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
    printf '%s, %s CPUs (nproc), Linux %s, %s\n' "${cpu:-unknown CPU}" \
        "$(nproc)" "$(uname -r)" "$("$PY" -c 'import sys; print("python", sys.version.split()[0])')"
}
