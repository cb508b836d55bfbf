#!/usr/bin/env bash
# scaling.sh - how jobrun's time falls as workers are added, 1 to N.
#
#   bench/scaling.sh [BUILD_DIR] [CORPUS_DIR]
#
# For each worker count J in $BENCH_JOBS (default 1 2 4 ... and nproc),
# times `jobrun -j J wordcount CORPUS` and `jobrun -j J factor NUMBERS`
# (median of $BENCH_RUNS runs) and prints the time, the speedup over -j 1
# and the efficiency (speedup / J). Every output is first compared with
# -j 1's: a count that scales but differs is a failure, not a figure.
# Peers measured in the same run:
#   wordcount  `find | xargs -0 -P J -n 4 wc -w`: the parallel scan a shell
#              user gets for free, at the same J (it counts nothing)
#   factor     coreutils `factor` on the same numbers, one process
#   python     bench/wordcount_seeds.py --procs J at the largest J (the
#              seeds' way), unless BENCH_PYTHON=0
# and the peak PSS of jobrun's process tree at each J (bench/peakmem.py),
# which grows with J: each worker holds a table of the words it met.
# CORPUS_DIR defaults as in wordcount.sh; on a machine with many CPUs give
# it a bigger corpus (make-corpus.sh --repeat 5) so -j 16 still has work.
# The numbers are $BENCH_NUMBERS (default 1,000,000) random 64-bit
# integers made by gen_numbers.py under $BENCH_TMP.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)/common.sh"

build=$(build_dir "${1:-}")
jobrun=$(need_bin "$build" jobrun)
command -v factor >/dev/null 2>&1 || die "coreutils factor not found"
corpus=$(corpus_dir "${2:-}")
read -r bytes nfiles < <("$PY" "$bench_dir/corpus.py" size "$corpus")
(( bytes > 0 )) || die "$corpus holds no files"

ncpu=$(nproc)
if [[ -n ${BENCH_JOBS:-} ]]; then
    read -r -a jobs <<<"$BENCH_JOBS"
else
    jobs=()
    for ((j = 1; j < ncpu; j *= 2)); do jobs+=("$j"); done
    jobs+=("$ncpu")
fi
for j in "${jobs[@]}"; do
    [[ $j =~ ^[1-9][0-9]*$ ]] || die "BENCH_JOBS: '$j' is not a worker count"
done
[[ ${jobs[0]} == 1 ]] || die "BENCH_JOBS must start with 1 (the base of the speedups)"
jmax=${jobs[-1]}

n=${BENCH_NUMBERS:-1000000}
[[ $n =~ ^[1-9][0-9]*$ ]] || die "BENCH_NUMBERS must be a positive integer"
data=${BENCH_TMP:-${TMPDIR:-/tmp}/jobrun-bench-factor}
mkdir -p -- "$data"
numbers=$data/random64-$n.txt
if [[ ! -s $numbers ]]; then
    "$PY" "$bench_dir/gen_numbers.py" random64 "$n" 1 >"$numbers.part"
    mv -- "$numbers.part" "$numbers"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/jobrun-bench.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT

echo "jobrun scaling benchmark: -j ${jobs[*]}"
echo "  $(machine)"
awk -v b="$bytes" -v f="$nfiles" -v c="$corpus" -v n="$n" \
    'BEGIN { printf "  wordcount: %s, %d files, %.1f MiB; factor: %d random 64-bit numbers\n", c, f, b / 1048576, n }'
echo "  median of $RUNS runs after one checked run; times include start-up"
echo

# Check first (also the warm-up): every J prints what -j 1 prints.
"$jobrun" -j 1 --no-progress wordcount "$corpus" >"$tmp/wc1" ||
    die "jobrun -j 1 wordcount failed (status $?)"
"$jobrun" -j 1 --no-progress factor "$numbers" >"$tmp/f1" ||
    die "jobrun -j 1 factor failed (status $?)"
factor <"$numbers" >"$tmp/fref" || die "coreutils factor failed"
cmp -s "$tmp/f1" "$tmp/fref" || die "jobrun -j 1 factor differs from coreutils factor"
for j in "${jobs[@]:1}"; do
    "$jobrun" -j "$j" --no-progress wordcount "$corpus" >"$tmp/out" ||
        die "jobrun -j $j wordcount failed (status $?)"
    cmp -s "$tmp/out" "$tmp/wc1" || die "jobrun -j $j wordcount differs from -j 1"
    "$jobrun" -j "$j" --no-progress factor "$numbers" >"$tmp/out" ||
        die "jobrun -j $j factor failed (status $?)"
    cmp -s "$tmp/out" "$tmp/fref" || die "jobrun -j $j factor differs from coreutils factor"
done
echo "check: wordcount and factor print the same bytes at every -j (factor: as coreutils)"
echo

field() { # LINE KEY -> value
    tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'
}
# shellcheck disable=SC2016  # $1, $2 are expanded by the inner bash
wcpar=(bash -c 'find "$1" -type f -print0 | LC_ALL=C xargs -0 -P "$2" -n 4 wc -w' _ "$corpus")

declare -A t_wc t_f t_scan pss
for j in "${jobs[@]}"; do
    t_wc[$j]=$(median --warmup 0 -- "$jobrun" -j "$j" --no-progress wordcount "$corpus")
    t_f[$j]=$(median --warmup 0 -- "$jobrun" -j "$j" --no-progress factor "$numbers")
    t_scan[$j]=$(median --warmup 0 -- "${wcpar[@]}" "$j")
    line=$("$PY" "$bench_dir/peakmem.py" --interval 0.005 -- \
        "$jobrun" -j "$j" --no-progress wordcount "$corpus") ||
        die "jobrun -j $j wordcount failed under peakmem.py"
    pss[$j]=$(field "$line" peak_pss_kib)
done
t_cu=$(median --warmup 0 --stdin "$numbers" -- factor)

printf '  %3s | %9s %7s %5s %9s %9s | %9s %7s %5s | %9s\n' \
    -j "wordcount" speedup eff "peak MiB" "wc -w -P" "factor" speedup eff "scan/jobrun"
for j in "${jobs[@]}"; do
    awk -v j="$j" -v w="${t_wc[$j]}" -v w1="${t_wc[1]}" -v p="${pss[$j]}" -v s="${t_scan[$j]}" \
        -v f="${t_f[$j]}" -v f1="${t_f[1]}" 'BEGIN {
        printf "  %3d | %8.3fs %6.2fx %5.2f %9.1f %8.3fs | %8.3fs %6.2fx %5.2f | %8.2fx\n",
            j, w, w1 / w, w1 / w / j, p / 1024, s, f, f1 / f, f1 / f / j, s / w }'
done
echo
printf '  coreutils factor (one process): %.3f s; factor / jobrun -j 1: %s, / jobrun -j %d: %s\n' \
    "$t_cu" "$(div "$t_cu" "${t_f[1]}")" "$jmax" "$(div "$t_cu" "${t_f[$jmax]}")"

if [[ ${BENCH_PYTHON:-1} != 0 ]]; then
    t_py=$(median --warmup 0 -- "$PY" "$bench_dir/wordcount_seeds.py" --procs "$jmax" "$corpus")
    printf '  python Counter+re, Pool(%d) (seeds): %.3f s; python / jobrun -j %d: %s\n' \
        "$jmax" "$t_py" "$jmax" "$(div "$t_py" "${t_wc[$jmax]}")"
fi
echo
echo "where -j $jmax spends its time (one run, --stats):"
"$jobrun" -j "$jmax" --no-progress --stats wordcount "$corpus" 2>&1 >/dev/null | sed 's/^/  /'
