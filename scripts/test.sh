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
ctest --output-on-failure -j"$(nproc)" </dev/null
