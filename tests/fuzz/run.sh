#!/usr/bin/env bash
# Build the libFuzzer targets with clang (Debian's clang and
# libclang-rt-dev) and run each for SECONDS (default 10) on its seed
# corpus.  Exit 0 when no target crashed, 1 when one did (its input is
# left in the work directory: add it to tests/fuzz/corpus/<target> as a
# regression seed), 77 when clang's fuzzer runtime is not installed.
#
#   tests/fuzz/run.sh [SECONDS] [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
work=${2:-$(mktemp -d /tmp/jr-fuzz.XXXXXX)}
mkdir -p "$work"

cc=clang
flags=(-g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -I. -Iinclude)
if ! command -v $cc >/dev/null ||
   ! echo 'int LLVMFuzzerTestOneInput(const char*d,long n){return 0;}' |
       $cc -x c -fsanitize=fuzzer - -o "$work/probe" 2>/dev/null; then
    echo "fuzz: clang with libFuzzer is not installed: skipped" >&2
    exit 77
fi

declare -A srcs=(
    [msg]="ipc/msg.c ipc/lz4.c util/util.c"
    [factor]="$(ls jobs/factor/*.c | tr '\n' ' ') util/util.c util/error.c"
    [wordcount]="$(ls jobs/wordcount/*.c | tr '\n' ' ') util/util.c util/error.c"
)
declare -A libs=([msg]="-llz4" [factor]="-lm -lpthread" [wordcount]="-lutf8proc -lpthread")
declare -A maxlen=([msg]=65536 [factor]=512 [wordcount]=4096)

status=0
for t in msg factor wordcount; do
    # shellcheck disable=SC2086
    $cc "${flags[@]}" -DJR_VERSION_STRING='"fuzz"' "tests/fuzz/fuzz_$t.c" \
        ${srcs[$t]} ${libs[$t]} -o "$work/fuzz_$t"
    mkdir -p "$work/new_$t" "tests/fuzz/corpus/$t"
    if ! (cd "$work" && "./fuzz_$t" -max_total_time="$secs" \
              -max_len="${maxlen[$t]}" -print_final_stats=1 \
              "new_$t" "$OLDPWD/tests/fuzz/corpus/$t" > "log_$t" 2>&1); then
        echo "fuzz_$t: CRASH (see $work/log_$t)"; status=1
    fi
    execs=$(grep -m1 stat::number_of_executed_units "$work/log_$t" |
            awk '{print $2}')
    echo "fuzz_$t: ${execs:-?} execs in ${secs}s, $(ls "$work/new_$t" | wc -l) new inputs"
done
[ "$status" = 0 ] && [ -z "${2:-}" ] && rm -rf "$work"
exit "$status"
