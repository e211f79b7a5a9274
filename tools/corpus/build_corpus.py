#!/usr/bin/python3
"""Builds an English text corpus from Debian packages (issue 17, part 3).

Sources (each installed by scripts/build-corpus.sh):
  kjv       bible-kjv       the King James Bible, one document per chapter
  pydoc     python3.11-doc  the Python 3.11 documentation's reST sources,
                            one document per section (cut at headings)
  debref    debian-reference-en   the Debian Reference, one document per section
  fortunes  fortunes        one document per fortune (ascii-art and the
                            offensive files excluded)
  gcide     dict-gcide      the Collaborative International Dictionary of
                            English, one document per entry

Every document is cleaned (markup stripped, whitespace folded) into one line:
paragraphs joined by a single space, so that the files are "one document per
line", the format `radial eval --data` reads. Exact duplicates (after folding
case and whitespace) are dropped, keeping the first. The held-out split takes
the documents whose SHA-256 of "source/id" falls below --heldout-fraction, so
no document is in both splits and the split does not depend on the order of
the files or on the other documents.

Writes OUT/train.txt, OUT/heldout.txt and OUT/manifest.json. Standard
library only; run with Debian's /usr/bin/python3.
"""

import argparse
import gzip
import hashlib
import html.parser
import json
import os
import re
import subprocess
import sys

WS = re.compile(r"\s+")


def fold(text):
    return WS.sub(" ", text).strip()


def paragraphs(lines):
    """Blank-line separated paragraphs of `lines`, each folded to one line."""
    out, cur = [], []
    for line in lines:
        if line.strip():
            cur.append(line.strip())
        elif cur:
            out.append(" ".join(cur))
            cur = []
    if cur:
        out.append(" ".join(cur))
    return [fold(p) for p in out if fold(p)]


# ---- kjv ----

BOOK_VERSE = re.compile(r"^(\d?[A-Za-z]+)(\d+):(\d+) (.*)$")


def read_kjv():
    text = subprocess.run(["bible", "-f", "gen1:1-rev22:21"], check=True,
                          capture_output=True, text=True).stdout
    chapters = {}
    order = []
    for line in text.splitlines():
        m = BOOK_VERSE.match(line)
        if not m:
            continue
        key = "%s%s" % (m.group(1), m.group(2))
        if key not in chapters:
            chapters[key] = []
            order.append(key)
        chapters[key].append(m.group(4))
    for key in order:
        yield key, " ".join(chapters[key])


# ---- pydoc (reST) ----

ROLE = re.compile(r":[a-zA-Z:]+:`(?:[^`<]*<)?~?!?([^`>]*)>?`")
LINK = re.compile(r"`([^`<]+?)\s*<[^`>]*>`_+")
LITERAL = re.compile(r"``([^`]*)``")
EMPH = re.compile(r"(\*\*|\*|`)([^*`\n]+)\1_?")
UNDERLINE = re.compile(r"^([=\-~^\"'`#*+.:_])\1{2,}\s*$")
DIRECTIVE = re.compile(r"^\s*\.\. ")


def clean_rest(lines):
    """reST lines -> [(heading or None, paragraph lines)], directives and their
    indented bodies, code blocks (after '::') and underlines removed."""
    out = []
    skip_indent = None
    for raw in lines:
        line = raw.rstrip("\n")
        indent = len(line) - len(line.lstrip())
        if skip_indent is not None:
            if not line.strip() or indent > skip_indent:
                continue
            skip_indent = None
        if DIRECTIVE.match(line):
            skip_indent = indent
            continue
        if UNDERLINE.match(line):
            out.append("")
            continue
        if line.rstrip().endswith("::"):
            line = line.rstrip()[:-1]
            skip_indent = indent
        if line.lstrip().startswith(">>>") or line.lstrip().startswith("..."):
            continue
        line = ROLE.sub(r"\1", line)
        line = LINK.sub(r"\1", line)
        line = LITERAL.sub(r"\1", line)
        line = EMPH.sub(r"\2", line)
        out.append(line)
    return out


def chunk(paras, limit):
    """Paragraphs grouped into documents of at most about `limit` characters."""
    doc, size = [], 0
    for p in paras:
        if doc and size + len(p) > limit:
            yield " ".join(doc)
            doc, size = [], 0
        doc.append(p)
        size += len(p) + 1
    if doc:
        yield " ".join(doc)


def read_pydoc(root="/usr/share/doc/python3.11/html/_sources"):
    for dirpath, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            if not name.endswith(".rst.txt"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if rel.startswith("whatsnew/changelog"):
                continue  # a list of bug numbers, not prose
            with open(path, encoding="utf-8", errors="replace") as f:
                paras = paragraphs(clean_rest(f.readlines()))
            paras = [p for p in paras if len(p) > 40]
            for i, doc in enumerate(chunk(paras, 3000)):
                yield "%s#%d" % (rel, i), doc


# ---- debref (HTML) ----

class TextOf(html.parser.HTMLParser):
    """Paragraph texts of an HTML page; <pre>, scripts and styles dropped
    (navigation lines are short and fall under the length filter)."""
    BLOCK = {"p", "li", "dd", "dt", "td", "th", "h1", "h2", "h3", "h4", "div", "title"}

    def __init__(self):
        super().__init__()
        self.paras, self.cur, self.skip = [], [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("pre", "script", "style"):
            self.skip += 1
        elif tag in self.BLOCK:
            self.flush()

    def handle_endtag(self, tag):
        if tag in ("pre", "script", "style"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCK:
            self.flush()

    def handle_data(self, data):
        if not self.skip:
            self.cur.append(data)

    def flush(self):
        t = fold("".join(self.cur))
        if t:
            self.paras.append(t)
        self.cur = []


def read_debref(root="/usr/share/debian-reference"):
    for name in sorted(os.listdir(root)):
        if not name.endswith(".en.html") or name == "index.en.html":
            continue
        parser = TextOf()
        with open(os.path.join(root, name), encoding="utf-8", errors="replace") as f:
            parser.feed(f.read())
        parser.flush()
        paras = [p for p in parser.paras if len(p) > 40]
        for i, doc in enumerate(chunk(paras, 3000)):
            yield "%s#%d" % (name, i), doc


# ---- fortunes ----

FORTUNE_SKIP = {"ascii-art", "art"}


def read_fortunes(root="/usr/share/games/fortunes"):
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if name.endswith((".dat", ".u8")) or name in FORTUNE_SKIP or not os.path.isfile(path):
            continue
        if os.path.islink(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            parts = f.read().split("\n%\n")
        for i, part in enumerate(parts):
            doc = " ".join(paragraphs(part.splitlines()))
            if len(doc) > 20:
                yield "%s#%d" % (name, i), doc


# ---- gcide ----

HEADWORD = re.compile(r"^(\S[^\\]*?) \\[^\\]*\\,?")
GCIDE_NOISE = re.compile(r"\[(1913 Webster|WordNet 1\.5|PJC|Webster 1913 Suppl\.|Century Dict\.)[^\]]*\]")


def read_gcide(path="/usr/share/dictd/gcide.dict.dz"):
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        text = f.read()
    start = text.find("\nA \\A\\")
    entries = re.split(r"\n\n(?=\S)", text[start:])
    seen = {}
    for entry in entries:
        lines = entry.strip().splitlines()
        if not lines:
            continue
        m = HEADWORD.match(lines[0])
        if not m:
            continue
        word = m.group(1)
        body = [lines[0][m.end():]] + lines[1:]
        doc = GCIDE_NOISE.sub("", " ".join(l.strip() for l in body))
        doc = doc.replace("{", "").replace("}", "")  # cross-reference braces
        doc = fold("%s: %s" % (word, doc))
        if len(doc) < 30:
            continue
        n = seen.get(word, 0)
        seen[word] = n + 1
        yield "%s#%d" % (word, n), doc


SOURCES = {
    "kjv": read_kjv,
    "pydoc": read_pydoc,
    "debref": read_debref,
    "fortunes": read_fortunes,
    "gcide": read_gcide,
}


def heldout(source, doc_id, fraction):
    h = hashlib.sha256(("%s/%s" % (source, doc_id)).encode()).digest()
    return int.from_bytes(h[:8], "big") < fraction * 2.0**64


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--sources", default=",".join(SOURCES),
                    help="comma-separated subset of " + ",".join(SOURCES))
    ap.add_argument("--heldout-fraction", type=float, default=0.02)
    a = ap.parse_args()
    names = [s for s in a.sources.split(",") if s]
    for s in names:
        if s not in SOURCES:
            sys.exit("build_corpus: unknown source %r (known: %s)" % (s, ",".join(SOURCES)))
    if not 0 < a.heldout_fraction < 1:
        sys.exit("build_corpus: --heldout-fraction must lie in (0, 1)")
    os.makedirs(a.out, exist_ok=True)
    seen = set()
    stats = {}
    with open(os.path.join(a.out, "train.txt"), "w", encoding="utf-8") as train, \
         open(os.path.join(a.out, "heldout.txt"), "w", encoding="utf-8") as held:
        for s in names:
            st = stats[s] = {"documents": 0, "duplicates": 0, "train_documents": 0,
                             "heldout_documents": 0, "train_bytes": 0, "heldout_bytes": 0}
            for doc_id, doc in SOURCES[s]():
                doc = fold(doc)
                key = hashlib.sha256(doc.lower().encode()).digest()
                st["documents"] += 1
                if key in seen:
                    st["duplicates"] += 1
                    continue
                seen.add(key)
                line = doc + "\n"
                split = "heldout" if heldout(s, doc_id, a.heldout_fraction) else "train"
                (held if split == "heldout" else train).write(line)
                st[split + "_documents"] += 1
                st[split + "_bytes"] += len(line.encode())
            print("build_corpus: %-8s %7d documents (%d duplicates dropped), %5.1f MB train, "
                  "%4.2f MB held out" % (s, st["documents"], st["duplicates"],
                                         st["train_bytes"] / 1e6, st["heldout_bytes"] / 1e6),
                  file=sys.stderr)
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump({"sources": stats, "heldout_fraction": a.heldout_fraction}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
