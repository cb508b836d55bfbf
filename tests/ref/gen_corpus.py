#!/usr/bin/env python3
"""Write a random, messy word-count corpus into a directory, from a seed.

    gen_corpus.py [--seed N] [--size BYTES] [--huge BYTES] DIR

For property tests of jobrun wordcount against tests/ref/wordcount_ref.py.
The same seed always writes the same files.  DIR is created if needed and
gets nested directories (hidden ones too), empty files and files of text
that mixes:

* words in ASCII (some capitalised or upper case), French with accents,
  Russian, Greek (final sigma, capital sigma, tonos), Chinese, and any
  letter, mark or number drawn from a pool of long-stable blocks;
* combining marks after letters and on their own, digits of several
  scripts, other numbers (fractions, superscripts), underscores and the
  other connector punctuation, straight and curly apostrophes;
* letters whose simple lowercase is special: U+0130 (to "i"), U+1E9E (to
  U+00DF), U+023A (2 UTF-8 bytes, its lowercase 3), U+10400 (astral);
* separators, ASCII and not (no-break space, ideographic space, emoji);
* invalid UTF-8 of every class, between words and inside them: stray
  continuation bytes, sequences cut short (also at the very end of a
  file), overlong forms, surrogates, values above U+10FFFF, and the bytes
  C0, C1 and F5..FF;
* one huge word (--huge bytes, default 200 KB) in one file.

Unicode versions: Python's unicodedata (3.11: Unicode 14) and utf8proc may
differ, and code points assigned in a later version are letters to one
and unassigned (separators) to the other.  So random code points come only
from blocks complete long before Unicode 13 (see POOL_BLOCKS) and must be
assigned in Python's version.  Every such code point was checked to have
the same category class (word or not) and simple lowercase in Python 3.11
and utf8proc 2.8 (Unicode 15): they differ only on code points that
Unicode 15 newly assigned, none of which is drawn here.
"""

import argparse
import os
import random
import unicodedata

# Blocks complete since Unicode 6 or earlier, [first, last].
POOL_BLOCKS = [
    (0x00A0, 0x024F),   # Latin-1 Supplement, Latin Extended-A and -B
    (0x0370, 0x03FF),   # Greek and Coptic
    (0x0400, 0x04FF),   # Cyrillic
    (0x0590, 0x05FF),   # Hebrew
    (0x0900, 0x097F),   # Devanagari
    (0x0E00, 0x0E7F),   # Thai
    (0x1E00, 0x1FFF),   # Latin Extended Additional, Greek Extended
    (0x2000, 0x206F),   # General Punctuation (separators and Pc)
    (0x2150, 0x218F),   # Number Forms
    (0x3000, 0x30FF),   # CJK Symbols, Hiragana, Katakana
    (0x4E00, 0x9FA5),   # CJK Unified Ideographs of Unicode 1.1
    (0xAC00, 0xD7A3),   # Hangul Syllables
    (0xFF00, 0xFFEF),   # Halfwidth and Fullwidth Forms
    (0x10400, 0x1044F),  # Deseret (astral, with case)
    (0x1D400, 0x1D7FF),  # Mathematical Alphanumeric Symbols
    (0x1F600, 0x1F64F),  # Emoticons (separators)
]

ASCII_WORDS = ("the of and to in is was that for it with as his on be at "
               "by had are but from or have an they which one you were "
               "thread_task don't it's 3.14 2024 x86_64 foo_bar").split()
FRENCH = ("généralement été où déjà français garçon naïve cœur Œuvre "
          "ÉTÉ À côté hôpital forêt".split())
RUSSIAN = "процесс Процесс ПРОЦЕСС поток Москва ёлка Ёж слово".split()
GREEK = ("ΣΟΦΟΣ σοφος σοφοσ Σίσυφος ΟΔΥΣΣΕΥΣ λόγος ἄνθρωπος "
         "ΆΈΉΊΌΎΏ".split())
CHINESE = "線程 进程 中文 漢字 汉字 資料 数据".split()
SPECIAL = ["\u0130stanbul", "\u0130", "STRA\u1E9EE", "\u1E9E", "\u023Ax",
           "\U00010400\U00010401", "e\u0301te\u0301", "\u0301", "a\u20dd",
           "\u0663\u0664", "\u0967\u0968", "\u00bd", "x\u00b2", "\u2160",
           "a\u203fb", "__init__", "_", "don\u2019t", "l'homme", "A\u0308"]
SEPARATORS = [" ", " ", " ", "\n", "\t", ", ", ". ", "; ", "!", "?", "(",
              ")", "-", "\"", "'", "\u00a0", "\u3000", "\uff0c", "\u3002",
              "\U0001F600", "\u2028", "\u00ab", "\u00bb", "/", "\r\n"]
INVALID = [
    b"\x80", b"\xbf", b"\x80\x80\x80\x80\x80",          # stray
    b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\xe2",      # cut short
    b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xe0\x9f\xbf",
    b"\xf0\x80\x80\xaf", b"\xf0\x8f\xbf\xbf",            # overlong
    b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xed\xa0\x80\xed\xb0\x80",  # UTF-16
    b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xf7\xbf\xbf\xbf",  # big
    b"\xf8", b"\xfb\xbf", b"\xfc", b"\xfe", b"\xff", b"\xfe\xff",
    b"\xc2",
]


def pool():
    """Word and separator code points drawn from POOL_BLOCKS."""
    cps = []
    for lo, hi in POOL_BLOCKS:
        for cp in range(lo, hi + 1):
            cat = unicodedata.category(chr(cp))
            if cat not in ("Cn", "Cs", "Co"):
                cps.append(cp)
    return cps


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.pool = pool()

    def random_word(self):
        r = self.r
        n = r.choice((1, 2, 3, 4, 5, 6, 8, 12, 20))
        return "".join(chr(r.choice(self.pool)) for _ in range(n))

    def word(self):
        r = self.r
        kind = r.random()
        if kind < 0.35:
            w = r.choice(ASCII_WORDS)
            c = r.random()
            return w.upper() if c < 0.1 else w.capitalize() if c < 0.3 else w
        if kind < 0.45:
            return r.choice(FRENCH)
        if kind < 0.55:
            return r.choice(RUSSIAN)
        if kind < 0.62:
            return r.choice(GREEK)
        if kind < 0.70:
            return r.choice(CHINESE)
        if kind < 0.80:
            return r.choice(SPECIAL)
        return self.random_word()

    def text(self, size):
        """About size bytes of words, separators and invalid bytes."""
        r = self.r
        out, n = [], 0
        while n < size:
            piece = self.word().encode("utf-8")
            c = r.random()
            if c < 0.08:  # invalid bytes inside the word
                k = r.randrange(len(piece) + 1)
                piece = piece[:k] + r.choice(INVALID) + piece[k:]
            elif c < 0.16:  # invalid bytes as the separator
                piece += r.choice(INVALID)
            else:
                piece += r.choice(SEPARATORS).encode("utf-8")
            out.append(piece)
            n += len(piece)
        data = b"".join(out)
        if r.random() < 0.3:  # end inside a sequence
            data += r.choice([b"\xe2\x82", b"\xf0\x9f", b"\xc3", b"\xe7\xb7"])
        return data

    def huge(self, size):
        """One word of size bytes, letters of several scripts."""
        parts = ["a", "B", "é", "Ж", "σ", "線", "\u0301", "_", "7"]
        out, n = [], 0
        while n < size:
            p = self.r.choice(parts).encode("utf-8")
            out.append(p)
            n += len(p)
        return b"start " + b"".join(out) + b" end\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--size", type=int, default=1 << 20,
                    help="bytes of ordinary text in all (default 1 MiB)")
    ap.add_argument("--huge", type=int, default=200_000,
                    help="bytes of the one huge word (0: none)")
    ap.add_argument("dir")
    a = ap.parse_args()

    g = Gen(a.seed)
    r = g.r
    dirs = [a.dir]
    for i in range(6):  # nested directories, some hidden
        parent = r.choice(dirs)
        name = (".d%d" if r.random() < 0.2 else "d%d") % i
        dirs.append(os.path.join(parent, name))
    for d in dirs:
        os.makedirs(d, exist_ok=True)

    files = []
    left = a.size
    i = 0
    while left > 0:
        size = min(left, r.choice((0, 10, 100, 1000, 10_000, 60_000,
                                   200_000)))
        left -= max(size, 1)
        name = (".f%d" if r.random() < 0.1 else "f%d.txt") % i
        files.append((os.path.join(r.choice(dirs), name), g.text(size)
                      if size else b""))
        i += 1
    files.append((os.path.join(r.choice(dirs), "empty"), b""))
    if a.huge:
        files.append((os.path.join(r.choice(dirs), "huge.txt"),
                      g.huge(a.huge)))
    for path, data in files:
        with open(path, "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
