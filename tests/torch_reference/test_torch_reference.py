#!/usr/bin/python3
"""The PyTorch reference (tools/radial_torch) against radiald's CPU backend.

usage: /usr/bin/python3 tests/torch_reference/test_torch_reference.py PATH/TO/radial
           [--record DIR]          also keep radiald's dumps in DIR
       python3 tests/torch_reference/test_torch_reference.py --replay DIR
                                   compare with dumps recorded earlier, without
                                   radiald (e.g. under another torch, on a machine
                                   where radiald is not built)

For each configuration, `radial generate --dump` (greedy, --ignore-eos) and
radial_torch.forward.generate (float64) run the same prompt; compared:
  - the path of every prompt pass and of every generated token's pass: equal;
  - the generated tokens: equal;
  - the full logits of every prompt position: within LOGIT_TOL;
  - per generated token, radiald's log-probabilities of its 20 likeliest
    tokens against the reference's log-softmax: within LOGIT_TOL.
Configurations: stories260K (llama, tied embeddings, its shipped forward
router) in full mode, forward mode at thresholds 0, 0.36 and 0.5 with
propagate and with sparse KV, and radial mode with a random router (reuse,
exit after the embedding, max_steps); a random Qwen2-style model (Q/K/V
biases, untied head, GQA) in the same modes; a random Qwen3 model (per-head
q/k norms) at full depth and in forward mode with propagated and sparse K/V; the trained radial-debian-3M
(12 layers, its co-trained router) at full depth and in forward mode. Routers are written in F32,
F16 and BF16.

Tolerance: radiald computes in float32 (unit roundoff 6e-8) with its own
summation order; the reference in float64 is exact by comparison. Over these
models (d <= 64, 4-5 layers, |logits| < 20) the observed differences are a
few 1e-6; LOGIT_TOL = 1e-4 is the bound the project already uses against
its fp32 reference.json and its double-precision test helper, and leaves a
margin of more than 10x.

Near-ties: a routing decision or a greedy choice whose margin is smaller
than the arithmetic's error could legitimately go either way. The reference
reports its smallest margins (gate logit against logit(threshold) in forward
mode, best gate over runner-up in radial mode, best token over runner-up),
and every configuration asserts they exceed MIN_MARGIN = 1e-3, 100 times the
observed error: a failure there means the prompt or seed must change, not
that radiald is wrong.

Exit status 77 (skipped) when /usr/bin/python3 has no torch.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

try:
    import torch
except ImportError:
    print("torch_reference: skipped: this Python (%s) has no torch module; "
          "install Debian's python3-torch (scripts/install-deps.sh)" % sys.executable)
    sys.exit(77)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from radial_torch import forward, safetensors, weights  # noqa: E402
from radial_torch.config import load_router_config  # noqa: E402
from radial_torch.random_model import write_random_model, write_random_router  # noqa: E402

LOGIT_TOL = 1e-4
MIN_MARGIN = 1e-3
RADIAL = None  # the radial binary, from argv
RECORD = None  # --record DIR
REPLAY = None  # --replay DIR
STORIES = os.path.join(ROOT, "models", "stories260K")
STORIES_PROMPT = [1, 403, 407, 261, 378]  # "Once upon a time"
TRAINED = os.path.join(ROOT, "models", "radial-debian-3M")
TRAINED_PROMPT = [1, 505, 266, 3638]  # "In the beginning" (no greedy near-tie on either model)
TRAINED_RADIAL = os.path.join(ROOT, "models", "radial-debian-3M-radial")
RANDOM_PROMPT = [1, 17, 42, 5, 88, 30]
MAX_TOKENS = 12
WORST = {"logit": 0.0, "route_margin": float("inf"), "token_margin": float("inf")}


def run_radiald(model_dir, router_dir, prompt, mode=None, threshold=None):
    """`radial generate --dump` on the CPU backend; returns the dump object
    (with --replay: the one recorded for the same arguments)."""
    key = "%s.%s.%s.%s.%s.json" % (os.path.basename(model_dir), router_dir and
                                   os.path.basename(router_dir), mode, threshold,
                                   "-".join(map(str, prompt)))
    if REPLAY:
        with open(os.path.join(REPLAY, key)) as f:
            return json.load(f)
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [RADIAL, "generate", "--model", model_dir, "--prompt-ids",
               ",".join(map(str, prompt)), "--max-tokens", str(MAX_TOKENS), "--ignore-eos",
               "--backend", "cpu", "--threads", "1", "--dump", out.name, "--json"]
        cmd += ["--router", router_dir] if router_dir else ["--no-router"]
        if mode:
            cmd += ["--mode", mode]
        if threshold is not None:
            cmd += ["--threshold", repr(threshold)]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise AssertionError("%s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stderr))
        if RECORD:
            shutil.copyfile(out.name, os.path.join(RECORD, key))
        with open(out.name) as f:
            return json.load(f)


class TorchReference(unittest.TestCase):
    """Each test runs its configurations through both implementations."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="torch_reference.")
        cls.stories = weights.load_model(STORIES)
        cls.random_dir = os.path.join(cls.tmp, "random")
        write_random_model(cls.random_dir, 7)  # qwen2: Q/K/V biases, untied, GQA 4/2
        cls.random = weights.load_model(cls.random_dir)
        cls.qwen3_dir = os.path.join(cls.tmp, "qwen3")
        write_random_model(cls.qwen3_dir, 11, model_type="qwen3", tie=True)  # q/k norms
        cls.qwen3 = weights.load_model(cls.qwen3_dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def compare(self, model, model_dir, router_dir, prompt, mode=None, threshold=None):
        """Runs both; asserts margins, paths, tokens and logits. Returns the
        reference's Generation."""
        label = "%s router=%s mode=%s threshold=%s" % (
            os.path.basename(model_dir), router_dir and os.path.basename(router_dir), mode,
            threshold)
        router = weights.load_router(router_dir, model.config) if router_dir else None
        routing = forward.resolve_routing(router, mode, threshold)
        ref = forward.generate(model, router, routing, prompt, MAX_TOKENS, ignore_eos=True)
        got = run_radiald(model_dir, router_dir, prompt, mode, threshold)
        self.assertEqual(got["mode"], routing.mode, label)
        if routing.mode != "full":
            self.assertEqual(got["kv_policy"], routing.kv_policy, label)

        rm, tm = ref.min_route_margin(), ref.min_token_margin()
        WORST["route_margin"] = min(WORST["route_margin"], rm)
        WORST["token_margin"] = min(WORST["token_margin"], tm)
        self.assertGreater(rm, MIN_MARGIN, "%s: a routing decision is a near-tie (margin %g): "
                           "choose another prompt or seed" % (label, rm))
        self.assertGreater(tm, MIN_MARGIN, "%s: a greedy choice is a near-tie (margin %g): "
                           "choose another prompt or seed" % (label, tm))

        self.assertEqual([p["path"] for p in got["prompt"]],
                         [p.path for p in ref.prompt_passes], label + ": prompt paths")
        self.assertEqual([t["id"] for t in got["tokens"]], ref.tokens, label + ": tokens")
        self.assertEqual([t["path"] for t in got["tokens"]],
                         [p.path for p in ref.token_passes], label + ": token paths")

        worst = 0.0
        for i, (g, p) in enumerate(zip(got["prompt"], ref.prompt_passes)):
            d = (torch.tensor(g["logits"], dtype=torch.float64) - p.logits).abs().max().item()
            self.assertLess(d, LOGIT_TOL, "%s: prompt position %d logits differ by %g"
                            % (label, i, d))
            worst = max(worst, d)
        for i, (g, p) in enumerate(zip(got["tokens"], ref.token_passes)):
            lp = torch.log_softmax(p.logits, dim=0)
            self.assertEqual(len(g["top_logprobs"]), 20, label)
            for tok, value in g["top_logprobs"] + [[g["id"], g["logprob"]]]:
                d = abs(value - lp[tok].item())
                self.assertLess(d, LOGIT_TOL, "%s: token %d: log-probability of %d differs by %g"
                                % (label, i, tok, d))
                worst = max(worst, d)
        WORST["logit"] = max(WORST["logit"], worst)
        return ref

    # -- stories260K -------------------------------------------------------

    def test_stories_full(self):
        ref = self.compare(self.stories, STORIES, None, STORIES_PROMPT)
        self.assertTrue(all(p.path == [0, 1, 2, 3, 4] for p in ref.passes()))
        self.compare(self.stories, STORIES, STORIES, STORIES_PROMPT, mode="full")  # overrides

    def test_stories_forward_propagate(self):
        full = forward.generate(self.stories, None, forward.Routing(), STORIES_PROMPT,
                                MAX_TOKENS, ignore_eos=True)
        for th in (0.0, 0.36, 0.5):
            ref = self.compare(self.stories, STORIES, STORIES, STORIES_PROMPT, threshold=th)
            skipped = sum(5 - len(p.path) for p in ref.passes())
            if th == 0.0:  # every gate passes: the full model, bit for bit in the reference
                self.assertEqual(skipped, 0)
                self.assertTrue(all(torch.equal(a.logits, b.logits)
                                    for a, b in zip(ref.passes(), full.passes())))
            else:
                self.assertGreater(skipped, 0, "threshold %g skips nothing" % th)
                self.assertTrue(all(sorted(p.path + p.kv_only) == list(range(5))
                                    for p in ref.passes()))

    def test_stories_forward_sparse(self):
        # The shipped router's tensors rewritten in F16, sparse KV, pins 0 and 4.
        d = os.path.join(self.tmp, "stories_sparse")
        rc = load_router_config(os.path.join(STORIES, "radial.json"))
        rc.kv_policy, rc.pinned_layers = "sparse", [0, 4]
        t = safetensors.load(os.path.join(STORIES, "router.safetensors"))
        weights.save_router(rc, {"norm": t["router.norm.weight"], "fc1_w": t["router.fc1.weight"],
                                 "fc1_b": t["router.fc1.bias"], "fc2_w": t["router.fc2.weight"],
                                 "fc2_b": t["router.fc2.bias"]}, d, dtype="F16")
        for th in (0.36, 0.5):
            ref = self.compare(self.stories, STORIES, d, STORIES_PROMPT, threshold=th)
            self.assertTrue(all(p.kv_only == [] and p.path[0] == 0 and p.path[-1] == 4
                                for p in ref.passes()))
            self.assertTrue(any(len(p.path) < 5 for p in ref.passes()))

    def test_stories_radial_reuse(self):
        d = os.path.join(self.tmp, "stories_radial")
        write_random_router(d, 5, 64, seed=1, mode="radial", kv_policy="sparse", pinned=(),
                            max_steps=8, gate_scale=3.0, gate_bias=[0] * 5 + [-2.0])
        ref = self.compare(self.stories, STORIES, d, STORIES_PROMPT)
        self.check_radial_coverage(ref, 8)

    # -- a random model ----------------------------------------------------

    def test_random_full(self):
        self.compare(self.random, self.random_dir, None, RANDOM_PROMPT)

    def test_random_forward(self):
        d = os.path.join(self.tmp, "random_forward")
        write_random_router(d, 4, 48, seed=1, mode="forward", kv_policy="propagate",
                            pinned=(0,))
        for th in (0.3, 0.5, 0.7):
            self.compare(self.random, self.random_dir, d, RANDOM_PROMPT, threshold=th)
        d = os.path.join(self.tmp, "random_sparse")
        write_random_router(d, 4, 48, seed=2, mode="forward", kv_policy="sparse", pinned=(),
                            threshold=0.5, dtype="F16")
        ref = self.compare(self.random, self.random_dir, d, RANDOM_PROMPT)
        self.assertTrue(any(p.path[:1] != [0] for p in ref.passes()), "layer 0 never skipped")

    def test_random_radial_reuse(self):
        d = os.path.join(self.tmp, "random_radial")
        write_random_router(d, 4, 48, seed=3, mode="radial", kv_policy="sparse", pinned=(),
                            max_steps=7, gate_scale=3.0, gate_bias=[0] * 4 + [-1.0], dtype="BF16")
        ref = self.compare(self.random, self.random_dir, d, RANDOM_PROMPT)
        self.check_radial_coverage(ref, 7)

    def test_qwen3(self):
        """Qwen3's per-head q/k norms, at full depth and routed: K/V written
        for skipped layers (propagate) are normalized too."""
        self.assertTrue(self.qwen3.config.qk_norm)
        self.compare(self.qwen3, self.qwen3_dir, None, RANDOM_PROMPT)
        for policy, seed in (("propagate", 4), ("sparse", 5)):
            d = os.path.join(self.tmp, "qwen3_" + policy)
            write_random_router(d, 4, 48, seed=seed, mode="forward", kv_policy=policy,
                                pinned=(0,), threshold=0.5)
            ref = self.compare(self.qwen3, self.qwen3_dir, d, RANDOM_PROMPT)
            self.assertTrue(any(len(p.path) < 4 for p in ref.passes()), "no layer skipped")

    def check_radial_coverage(self, ref, max_steps):
        """The run exercised reuse, max_steps and an early exit."""
        paths = [p.path for p in ref.passes()]
        self.assertTrue(any(len(set(p)) < len(p) for p in paths), "no layer reused")
        self.assertTrue(any(len(p) == max_steps for p in paths), "max_steps never reached")
        self.assertTrue(any(len(p) < max_steps for p in paths), "no early exit")
        self.assertTrue(all(a != b for p in paths for a, b in zip(p, p[1:])), "immediate repeat")

    # -- radial-debian-3M: layers and router trained together ---------------

    def test_trained_model(self):
        """The model trained by `radial_torch train` (12 layers, its own
        SentencePiece vocabulary), full depth and forward mode with its router."""
        model = weights.load_model(TRAINED)
        ref = self.compare(model, TRAINED, None, TRAINED_PROMPT)
        self.assertTrue(all(len(p.path) == 12 for p in ref.passes()))
        for th in (0.3, 0.5):
            ref = self.compare(model, TRAINED, TRAINED, TRAINED_PROMPT, threshold=th)
            self.assertTrue(any(len(p.path) < 12 for p in ref.passes()), "nothing skipped")

    def test_trained_radial_model(self):
        """The radial-mode model trained by `radial_torch train --mode radial`:
        full depth, and radial mode (argmax over the gates and the exit,
        sparse K/V) with its router."""
        model = weights.load_model(TRAINED_RADIAL)
        self.compare(model, TRAINED_RADIAL, None, TRAINED_PROMPT)
        ref = self.compare(model, TRAINED_RADIAL, TRAINED_RADIAL, TRAINED_PROMPT)
        self.assertTrue(any(len(p.path) < 12 for p in ref.passes()), "nothing skipped")
        self.assertTrue(any(len(set(p.path)) < len(p.path) for p in ref.passes()),
                        "no pass revisits a layer")

    # -- the reference itself ----------------------------------------------

    def test_reference_json(self):
        """Full mode reproduces tests/data/stories260K/reference.json, an
        independent fp32 llama2.c implementation: tokens, logits to 1e-4."""
        with open(os.path.join(ROOT, "tests", "data", "stories260K", "reference.json")) as f:
            cases = json.load(f)["cases"]
        for case in cases[:2]:
            prompt, want = case["prompt_tokens"], case["tokens"][:16]
            g = forward.generate(self.stories, None, forward.Routing(), prompt, len(want),
                                 ignore_eos=True)
            self.assertEqual(g.tokens, want, case["prompt"])
            passes = g.passes()
            for i, row in enumerate(case["logits"]):
                d = (torch.tensor(row, dtype=torch.float64) - passes[i].logits).abs().max().item()
                self.assertLess(d, LOGIT_TOL, "%s position %d" % (case["prompt"], i))

    def test_safetensors(self):
        """Round trips in F32, F16 and BF16; the BF16 and sharded copies of
        stories260K read as the F32 one rounded (BF16) or unchanged."""
        x = torch.tensor([[1.0, -2.5, 3.14159, 1e-3], [65504.0, -0.0, 1.0 / 3.0, 7.0]])
        for dt, cast in (("F32", torch.float32), ("F16", torch.float16),
                         ("BF16", torch.bfloat16)):
            path = os.path.join(self.tmp, "t_%s.safetensors" % dt)
            safetensors.save(path, {"x": x, "y": x[0]}, dtype=dt, metadata={"format": "pt"})
            back = safetensors.load(path)
            self.assertEqual(back["x"].dtype, cast)
            self.assertTrue(torch.equal(back["x"], x.to(cast)), dt)
            self.assertTrue(torch.equal(back["y"], x[0].to(cast)), dt)
        f32 = safetensors.load(os.path.join(STORIES, "model.safetensors"))
        data = os.path.join(ROOT, "tests", "data")
        bf16 = safetensors.load(os.path.join(data, "stories260K-hf-bf16", "model.safetensors"))
        self.assertEqual(sorted(bf16), sorted(f32))
        for name, t in bf16.items():
            self.assertTrue(torch.equal(t, f32[name].to(torch.bfloat16)), name)
        sharded = weights.load_model(os.path.join(data, "stories260K-hf-sharded"))
        self.assertTrue(torch.equal(sharded.layers[3].w_down, self.stories.layers[3].w_down))
        self.assertTrue(torch.equal(sharded.lm_head, self.stories.lm_head))


def main():
    global RADIAL, RECORD, REPLAY
    args = sys.argv[1:]
    usage = "usage: %s (PATH/TO/radial [--record DIR] | --replay DIR) [unittest options]"
    if len(args) >= 2 and args[0] == "--replay":
        REPLAY, args = args[1], args[2:]
    elif args and os.access(args[0], os.X_OK):
        RADIAL, args = args[0], args[1:]
        if len(args) >= 2 and args[0] == "--record":
            RECORD, args = args[1], args[2:]
            os.makedirs(RECORD, exist_ok=True)
    else:
        print(usage % sys.argv[0])
        return 2
    print("torch %s, python %s" % (torch.__version__, sys.version.split()[0]))
    t0 = time.time()
    prog = unittest.main(argv=[sys.argv[0]] + args, exit=False, verbosity=2)
    print("largest logit/log-probability difference %.3g (tolerance %g); smallest margins: "
          "routing %.3g, greedy %.3g (required > %g); %.1f s"
          % (WORST["logit"], LOGIT_TOL, WORST["route_margin"], WORST["token_margin"],
             MIN_MARGIN, time.time() - t0))
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
