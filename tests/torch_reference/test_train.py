#!/usr/bin/python3
"""The training model (tools/radial_torch/train_model.py) against the reference.

usage: /usr/bin/python3 tests/torch_reference/test_train.py

The batched, differentiable model `radial_torch train` optimises must compute
what radiald serves, or a trained router means nothing. Checked here:
  - a RoutedDecoder with random weights and a router whose gates skip about
    half of the layers, exported to radiald's files and read back by the
    per-token reference (forward.py): full-depth logits equal, and the
    model's hard gates ("eval": run layer j iff sigmoid(g_j) >= 0.5, layer 0
    pinned, every layer's K/V from the position's hidden state at j) equal
    the reference's forward mode with the `propagate` KV policy, logits and
    paths, within LOGIT_TOL (float32 against float64);
  - radial mode (train_radial.py): for single positions (where its
    step-synchronous schedule is exact) the model's argmax routing equals
    the reference's radial mode with `sparse` K/V: number of layers run,
    revisits, exits before and at max_steps, and logits;
  - load_trained() reads the export back bit for bit;
  - `train` runs end to end on a tiny corpus (soft and hard gated steps),
    writes the files, training.json, and a model radiald's reference loads;
  - bad arguments and a missing corpus fail with a clear error.

Exit status 77 (skipped) without torch or Debian's python3-sentencepiece.
"""

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
    print("test_train: skipped: %s (install python3-torch and python3-sentencepiece, "
          "scripts/install-deps.sh)" % e)
    sys.exit(77)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from radial_torch import forward, safetensors, train, weights  # noqa: E402
from radial_torch.train_model import RoutedDecoder, Shape  # noqa: E402
from radial_torch.train_radial import forward_radial  # noqa: E402
import tiny_training  # noqa: E402 (beside this file)

TOKENIZER = tiny_training.TOKENIZER
LOGIT_TOL = 1e-4
MIN_MARGIN = 1e-3


def random_model(seed, pinned=(0,)):
    """A RoutedDecoder with weights large enough that layers matter and a
    router whose gates pass about half of the time."""
    torch.manual_seed(seed)
    s = Shape(vocab=512, layers=5, hidden=32, heads=4, kv_heads=2, intermediate=48,
              context=32, router_hidden=16)
    m = RoutedDecoder(s, pinned=pinned)
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() >= 2:
                p.normal_(0, 1.0 / p.shape[1] ** 0.5)
        m.embed.weight.normal_(0, 1.0)
        m.router.fc2.weight.mul_(30.0)
        m.router.fc2.bias.zero_()
    return m.eval()


class TrainModel(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="test_train.")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def test_batched_model_is_the_served_semantics(self):
        for seed in (1, 2):
            m = random_model(seed)
            d = os.path.join(self.tmp, "export%d" % seed)
            train.export(m, d, TOKENIZER, routed=True)
            ref_model = weights.load_model(d)
            router = weights.load_router(d, ref_model.config)
            prompt = [1] + [int(t) for t in np.random.RandomState(seed).randint(3, 512, 19)]
            x = torch.tensor([prompt])
            with torch.no_grad():
                full, _ = m(x, "full")
                gated, probs = m(x, "eval")
            for mode, logits in (("full", full), ("forward", gated)):
                routing = forward.resolve_routing(router, mode, 0.5)
                self.assertEqual(routing.kv_policy, "propagate")
                seq = forward.Sequence(ref_model, router, routing)
                skipped = 0
                for i, tok in enumerate(prompt):
                    p = seq.run_pass(tok)
                    if mode == "forward":
                        self.assertGreater(p.route_margin, MIN_MARGIN, "near-tie: change seed")
                        want = [j for j in range(5) if probs[0, i, j] >= 0.5]
                        self.assertEqual(p.path, want, "position %d" % i)
                        skipped += 5 - len(p.path)
                    diff = (logits[0, i].double() - p.logits).abs().max().item()
                    self.assertLess(diff, LOGIT_TOL, "%s position %d" % (mode, i))
                if mode == "forward":
                    self.assertGreater(skipped, 10, "the router skips too little to test")
                    self.assertLess(skipped, 4 * len(prompt), "the router skips everything")

    def test_radial_single_positions_are_the_served_semantics(self):
        m = random_model(4, pinned=())
        with torch.no_grad():
            m.router.fc2.bias[5] = -8.0  # the exit: rarer, so that passes revisit layers
        d = os.path.join(self.tmp, "radial")
        train.export(m, d, TOKENIZER, routed=True, mode="radial", max_steps=7)
        ref_model = weights.load_model(d)
        router = weights.load_router(d, ref_model.config)
        self.assertEqual((router.config.mode, router.config.kv_policy), ("radial", "sparse"))
        routing = forward.resolve_routing(router)
        tokens = [int(t) for t in np.random.RandomState(4).randint(3, 512, 48)]
        with torch.no_grad():
            logits, _, steps, revisits = forward_radial(m, torch.tensor([tokens]).T, "eval",
                                                        max_steps=7)
        lengths, reused = [], 0
        for i, tok in enumerate(tokens):
            p = forward.Sequence(ref_model, router, routing).run_pass(tok)
            self.assertGreater(p.route_margin, MIN_MARGIN, "near-tie: change seed")
            self.assertEqual(steps[i, 0].item(), len(p.path), "token %d: %s" % (i, p.path))
            self.assertEqual(revisits[i, 0].item(), len(p.path) - len(set(p.path)))
            diff = (logits[i, 0].double() - p.logits).abs().max().item()
            self.assertLess(diff, LOGIT_TOL, "token %d" % i)
            lengths.append(len(p.path))
            reused += len(p.path) > len(set(p.path))
        self.assertIn(7, lengths, "no pass reaches max_steps")
        self.assertTrue(any(n < 7 for n in lengths), "no pass exits before max_steps")
        self.assertGreater(reused, 5, "too few passes revisit a layer to test")

    def test_radial_balance_loss(self):
        """stats["balance"] is the Switch load-balancing loss: for one step,
        L * sum_j f_j P_j over the tokens that choose a layer, P renormalised
        over the layers; positive, at most L; with gradient."""
        m = random_model(5, pinned=())
        ids = torch.tensor([[int(t) for t in np.random.RandomState(5).randint(3, 512, 24)]])
        stats = {}
        forward_radial(m, ids, "eval", max_steps=1, stats=stats)
        L = m.s.layers
        with torch.no_grad():
            p = torch.softmax(m.router(m.embed(ids).reshape(-1, m.s.hidden)), dim=-1)
        choice = p.argmax(-1)
        on = choice != L
        self.assertGreater(int(on.sum()), 1)
        f = torch.bincount(choice[on], minlength=L + 1)[:L].float() / on.sum()
        q = p[on, :L] / p[on, :L].sum(-1, keepdim=True)
        want = L * (f * q.mean(0)).sum()
        self.assertAlmostEqual(stats["balance"].item(), want.item(), places=5)
        stats = {}
        forward_radial(m, ids, "hard", max_steps=4, stats=stats)
        self.assertTrue(stats["balance"].requires_grad)
        self.assertTrue(0 < stats["balance"].item() <= L)

    def test_load_trained_round_trip(self):
        m = random_model(3)
        d = os.path.join(self.tmp, "roundtrip")
        train.export(m, d, TOKENIZER, routed=True)
        back = train.load_trained(d)
        for (n, a), (n2, b) in zip(m.state_dict().items(), back.state_dict().items()):
            self.assertEqual(n, n2)
            self.assertTrue(torch.equal(a, b), n)

    def args(self, *extra):
        return tiny_training.train_args(tiny_training.make_corpus(os.path.join(self.tmp, "corpus")),
                                        "--hard-frac", "0.5", *extra)

    def test_train_end_to_end(self):
        for routed, mode in ((True, "forward"), (True, "radial"), (False, "forward")):
            out = os.path.join(self.tmp, "run_%s_%s" % (routed, mode))
            a = self.args("--out", out, "--steps", "6", "--mode", mode,
                          *([] if routed else ["--no-router"]),
                          *(["--balance", "0.5"] if mode == "radial" else []))
            self.assertEqual(train.run(a), 0)
            with open(os.path.join(out, "training.json")) as f:
                info = json.load(f)
            kinds = [p["kind"] for p in info["curve"]]
            self.assertEqual(len(kinds), 6)
            if routed:
                self.assertEqual(set(kinds), {"full", "soft", "hard"})
                floor = 0 if mode == "forward" else -10  # radial: two-sided
                self.assertTrue(all(p["lambda"] >= floor for p in info["curve"] if "lambda" in p))
            else:
                self.assertEqual(set(kinds), {"full"})
            self.assertTrue(all(np.isfinite(p["loss"]) for p in info["curve"]))
            self.assertEqual(os.path.exists(os.path.join(out, "radial.json")), routed)
            m = weights.load_model(out)
            self.assertEqual(m.config.num_layers, 3)
            if routed:
                r = weights.load_router(out, m.config)
                self.assertEqual(r.config.mode, mode)
                self.assertEqual(train.load_trained(out).mode, mode)
                if mode == "radial":
                    self.assertIn("revisit_fraction", info["heldout_windows"])
                    self.assertTrue(all(("balance" in p) == (p["kind"] != "full")
                                        for p in info["curve"]))

    def test_bf16_and_sharded_export(self):
        """--bf16 trains under autocast (both modes); --export-dtype BF16
        --shard-mib writes Hugging Face shards under the limit (a larger
        tensor alone) with an index, which both loaders read; a later
        single-file export removes the shards."""
        for mode in ("forward", "radial"):
            out = os.path.join(self.tmp, "run_bf16_" + mode)
            a = self.args("--out", out, "--steps", "4", "--mode", mode, "--bf16",
                          "--export-dtype", "BF16", "--shard-mib", "0.02")
            self.assertEqual(train.run(a), 0)
            with open(os.path.join(out, "training.json")) as f:
                self.assertTrue(all(np.isfinite(p["loss"]) for p in json.load(f)["curve"]))
            with open(os.path.join(out, "model.safetensors.index.json")) as f:
                index = json.load(f)
            shards = sorted(set(index["weight_map"].values()))
            self.assertGreater(len(shards), 2)
            self.assertEqual(shards, sorted(n for n in os.listdir(out)
                                            if n.startswith("model-")))
            self.assertFalse(os.path.exists(os.path.join(out, "model.safetensors")))
            for shard in shards:
                names = [n for n, f in index["weight_map"].items() if f == shard]
                t = safetensors.load(os.path.join(out, shard))
                nbytes = sum(v.numel() * 2 for v in t.values())
                self.assertTrue(len(names) == 1 or nbytes <= 0.02 * 2 ** 20, shard)
                self.assertTrue(all(v.dtype == torch.bfloat16 for v in t.values()))
            self.assertEqual(index["metadata"]["total_size"],
                             sum(v.numel() * 2 for v in weights.read_model_tensors(out).values()))
            m = train.load_trained(out)
            ref = weights.load_model(out)
            self.assertTrue(torch.equal(m.embed.weight.double(), ref.embed))
            train.export(m, out, TOKENIZER, routed=True, mode=mode)
            self.assertTrue(os.path.exists(os.path.join(out, "model.safetensors")))
            self.assertFalse(any(n.startswith("model-") or n.endswith(".index.json")
                                 for n in os.listdir(out)))

    def test_max_seconds(self):
        """--max-seconds stops the loop early and still exports; training.json
        says how many steps ran."""
        out = os.path.join(self.tmp, "run_timed")
        self.assertEqual(train.run(self.args("--out", out, "--steps", "500",
                                             "--max-seconds", "1e-9")), 0)
        with open(os.path.join(out, "training.json")) as f:
            info = json.load(f)
        self.assertLess(info["steps_run"], 500)
        self.assertEqual(len(info["curve"]), info["steps_run"])
        self.assertEqual(info["tokens_seen"], info["steps_run"] * 2 * 16)
        self.assertTrue(os.path.exists(os.path.join(out, "model.safetensors")))

    def test_stop_after(self):
        """--stop-after N runs the first N steps of the --steps schedule: the
        same steps (kinds, losses) as the full run's first N, then exports."""
        runs = {}
        for name, extra in (("all", []), ("first3", ["--stop-after", "3"])):
            out = os.path.join(self.tmp, "run_stop_" + name)
            self.assertEqual(train.run(self.args("--out", out, "--steps", "6", *extra)), 0)
            with open(os.path.join(out, "training.json")) as f:
                runs[name] = json.load(f)
        self.assertEqual(runs["first3"]["steps_run"], 3)
        self.assertEqual(runs["first3"]["curve"], runs["all"]["curve"][:3])
        with self.assertRaisesRegex(ValueError, "--stop-after"):
            train.run(self.args("--out", os.path.join(self.tmp, "bad"), "--stop-after", "-1"))

    def test_distill(self):
        """kl_to is KL(teacher || student): zero for equal logits, positive and
        matching the closed form otherwise; --distill records it on the gated
        steps of a run."""
        t = torch.tensor([[[2.0, 0.0, -1.0]]])
        self.assertAlmostEqual(train.kl_to(t, t.clone()).item(), 0.0, places=6)
        s = torch.tensor([[[0.0, 1.0, 0.0]]])
        p, q = torch.softmax(t, -1), torch.softmax(s, -1)
        want = (p * (p.log() - q.log())).sum().item()
        self.assertAlmostEqual(train.kl_to(t, s).item(), want, places=5)
        self.assertGreater(want, 0.1)
        out = os.path.join(self.tmp, "run_distill")
        self.assertEqual(train.run(self.args("--out", out, "--steps", "6", "--distill", "1")), 0)
        with open(os.path.join(out, "training.json")) as f:
            curve = json.load(f)["curve"]
        for point in curve:
            self.assertEqual("kl_to_full" in point, point["kind"] != "full", point)
            if "kl_to_full" in point:
                self.assertTrue(np.isfinite(point["kl_to_full"]) and point["kl_to_full"] >= 0)

    def test_agree_hinge(self):
        """disagreement_hinge: 0 where the student's top-1 is the teacher's by
        the margin, else the mean of the shortfall; --agree records it on the
        gated steps of a run and needs --distill."""
        teacher = torch.tensor([[[3.0, 1.0, 0.0], [0.0, 2.0, 1.0]]])
        agreeing = torch.tensor([[[1.0, 0.5, 0.0], [0.0, 5.0, 4.9]]])
        self.assertEqual(train.disagreement_hinge(teacher, agreeing).item(), 0.0)
        # With margin 0.5: position 0 leads by 0.5 (0), position 1 by 0.1 (0.4 short).
        self.assertAlmostEqual(train.disagreement_hinge(teacher, agreeing, 0.5).item(),
                               0.4 / 2, places=6)
        # Position 0 prefers token 2 by 1.5 over the teacher's token 0; position 1 agrees.
        student = torch.tensor([[[0.5, 1.0, 2.0], [0.0, 1.0, 0.5]]])
        self.assertAlmostEqual(train.disagreement_hinge(teacher, student).item(),
                               1.5 / 2, places=6)
        out = os.path.join(self.tmp, "run_agree")
        self.assertEqual(train.run(self.args("--out", out, "--steps", "6", "--distill", "1",
                                             "--agree", "1", "--agree-margin", "1")), 0)
        with open(os.path.join(out, "training.json")) as f:
            curve = json.load(f)["curve"]
        for point in curve:
            self.assertEqual("agree_hinge" in point, point["kind"] != "full", point)
        # Margin 1 on a barely trained model: the hinge is positive somewhere.
        self.assertGreater(max(p.get("agree_hinge", 0) for p in curve), 0)
        with self.assertRaisesRegex(ValueError, "--agree needs --distill"):
            train.run(self.args("--out", os.path.join(self.tmp, "bad"), "--agree", "1"))

    def test_layer_dropout(self):
        """--layer-dropout P: on full-depth steps each token skips unpinned
        layer j with probability P * j / (L - 1), its update dropped and not
        rescaled; P = 0 is plain full depth. The expected output is rebuilt
        layer by layer from the same random draws."""
        m = random_model(5)
        x = torch.randint(0, 512, (2, 16), generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            full, _ = m(x, "full")
            same, _ = m(x, "full", layer_dropout=0.0)
            torch.manual_seed(7)
            got, _ = m(x, "full", layer_dropout=0.6)
            torch.manual_seed(7)
            T, L = x.shape[1], m.s.layers
            cos, sin, mask = m.cos[:T], m.sin[:T], m.mask[:T, :T]
            h = m.embed(x)
            kept = []
            for j, layer in enumerate(m.layers):
                delta = layer(h, cos, sin, mask)
                keep = torch.ones(2, T, 1)
                if j > 0:  # layer 0 is pinned
                    keep = (torch.rand(2, T, 1) >= 0.6 * j / (L - 1)).float()
                kept.append(keep.mean().item())
                h = h + keep * delta
            want = m.logits(h)
        self.assertTrue(torch.equal(full, same))
        self.assertLess((got - want).abs().max().item(), LOGIT_TOL)
        self.assertGreater((got - full).abs().max().item(), 0.1)
        self.assertEqual(kept[0], 1.0)
        self.assertTrue(0.0 < kept[-1] < 1.0 and kept[1] > kept[-1], kept)
        out = os.path.join(self.tmp, "run_layer_dropout")
        self.assertEqual(train.run(self.args("--out", out, "--steps", "4",
                                             "--layer-dropout", "0.3")), 0)
        self.assertTrue(os.path.exists(os.path.join(out, "model.safetensors")))

    def test_init_continues_a_run(self):
        """--init loads an earlier run bit for bit (at lr 0 the export is the
        input), a dense --init gives a routed run its layers and a fresh router,
        another shape is refused."""
        base = os.path.join(self.tmp, "run_True_forward")
        if not os.path.exists(base):
            self.assertEqual(train.run(self.args("--out", base, "--steps", "6")), 0)
        out = os.path.join(self.tmp, "run_init")
        self.assertEqual(train.run(self.args("--out", out, "--steps", "2", "--init", base,
                                             "--lr", "0", "--lambda-init", "0.5")), 0)
        a, b = train.load_trained(base).state_dict(), train.load_trained(out).state_dict()
        self.assertEqual(sorted(a), sorted(b))
        self.assertTrue(all(torch.equal(a[k], b[k]) for k in a))
        with open(os.path.join(out, "training.json")) as f:
            first = [p for p in json.load(f)["curve"] if "lambda" in p][0]
        self.assertGreater(first["lambda"], 0.4)  # started at 0.5, one small update
        dense = os.path.join(self.tmp, "run_False_forward")
        if not os.path.exists(dense):
            self.assertEqual(train.run(self.args("--out", dense, "--steps", "2",
                                                 "--no-router")), 0)
        out = os.path.join(self.tmp, "run_init_dense")
        self.assertEqual(train.run(self.args("--out", out, "--steps", "2", "--init", dense,
                                             "--lr", "0")), 0)
        d, r = train.load_trained(dense).state_dict(), train.load_trained(out).state_dict()
        self.assertTrue(all(torch.equal(d[k], r[k]) for k in d))
        self.assertTrue(any(k.startswith("router.") for k in r))
        with self.assertRaisesRegex(ValueError, "--init .* differs"):
            train.run(self.args("--out", os.path.join(self.tmp, "bad"), "--init", base,
                                "--intermediate", "64"))

    def test_distill_mutual(self):
        """--distill-mutual lets the distillation term train full depth too:
        the same run without it ends with other layer weights."""
        got = {}
        for mutual in (False, True):
            out = os.path.join(self.tmp, "run_mutual_%s" % mutual)
            extra = ["--distill-mutual"] if mutual else []
            self.assertEqual(train.run(self.args("--out", out, "--steps", "2", "--distill", "1",
                                                 *extra)), 0)
            got[mutual] = weights.read_model_tensors(out)
        name = "model.layers.1.mlp.up_proj.weight"
        self.assertFalse(torch.equal(got[False][name], got[True][name]))
        with self.assertRaisesRegex(ValueError, "--distill-mutual"):
            train.run(self.args("--out", os.path.join(self.tmp, "bad"), "--distill-mutual"))

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "--balance"):
            train.run(self.args("--out", os.path.join(self.tmp, "bad"), "--balance", "1"))
        with self.assertRaisesRegex(ValueError, "--distill"):
            train.run(self.args("--out", os.path.join(self.tmp, "bad"), "--distill", "-1"))
        with self.assertRaisesRegex(ValueError, "--layer-dropout"):
            train.run(self.args("--out", os.path.join(self.tmp, "bad"), "--layer-dropout", "1"))
        with self.assertRaisesRegex(ValueError, "--hidden must split"):
            train.run(self.args("--out", os.path.join(self.tmp, "bad"), "--heads", "3"))
        with self.assertRaisesRegex(ValueError, "--max-steps"):
            train.run(self.args("--out", os.path.join(self.tmp, "bad"), "--max-steps", "4"))
        with self.assertRaisesRegex(ValueError, "--target-depth"):
            train.run(self.args("--out", os.path.join(self.tmp, "bad"), "--target-depth", "0"))
        a = self.args("--out", os.path.join(self.tmp, "bad"))
        a.data = os.path.join(self.tmp, "no-corpus")
        with self.assertRaisesRegex(FileNotFoundError, "build-corpus"):
            train.run(a)


if __name__ == "__main__":
    unittest.main(verbosity=1)
