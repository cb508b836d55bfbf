#!/usr/bin/env bash
# make-sample.sh - a small multilingual sample corpus for the README's
# first command (`jobrun wordcount --top 20 DIR`).
#
#   scripts/make-sample.sh DIR
#
# A few MB of text this Debian machine already has: the common licenses,
# the documentation of a few base packages (changelogs gunzipped), glibc
# locale sources in a dozen languages (raw, and with their <U0436> names
# written out as UTF-8), a few translated man pages, plus small generated
# files: lines in eleven languages, Latin-9 bytes (invalid UTF-8),
# CRLF line ends, an empty file and a hidden file. Deterministic for a given
# machine; idempotent: a DIR that already has files is left as it is.
set -euo pipefail
export LC_ALL=C # glob order and tools' behaviour do not depend on the locale

py=${PYTHON:-python3}
[[ $# -eq 1 && -n $1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=${1%/}
command -v "$py" >/dev/null 2>&1 || { echo "make-sample: $py not found (set PYTHON)" >&2; exit 1; }

if [[ -d $dir ]] && [[ -n $(ls -A -- "$dir") ]]; then
    echo "sample $dir already there"
    exit 0
fi
[[ -e $dir && ! -d $dir ]] && { echo "make-sample: $dir exists and is not a directory" >&2; exit 1; }

tmp=$dir.partial-$$
trap 'rm -rf -- "$tmp"' EXIT
mkdir -p -- "$tmp"/licenses "$tmp"/doc "$tmp"/locales "$tmp"/man "$tmp"/generated

# gunzip_to SRC DST: at most 256 KiB of a gzipped file.
gunzip_to() {
    { gzip -dc -- "$1" 2>/dev/null || true; } | head -c 262144 >"$2"
}

for f in /usr/share/common-licenses/*; do
    [[ -f $f ]] && cp -L -- "$f" "$tmp/licenses/"
done

for pkg in base-files bash coreutils dpkg apt libc6 grep sed tar gzip \
    findutils util-linux diffutils debianutils perl-base python3; do
    d=/usr/share/doc/$pkg
    [[ -d $d ]] || continue
    mkdir -p -- "$tmp/doc/$pkg"
    for f in copyright README README.Debian NEWS; do
        [[ -f $d/$f ]] && cp -L -- "$d/$f" "$tmp/doc/$pkg/"
    done
    for f in changelog.Debian.gz changelog.gz NEWS.Debian.gz; do
        [[ -f $d/$f ]] && gunzip_to "$d/$f" "$tmp/doc/$pkg/${f%.gz}"
    done
    rmdir -- "$tmp/doc/$pkg" 2>/dev/null || true
done

for loc in fr_FR de_DE ru_RU uk_UA el_GR tr_TR ar_SA he_IL hi_IN th_TH \
    zh_CN ja_JP ko_KR; do
    f=/usr/share/i18n/locales/$loc
    [[ -f $f ]] && cp -L -- "$f" "$tmp/locales/"
done

for lang in de fr ru ja zh_CN es it pl pt_BR uk; do
    n=0
    for f in /usr/share/man/"$lang"/man1/*.gz; do
        [[ -f $f ]] || continue
        mkdir -p -- "$tmp/man/$lang"
        b=${f##*/}
        gunzip_to "$f" "$tmp/man/$lang/${b%.gz}"
        n=$((n + 1))
        ((n < 3)) || break
    done
done

"$py" - "$tmp" <<'PY'
"""Decoded locale sources and the generated files (ASCII-only source)."""
import os
import re
import sys

root = sys.argv[1]
loc = os.path.join(root, "locales")


def sub(m):
    cp = int(m.group(1), 16)
    ok = cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF
    return chr(cp).encode() if ok else m.group(0)


for name in sorted(os.listdir(loc)):
    with open(os.path.join(loc, name), "rb") as f:
        data = f.read()
    out = re.sub(rb"<U([0-9A-Fa-f]{4,8})>", sub, data)
    with open(os.path.join(loc, name + ".utf8.txt"), "wb") as f:
        f.write(out)

LINES = [
    # French
    "Les processus l\xe9gers partagent g\xe9n\xe9ralement la m\xe9moire ; "
    "un processus lourd, non. O\xf9 est le c\u0153ur du probl\xe8me ? "
    "\xc0 l'\xe9cole, \xc8ve a d\xfb r\xe9\xe9crire \xe7a. "
    "L'\xc9T\xc9, l'\xe9t\xe9.",
    # Russian
    "\u041f\u0440\u043e\u0446\u0435\u0441\u0441 \u2014 \u044d\u0442\u043e "
    "\u043f\u0440\u043e\u0433\u0440\u0430\u043c\u043c\u0430 \u0432\u043e "
    "\u0432\u0440\u0435\u043c\u044f \u0432\u044b\u043f\u043e\u043b\u043d"
    "\u0435\u043d\u0438\u044f. \u041f\u043e\u0442\u043e\u043a\u0438 "
    "\u043e\u0434\u043d\u043e\u0433\u043e \u043f\u0440\u043e\u0446\u0435"
    "\u0441\u0441\u0430 \u0440\u0430\u0437\u0434\u0435\u043b\u044f\u044e"
    "\u0442 \u043f\u0430\u043c\u044f\u0442\u044c. \u041f\u0420\u041e\u0426"
    "\u0415\u0421\u0421, \u043f\u0440\u043e\u0446\u0435\u0441\u0441, "
    "\u041f\u0440\u043e\u0446\u0435\u0441\u0441.",
    # Chinese, traditional and simplified
    "\u7dda\u7a0b\u662f\u64cd\u4f5c\u7cfb\u7d71\u80fd\u5920\u9032\u884c"
    "\u904b\u7b97\u8abf\u5ea6\u7684\u6700\u5c0f\u55ae\u4f4d\u3002\u8fdb"
    "\u7a0b\u662f\u8d44\u6e90\u5206\u914d\u7684\u57fa\u672c\u5355\u4f4d"
    "\u3002\u7dda\u7a0b \u7ebf\u7a0b",
    # Greek, with final sigma
    "\u0397 \u03b4\u03b9\u03b5\u03c1\u03b3\u03b1\u03c3\u03af\u03b1 \u03b5"
    "\u03af\u03bd\u03b1\u03b9 \u03ad\u03bd\u03b1 \u03c0\u03c1\u03cc\u03b3"
    "\u03c1\u03b1\u03bc\u03bc\u03b1 \u03c3\u03b5 \u03b5\u03ba\u03c4\u03ad"
    "\u03bb\u03b5\u03c3\u03b7. \u039f\u0394\u03a5\u03a3\u03a3\u0395\u03a5"
    "\u03a3, \u039f\u03b4\u03c5\u03c3\u03c3\u03b5\u03cd\u03c2, \u039b\u039f"
    "\u0393\u039f\u03a3, \u03bb\u03cc\u03b3\u03bf\u03c2.",
    # Turkish dotted and dotless i
    "\u0130stanbul, ISPANAK, \u0131spanak, \u0130\u011eNE, i\u011fne.",
    # German sharp s, small and capital
    "Die Stra\xdfe, STRASSE, GRO\u1e9eE Gr\xf6\xdfe, Ma\xdf.",
    # Japanese
    "\u30d7\u30ed\u30bb\u30b9\u3068\u30b9\u30ec\u30c3\u30c9\u306e\u9055"
    "\u3044\u3002\u3072\u3089\u304c\u306a\u3001\u30ab\u30bf\u30ab\u30ca"
    "\u3001\u6f22\u5b57\u3002",
    # Arabic
    "\u0627\u0644\u0639\u0645\u0644\u064a\u0629 \u0647\u064a \u0628\u0631"
    "\u0646\u0627\u0645\u062c \u0642\u064a\u062f \u0627\u0644\u062a\u0646"
    "\u0641\u064a\u0630.",
    # Hindi, with combining marks inside words
    "\u092a\u094d\u0930\u0915\u094d\u0930\u093f\u092f\u093e \u090f\u0915 "
    "\u091a\u093e\u0932\u0942 \u092a\u094d\u0930\u094b\u0917\u094d\u0930"
    "\u093e\u092e \u0939\u0948\u0964 \u0939\u093f\u0928\u094d\u0926\u0940",
    # Korean
    "\ud504\ub85c\uc138\uc2a4\uc640 \uc2a4\ub808\ub4dc\uc758 \ucc28\uc774.",
    # Word edges: apostrophe, connector, decimal point, No/Nl numbers,
    # a precomposed and a decomposed e acute, an emoji, punctuation.
    "don't thread_task 3.14 x\xb2 \xbd \u216b caf\xe9 cafe\u0301 "
    "\U0001f642 na\xefve\u2014dash \xabguillemets\xbb \u201cquotes\u201d",
]

gen = os.path.join(root, "generated")


def write(name, data):
    with open(os.path.join(gen, name), "wb") as f:
        f.write(data)


text = "\n".join(LINES) + "\n"
write("multilingual.txt", (text * 20).encode("utf-8"))
write("latin9.txt", (LINES[0] + "\n" + LINES[5] + "\n").encode(
    "iso-8859-15", errors="replace"))
write("crlf.txt", text.replace("\n", "\r\n").encode("utf-8"))
write("empty.txt", b"")
write(".hidden.txt", b"Hidden files are read too.\n")
PY

mv -- "$tmp" "$dir"
trap - EXIT
read -r bytes files < <(find "$dir" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0, NR }')
awk -v d="$dir" -v b="$bytes" -v n="$files" \
    'BEGIN { printf "sample %s: %d files, %.1f MiB\n", d, n, b / 1048576 }'
