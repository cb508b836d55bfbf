#!/usr/bin/env python3
"""An independent reference for `jobrun wordcount`: slow, plain, stdlib only.

    wordcount_ref.py [--format tsv|json] [--top N] [PATH...]

Reads files, directories (recursively, hidden files included, links met
inside skipped) or standard input ("-", or no PATH at all) and prints what
jobrun wordcount must print: "COUNT<TAB>WORD<LF>" sorted by count descending
then by the word's UTF-8 bytes ascending, or the same as one JSON array
[{"word":"the","count":42},...] with RFC 8259 escaping.

It shares no code and no approach with the C tokenizer, so the two check
each other:

* UTF-8 is decoded here byte by byte with the well-formedness table of
  Unicode (Table 3-7): a lead byte starts a code point only when all its
  continuation bytes are present and in range (which rules out overlong
  forms, surrogates and values above U+10FFFF).  Every other byte is a
  separator on its own, the same as a space.
* Categories come from unicodedata.  A word is a maximal run of code
  points in L*, M*, N* or Pc.
* Simple lowercase, one code point to one: Python's str.lower() is the
  FULL mapping (SpecialCasing.txt) and has no per-character simple one.
  Applied to one character alone, str.lower() never uses a context (so
  "\u03a3" gives "\u03c3", not the final "\u03c2"), and the only code point
  whose unconditional full lowercase has more than one code point is
  U+0130, "\u0130" -> "i\u0307", whose simple mapping (UnicodeData.txt)
  is U+0069, the first code point of the full one.  So the simple
  lowercase of c is c.lower()[0].  This was checked against
  utf8proc_tolower() for every code point assigned in Python's Unicode
  version.

Python 3.11's unicodedata is Unicode 14; utf8proc may be newer.  Code
points assigned later are category Cn here and letters there, so test
corpora avoid them (see gen_corpus.py).
"""

import argparse
import os
import sys
import unicodedata

WORD_CATEGORIES = {"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me",
                   "Nd", "Nl", "No", "Pc"}


def sequence_rule(lead):
    """(number of continuation bytes, range of the first one), or None."""
    if 0xC2 <= lead <= 0xDF:
        return 1, 0x80, 0xBF
    if lead == 0xE0:
        return 2, 0xA0, 0xBF
    if 0xE1 <= lead <= 0xEC or 0xEE <= lead <= 0xEF:
        return 2, 0x80, 0xBF
    if lead == 0xED:
        return 2, 0x80, 0x9F
    if lead == 0xF0:
        return 3, 0x90, 0xBF
    if 0xF1 <= lead <= 0xF3:
        return 3, 0x80, 0xBF
    if lead == 0xF4:
        return 3, 0x80, 0x8F
    return None


def units(data):
    """Yield each code point of data, and None for each invalid byte."""
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b < 0x80:
            yield b
            i += 1
            continue
        rule = sequence_rule(b)
        if rule is not None:
            more, lo, hi = rule
            tail = data[i + 1:i + 1 + more]
            if (len(tail) == more and lo <= tail[0] <= hi
                    and all(0x80 <= t <= 0xBF for t in tail[1:])):
                cp = b & (0x1F if more == 1 else 0x0F if more == 2 else 0x07)
                for t in tail:
                    cp = cp << 6 | (t & 0x3F)
                yield cp
                i += 1 + more
                continue
        yield None
        i += 1


_memo = {}


def word_lower(cp):
    """The simple lowercase of a word code point, or None for others."""
    r = _memo.get(cp, 0)
    if r == 0:
        c = chr(cp)
        r = c.lower()[0] if unicodedata.category(c) in WORD_CATEGORIES \
            else None
        _memo[cp] = r
    return r


def count_bytes(data, counts):
    word = []
    for cp in units(data):
        low = None if cp is None else word_lower(cp)
        if low is not None:
            word.append(low)
        elif word:
            w = "".join(word).encode("utf-8")
            counts[w] = counts.get(w, 0) + 1
            word = []
    if word:
        w = "".join(word).encode("utf-8")
        counts[w] = counts.get(w, 0) + 1


def files_of(path, named, errors):
    """Regular files under path; links inside directories are skipped."""
    if not named and os.path.islink(path):
        return
    if os.path.isdir(path):
        try:
            names = sorted(os.listdir(path))
        except OSError as e:
            errors.append("%s: %s" % (path, e.strerror))
            return
        for name in names:
            yield from files_of(os.path.join(path, name), False, errors)
    elif named or os.path.isfile(path):
        yield path


def json_string(b):
    out = ['"']
    for ch in b.decode("utf-8"):
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif o < 0x20:
            short = {8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}
            out.append(short.get(o, "\\u%04x" % o))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out).encode("utf-8")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--format", choices=("tsv", "json"), default="tsv")
    ap.add_argument("--top", type=int, default=None)
    ap.add_argument("paths", nargs="*")
    a = ap.parse_args()

    counts, errors = {}, []
    for p in a.paths or ["-"]:
        if p == "-":
            count_bytes(sys.stdin.buffer.read(), counts)
            continue
        for f in files_of(p, True, errors):
            try:
                with open(f, "rb") as fh:
                    count_bytes(fh.read(), counts)
            except OSError as e:
                errors.append("%s: %s" % (f, e.strerror))

    order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if a.top is not None:
        order = order[:a.top]
    out = sys.stdout.buffer
    if a.format == "json":
        out.write(b"[" + b",".join(
            b'{"word":' + json_string(w) + b',"count":' + str(c).encode()
            + b"}" for w, c in order) + b"]\n")
    else:
        for w, c in order:
            out.write(str(c).encode() + b"\t" + w + b"\n")
    for e in errors:
        sys.stderr.write("wordcount_ref: %s\n" % e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
