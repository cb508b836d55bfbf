#!/usr/bin/env bash
# Set everything up, build, make the sample corpus, and count its words:
# the main job, on a fresh Debian machine, in one command.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
scripts/make-sample.sh build/sample >/dev/null
echo "== jobrun wordcount --top 25 build/sample/" >&2
build/jobrun --stats wordcount --top 25 build/sample/
