#!/usr/bin/env bash
# make-corpus.sh - build the text corpus that bench/wordcount.sh scans.
#
#   bench/make-corpus.sh [--seed S] DIR [MIB]   at least MIB MiB (default 200)
#   bench/make-corpus.sh --repeat K SRC DST     DST = K copies of SRC
#
# The corpus is real, messy text this machine already has (see corpus.py
# for the sources), deterministic for a machine and a seed. When the
# machine has less text than asked, seeded line-aligned pieces of it fill
# the rest, so the vocabulary stays that of the real text. Idempotent: a
# DIR that already holds MIB MiB is left as it is. --repeat makes the
# bigger corpus with the same vocabulary used to show that memory is flat.
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
py=${PYTHON:-python3}

usage() {
    echo "usage: $0 [--seed S] DIR [MIB]" >&2
    echo "       $0 --repeat K SRC DST" >&2
    exit 2
}

command -v "$py" >/dev/null 2>&1 || {
    echo "make-corpus: $py not found (set PYTHON)" >&2
    exit 1
}

if [[ ${1:-} == --repeat ]]; then
    [[ $# -eq 4 && $2 =~ ^[1-9][0-9]*$ ]] || usage
    [[ -d $3 ]] || { echo "make-corpus: $3: no such directory" >&2; exit 1; }
    exec "$py" "$here/corpus.py" repeat "$2" "$3" "$4"
fi

seed=()
if [[ ${1:-} == --seed ]]; then
    [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || usage
    seed=(--seed "$2")
    shift 2
fi
[[ $# -ge 1 && $# -le 2 ]] || usage
mib=${2:-200}
[[ $mib =~ ^[1-9][0-9]*$ ]] || usage
exec "$py" "$here/corpus.py" make "$1" "$mib" "${seed[@]}"
