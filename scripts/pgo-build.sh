#!/usr/bin/env bash
# pgo-build.sh - build jobrun with profile-guided optimization (GCC).
#
#   scripts/pgo-build.sh BUILD_DIR [extra cmake options...]
#
# Three steps in BUILD_DIR (the profile's file names are the objects'
# paths, so all three use the one directory):
#   1. an instrumented build (-DJOBRUN_PGO=GEN);
#   2. training runs, each output kept: wordcount on the sample corpus
#      (scripts/make-sample.sh, made in BUILD_DIR/sample as the demo makes
#      it) at -j 1 and -j 2, as JSON, and read as a stream; factor on
#      numbers of the kinds bench/gen_numbers.py makes and on 100-bit
#      ones, seeded apart from the benchmarks' (for the code factor shares
#      with wordcount and for the check below: factor's own arithmetic is
#      left out of the profile, see CMakeLists.txt).  Never the bench
#      corpus: the profile should know the kind of input, not the
#      benchmark's files.  (Real text matters: adding 28 MB of generated
#      random words to the training made wordcount -j 2 slower, map 0.266
#      -> 0.278 s);
#   3. the build with the profile (-DJOBRUN_PGO=USE), whose binary must
#      then write the same bytes as the instrumented one on every training
#      run: two differently compiled binaries agreeing.
# Without GCC (or with a sanitizer) it builds without a profile.
set -euo pipefail
[[ $# -ge 1 && -n $1 ]] || { echo "usage: $0 BUILD_DIR [cmake options...]" >&2; exit 2; }
build=$1 # relative to where it is called from
[[ $build == /* ]] || build=$PWD/$build
shift
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
train=$build/pgo-train

# What the profile is made from: the sources of the library, the command
# and the training, the compiler and these options.  The same again finds
# the build up to date (a second setup.sh or demo.sh takes seconds, not
# two builds); anything else starts over.  A file this misses would leave
# the profile stale, which costs speed (GCC warns), never correctness.
stamp=$( (
    find CMakeLists.txt jobrun.pc.in cmake include ipc jobs runner shm util \
        worker bench/gen_numbers.py scripts/pgo-build.sh scripts/make-sample.sh \
        -type f ! -name '*.md' -print0 |
        LC_ALL=C sort -z | xargs -0 sha256sum
    "${CC:-cc}" --version 2>/dev/null | head -n 1
    printf '%s\n' "$@"
) | sha256sum | cut -d' ' -f1)
if [[ -f $build/pgo/stamp && $(cat "$build/pgo/stamp") == "$stamp" ]] &&
    grep -q '^JOBRUN_PGO_ACTIVE:INTERNAL=USE$' "$build/CMakeCache.txt" 2>/dev/null; then
    cmake --build "$build" -j"$(nproc)"
    echo "pgo-build: $build is up to date with its profile"
    exit 0
fi

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJOBRUN_PGO=GEN "$@" >/dev/null
if ! grep -q '^JOBRUN_PGO_ACTIVE:INTERNAL=GEN$' "$build/CMakeCache.txt"; then
    echo "pgo-build: no profile-guided build with this compiler; building plainly" >&2
    cmake -S . -B "$build" -DJOBRUN_PGO=OFF >/dev/null
    cmake --build "$build" -j"$(nproc)"
    exit 0
fi
cmake --build "$build" -j"$(nproc)"

# The profile of an older tree would be merged into this one's.
rm -rf -- "$build/pgo" "$train"
mkdir -p -- "$train"
scripts/make-sample.sh "$build/sample" >/dev/null
"$py" bench/gen_numbers.py random64 3000 7 >"$train/random64.txt"
"$py" bench/gen_numbers.py semiprime 300 7 >"$train/semiprime.txt"
"$py" bench/gen_numbers.py classic 20000 7 >"$train/classic.txt"
"$py" -c 'import random; r = random.Random(7)
for _ in range(200): print(r.getrandbits(100))' >"$train/big.txt"
find "$build/sample" -type f -print0 | LC_ALL=C sort -z | xargs -0 cat >"$train/stream.txt"

# The runs: a name for the output, and jobrun's arguments (args_of).
names=(wc-j1 wc-j2 wc-json wc-stream
       factor-random64 factor-semiprime factor-classic factor-big)
args_of() {
    case $1 in
    wc-j1) args=(-j 1 wordcount "$build/sample") ;;
    wc-j2) args=(-j 2 wordcount "$build/sample") ;;
    wc-json) args=(-j 2 wordcount --format json --top 1000 "$build/sample") ;;
    wc-stream) args=(-j 2 wordcount -) ;;
    factor-*) args=(-j 2 factor "$train/${1#factor-}.txt") ;;
    esac
}
# run SUFFIX: every run with the binary built now, outputs to NAME.SUFFIX.
run() {
    local name args
    for name in "${names[@]}"; do
        args_of "$name"
        "$build/jobrun" --no-progress "${args[@]}" <"$train/stream.txt" >"$train/$name.$1" ||
            { echo "pgo-build: jobrun ${args[*]} failed (status $?)" >&2; return 1; }
    done
}
run gen
[[ -n $(find "$build/pgo" -name '*.gcda' -print -quit 2>/dev/null) ]] ||
    { echo "pgo-build: the training runs left no profile in $build/pgo" >&2; exit 1; }

cmake -S . -B "$build" -DJOBRUN_PGO=USE >/dev/null
cmake --build "$build" -j"$(nproc)"
run use
for name in "${names[@]}"; do
    cmp -s "$train/$name.gen" "$train/$name.use" ||
        { echo "pgo-build: $name: the optimized build's output differs from the instrumented one's" >&2; exit 1; }
done
printf '%s\n' "$stamp" >"$build/pgo/stamp"
echo "pgo-build: $build built with the profile of ${#names[@]} training runs (outputs agree)"
