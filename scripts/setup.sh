#!/usr/bin/env bash
# Install what jobrun needs to build and test (Debian packages), then
# configure and build it in ./build (the release build, see below).  Run
# as root, or with sudo available; otherwise it prints the exact apt-get
# command to run.
#
#   scripts/setup.sh [extra cmake options...]
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential cmake pkg-config libzmq3-dev liblz4-dev
      libcriterion-dev libutf8proc-dev python3 coreutils
      clang libclang-rt-dev)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" </dev/null
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo apt-get update -qq
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" </dev/null
    else
        echo "setup: missing packages; run as root:" >&2
        echo "  apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi

# The release build, with profile-guided optimization (scripts/pgo-build.sh:
# two builds and a few seconds of training runs); JOBRUN_PGO=OFF in the
# environment builds it plainly, once.
if [[ ${JOBRUN_PGO:-ON} == OFF ]]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJOBRUN_PGO=OFF "$@" >/dev/null
    cmake --build build -j"$(nproc)"
else
    scripts/pgo-build.sh build "$@"
fi
