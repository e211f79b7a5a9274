"""`radial_torch train`: co-trains a Llama-style decoder and its router.

    /usr/bin/python3 -m radial_torch train --data corpus --out DIR [options]

--data is a directory from scripts/build-corpus.sh (train.u16, heldout.u16,
tokenizer.model). The run is deterministic for a given seed and thread
count: batches are drawn from numpy's RandomState(seed), so runs with the
same --seed, --steps, --batch and --context see the same tokens (the dense
baselines and the routed model are compared on the same data).

Schedule of a routed run (--router, forward mode; train_model.py):
  1. warm-up (first --warmup-frac of the steps): full depth only;
  2. then steps alternate: a full-depth step (every layer, plain loss), so
     that full depth stays a good model, the reference the routed passes are
     measured against; and a gated step (loss + lambda * mean gate
     probability);
  3. gated steps use binary-concrete gates with the temperature annealed from
     1 to 0.1 until --hard-frac of the steps, then straight-through hard gates
     (the decisions the server makes at threshold 0.5).
lambda is a Lagrange multiplier, not a constant: after each gated step,
lambda += --lambda-lr * (mean executed fraction - --target-depth), kept in
[0, 10] (radial mode: [-10, 10]), so the run settles near the asked-for depth
whatever the loss scale
(the compute-budget control of Mixture-of-Depths' capacity, as a soft
constraint). Alternating full and routed passes follows LayerSkip's idea of
training the early-exit paths and the full model together. --distill W adds
W * KL(full-depth distribution, no gradient || gated distribution) to the
gated steps (self-distillation, as early-exit models distil their exits from
the last layer), aiming the routed passes at agreement with full depth;
with --distill-mutual the full-depth pass of that term keeps its gradient,
so full depth also moves towards the gated passes (agreement is symmetric;
as deep mutual learning trains two networks towards each other).
--agree W adds W * a hinge on the gated logits' margin for full depth's
top-1 token (disagreement_hinge), the top-1 agreement the evaluation counts.
--init DIR starts from an earlier run's weights (router included when both
are routed), --lambda-init from its last multiplier: a run continued.
--stop-after N ends the loop after the first N steps of the --steps
schedule (a run --max-seconds cut short, repeated batch for batch).
--layer-dropout P makes the full-depth steps skip layer j of each token with
probability P * j / (L - 1) (LayerSkip's depth-scaled layer dropout; layer 0
pinned, no rescaling), so that the layers learn to work with others skipped.

Radial mode (--mode radial; train_radial.py): the router picks each
token's next layer among all L and the exit, an immediate repeat excluded,
so layers are skipped and revisited, up to --max-steps layers a pass; the
same schedule (full-depth warm-up, then full and gated steps alternating,
Gumbel-softmax annealed from 1 to 0.1, then straight-through argmax), with
the penalty on the expected number of layers executed; K/V `sparse`.

A dense run (--no-router) trains every layer on every step.

Writes DIR/config.json, model.safetensors (F32; tied embeddings),
tokenizer.model, and for a routed run radial.json + router.safetensors
(forward: threshold 0.5, layer 0 pinned, kv_policy propagate; radial:
kv_policy sparse, max_steps), plus
DIR/training.json: the arguments, tokens seen, time, and the loss curve.
"""

import dataclasses
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from radial_torch import safetensors
from radial_torch.config import RouterConfig
from radial_torch.train_model import RoutedDecoder, Shape
from radial_torch.train_radial import forward_radial
from radial_torch.weights import read_model_tensors, save_router


def add_arguments(p):
    p.add_argument("--data", required=True, help="corpus directory (scripts/build-corpus.sh)")
    p.add_argument("--out", required=True, help="output model directory")
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--intermediate", type=int, default=384)
    p.add_argument("--context", type=int, default=256, help="training window (tokens)")
    p.add_argument("--router-hidden", type=int, default=64)
    p.add_argument("--no-router", action="store_true", help="dense baseline: no router")
    p.add_argument("--mode", choices=("forward", "radial"), default="forward",
                   help="routing mode the router is trained for (default forward)")
    p.add_argument("--max-steps", type=int, default=0,
                   help="radial mode: most layers a pass runs (0: the number of layers)")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch", type=int, default=8, help="windows per step")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--warmup-frac", type=float, default=0.1)
    p.add_argument("--hard-frac", type=float, default=0.6)
    p.add_argument("--target-depth", type=float, default=0.5,
                   help="executed fraction of the layers the gated steps aim at "
                        "(radial mode: layers executed / L)")
    p.add_argument("--lambda-lr", type=float, default=0.05)
    p.add_argument("--distill", type=float, default=0.0,
                   help="weight of a self-distillation term on gated steps: KL from the "
                        "same batch's full-depth distribution (no gradient) to the gated "
                        "one (default 0: off)")
    p.add_argument("--distill-mutual", action="store_true",
                   help="the --distill term also trains full depth (its pass keeps the "
                        "gradient), so full depth moves towards the gated passes too")
    p.add_argument("--agree", type=float, default=0.0,
                   help="weight of a hinge on gated steps: the gated pass's logit of the "
                        "same batch's full-depth top-1 token must lead its other logits "
                        "by --agree-margin (default 0: off)")
    p.add_argument("--agree-margin", type=float, default=0.0,
                   help="logit margin of the --agree hinge (default 0: only positions where "
                        "the gated pass's top-1 differs)")
    p.add_argument("--init", metavar="DIR",
                   help="start from a model directory written by train (its shape; the "
                        "shape options must match it or be left at their defaults)")
    p.add_argument("--lambda-init", type=float, default=0.0,
                   help="starting value of the compute penalty's multiplier (e.g. the "
                        "last lambda of the --init run's training.json)")
    p.add_argument("--layer-dropout", type=float, default=0.0, metavar="P",
                   help="full-depth training steps skip layer j of each token with "
                        "probability P * j / (L - 1) (LayerSkip's layer dropout; the "
                        "distillation teacher and evaluation keep every layer; default 0: off)")
    p.add_argument("--balance", type=float, default=0.0,
                   help="radial mode: weight of a load-balancing term over the layers "
                        "(Switch Transformer's; default 0: off)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--device", default="cpu", help="torch device to train on (cpu, cuda)")
    p.add_argument("--bf16", action="store_true",
                   help="train under bf16 autocast (weights and optimizer stay f32)")
    p.add_argument("--export-dtype", choices=("F32", "BF16"), default="F32",
                   help="dtype of the exported model.safetensors (default F32)")
    p.add_argument("--shard-mib", type=float, default=0,
                   help="export the weights in shards of at most this many MiB "
                        "(model-0000K-of-0000N.safetensors + index; 0: one file)")
    p.add_argument("--max-seconds", type=float, default=0,
                   help="stop the step loop after this many seconds and export what "
                        "was trained (training.json says so; 0: no limit)")
    p.add_argument("--stop-after", type=int, default=0, metavar="N",
                   help="run only the first N steps of the --steps schedule (its learning "
                        "rate and gate phases unchanged): repeats a run that --max-seconds "
                        "stopped at step N, batch for batch (0: all the steps)")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--eval-windows", type=int, default=32,
                   help="held-out windows for the closing loss figures")


def load_tokens(path):
    if not os.path.exists(path):
        raise FileNotFoundError("%s: not found (run scripts/build-corpus.sh)" % path)
    t = np.fromfile(path, dtype="<u2")
    if t.size < 2:
        raise ValueError("%s: no tokens" % path)
    return t


def vocab_size(tokenizer_path):
    import sentencepiece
    return sentencepiece.SentencePieceProcessor(model_file=tokenizer_path).get_piece_size()


def batch_at(tokens, rs, batch, context):
    starts = rs.randint(0, tokens.size - context - 1, size=batch)
    w = np.stack([tokens[s:s + context + 1] for s in starts]).astype(np.int64)
    return torch.from_numpy(w)


def lr_at(step, a):
    warm = max(1, int(0.05 * a.steps))
    if step < warm:
        return a.lr * (step + 1) / warm
    f = (step - warm) / max(1, a.steps - warm)
    return a.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * f)))


def step_kind(step, a, routed):
    """("full", None) or ("soft", tau) or ("hard", None) for this step."""
    if not routed:
        return "full", None
    f = step / a.steps
    if f < a.warmup_frac or step % 2 == 0:
        return "full", None
    if f < a.hard_frac:
        g = (f - a.warmup_frac) / max(1e-9, a.hard_frac - a.warmup_frac)
        return "soft", 0.1 ** g  # tau from 1 to 0.1, geometrically
    return "hard", None


def ce(logits, targets):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def disagreement_hinge(teacher_logits, logits, margin=0.0):
    """Mean over positions of relu(max_{k != a} z_k - z_a + margin), z =
    logits [..., V], a = argmax of teacher_logits: 0 where z's top-1 is a by
    at least margin (no gradient reaches the teacher through its argmax)."""
    a = teacher_logits.argmax(-1, keepdim=True)
    za = logits.gather(-1, a)
    others = logits.scatter(-1, a, float("-inf"))
    return torch.relu(others.max(-1, keepdim=True).values - za + margin).mean()


def kl_to(teacher_logits, logits):
    """Mean over positions of KL(softmax(teacher) || softmax(logits))."""
    t = F.log_softmax(teacher_logits, dim=-1)
    return (t.exp() * (t - F.log_softmax(logits, dim=-1))).sum(-1).mean()


@torch.no_grad()
def heldout_figures(model, tokens, a, routed):
    """Mean loss at full depth and with hard gates, agreement, mean depth
    (f32, on the model's device)."""
    device = next(model.parameters()).device
    rs = np.random.RandomState(12345)
    out = {"full_loss": 0.0}
    if routed:
        out.update(gated_loss=0.0, top1_agreement=0.0, mean_depth=0.0)
    if routed and a.mode == "radial":
        out.update(revisit_fraction=0.0)
    model.eval()
    for _ in range(a.eval_windows):
        w = batch_at(tokens, rs, 1, a.context).to(device)
        x, y = w[:, :-1], w[:, 1:]
        lf, _ = model(x, "full")
        out["full_loss"] += ce(lf, y).item() / a.eval_windows
        if routed:
            lg, depth, revisits, _ = gated(model, x, "eval", 1.0, a)
            out["gated_loss"] += ce(lg, y).item() / a.eval_windows
            agree = (lf.argmax(-1) == lg.argmax(-1)).float().mean().item()
            out["top1_agreement"] += agree / a.eval_windows
            out["mean_depth"] += depth.float().mean().item() / a.eval_windows
            if revisits is not None:
                out["revisit_fraction"] += \
                    revisits.sum().item() / max(1, depth.sum().item()) / a.eval_windows
    model.train()
    return out


def start_from(model, a):
    """Loads --init's weights into model (built from the options): the shapes
    must be the same; a router in --init is used when the run has one (a
    routed run from a dense --init keeps its fresh router)."""
    init = load_trained(a.init)
    # A dense --init has no router width to match.
    expected = model.s if init.router is not None else \
        dataclasses.replace(model.s, router_hidden=init.s.router_hidden)
    if init.s != expected:
        raise ValueError("--init %s: its shape %s differs from the options' %s"
                         % (a.init, init.s, expected))
    if model.router is not None and init.router is not None and init.mode != a.mode:
        raise ValueError("--init %s: its router is for %s mode, the run's for %s"
                         % (a.init, init.mode, a.mode))
    state = {k: v for k, v in init.state_dict().items()
             if model.router is not None or not k.startswith("router.")}
    model.load_state_dict(state, strict=model.router is None or init.router is not None)


def gated(model, x, kind, tau, a, stats=None):
    """A gated pass of the batch x in the run's mode -> (logits, executed
    layers per token [B, T], revisits per token [B, T] or None, and, last,
    the expected layers per token with gradient (the penalty)). Radial mode
    fills stats (a dict, when given) as forward_radial does."""
    if a.mode == "radial":
        logits, expected, steps, revisits = forward_radial(model, x, kind, tau,
                                                           a.max_steps or model.s.layers, stats)
        return logits, steps, revisits, expected
    logits, probs = model(x, kind, tau)
    return logits, (probs >= 0.5).sum(-1), None, probs.sum(-1).mean()


def save_weights(directory, tensors, dtype="F32", shard_mib=0):
    """model.safetensors, or (shard_mib > 0) Hugging Face shards of at most
    shard_mib MiB each (a tensor larger than that alone in its shard), named
    model-0000K-of-0000N.safetensors, with model.safetensors.index.json.
    Weight files of an earlier export in the directory are removed first, so
    that a loader cannot pick a stale one."""
    for name in os.listdir(directory):
        if name == "model.safetensors.index.json" or \
                (name.startswith("model") and name.endswith(".safetensors")):
            os.remove(os.path.join(directory, name))
    if shard_mib <= 0:
        safetensors.save(os.path.join(directory, "model.safetensors"), tensors, dtype=dtype,
                         metadata={"format": "pt"})
        return
    limit = shard_mib * 1024 * 1024
    width = 4 if dtype == "F32" else 2
    nbytes = {n: t.numel() * width for n, t in tensors.items()}
    shards, size = [[]], 0
    for name in sorted(tensors):
        if shards[-1] and size + nbytes[name] > limit:
            shards.append([])
            size = 0
        shards[-1].append(name)
        size += nbytes[name]
    weight_map = {}
    for i, names in enumerate(shards):
        fname = "model-%05d-of-%05d.safetensors" % (i + 1, len(shards))
        safetensors.save(os.path.join(directory, fname), {n: tensors[n] for n in names},
                         dtype=dtype, metadata={"format": "pt"})
        weight_map.update((n, fname) for n in names)
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": sum(nbytes.values())}, "weight_map": weight_map},
                  f, indent=1)
        f.write("\n")


def export(model, directory, tokenizer_path, routed, mode="forward", max_steps=0,
           dtype="F32", shard_mib=0):
    s = model.s
    os.makedirs(directory, exist_ok=True)
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
           "hidden_size": s.hidden, "intermediate_size": s.intermediate,
           "num_hidden_layers": s.layers, "num_attention_heads": s.heads,
           "num_key_value_heads": s.kv_heads, "vocab_size": s.vocab,
           "max_position_embeddings": s.context, "rms_norm_eps": s.norm_eps,
           "rope_theta": s.rope_theta, "tie_word_embeddings": True, "hidden_act": "silu",
           "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32"}
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    t = {"model.embed_tokens.weight": model.embed.weight, "model.norm.weight": model.norm.weight}
    for i, layer in enumerate(model.layers):
        p = "model.layers.%d." % i
        t[p + "input_layernorm.weight"] = layer.input_layernorm.weight
        t[p + "post_attention_layernorm.weight"] = layer.post_attention_layernorm.weight
        for n in ("q", "k", "v", "o"):
            t[p + "self_attn.%s_proj.weight" % n] = getattr(layer, n + "_proj").weight
        for n in ("gate", "up", "down"):
            t[p + "mlp.%s_proj.weight" % n] = getattr(layer, n + "_proj").weight
    save_weights(directory, t, dtype, shard_mib)
    shutil.copyfile(tokenizer_path, os.path.join(directory, "tokenizer.model"))
    if routed:
        export_router(model, directory, mode, max_steps)


def export_router(model, directory, mode="forward", max_steps=0):
    """radial.json + router.safetensors of model's router: threshold 0.5 (the
    training's hard gates); forward mode with the model's pinned layers and
    `propagate` K/V (what train_model.py computes), radial mode with none
    pinned and `sparse` K/V (train_radial.py)."""
    s, r = model.s, model.router
    radial = mode == "radial"
    rc = RouterConfig(num_layers=s.layers, hidden_size=s.hidden,
                      router_hidden=s.router_hidden, activation="silu", norm_eps=s.norm_eps,
                      mode=mode, threshold=0.5, max_steps=max_steps or s.layers,
                      pinned_layers=[] if radial else sorted(model.pinned),
                      kv_policy="sparse" if radial else "propagate")
    save_router(rc, {"norm": r.norm.weight, "fc1_w": r.fc1.weight, "fc1_b": r.fc1.bias,
                     "fc2_w": r.fc2.weight, "fc2_b": r.fc2.bias}, directory)


def run(a):
    for name in ("steps", "batch", "layers", "hidden", "heads", "kv_heads", "context"):
        if getattr(a, name) < 1:
            raise ValueError("--%s must be >= 1" % name.replace("_", "-"))
    if a.hidden % a.heads or a.heads % a.kv_heads or (a.hidden // a.heads) % 2:
        raise ValueError("--hidden must split into --heads even-sized heads, "
                         "and --heads into --kv-heads groups")
    if not 0 < a.target_depth <= 1:
        raise ValueError("--target-depth must lie in (0, 1]")
    if a.distill < 0:
        raise ValueError("--distill must be >= 0")
    if a.distill_mutual and not a.distill:
        raise ValueError("--distill-mutual needs --distill W > 0")
    if a.agree < 0 or a.agree_margin < 0:
        raise ValueError("--agree and --agree-margin must be >= 0")
    if a.agree and not a.distill:
        raise ValueError("--agree needs --distill W > 0 (it shares that term's full-depth pass)")
    if not -10 <= a.lambda_init <= 10:
        raise ValueError("--lambda-init must lie in [-10, 10]")
    if not 0 <= a.layer_dropout < 1:
        raise ValueError("--layer-dropout must lie in [0, 1)")
    if a.balance < 0 or (a.balance and a.mode != "radial"):
        raise ValueError("--balance is for --mode radial, and must be >= 0")
    if a.max_steps < 0 or (a.max_steps and a.mode != "radial"):
        raise ValueError("--max-steps is for --mode radial, and must be >= 1")
    if a.shard_mib < 0:
        raise ValueError("--shard-mib must be >= 0")
    if a.stop_after < 0:
        raise ValueError("--stop-after must be >= 0")
    device = torch.device(a.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device %s: torch sees no CUDA device" % a.device)
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    tok_path = os.path.join(a.data, "tokenizer.model")
    train = load_tokens(os.path.join(a.data, "train.u16"))
    held = load_tokens(os.path.join(a.data, "heldout.u16"))
    shape = Shape(vocab=vocab_size(tok_path), layers=a.layers, hidden=a.hidden, heads=a.heads,
                  kv_heads=a.kv_heads, intermediate=a.intermediate, context=a.context,
                  router_hidden=a.router_hidden)
    routed = not a.no_router
    radial = routed and a.mode == "radial"
    model = RoutedDecoder(shape, pinned=() if radial else (0,), routed=routed)
    if radial:
        # Every choice equally likely at first (forward mode opens every gate).
        torch.nn.init.zeros_(model.router.fc2.bias)
    if a.init:
        start_from(model, a)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    keep = [p for n, p in model.named_parameters() if p.dim() < 2]
    model.to(device)
    autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=a.bf16)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": keep, "weight_decay": 0.0}], lr=a.lr,
                            betas=(0.9, 0.95))
    rs = np.random.RandomState(a.seed)
    lam = a.lambda_init
    # Forward mode: a compute cap (lambda >= 0). Radial mode: a target from
    # both sides, since a radial router that finds random layer orders
    # harmful learns to exit at once (lambda < 0 then rewards depth).
    lam_floor = -10.0 if radial else 0.0
    last_gated = None  # (kind, loss, executed fraction) of the latest gated step
    curve = []
    t0 = time.time()
    params = sum(p.numel() for p in model.parameters())
    print("train: %d parameters, %d steps of %d x %d tokens, %s" %
          (params, a.steps, a.batch, a.context, ("routed, " + a.mode) if routed else "dense"),
          file=sys.stderr)
    steps_run = a.steps
    for step in range(a.steps):
        if a.stop_after and step >= a.stop_after:
            steps_run = step
            print("train: --stop-after %d: stopping at step %d of %d"
                  % (a.stop_after, step, a.steps), file=sys.stderr)
            break
        if a.max_seconds and time.time() - t0 > a.max_seconds:
            steps_run = step
            print("train: --max-seconds %g reached, stopping at step %d of %d"
                  % (a.max_seconds, step, a.steps), file=sys.stderr)
            break
        w = batch_at(train, rs, a.batch, a.context).to(device)
        x, y = w[:, :-1], w[:, 1:]
        kind, tau = step_kind(step, a, routed)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, a)
        executed = kl = balance = hinge = None
        if kind == "full":
            with autocast():
                logits, _ = model(x, "full", layer_dropout=a.layer_dropout)
            loss = total = ce(logits.float(), y)
        else:
            stats = {} if a.balance > 0 else None
            with autocast():
                logits, _, _, expected = gated(model, x, kind, tau or 1.0, a, stats)
            logits = logits.float()
            loss = ce(logits, y)
            executed = expected / a.layers
            total = loss + lam * executed
            if stats:
                balance = stats["balance"]
                total = total + a.balance * balance
            if a.distill > 0:
                with torch.set_grad_enabled(a.distill_mutual), autocast():
                    teacher, _ = model(x, "full")
                kl = kl_to(teacher.float(), logits)
                total = total + a.distill * kl
                if a.agree > 0:
                    hinge = disagreement_hinge(teacher, logits, a.agree_margin)
                    total = total + a.agree * hinge
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if executed is not None:
            lam += a.lambda_lr * (executed.item() - a.target_depth)
            lam = min(10.0, max(lam_floor, lam))
            last_gated = (kind, loss.item(), executed.item())
        point = {"step": step, "kind": kind, "loss": round(loss.item(), 4)}
        if executed is not None:
            point.update(executed=round(executed.item(), 4), **{"lambda": round(lam, 4)})
        if kl is not None:
            point["kl_to_full"] = round(kl.item(), 4)
        if balance is not None:
            point["balance"] = round(balance.item(), 4)
        if hinge is not None:
            point["agree_hinge"] = round(hinge.item(), 4)
        curve.append(point)
        if step % a.log_every == 0 or step == a.steps - 1:
            el = time.time() - t0
            note = "" if last_gated is None else "  last gated (%s): loss %.3f executed %.3f " \
                "lambda %.3f" % (last_gated + (lam,))
            print("step %5d %-4s loss %.3f%s  %.0f tok/s  %.0f s" %
                  (step, kind, loss.item(), note, (step + 1) * a.batch * a.context / el, el),
                  file=sys.stderr, flush=True)
    seconds = time.time() - t0
    figures = heldout_figures(model, held, a, routed)
    print("train: held-out %s" % json.dumps({k: round(v, 4) for k, v in figures.items()}),
          file=sys.stderr)
    export(model, a.out, tok_path, routed, a.mode, a.max_steps, a.export_dtype, a.shard_mib)
    with open(os.path.join(a.out, "training.json"), "w") as f:
        json.dump({"arguments": {k: v for k, v in vars(a).items() if k != "func"},
                   "parameters": params,
                   "tokens_seen": steps_run * a.batch * a.context,
                   "seconds": round(seconds, 1), "torch": torch.__version__,
                   "steps_run": steps_run,
                   "device": str(device), "bf16": a.bf16,
                   "threads": torch.get_num_threads(), "heldout_windows": figures,
                   "curve": curve}, f, indent=1)
        f.write("\n")
    return 0


def load_trained(directory):
    """A model directory written by export() -> RoutedDecoder (eval mode).

    Reads config.json, model.safetensors (or its shards) and, when present,
    radial.json + router.safetensors; shapes come from the config."""
    with open(os.path.join(directory, "config.json")) as f:
        cfg = json.load(f)
    routed = os.path.exists(os.path.join(directory, "radial.json"))
    router_hidden, pinned, mode, max_steps = 64, (0,), "forward", 0
    if routed:
        with open(os.path.join(directory, "radial.json")) as f:
            rj = json.load(f)
        router_hidden, pinned = rj["router_hidden"], tuple(rj["pinned_layers"])
        mode, max_steps = rj["mode"], rj["max_steps"]
    s = Shape(vocab=cfg["vocab_size"], layers=cfg["num_hidden_layers"],
              hidden=cfg["hidden_size"], heads=cfg["num_attention_heads"],
              kv_heads=cfg["num_key_value_heads"], intermediate=cfg["intermediate_size"],
              context=cfg["max_position_embeddings"], router_hidden=router_hidden,
              rope_theta=cfg.get("rope_theta", 10000.0), norm_eps=cfg["rms_norm_eps"])
    model = RoutedDecoder(s, pinned=pinned, routed=routed)
    t = read_model_tensors(directory)
    state = {"embed.weight": t["model.embed_tokens.weight"], "norm.weight": t["model.norm.weight"]}
    for i in range(s.layers):
        p = "model.layers.%d." % i
        state["layers.%d.input_layernorm.weight" % i] = t[p + "input_layernorm.weight"]
        state["layers.%d.post_attention_layernorm.weight" % i] = \
            t[p + "post_attention_layernorm.weight"]
        for n in ("q", "k", "v", "o"):
            state["layers.%d.%s_proj.weight" % (i, n)] = t[p + "self_attn.%s_proj.weight" % n]
        for n in ("gate", "up", "down"):
            state["layers.%d.%s_proj.weight" % (i, n)] = t[p + "mlp.%s_proj.weight" % n]
    if routed:
        r = safetensors.load(os.path.join(directory, "router.safetensors"))
        for k in ("norm.weight", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"):
            state["router." + k] = r["router." + k]
    model.load_state_dict({k: v.float() for k, v in state.items()})
    model.mode, model.max_steps = mode, max_steps  # the router's (forward or radial)
    return model.eval()


def add_perplexity_arguments(p):
    p.add_argument("--model", required=True, help="a model directory written by train")
    p.add_argument("--data", required=True, help="text, one document per line")
    p.add_argument("--max-tokens", type=int, default=256,
                   help="documents cut to this many tokens, BOS included (as radial eval)")
    p.add_argument("--threads", type=int, default=0)


@torch.no_grad()
def perplexity(a):
    """Teacher-forced perplexity of every document (BOS + its ids, cut to
    --max-tokens) at full depth, and routed when the model has a router
    (forward: hard gates at threshold 0.5; radial: the training-side
    step-synchronous schedule, train_radial.py); printed as JSON."""
    import sentencepiece
    if a.threads:
        torch.set_num_threads(a.threads)
    model = load_trained(a.model)
    sp = sentencepiece.SentencePieceProcessor(
        model_file=os.path.join(a.model, "tokenizer.model"))
    limit = min(a.max_tokens, model.s.context)
    modes = ["full"] + (["eval"] if model.router is not None else [])
    nll = {m: 0.0 for m in modes}
    positions = docs = 0
    agree = 0
    with open(a.data, encoding="utf-8") as f:
        for line in f:
            ids = ([sp.bos_id()] + sp.encode(line.rstrip("\n")))[:limit]
            if len(ids) < 2:
                continue
            w = torch.tensor([ids])
            x, y = w[:, :-1], w[:, 1:]
            out = {}
            for m in modes:
                if m == "eval" and model.mode == "radial":
                    logits = forward_radial(model, x, "eval", 1.0, model.max_steps)[0]
                else:
                    logits, _ = model(x, m)
                out[m] = logits
                nll[m] += F.cross_entropy(logits[0], y[0], reduction="sum").item()
            if "eval" in out:
                agree += (out["full"].argmax(-1) == out["eval"].argmax(-1)).sum().item()
            positions += y.numel()
            docs += 1
    if not positions:
        raise ValueError("%s: no document of 2 tokens or more" % a.data)
    res = {"documents": docs, "positions": positions,
           "full_perplexity": math.exp(nll["full"] / positions)}
    if "eval" in nll:
        res["gated_perplexity"] = math.exp(nll["eval"] / positions)
        res["gated_top1_agreement"] = agree / positions
    json.dump(res, sys.stdout)
    sys.stdout.write("\n")
    return 0
