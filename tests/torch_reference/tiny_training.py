"""The tiny corpus and model shape that the training tests (test_train.py,
test_tune_router.py) share: random tokens over stories260K's 512-piece
tokenizer, and `radial_torch train` arguments for a 3-layer model of width
32 that trains in well under a second a step. Imported after the tests'
torch/numpy check (it needs numpy and tools/ on sys.path)."""

import argparse
import os
import shutil

import numpy as np

from radial_torch import train

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOKENIZER = os.path.join(ROOT, "models", "stories260K", "tokenizer.model")  # 512 pieces


def make_corpus(directory):
    """A corpus directory as scripts/build-corpus.sh writes it (train.u16,
    heldout.u16, tokenizer.model), made once; returns directory."""
    if not os.path.exists(directory):
        os.makedirs(directory)
        rs = np.random.RandomState(0)
        rs.randint(3, 512, 4000).astype("<u2").tofile(os.path.join(directory, "train.u16"))
        rs.randint(3, 512, 1000).astype("<u2").tofile(os.path.join(directory, "heldout.u16"))
        shutil.copyfile(TOKENIZER, os.path.join(directory, "tokenizer.model"))
    return directory


def train_args(data, *extra):
    """Parsed `radial_torch train` options for the tiny shape on corpus data,
    no warm-up; extra options follow (and so override)."""
    p = argparse.ArgumentParser()
    train.add_arguments(p)
    return p.parse_args(["--data", data, "--layers", "3", "--hidden", "32", "--heads", "2",
                         "--kv-heads", "1", "--intermediate", "48", "--context", "16",
                         "--router-hidden", "8", "--batch", "2", "--eval-windows", "2",
                         "--threads", "1", "--log-every", "100", "--warmup-frac", "0"]
                        + list(extra))
