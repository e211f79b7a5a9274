#!/usr/bin/python3
"""Tokenizes a corpus split (one document per line) into a token file.

    tokenize_corpus.py --model tokenizer.model IN.txt OUT.u16

Each document becomes BOS, its ids, EOS (the SentencePiece model's ids);
documents are concatenated in file order. OUT holds little-endian uint16
ids (the vocabulary must have at most 65536 entries). Prints the token count.
Needs Debian's python3-sentencepiece (/usr/bin/python3).
"""

import argparse
import array
import sys

import sentencepiece


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("input")
    ap.add_argument("output")
    a = ap.parse_args()
    sp = sentencepiece.SentencePieceProcessor(model_file=a.model)
    if sp.get_piece_size() > 65536:
        sys.exit("tokenize_corpus: %s has %d pieces; uint16 ids hold 65536"
                 % (a.model, sp.get_piece_size()))
    bos, eos = sp.bos_id(), sp.eos_id()
    if bos < 0 or eos < 0:
        sys.exit("tokenize_corpus: %s lacks BOS or EOS" % a.model)
    out = array.array("H")
    docs = 0
    with open(a.input, encoding="utf-8") as f:
        batch = []
        for line in f:
            batch.append(line.rstrip("\n"))
            if len(batch) == 4096:
                for ids in sp.encode(batch):
                    out.append(bos)
                    out.extend(ids)
                    out.append(eos)
                docs += len(batch)
                batch = []
        for ids in sp.encode(batch):
            out.append(bos)
            out.extend(ids)
            out.append(eos)
        docs += len(batch)
    if sys.byteorder != "little":
        out.byteswap()
    with open(a.output, "wb") as f:
        out.tofile(f)
    print("%s: %d documents, %d tokens" % (a.output, docs, len(out)))


if __name__ == "__main__":
    main()
