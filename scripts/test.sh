#!/usr/bin/env bash
# Set everything up, build with warnings as errors and fault injection
# compiled in (test builds only), and run the whole test suite under
# ctest.  This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-test}
scripts/setup.sh >/dev/null
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJOBRUN_WERROR=ON \
      -DJOBRUN_FAULT=ON -DJOBRUN_BUILD_TESTS=ON >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
cd "$BUILD"
# The suite makes its scratch in a directory of its own (TMPDIR: all of
# it goes there but for a few directories whose place is the point:
# test_ipc's runtime directories, test_cli's check of a skip), which must
# be empty at the end: a test that leaves files behind, even one that was
# skipped, fails the run.  Kept when anything failed.
scratch=$(mktemp -d /tmp/jobrun-test.XXXXXX)
if ! TMPDIR=$scratch ctest --output-on-failure -j"$(nproc)" </dev/null; then
    echo "test.sh: tests failed; their scratch is kept in $scratch" >&2
    exit 1
fi
if [ -n "$(ls -A "$scratch")" ]; then
    echo "test.sh: the tests left files in $scratch (their TMPDIR):" >&2
    ls -lA "$scratch" >&2
    exit 1
fi
rmdir "$scratch"
