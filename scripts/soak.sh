#!/usr/bin/env bash
# soak.sh - T25 of RELIABILITY.md: the reliability tests many times, then
# the whole Criterion suite under ASan+UBSan and under TSan, and one table
# of results at the end.
#
#   scripts/soak.sh [RUNS]
#
# RUNS (default $JR_SOAK_RUNS, else 100) is what test_reliability gets as
# JR_SOAK_RUNS: T01 makes RUNS SIGKILL runs, T09 more signal runs, T22 a
# 100 MB word.  ITER (default 3) repeats the reliability file that many
# times in the plain build.  All builds have fault injection on
# (-DJOBRUN_FAULT=ON) and go to $BUILD_ROOT/build-{soak,asan,tsan}
# (BUILD_ROOT defaults to the source tree).
#
# ASan+UBSan: every test binary of the suite, built with
# -DJOBRUN_SANITIZE=address,undefined.  TSan: Criterion 2.4 cannot run
# under TSan at all (its BoxFort arena fails: Snaipe/Criterion#274), so the
# plain test_reliability drives a TSan build of the jobrun command
# (JR_CLI=build-tsan/jobrun): master and workers are checked, the
# in-process library tests are not.  libzmq is not instrumented, so races
# inside it are suppressed, and its calls to intercepted functions (memcpy
# and the like) are not checked (ignore_noninstrumented_modules=1): each
# of those was a "race" at a new address, tens of thousands per run, and
# TSan's search of the addresses it had seen grew with their number
# (T14's 200,000 inputs ran past 300 s; 20,000 of them took 1.7 to 20 s
# as 1,300 to 19,935 such races came, 0.6-0.7 s with the flag; T14 then
# 4.9 s).  TSan's "unlock of an unlocked mutex" in
# jr_lock_release is suppressed too (TSan does not know that a robust
# mutex is held after EOWNERDEAD from pthread_mutex_timedlock, nor
# process-shared mutexes at all).  handle_segv=0 everywhere: the injected segv faults
# must kill the worker with SIGSEGV, as a real crash would.
#
# Sanitizer reports of every process, workers included (the tests capture
# their stderr), go to per-pid log files and are counted; any fails its
# row.  Leaks whose allocation is in tests/ (a failed test's buffers) are
# counted apart, as "test leaks".  SKIP_SAN=1 skips the sanitizer builds;
# SAN_SCALE (default 10) stretches the tests' deadlines and time bounds
# there.  Exit status: 0 when every row passed.
set -uo pipefail
export LC_ALL=C

src=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-${JR_SOAK_RUNS:-100}}
iter=${ITER:-3}
root=${BUILD_ROOT:-$src}
scale=${SAN_SCALE:-10}
jobs=$(nproc 2>/dev/null || echo 2)
logs=$(mktemp -d "${TMPDIR:-/tmp}/jobrun-soak.XXXXXX")
rows=()
status=0

say() { printf '== %s\n' "$*" >&2; }

build() { # DIR [cmake options...]
    local dir=$1
    shift
    cmake -S "$src" -B "$dir" -DJOBRUN_FAULT=ON "$@" >"$logs/cmake.$(basename "$dir")" 2>&1 &&
        cmake --build "$dir" -j "$jobs" >>"$logs/cmake.$(basename "$dir")" 2>&1
}

# run_row NAME BUILD BINARY [VAR=VALUE...] [-- ARGS...]: one row.
run_row() {
    local name=$1 build=$2 bin=$3
    shift 3
    local vars=() args=()
    while [[ $# -gt 0 && $1 != -- ]]; do
        vars+=("$1")
        shift
    done
    [[ $# -gt 0 ]] && shift && args=("$@")
    local log="$logs/$name.log" san="$logs/san.$name"
    mkdir -p "$san"
    local t0=$SECONDS
    env "${vars[@]}" "$bin" --jobs 1 "${args[@]}" >"$log" 2>&1
    local rc=$? secs=$((SECONDS - t0))
    local syn tested=0 passing=0 failing=0 crashing=0
    syn=$(grep -a 'Synthesis:' "$log" | tail -1)
    if [[ $syn =~ Tested:\ ([0-9]+).*Passing:\ ([0-9]+).*Failing:\ ([0-9]+).*Crashing:\ ([0-9]+) ]]; then
        tested=${BASH_REMATCH[1]} passing=${BASH_REMATCH[2]}
        failing=${BASH_REMATCH[3]} crashing=${BASH_REMATCH[4]}
    fi
    # Reports in the per-pid logs, and any that reached the test's stderr.
    # A leak report counts against jobrun unless the first frame of
    # every leak in it is test code.
    local reports=0 testleaks=0 f
    for f in "$san"/* "$log"; do
        [[ -f $f ]] || continue
        reports=$((reports + $(grep -acE 'ERROR: AddressSanitizer|runtime error:|WARNING: ThreadSanitizer|ERROR: ThreadSanitizer' "$f")))
        if grep -aq 'ERROR: LeakSanitizer' "$f"; then
            if awk '/(Direct|Indirect) leak of/ { want = 1; next }
                    want && /^ *#1 / { want = 0; if ($0 !~ /\/tests\//) bad = 1 }
                    END { exit !bad }' "$f"; then
                reports=$((reports + 1))
            else
                testleaks=$((testleaks + 1))
            fi
        fi
    done
    local verdict=ok
    if [[ $rc -ne 0 || $tested -eq 0 || $failing -ne 0 || $crashing -ne 0 || $reports -ne 0 ]]; then
        verdict=FAIL
        status=1
    fi
    local failed
    failed=$(grep -aoE '\[FAIL\] [a-z_]+::[a-z0-9_]+' "$log" | sed 's/.*:://' | sort -u | tr '\n' ' ')
    rows+=("$(printf '%-30s %-6s %5s %5s %5s %5s %6ss %7s %6s  %-4s %s' "$name" \
        "$build" "$tested" "$passing" "$failing" "$crashing" "$secs" \
        "$reports" "$testleaks" "$verdict" "$failed")")
}

# ---- 1. the reliability file, many times, plain build ----------------------
say "building $root/build-soak"
if ! build "$root/build-soak"; then
    echo "soak: build failed, see $logs/cmake.build-soak" >&2
    exit 1
fi
rel="$root/build-soak/tests/test_reliability"
for i in $(seq 1 "$iter"); do
    say "test_reliability, JR_SOAK_RUNS=$runs, iteration $i/$iter"
    run_row "reliability#$i" plain "$rel" JR_SOAK_RUNS="$runs"
done
# The kill soak alone once more: many runs of T01 only.
say "T01 alone, JR_SOAK_RUNS=$((runs * 3))"
run_row "t01-kill-soak" plain "$rel" JR_SOAK_RUNS=$((runs * 3)) -- --filter '*/t01*'

# ---- 2. sanitizers ------------------------------------------------------------
san_build() { # KIND SANITIZE
    local dir="$root/build-$1"
    say "building $dir (-DJOBRUN_SANITIZE=$2)"
    if ! build "$dir" -DJOBRUN_SANITIZE="$2" \
        -DCMAKE_C_FLAGS="-DJR_REL_TIMEOUT_SCALE=$scale"; then
        rows+=("$(printf '%-30s %-6s %s' "(build)" "$1" \
            "BUILD FAILED: $logs/cmake.build-$1")")
        status=1
        return 1
    fi
}
san_env() { # NAME: the sanitizer options of a row, one per line
    local san="$logs/san.$1"
    local common="log_path=$san/log:handle_segv=0:allocator_may_return_null=1"
    printf '%s\n' "JR_TIME_SCALE=$scale" \
        "ASAN_OPTIONS=$common:detect_leaks=1:detect_stack_use_after_return=0" \
        "UBSAN_OPTIONS=log_path=$san/log:handle_segv=0:print_stacktrace=1" \
        "TSAN_OPTIONS=$common:suppressions=$logs/tsan.supp:report_signal_unsafe=0:ignore_noninstrumented_modules=1"
}
printf '%s\n' 'race:libzmq.so' 'mutex:jr_lock_release' >"$logs/tsan.supp"
if [[ ${SKIP_SAN:-0} != 1 ]]; then
    if san_build asan address,undefined; then
        for t in "$root"/build-asan/tests/test_*; do
            [[ -x $t && -f $t ]] || continue
            name="asan-$(basename "$t")"
            say "$name"
            mapfile -t vars < <(san_env "$name")
            run_row "$name" asan "$t" "${vars[@]}"
        done
    fi
    if san_build tsan thread; then
        name="tsan-cli-reliability"
        say "$name (plain tests, TSan jobrun)"
        mapfile -t vars < <(san_env "$name")
        run_row "$name" tsan "$rel" "${vars[@]}" JR_CLI="$root/build-tsan/jobrun"
    fi
fi

# ---- the table -------------------------------------------------------------
echo
printf '%-30s %-6s %5s %5s %5s %5s %7s %7s %6s  %-4s %s\n' run build tests \
    pass fail crash time reports tleaks verdict "failed tests"
for r in "${rows[@]}"; do
    echo "$r"
done
echo
echo "Figures of the reliability runs ([Tnn] lines, last iteration):"
grep -ah '^\[T[0-9]' "$logs/reliability#$iter.log" "$logs/t01-kill-soak.log" 2>/dev/null
echo
echo "Logs: $logs"
exit $status
