#!/usr/bin/env bash
# factor.sh - jobrun factor against coreutils factor, measured in one run.
#
#   bench/factor.sh [BUILD_DIR]
#
# BUILD_DIR defaults to <repo>/build. Inputs are made once by
# bench/gen_numbers.py (deterministic) under $BENCH_TMP, default
# ${TMPDIR:-/tmp}/jobrun-bench-factor:
#   random64   20,000 random 64-bit numbers
#   semiprime  2,000 products of two random 32-bit primes
#   classic    10,000 random numbers in [20000, 1e8] (the seeds' workload)
#   big        $BENCH_BIG (default 200,000) random 64-bit numbers: work of
#              a few seconds, for the scaling ratio
# Each is factored by coreutils `factor` (from stdin), `jobrun -j 1 factor
# FILE` and `jobrun -j 2 factor FILE`; the outputs must be identical (cmp)
# before anything is timed. Times are the median of $BENCH_RUNS runs
# (default 5). Then the classic workload as jobrun draws it itself
# (`factor --random 10000`, checked against coreutils) and as the seeds
# did it: sequential trial division in Python (bench/factor_seeds.py).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)/common.sh"

build=$(build_dir "${1:-}")
jobrun=$(need_bin "$build" jobrun)
command -v factor >/dev/null 2>&1 || die "coreutils factor not found"
big=${BENCH_BIG:-200000}
[[ $big =~ ^[1-9][0-9]*$ ]] || die "BENCH_BIG must be a positive integer"
data=${BENCH_TMP:-${TMPDIR:-/tmp}/jobrun-bench-factor}
mkdir -p -- "$data"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/jobrun-bench.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT

# input KIND COUNT: the path of the numbers file, made once.
input() {
    local f=$data/$1-$2.txt
    if [[ ! -s $f ]]; then
        "$PY" "$bench_dir/gen_numbers.py" "$1" "$2" 1 >"$f.part"
        mv -- "$f.part" "$f"
    fi
    printf '%s\n' "$f"
}

# same NAME A B: die unless files A and B hold the same bytes.
same() {
    local diff
    if ! diff=$(cmp -- "$2" "$3" 2>&1); then
        die "$1: output differs from coreutils factor: $diff"
    fi
}

echo "jobrun factor benchmark, $(factor --version | head -n 1)"
echo "  $(machine)"
echo "  median of $RUNS runs after one checked run; times include start-up"
echo

declare -A t_cu t_j1 t_j2 count
workloads=(random64 semiprime classic big)
declare -A kind=([random64]=random64 [semiprime]=semiprime [classic]=classic [big]=random64)
declare -A num=([random64]=20000 [semiprime]=2000 [classic]=10000 [big]=$big)
declare -A label=([random64]="random 64-bit" [semiprime]="semiprimes, 32-bit factors"
    [classic]="classic, [20000, 1e8]" [big]="random 64-bit (scaling)")
for w in "${workloads[@]}"; do
    f=$(input "${kind[$w]}" "${num[$w]}")
    count[$w]=${num[$w]}
    factor <"$f" >"$tmp/ref" || die "coreutils factor failed on $f"
    "$jobrun" -j 1 --no-progress factor "$f" >"$tmp/j1" || die "jobrun -j 1 factor $f failed (status $?)"
    "$jobrun" -j 2 --no-progress factor "$f" >"$tmp/j2" || die "jobrun -j 2 factor $f failed (status $?)"
    same "jobrun -j 1 factor $f" "$tmp/ref" "$tmp/j1"
    same "jobrun -j 2 factor $f" "$tmp/ref" "$tmp/j2"
    t_cu[$w]=$(median --warmup 0 --stdin "$f" -- factor)
    t_j1[$w]=$(median --warmup 0 -- "$jobrun" -j 1 --no-progress factor "$f")
    t_j2[$w]=$(median --warmup 0 -- "$jobrun" -j 2 --no-progress factor "$f")
done
echo "check: jobrun -j 1 and -j 2 output identical to coreutils factor on every input"
echo

printf '  %-28s %8s %11s %11s %11s %9s %7s\n' workload numbers "factor s" "jobrun-j1 s" "jobrun-j2 s" "factor/j1" "j1/j2"
for w in "${workloads[@]}"; do
    printf '  %-28s %8s %11.3f %11.3f %11.3f %9s %7s\n' "${label[$w]}" "${count[$w]}" \
        "${t_cu[$w]}" "${t_j1[$w]}" "${t_j2[$w]}" \
        "$(div "${t_cu[$w]}" "${t_j1[$w]}")" "$(div "${t_j1[$w]}" "${t_j2[$w]}")"
done
echo

# The classic workload drawn by jobrun itself; checked by giving the
# numbers it printed to coreutils factor.
n=10000
"$jobrun" -j 2 --no-progress factor --random "$n" >"$tmp/rand" ||
    die "jobrun -j 2 factor --random $n failed (status $?)"
[[ $(wc -l <"$tmp/rand") -eq $n ]] || die "factor --random $n did not print $n lines"
cut -d: -f1 "$tmp/rand" >"$tmp/rand.n"
awk '$1 < 20000 || $1 > 100000000 { bad = 1 } END { exit bad }' "$tmp/rand.n" ||
    die "factor --random $n drew numbers outside [20000, 100000000]"
factor <"$tmp/rand.n" >"$tmp/rand.ref"
same "jobrun -j 2 factor --random $n" "$tmp/rand.ref" "$tmp/rand"
"$jobrun" -j 1 --no-progress factor --random "$n" >"$tmp/rand1" ||
    die "jobrun -j 1 factor --random $n failed (status $?)"
same "jobrun -j 1 factor --random $n (against -j 2)" "$tmp/rand" "$tmp/rand1"
t_r2=$(median --warmup 0 -- "$jobrun" -j 2 --no-progress factor --random "$n")
t_r1=$(median --warmup 0 -- "$jobrun" -j 1 --no-progress factor --random "$n")
"$PY" "$bench_dir/factor_seeds.py" --count "$n" --quiet >"$tmp/seeds"
factor <"$(input classic "$n")" >"$tmp/ref"
same "bench/factor_seeds.py" "$tmp/ref" "$tmp/seeds"
t_py=$(median --warmup 0 -- "$PY" "$bench_dir/factor_seeds.py" --count "$n" --quiet)

echo "classic workload: $n random numbers in [20000, 1e8] (checked against coreutils)"
printf '  %-44s %9.3f s\n' "jobrun -j 2 factor --random $n" "$t_r2"
printf '  %-44s %9.3f s\n' "jobrun -j 1 factor --random $n" "$t_r1"
printf '  %-44s %9.3f s   (the seeds report 1.75 s on their machine)\n' \
    "python trial division, sequential (seeds)" "$t_py"
echo

ratio() { # NAME VALUE OP TARGET MEANING
    printf '  %-30s %8s   %s %-5s %-4s  %s\n' "$1" "$2" "$3" "$4" "$(verdict "$2" "$3" "$4")" "$5"
}
printf '  %-30s %8s   %-8s %-4s  %s\n' ratio value target "" meaning
for w in random64 semiprime classic; do
    ratio "factor / jobrun-j1, $w" "$(div "${t_cu[$w]}" "${t_j1[$w]}")" ">=" 1 \
        "one worker at least as fast as coreutils (aim: 2)"
done
ratio "jobrun-j1 / jobrun-j2, big" "$(div "${t_j1[big]}" "${t_j2[big]}")" ">=" 1.8 \
    "two workers at least 1.8x faster than one on ${big} numbers"
ratio "python / jobrun-j2, classic" "$(div "$t_py" "$t_r2")" ">=" 1 \
    "how many times faster than the seeds' Python (information)"
