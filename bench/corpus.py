#!/usr/bin/env python3
"""Build the benchmark corpus of jobrun wordcount from text found locally.

Used by bench/make-corpus.sh; run that, not this.

    corpus.py make DIR MIB [--seed S] [--real-cap MIB]
    corpus.py repeat K SRC DST
    corpus.py size DIR
    corpus.py half DIR

"make" gathers real, messy text that a Debian machine already has (licenses,
/usr/share/doc with its gzipped changelogs, man pages in every language,
info manuals, glibc locale sources, X11 compose tables, Python's own sources
and test data, Perl pods), removes exact duplicates, and writes it into
volumes of varied sizes (a few KiB to a few tens of MiB) under DIR.  Some
multilingual text is also re-encoded to legacy encodings (Latin-1, KOI8-R,
GB18030, EUC-JP), which is invalid UTF-8: messy input on purpose.  When the
machine has less real text than asked, the rest is made of line-aligned
pieces of that text drawn in a seeded random order, so the vocabulary stays
the same.  The result is deterministic for a given machine and seed.  DIR is
built under a temporary name and renamed at the end, so a DIR that exists is
complete.

"repeat" makes DST hold K copies of SRC (DST/copy-1 ... DST/copy-K): K times
the bytes with exactly the same vocabulary, for the memory-flatness check.

"half" prints, each ended by a NUL, the paths of files of DIR that hold
about half its bytes (the largest first, each to the lighter of two sides;
a corpus of one file gives that file): wordcount.sh's measure of what two
processes gain on the host.

Sizes are in MiB (2^20 bytes).
"""

import gzip
import hashlib
import math
import os
import random
import re
import shutil
import signal
import sys
import sysconfig

MIB = 1 << 20
DOC_CAP = 8 * MIB  # at most this much of one document (a huge changelog)

# Extensions that are not text, or text that is mostly not words.
SKIP_EXT = {
    "png", "gif", "jpg", "jpeg", "ico", "bmp", "svgz", "pdf", "ps", "eps",
    "dvi", "tar", "tgz", "zip", "bz2", "xz", "lz", "zst", "7z", "jar",
    "class", "so", "a", "o", "pyc", "mo", "gmo", "woff", "woff2", "ttf",
    "otf", "wav", "aif", "aiff", "au", "mp3", "ogg", "flac", "db", "sqlite",
    "bin", "dat", "exe", "dll", "pem", "der", "p12", "gpg", "sig", "wasm",
}


def ext_of(name):
    base = name[:-3] if name.endswith(".gz") else name
    return base.rsplit(".", 1)[-1].lower() if "." in base else ""


def walk_files(root):
    """Regular files under root (links to files included), sorted."""
    if os.path.isfile(root):
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if os.path.isfile(path) and ext_of(name) not in SKIP_EXT:
                yield path


def read_doc(path):
    """The document's bytes (gunzipped), or None if it is not text."""
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                data = f.read(DOC_CAP + 1)
        else:
            with open(path, "rb") as f:
                data = f.read(DOC_CAP + 1)
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    if not data or b"\0" in data[:65536]:
        return None
    if len(data) > DOC_CAP:
        cut = data.rfind(b"\n", 0, DOC_CAP)
        data = data[: cut + 1 if cut > 0 else DOC_CAP]
    return data


UNAME = re.compile(rb"<U([0-9A-Fa-f]{4,8})>")


def decode_unames(data):
    """glibc locale sources spell characters <U0436>; write them out."""

    def sub(m):
        cp = int(m.group(1), 16)
        if cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
            return m.group(0)
        return chr(cp).encode("utf-8")

    return UNAME.sub(sub, data)


LEGACY = [("fr", "latin-1"), ("de", "latin-1"), ("ru", "koi8-r"),
          ("uk", "koi8-u"), ("zh_CN", "gb18030"), ("ja", "euc-jp")]


def reencode(data, codec):
    try:
        return data.decode("utf-8").encode(codec, errors="replace")
    except UnicodeDecodeError:
        return None


def sources():
    """(category, tier, path, transform) for every candidate document.

    Tier 0 is small and multilingual: taken first, whole.  Tier 1 is the
    bulk: sampled in a seeded order, each category capped to a share of
    the target so that no single source dominates."""
    out = []

    def add(cat, tier, root, pred=None, transform=None):
        for p in walk_files(root):
            if pred is None or pred(p):
                out.append((cat, tier, p, transform))

    add("licenses", 0, "/usr/share/common-licenses")
    add("locales", 0, "/usr/share/i18n/locales")
    add("locales-decoded", 0, "/usr/share/i18n/locales",
        transform=decode_unames)
    add("x11-compose", 0, "/usr/share/X11/locale",
        pred=lambda p: os.path.basename(p) == "Compose")
    add("info", 0, "/usr/share/info", pred=lambda p: "/dir" not in p)
    man = "/usr/share/man"
    langs = []
    if os.path.isdir(man):
        langs = sorted(d for d in os.listdir(man)
                       if not d.startswith("man")
                       and os.path.isdir(os.path.join(man, d)))
    for lang in langs:
        add("man-i18n", 0, os.path.join(man, lang))
    for lang, codec in LEGACY:
        if lang in langs:
            add("legacy-encodings", 0, os.path.join(man, lang, "man1"),
                transform=lambda d, c=codec: reencode(d, c))
    add("man-en", 1, man,
        pred=lambda p: os.path.relpath(p, man).startswith("man"))
    add("doc", 1, "/usr/share/doc")
    stdlib = sysconfig.get_paths()["stdlib"]
    test = os.path.join(stdlib, "test")
    add("python-testdata", 0, test,
        pred=lambda p: not p.endswith(".py") and "__pycache__" not in p)
    add("python-src", 1, stdlib,
        pred=lambda p: p.endswith(".py") and "site-packages" not in p
        and "__pycache__" not in p)
    add("perl-pod", 1, "/usr/share/perl", pred=lambda p: p.endswith(".pod"))
    add("perl-pod", 1, "/usr/share/perl5", pred=lambda p: p.endswith(".pod"))
    return out


# Share of the target that one tier-1 category may take.
CAPS = {"doc": 0.45, "man-en": 0.35, "python-src": 0.20, "perl-pod": 0.05}
# Tier-0 categories that are big on some machines get a cap too.
CAPS0 = {"python-testdata": 0.12, "man-i18n": 0.15, "legacy-encodings": 0.03,
         "locales": 0.10, "locales-decoded": 0.10, "info": 0.05}


class Volumes:
    """Writes documents into files of seeded, varied sizes."""

    def __init__(self, root, rng):
        self.root, self.rng = root, rng
        self.open = {}  # subdir -> [file, written, target, index]
        self.stats = {}  # category -> [files, bytes, non-ascii, bad-utf8]
        self.total = 0

    def target(self):
        if self.rng.random() < 0.01:  # now and then a big file
            return self.rng.randint(16 * MIB, 32 * MIB)
        return int(math.exp(self.rng.uniform(math.log(2048),
                                             math.log(8 * MIB))))

    def write(self, subdir, cat, data):
        st = self.stats.setdefault(cat, [0, 0, 0, 0])
        v = self.open.get(subdir)
        if v is None or v[1] >= v[2]:
            if v is not None:
                v[0].close()
            idx = v[3] + 1 if v else 0
            d = os.path.join(self.root, subdir)
            os.makedirs(d, exist_ok=True)
            f = open(os.path.join(d, "vol-%05d.txt" % idx), "wb")
            v = self.open[subdir] = [f, 0, self.target(), idx]
            st[0] += 1
        v[0].write(data)
        v[1] += len(data)
        self.total += len(data)
        st[1] += len(data)
        st[2] += len(data.translate(None, bytes(range(128))))

    def close(self):
        for v in self.open.values():
            v[0].close()
        self.open = {}


def make(dst, want_mib, seed, real_cap_mib):
    want = want_mib * MIB
    real_cap = real_cap_mib * MIB if real_cap_mib else want
    rng = random.Random(seed)
    vols = Volumes(dst, random.Random(seed + 1))
    seen = set()
    taken = {}
    docs = sources()
    tier0 = [d for d in docs if d[1] == 0]
    tier1 = [d for d in docs if d[1] == 1]
    rng.shuffle(tier0)
    rng.shuffle(tier1)
    bad_utf8 = {}

    def take(cat, path, transform):
        data = read_doc(path)
        if data is not None and transform is not None:
            data = transform(data)
        if not data:
            return
        h = hashlib.sha1(data).digest()
        if h in seen:
            return
        seen.add(h)
        if not data.endswith(b"\n"):
            data += b"\n"
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            bad_utf8[cat] = bad_utf8.get(cat, 0) + 1
        vols.write(os.path.join("real", cat), cat, data)
        taken[cat] = taken.get(cat, 0) + len(data)

    # First sweep: each category within its share; second sweep: what the
    # caps left out, when the machine has too little of the rest.
    skipped = []
    for cat, tier, path, transform in tier0 + tier1:
        if vols.total >= real_cap:
            break
        cap = (CAPS if tier else CAPS0).get(cat)
        if cap is not None and taken.get(cat, 0) >= cap * want:
            skipped.append((cat, path, transform))
            continue
        take(cat, path, transform)
    for cat, path, transform in skipped:
        if vols.total >= real_cap:
            break
        take(cat, path, transform)
    vols.close()
    real = vols.total
    if real == 0:
        sys.exit("make-corpus: no text found on this machine "
                 "(/usr/share/doc, /usr/share/man, ... are empty)")
    # Not enough real text: add line-aligned pieces of it, seeded order.
    if vols.total < want:
        files = []
        for dirpath, _, names in sorted(os.walk(os.path.join(dst, "real"))):
            for n in sorted(names):
                p = os.path.join(dirpath, n)
                files.append((p, os.path.getsize(p)))
        files = [f for f in files if f[1] > 0]
        weights = [s for _, s in files]
        rep = 0
        while vols.total < want:
            rep += 1
            sub = "repeat-%d" % rep
            goal = min(want, vols.total + real)
            while vols.total < goal:
                path, size = rng.choices(files, weights)[0]
                n = int(math.exp(rng.uniform(math.log(4096),
                                             math.log(256 * 1024))))
                off = rng.randrange(size)
                lo = max(0, off - 65536)
                with open(path, "rb") as f:
                    f.seek(lo)
                    buf = f.read(off - lo + n + 65536)
                # Start just after a line feed (or at 0), end on one.
                nl = buf.rfind(b"\n", 0, off - lo)
                if nl < 0 and lo > 0:
                    continue
                s = nl + 1
                e = buf.find(b"\n", s + n)
                piece = buf[s:e + 1] if e >= 0 else buf[s:]
                if not piece:
                    continue
                if not piece.endswith(b"\n"):
                    piece += b"\n"
                vols.write(sub, "repeated", piece)
        vols.close()
    return vols, real, bad_utf8


def tree_files(root):
    """(path, size) of the regular files under root, links left out."""
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            if os.path.isfile(p) and not os.path.islink(p):
                yield p, os.path.getsize(p)


def tree_size(root):
    sizes = [size for _, size in tree_files(root)]
    return sum(sizes), len(sizes)


def cmd_half(args):
    paths, weight = ([], []), [0, 0]
    for p, size in sorted(tree_files(args[0]), key=lambda f: (-f[1], f[0])):
        k = 0 if weight[0] <= weight[1] else 1
        paths[k].append(p)
        weight[k] += size
    if not paths[0]:
        sys.exit("corpus.py: %s holds no files" % args[0])
    sys.stdout.write("".join(p + "\0" for p in sorted(paths[0])))


def prepare(dst, need):
    """Return True if dst already holds need bytes; fail if it holds
    something else; otherwise make sure its parent exists."""
    if os.path.isdir(dst) and os.listdir(dst):
        size, files = tree_size(dst)
        if size >= need:
            print("corpus %s already there: %d files, %.1f MiB"
                  % (dst, files, size / MIB))
            return True
        sys.exit("make-corpus: %s holds only %.1f MiB (< %.1f MiB asked); "
                 "remove it or choose another directory"
                 % (dst, size / MIB, need / MIB))
    if os.path.exists(dst) and not os.path.isdir(dst):
        sys.exit("make-corpus: %s exists and is not a directory" % dst)
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    return False


def publish(tmp, dst):
    if os.path.isdir(dst):
        os.rmdir(dst)  # empty, checked by prepare()
    os.rename(tmp, dst)


def tmp_name(dst):
    return "%s.partial-%d" % (os.path.abspath(dst).rstrip("/"), os.getpid())


def cmd_make(args):
    seed, real_cap = 20240601, 0
    rest = []
    it = iter(args)
    for a in it:
        if a == "--seed":
            seed = int(next(it))
        elif a == "--real-cap":
            real_cap = int(next(it))
        else:
            rest.append(a)
    if len(rest) != 2:
        sys.exit("usage: corpus.py make DIR MIB [--seed S] [--real-cap MIB]")
    dst, want = rest[0], int(rest[1])
    if prepare(dst, want * MIB):
        return
    tmp = tmp_name(dst)
    try:
        vols, real, bad = make(tmp, want, seed, real_cap)
        publish(tmp, dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    total = vols.total
    print("corpus %s: %d files, %.1f MiB (%.1f MiB real text, %.1f MiB "
          "repeated pieces of it)" % (dst, sum(s[0] for s in vols.stats.values()),
                                      total / MIB, real / MIB,
                                      (total - real) / MIB))
    print("  %-18s %6s %9s %6s %10s %9s" % ("source", "files", "MiB", "share",
                                           "non-ASCII", "bad-UTF-8"))
    for cat, (files, size, nonascii, _) in sorted(
            vols.stats.items(), key=lambda kv: -kv[1][1]):
        print("  %-18s %6d %9.1f %5.1f%% %9.1f%% %9s"
              % (cat, files, size / MIB, 100.0 * size / total,
                 100.0 * nonascii / max(size, 1),
                 "%d docs" % bad[cat] if bad.get(cat) else "-"))


def cmd_repeat(args):
    if len(args) != 3:
        sys.exit("usage: corpus.py repeat K SRC DST")
    k, src, dst = int(args[0]), args[1], args[2]
    size, files = tree_size(src)
    if size == 0:
        sys.exit("make-corpus: %s holds no files" % src)
    if prepare(dst, k * size):
        return
    tmp = tmp_name(dst)
    try:
        for i in range(1, k + 1):
            shutil.copytree(src, os.path.join(tmp, "copy-%d" % i),
                            symlinks=True)
        publish(tmp, dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("corpus %s: %d copies of %s, %d files, %.1f MiB"
          % (dst, k, src, k * files, k * size / MIB))


def main():
    # SIGTERM and SIGHUP unwind like Ctrl-C, so the partial tree is removed.
    def stop(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    try:
        if cmd == "make":
            cmd_make(args)
        elif cmd == "repeat":
            cmd_repeat(args)
        elif cmd == "half" and len(args) == 1:
            cmd_half(args)
        elif cmd == "size":
            size, files = tree_size(args[0])
            print(size, files)
        else:
            sys.exit(__doc__)
    except KeyboardInterrupt:
        sys.exit("make-corpus: interrupted; nothing left behind")


if __name__ == "__main__":
    main()
