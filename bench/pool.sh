#!/usr/bin/env bash
# pool.sh - the jobrun pool against Python's multiprocessing.Pool.
#
#   bench/pool.sh [BUILD_DIR] [BENCH_POOL_ARGS...]
#
# Runs <BUILD_DIR>/bench_pool (default build: <repo>/build), which prints
# its own figures, then bench/pool_python.py, the same figures for
# multiprocessing.Pool(2), and prints them side by side with how many times
# better jobrun does. The figures (see value() for the lines read):
#   start_stop_s          start a 2-worker pool and stop it (median of 20)
#   map1_tasks_per_s      200,000 empty tasks, one per message
#   map1000_tasks_per_s   the same, batched (python: 1000 per message;
#                         jobrun: the batch its pool chooses)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)/common.sh"

build=$(build_dir "${1:-}")
shift || true
bench_pool=$(need_bin "$build" bench_pool)

echo "pool benchmark: jobrun bench_pool against python multiprocessing.Pool(2)"
echo "  $(machine)"
echo

jr_out=$("$bench_pool" "$@") || die "$bench_pool failed (status $?)"
py_out=$("$PY" "$bench_dir/pool_python.py") || die "pool_python.py failed (status $?)"
indent() {
    local line
    while IFS= read -r line; do printf '  %s\n' "$line"; done <<<"$1"
}
echo "bench_pool:"
indent "$jr_out"
echo "pool_python.py:"
indent "$py_out"
echo

# value OUTPUT KEY: the figure for KEY, empty if there is none. Reads
# "KEY VALUE" (also "KEY=VALUE", "KEY: VALUE") lines, and bench_pool's own
# "LABEL<TAB>VALUE UNIT" lines: "start+stop (W=2)<TAB>3.21 ms",
# "empty tasks unbatched (W=2)<TAB>N tasks/s", "empty tasks batched ...".
value() {
    awk -v k="$2" '
        function out(v) { print v; found = 1; exit }
        {
            sub(/^[ \t]+/, "")
            n = split($0, f, /[ \t]*[=:][ \t]*|[ \t]+/)
            if (n >= 2 && f[1] == k && f[2] ~ /^[0-9.eE+-]+$/) out(f[2])
            split($0, t, /\t/)
            split(t[2], v, / +/)
            if (v[1] !~ /^[0-9.eE+-]+$/) next
            if (k == "start_stop_s" && t[1] ~ /^start\+stop/)
                out(v[2] == "ms" ? v[1] / 1000 : v[1])
            if (k == "map1_tasks_per_s" && t[1] ~ /^empty tasks unbatched/) out(v[1])
            if (k == "map1000_tasks_per_s" && t[1] ~ /^empty tasks batched/) out(v[1])
        }' <<<"$1"
}

printf '  %-22s %14s %14s %10s  %s\n' figure jobrun python "jobrun is" ""
missing=0
row() { # KEY UNIT BETTER(lower|higher) WHAT
    local jr py
    jr=$(value "$jr_out" "$1")
    py=$(value "$py_out" "$1")
    if [[ -z $jr || -z $py ]]; then
        local who=bench_pool
        [[ -n $jr ]] && who=pool_python.py
        printf '  %-22s %14s %14s %10s  %s\n' "$1" "${jr:--}" "${py:--}" "-" \
            "(no '$1 VALUE' line from $who)"
        missing=1
        return
    fi
    local r
    if [[ $3 == lower ]]; then r=$(div "$py" "$jr"); else r=$(div "$jr" "$py"); fi
    awk -v k="$1" -v j="$jr" -v p="$py" -v r="$r" -v u="$2" -v w="$4" \
        'BEGIN { f = (u == "s") ? "%14.6f" : "%14.0f"
                 printf "  %-22s " f " " f " %9sx  %s (%s)\n", k, j, p, r, w, u }'
}
row start_stop_s s lower "faster to start and stop 2 workers"
row map1_tasks_per_s tasks/s higher "more empty tasks per second, one per message"
row map1000_tasks_per_s tasks/s higher "more empty tasks per second, batched (python: 1000 per message)"
if (( missing )); then
    echo
    echo "some figures are missing: bench_pool should print 'start+stop ...<TAB>MS ms'," >&2
    echo "'empty tasks unbatched ...<TAB>RATE tasks/s' and 'empty tasks batched ...<TAB>RATE tasks/s'" >&2
    echo "lines (or 'start_stop_s S', 'map1_tasks_per_s R', 'map1000_tasks_per_s R')" >&2
    exit 1
fi
