"""Command line: `python3 -m radial_torch COMMAND ...` (run from tools/).

  generate      greedy generation; prints one JSON object
  random-model  writes a random model (and optionally a router) directory

generate's JSON: prompt_tokens; tokens (generated ids); path and depth (per
generated token, of the pass that produced it, as `radial generate --json`);
prompt_path and prompt_kv_only (per prompt position); finish_reason; mode,
threshold, kv_policy; min_route_margin and min_token_margin (how close the
run came to a routing or greedy tie); with --logits the logits of each
generated token's pass, with --prompt-logits those of every prompt position.
"""

import argparse
import json
import math
import sys

import torch

from radial_torch import forward, train, tune_router, weights
from radial_torch.random_model import write_random_model, write_random_router


def _ids(text):
    return [int(x) for x in text.split(",") if x.strip()] if text else []


def _num(x):
    return x if math.isfinite(x) else None


def generation_json(g, routing, logits=False, prompt_logits=False):
    """forward.Generation -> the JSON object `generate` prints."""
    j = {"prompt_tokens": g.prompt, "tokens": g.tokens,
         "path": [p.path for p in g.token_passes],
         "depth": [len(p.path) for p in g.token_passes],
         "prompt_path": [p.path for p in g.prompt_passes],
         "prompt_kv_only": [p.kv_only for p in g.prompt_passes],
         "finish_reason": g.finish, "mode": routing.mode}
    if routing.mode != "full":
        j["threshold"] = routing.threshold
        j["kv_policy"] = routing.kv_policy
    j["min_route_margin"] = _num(g.min_route_margin())
    j["min_token_margin"] = _num(g.min_token_margin())
    if logits:
        j["logits"] = [p.logits.tolist() for p in g.token_passes]
    if prompt_logits:
        j["prompt_logits"] = [p.logits.tolist() for p in g.prompt_passes]
    return j


def cmd_generate(a):
    dtype = {"float64": torch.float64, "float32": torch.float32}[a.dtype]
    model = weights.load_model(a.model, dtype)
    router_dir = None if a.no_router else a.router or (
        a.model if weights.has_router(a.model) else None)
    router = weights.load_router(router_dir, model.config, dtype) if router_dir else None
    routing = forward.resolve_routing(router, a.mode, a.threshold)
    g = forward.generate(model, router, routing, _ids(a.prompt_ids), a.max_tokens,
                         ignore_eos=a.ignore_eos)
    json.dump(generation_json(g, routing, a.logits, a.prompt_logits), sys.stdout)
    sys.stdout.write("\n")
    return 0


def cmd_random_model(a):
    cfg = write_random_model(a.dir, a.seed, model_type=a.model_type, layers=a.layers)
    if a.router_mode:
        write_random_router(a.dir, cfg["num_hidden_layers"], cfg["hidden_size"], a.seed + 1,
                            mode=a.router_mode,
                            kv_policy="sparse" if a.router_mode == "radial" else "propagate",
                            pinned=() if a.router_mode == "radial" else (0,),
                            max_steps=2 * cfg["num_hidden_layers"])
    return 0


def main(argv):
    p = argparse.ArgumentParser(prog="radial_torch", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command")
    g = sub.add_parser("generate", help="greedy generation, printed as JSON")
    g.add_argument("--model", required=True, help="model directory (config.json + safetensors)")
    g.add_argument("--router", help="router directory (default: the model's, if it has one)")
    g.add_argument("--no-router", action="store_true", help="ignore the model's router")
    g.add_argument("--prompt-ids", default="", help="comma-separated ids (empty: BOS)")
    g.add_argument("--max-tokens", type=int, default=16)
    g.add_argument("--mode", choices=["full", "forward", "radial"])
    g.add_argument("--threshold", type=float)
    g.add_argument("--ignore-eos", action="store_true")
    g.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    g.add_argument("--logits", action="store_true", help="each generated token's logits")
    g.add_argument("--prompt-logits", action="store_true", help="each prompt position's logits")
    r = sub.add_parser("random-model", help="write a random model directory")
    r.add_argument("dir")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--model-type", choices=["llama", "qwen2"], default="qwen2")
    r.add_argument("--layers", type=int, default=4)
    r.add_argument("--router-mode", choices=["forward", "radial"],
                   help="also write a random router of this mode")
    t = sub.add_parser("train", help="train a routed model or a dense baseline (train.py)")
    train.add_arguments(t)
    q = sub.add_parser("perplexity", help="held-out perplexity of a trained model directory")
    train.add_perplexity_arguments(q)
    u = sub.add_parser("tune-router",
                       help="retrain a model's router with its layers frozen (tune_router.py)")
    tune_router.add_arguments(u)
    a = p.parse_args(argv)
    if a.command == "perplexity":
        return train.perplexity(a)
    if a.command == "train":
        return train.run(a)
    if a.command == "tune-router":
        return tune_router.run(a)
    if a.command == "generate":
        return cmd_generate(a)
    if a.command == "random-model":
        return cmd_random_model(a)
    p.print_help()
    return 2
