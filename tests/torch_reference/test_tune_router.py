#!/usr/bin/python3
"""`radial_torch tune-router` (tools/radial_torch/tune_router.py).

usage: /usr/bin/python3 tests/torch_reference/test_tune_router.py

Checked on a tiny model trained here (3 layers, random corpus):
  - the disagreement hinge: 0 where the student's top-1 is the teacher's,
    the student's margin against the teacher's top-1 otherwise;
  - a tuning run changes the router only: every other tensor of the output
    directory is the input's bit for bit (full depth is the same model), the
    curve has one finite point per step, lambda stays in [0, 10], and the
    router files load in radiald's reference with the input's pinned layers
    and K/V policy;
  - the compute penalty works: a large lambda lowers the executed fraction;
  - bad arguments (a dense model, --out equal to --model, a bad target) fail
    with a clear error.

Exit status 77 (skipped) without torch or Debian's python3-sentencepiece.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import unittest

try:
    import numpy as np
    import sentencepiece  # noqa: F401 (train reads the tokenizer with it)
    import torch
except ImportError as e:
    print("test_tune_router: skipped: %s (install python3-torch and python3-sentencepiece, "
          "scripts/install-deps.sh)" % e)
    sys.exit(77)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from radial_torch import safetensors, train, tune_router, weights  # noqa: E402
import tiny_training  # noqa: E402 (beside this file)


class TuneRouter(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="test_tune_router.")
        cls.data = tiny_training.make_corpus(os.path.join(cls.tmp, "corpus"))
        cls.routed = cls.train_model("routed")
        cls.dense = cls.train_model("dense", "--no-router")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    @classmethod
    def train_model(cls, name, *extra):
        out = os.path.join(cls.tmp, name)
        assert train.run(tiny_training.train_args(cls.data, "--out", out, "--steps", "6",
                                                  *extra)) == 0
        return out

    def args(self, out, *extra, model=None):
        p = argparse.ArgumentParser()
        tune_router.add_arguments(p)
        return p.parse_args(["--model", model or self.routed, "--data", self.data,
                             "--out", os.path.join(self.tmp, out), "--batch", "2",
                             "--eval-windows", "2", "--threads", "1", "--log-every", "100"]
                            + list(extra))

    def test_tuning_changes_the_router_only(self):
        a = self.args("tuned", "--steps", "5", "--agree", "1", "--ce", "0.5", "--lr", "0.01")
        self.assertEqual(tune_router.run(a), 0)
        before = weights.read_model_tensors(self.routed)
        after = weights.read_model_tensors(a.out)
        self.assertEqual(sorted(before), sorted(after))
        for name in before:
            self.assertTrue(torch.equal(before[name], after[name]), name)
        r0 = safetensors.load(os.path.join(self.routed, "router.safetensors"))
        r1 = safetensors.load(os.path.join(a.out, "router.safetensors"))
        self.assertTrue(any(not torch.equal(r0[k], r1[k]) for k in r0))
        with open(os.path.join(a.out, "tuning.json")) as f:
            info = json.load(f)
        self.assertEqual(len(info["curve"]), 5)
        for p in info["curve"]:
            self.assertTrue(all(np.isfinite(p[k]) for k in ("kl_to_full", "loss", "depth")), p)
            self.assertTrue(0.0 <= p["lambda"] <= 10.0)
            self.assertGreaterEqual(p["kl_to_full"], 0.0)
        self.assertEqual(info["heldout_before"]["full_loss"], info["heldout_after"]["full_loss"])
        model = weights.load_model(a.out)
        router = weights.load_router(a.out, model.config)
        self.assertEqual((router.config.mode, router.config.kv_policy, router.config.pinned_layers),
                         ("forward", "propagate", [0]))
        self.assertFalse(os.path.exists(os.path.join(a.out, "training.json")))

    def test_penalty_lowers_depth(self):
        a = self.args("cheap", "--steps", "30", "--lr", "0.05", "--lambda-init", "10",
                      "--lambda-lr", "0", "--target-depth", "0.34")
        self.assertEqual(tune_router.run(a), 0)
        with open(os.path.join(a.out, "tuning.json")) as f:
            curve = json.load(f)["curve"]
        first = np.mean([p["executed"] for p in curve[:3]])
        last = np.mean([p["executed"] for p in curve[-3:]])
        self.assertLess(last, first - 0.1, (first, last))

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "not a forward-mode routed model"):
            tune_router.run(self.args("bad", model=self.dense))
        with self.assertRaisesRegex(ValueError, "--out must not be --model"):
            a = self.args("bad")
            a.out = self.routed
            tune_router.run(a)
        with self.assertRaisesRegex(ValueError, "--target-depth"):
            tune_router.run(self.args("bad", "--target-depth", "1.5"))
        with self.assertRaisesRegex(ValueError, "--agree"):
            tune_router.run(self.args("bad", "--agree", "-1"))
        with self.assertRaisesRegex(ValueError, "--context"):
            tune_router.run(self.args("bad", "--context", "99"))
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "bad")))


if __name__ == "__main__":
    unittest.main(verbosity=1)
