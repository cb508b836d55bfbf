#!/bin/sh
# test_install.sh - the `install` test: install this build into a scratch
# prefix, check what was installed, then build examples/wordfreq.c against
# it as an outside project would, (a) with pkg-config and (b) with
# find_package(jobrun) for the shared and the static library, and run the
# programs.  Registered by tests/install.cmake:
#
#   test_install.sh BUILD_DIR SOURCE_DIR VERSION LIBDIR INCLUDEDIR
#
# LIBDIR and INCLUDEDIR are GNUInstallDirs' relative ones ("lib",
# "include").  The environment names the tools of the build: CMAKE, CC,
# NM, READELF, PKG_CONFIG (default: from PATH), JR_CONFIG (the build
# type, for multi-config generators) and JR_SANITIZE (the build's
# -fsanitize= list, which the programs built here need too).
set -eu

[ $# -eq 5 ] || {
    echo "usage: $0 BUILD_DIR SOURCE_DIR VERSION LIBDIR INCLUDEDIR" >&2
    exit 2
}
build=$1 src=$2 version=$3 libdir=$4 incdir=$5
CMAKE=${CMAKE:-cmake} CC=${CC:-cc} NM=${NM:-nm}
READELF=${READELF:-readelf} PKG_CONFIG=${PKG_CONFIG:-pkg-config}
sanflags=
[ -z "${JR_SANITIZE:-}" ] || sanflags="-fsanitize=$JR_SANITIZE"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/jobrun-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
failures=0

# Say what failed, on one line (lists of names are joined), and go on.
fail() {
    printf 'FAIL: %s\n' "$(printf '%s' "$*" | tr '\n' ' ')" >&2
    failures=$((failures + 1))
}

# Run a command quietly; on failure show its output and stop here.
quiet() {
    log=$tmp/last.log
    if ! "$@" > "$log" 2>&1; then
        cat "$log" >&2
        echo "FAIL: $*" >&2
        exit 1
    fi
}

# ---- install ------------------------------------------------------------
set -- --install "$build" --prefix "$prefix"
[ -z "${JR_CONFIG:-}" ] || set -- "$@" --config "$JR_CONFIG"
quiet "$CMAKE" "$@"

lib=$prefix/$libdir
major=${version%%.*}
for f in "$lib/libjobrun.so.$version" "$lib/libjobrun.so.$major" \
         "$lib/libjobrun.so" "$lib/libjobrun.a" "$prefix/bin/jobrun" \
         "$prefix/$incdir/jobrun.h" "$prefix/share/man/man1/jobrun.1" \
         "$lib/pkgconfig/jobrun.pc" "$lib/cmake/jobrun/jobrunConfig.cmake" \
         "$lib/cmake/jobrun/jobrunConfigVersion.cmake" \
         "$lib/cmake/jobrun/jobrunTargets.cmake"; do
    [ -e "$f" ] || fail "not installed: ${f#"$prefix"/}"
done

# <jobrun.h> is the only public header: no internal one may follow it.
headers=$(cd "$prefix" && find . -name '*.h' ! -path "./$incdir/jobrun.h")
[ -z "$headers" ] || fail "internal headers installed:" "$headers"

# libjobrun.so exports exactly the JR_API functions of <jobrun.h>: every
# defined dynamic symbol is a jr_ name declared there, and every one
# declared there is defined.
"$NM" -D --defined-only "$lib/libjobrun.so" | awk '{ print $NF }' |
    sort > "$tmp/exported"
sed -n 's/^JR_API[^(]*[^a-z_0-9]\(jr_[a-z_0-9]*\) *(.*/\1/p' \
    "$src/include/jobrun.h" | sort > "$tmp/declared"
[ -s "$tmp/declared" ] || fail "found no JR_API declaration in jobrun.h"
bad=$(grep -v '^jr_' "$tmp/exported" || true)
[ -z "$bad" ] || fail "libjobrun.so exports non-jr_ symbols:" "$bad"
extra=$(comm -23 "$tmp/exported" "$tmp/declared")
[ -z "$extra" ] || fail "libjobrun.so exports undeclared symbols:" "$extra"
missing=$(comm -13 "$tmp/exported" "$tmp/declared")
[ -z "$missing" ] || fail "libjobrun.so does not export:" "$missing"

# bin/jobrun carries the library: it runs with no library path.
out=$("$prefix/bin/jobrun" --version) || fail "bin/jobrun --version failed"
[ "$out" = "jobrun $version" ] || fail "bin/jobrun --version says '$out'"

# ---- a small input with a known answer ------------------------------------
# 300 lines of 6 words; words are lowercased and numbers are words, so
# the distinct ones are the, quick, brown, fox, größe and 0 to 49.
corpus=$tmp/corpus.txt
i=0
while [ $i -lt 300 ]; do
    echo "The quick brown fox Größe $((i % 50))"
    i=$((i + 1))
done > "$corpus"
expect="55 distinct words"

# Run one of the programs built below on the corpus and check its output;
# every build must print the same.
check_run() {
    name=$1 exe=$2
    status=0
    LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        "$exe" "$corpus" > "$tmp/$name.out" 2> "$tmp/$name.err" || status=$?
    if [ $status -ne 0 ]; then
        cat "$tmp/$name.err" >&2
        fail "$name: exited with status $status"
        return
    fi
    first=$(head -n 1 "$tmp/$name.out")
    [ "$first" = "$expect" ] || fail "$name: printed '$first', not '$expect'"
    if [ -e "$tmp/reference.out" ]; then
        cmp -s "$tmp/reference.out" "$tmp/$name.out" ||
            fail "$name: output differs from the first build's"
    else
        cp "$tmp/$name.out" "$tmp/reference.out"
    fi
}

# Whether exe asks the dynamic loader for libjobrun.so.MAJOR.
needs_shared() {
    "$READELF" -d "$1" | grep -q "NEEDED.*\[libjobrun\.so\.$major\]"
}

# ---- (a) pkg-config -----------------------------------------------------
export PKG_CONFIG_PATH="$lib/pkgconfig"
pcver=$("$PKG_CONFIG" --modversion jobrun) || fail "pkg-config jobrun failed"
[ "${pcver:-}" = "$version" ] || fail "jobrun.pc says version '${pcver:-}'"
# shellcheck disable=SC2046 # the flags are words
quiet "$CC" ${sanflags:+"$sanflags"} -o "$tmp/wordfreq-pc" "$src/examples/wordfreq.c" \
    $("$PKG_CONFIG" --cflags --libs jobrun)
needs_shared "$tmp/wordfreq-pc" || fail "wordfreq-pc: not linked to libjobrun.so"
check_run wordfreq-pc "$tmp/wordfreq-pc"

# ---- (b) find_package(jobrun) -----------------------------------------------
mkdir "$tmp/consumer"
cp "$src/examples/wordfreq.c" "$tmp/consumer/"
cat > "$tmp/consumer/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.18)
project(wordfreq_consumer LANGUAGES C)
find_package(jobrun 0.1 REQUIRED COMPONENTS shared static)
add_executable(wordfreq_shared wordfreq.c)
target_link_libraries(wordfreq_shared PRIVATE jobrun::jobrun)
add_executable(wordfreq_static wordfreq.c)
target_link_libraries(wordfreq_static PRIVATE jobrun::jobrun_static)
EOF
unset PKG_CONFIG_PATH
quiet "$CMAKE" -S "$tmp/consumer" -B "$tmp/consumer/build" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$CC" \
    -DCMAKE_C_FLAGS="$sanflags" -DCMAKE_EXE_LINKER_FLAGS="$sanflags"
found=$(sed -n 's/^jobrun_DIR:PATH=//p' "$tmp/consumer/build/CMakeCache.txt")
[ "$found" = "$lib/cmake/jobrun" ] || fail "find_package used '$found'"
quiet "$CMAKE" --build "$tmp/consumer/build"
needs_shared "$tmp/consumer/build/wordfreq_shared" ||
    fail "wordfreq_shared: not linked to libjobrun.so"
! needs_shared "$tmp/consumer/build/wordfreq_static" ||
    fail "wordfreq_static: linked to libjobrun.so"
check_run wordfreq_shared "$tmp/consumer/build/wordfreq_shared"
check_run wordfreq_static "$tmp/consumer/build/wordfreq_static"

if [ $failures -ne 0 ]; then
    echo "test_install: $failures failures" >&2
    exit 1
fi
echo "test_install: ok (installed; pkg-config, shared and static builds ran)"
