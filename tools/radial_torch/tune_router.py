"""`radial_torch tune-router`: retrains the router of a trained model with
its layers frozen, towards agreement with the model's own full depth.

    /usr/bin/python3 -m radial_torch tune-router --model DIR --data corpus \\
        --out DIR2 [--steps N] [--target-depth F] [options]

Joint training (train.py) asks the gated passes to predict the data (their
cross-entropy) and, with --distill, to agree with full depth; the layers move
with both, and full depth moves with them. The served quality figure is
top-1 agreement with full depth at a compute budget. Once the layers are
fixed, that is a question for the router alone, so this second phase
freezes every layer, the embedding and the final norm (full depth is then
exactly the shipped model's) and trains only the router on

    KL(full depth || gated pass) + lambda * executed fraction
    [+ --agree W * mean over positions of relu(max_{k != a} z_k - z_a)]
    [+ --ce W * cross-entropy of the gated pass on the data]

where z are the gated pass's logits and a is full depth's top-1 token (the
--agree hinge is zero where the gated pass already agrees and grows with
its margin where it does not: the top-1 agreement the evaluation counts,
which KL weighs like any other difference), with straight-through hard
gates (threshold 0.5, the decisions radiald makes) and propagate K/V
(train_model.py), lambda a Lagrange multiplier steered towards
--target-depth as in train.py (lambda += --lambda-lr * (executed - target)
after each step, kept in [0, 10], starting at --lambda-init). This is
post-hoc router training as `radial distill` does for an ordinary model
(docs/distill.md), but end to end through the network's own gates
instead of from per-layer ablation targets: the router learns which skips
its own later decisions can absorb.

On radial-debian-3M (docs/training.md) this did not beat the co-trained
router at 60% of the layers: what limits agreement there is the layers,
which only training them moves (train --distill-mutual).

Batches are drawn from numpy's RandomState(--seed) over train.u16 as in
train.py. Writes DIR2 as a copy of DIR (config, weights, tokenizer) with the
new router.safetensors and radial.json (threshold 0.5, `propagate` K/V,
the policy the training model computes), and tuning.json
(arguments, time, curve, held-out figures).
"""

import argparse
import json
import os
import shutil
import sys
import time

import numpy as np
import torch

from radial_torch.train import (batch_at, ce, disagreement_hinge, export_router, heldout_figures,
                                kl_to, load_tokens, load_trained)


def add_arguments(p):
    p.add_argument("--model", required=True,
                   help="a forward-mode routed model directory written by train")
    p.add_argument("--data", required=True, help="corpus directory (scripts/build-corpus.sh)")
    p.add_argument("--out", required=True, help="output model directory (not --model)")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch", type=int, default=8, help="windows per step")
    p.add_argument("--context", type=int, default=0,
                   help="training window (tokens; 0: the model's context)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--target-depth", type=float, default=0.58,
                   help="executed fraction of the layers (mean gate probability) to steer to")
    p.add_argument("--lambda-lr", type=float, default=0.05)
    p.add_argument("--lambda-init", type=float, default=0.0)
    p.add_argument("--agree", type=float, default=0.0,
                   help="weight of a hinge on the gated pass's logit margin against full "
                        "depth's top-1 token (default 0: off)")
    p.add_argument("--ce", type=float, default=0.0,
                   help="weight of the gated pass's cross-entropy on the data (default 0: "
                        "agreement with full depth only)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--eval-windows", type=int, default=16,
                   help="held-out windows for the closing figures")


def _check(a, model):
    for name in ("steps", "batch", "eval_windows", "log_every"):
        if getattr(a, name) < 1:
            raise ValueError("--%s must be >= 1" % name.replace("_", "-"))
    if not 0 < a.target_depth <= 1:
        raise ValueError("--target-depth must lie in (0, 1]")
    if a.ce < 0 or a.agree < 0 or a.lambda_lr < 0 or not 0 <= a.lambda_init <= 10:
        raise ValueError("--ce, --agree and --lambda-lr must be >= 0, --lambda-init in [0, 10]")
    if a.context < 0 or a.context > model.s.context:
        raise ValueError("--context must lie in [0, %d] (the model's context)" % model.s.context)
    if model.router is None or model.mode != "forward":
        raise ValueError("%s: not a forward-mode routed model (radial.json with mode forward)"
                         % a.model)
    if os.path.realpath(a.out) == os.path.realpath(a.model):
        raise ValueError("--out must not be --model (the original router is kept)")


def run(a):
    model = load_trained(a.model)
    _check(a, model)
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    context = a.context or model.s.context
    train = load_tokens(os.path.join(a.data, "train.u16"))
    held = load_tokens(os.path.join(a.data, "heldout.u16"))
    if max(int(train.max()), int(held.max())) >= model.s.vocab:
        raise ValueError("%s: token ids beyond the model's vocabulary (%d): another tokenizer"
                         % (a.data, model.s.vocab))
    for p in model.parameters():
        p.requires_grad_(False)
    params = list(model.router.parameters())
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=a.lr, betas=(0.9, 0.95), weight_decay=0.0)
    rs = np.random.RandomState(a.seed)
    L = model.s.layers
    lam = a.lambda_init
    curve = []
    t0 = time.time()
    # heldout_figures reads the run's mode, window and window count from a.
    fig_args = argparse.Namespace(mode="forward", context=context, eval_windows=a.eval_windows)
    before = heldout_figures(model, held, fig_args, True)
    print("tune-router: %d router parameters, %d steps of %d x %d tokens; before: %s" %
          (sum(p.numel() for p in params), a.steps, a.batch, context,
           json.dumps({k: round(v, 4) for k, v in before.items()})), file=sys.stderr)
    for step in range(a.steps):
        w = batch_at(train, rs, a.batch, context)
        x, y = w[:, :-1], w[:, 1:]
        with torch.no_grad():
            teacher, _ = model(x, "full")
        logits, probs = model(x, "hard")
        kl = kl_to(teacher, logits)
        executed = probs.sum(-1).mean() / L
        total = kl + lam * executed
        loss = None
        if a.agree > 0:
            total = total + a.agree * disagreement_hinge(teacher, logits)
        if a.ce > 0:
            loss = ce(logits, y)
            total = total + a.ce * loss
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        lam = min(10.0, max(0.0, lam + a.lambda_lr * (executed.item() - a.target_depth)))
        with torch.no_grad():
            depth = (probs >= 0.5).sum(-1).float().mean().item()
            agree = (teacher.argmax(-1) == logits.argmax(-1)).float().mean().item()
        point = {"step": step, "kl_to_full": round(kl.item(), 5), "depth": round(depth, 3),
                 "top1_agreement": round(agree, 4), "executed": round(executed.item(), 4),
                 "lambda": round(lam, 4)}
        if loss is not None:
            point["loss"] = round(loss.item(), 4)
        curve.append(point)
        if step % a.log_every == 0 or step == a.steps - 1:
            print("step %5d kl %.4f depth %.2f agree %.3f executed %.3f lambda %.3f  %.0f s" %
                  (step, kl.item(), depth, agree, executed.item(), lam, time.time() - t0),
                  file=sys.stderr, flush=True)
    seconds = time.time() - t0
    after = heldout_figures(model, held, fig_args, True)
    print("tune-router: held-out after: %s" % json.dumps({k: round(v, 4) for k, v in
                                                          after.items()}), file=sys.stderr)
    _export(model, a)
    with open(os.path.join(a.out, "tuning.json"), "w") as f:
        json.dump({"arguments": {k: v for k, v in vars(a).items() if k != "func"},
                   "seconds": round(seconds, 1), "torch": torch.__version__,
                   "threads": torch.get_num_threads(), "heldout_before": before,
                   "heldout_after": after, "curve": curve}, f, indent=1)
        f.write("\n")
    return 0


def _export(model, a):
    """DIR2 = DIR's files with the tuned router (forward mode, DIR's pinned
    layers, threshold 0.5 and `propagate` K/V: what it was tuned for)."""
    os.makedirs(a.out, exist_ok=True)
    for name in os.listdir(a.model):
        src = os.path.join(a.model, name)
        if os.path.isfile(src) and name not in ("router.safetensors", "radial.json",
                                                "training.json", "tuning.json"):
            shutil.copyfile(src, os.path.join(a.out, name))
    export_router(model, a.out)
