#!/usr/bin/env python3
"""The peer for `radial bench-engine`: the same shapes and workloads with
Hugging Face transformers on PyTorch (random-weight LlamaForCausalLM built
from the config, bf16, static KV cache), eager (transformers' automatic
compilation off) and compile (transformers' own torch.compile of the decoding
step, with CUDA graphs; prefill: the forward pass under torch.compile).

Decode: B sequences with random prompts of --prompt-len tokens generate
--gen-tokens tokens each (greedy, min_new_tokens forces the full length);
decode tokens/s = B * (gen - 1) / (t(gen) - t(1)), the time of generate()
with gen new tokens minus that with one (prefill + first token), so the
prefill is not counted. Prefill: --prefill-seqs forward passes of one
--prefill-len-token prompt each, tokens/s over the total.

Prints one table per model, same columns as bench-engine; --json writes the
rows. Needs a CUDA GPU, torch and transformers (no network access).
"""
import argparse
import json
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", action="append", required=True,
                   help="HF config.json of the shape (repeatable)")
    p.add_argument("--concurrency", default="1,8,64,256")
    p.add_argument("--prompt-len", type=int, default=512)
    p.add_argument("--gen-tokens", type=int, default=256)
    p.add_argument("--prefill-len", type=int, default=2048)
    p.add_argument("--prefill-seqs", type=int, default=8)
    p.add_argument("--modes", default="eager,compile")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None)
    return p.parse_args()


def main():
    args = parse_args()
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    if not torch.cuda.is_available():
        print("peer_hf: no CUDA device", file=sys.stderr)
        return 1
    torch.manual_seed(args.seed)
    conc = [int(x) for x in args.concurrency.split(",")]
    rows = []
    for path in args.config:
        with open(path) as f:
            cfg = LlamaConfig(**json.load(f))
        cfg.dtype = torch.bfloat16
        torch.set_default_dtype(torch.bfloat16)
        with torch.device("cuda"):
            model = LlamaForCausalLM(cfg)
        model.eval()
        torch.set_default_dtype(torch.float32)
        name = path.split("/")[-1]
        print(f"peer_hf: {name}: {sum(p.numel() for p in model.parameters()) / 1e9:.2f} B "
              f"parameters, bf16, {torch.cuda.get_device_name()}", flush=True)
        vocab = cfg.vocab_size
        for mode in args.modes.split(","):
            fwd = model.forward

            # eager: transformers' automatic compilation of the decoding step
            # (on by default with a static cache) turned off. compile: that
            # automatic compilation (generation_config.compile_config:
            # inductor, CUDA graphs), the way transformers means generate() to
            # be compiled; wrapping forward in torch.compile as well breaks
            # (CUDA graph outputs overwritten by the next replay).
            model.generation_config.disable_compile = mode != "compile"

            def gen(batch, new):
                ids = torch.randint(0, vocab, (batch, args.prompt_len), device="cuda")
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                with torch.no_grad():
                    model.generate(ids, attention_mask=torch.ones_like(ids),
                                   max_new_tokens=new, min_new_tokens=new, do_sample=False,
                                   cache_implementation="static", pad_token_id=0)
                torch.cuda.synchronize()
                return time.perf_counter() - t0

            for b in conc:
                try:
                    # Warm-up at both timed shapes: the static cache is sized
                    # prompt + new tokens, and each size compiles its own graph.
                    gen(b, 1)
                    gen(b, args.gen_tokens)
                    t1 = gen(b, 1)
                    tn = gen(b, args.gen_tokens)
                    steps = args.gen_tokens - 1
                    tps = b * steps / max(tn - t1, 1e-9)
                    rows.append(dict(model=name, workload=f"decode {args.prompt_len}+"
                                     f"{args.gen_tokens}", mode=mode, seqs=b,
                                     tokens_per_s=tps, ms_per_step=1000 * (tn - t1) / steps))
                except Exception as e:  # out of memory at a batch size, a compile failure
                    rows.append(dict(model=name, workload=f"decode {args.prompt_len}+"
                                     f"{args.gen_tokens}", mode=mode, seqs=b, error=repr(e)[:300]))
                print(f"peer_hf: {rows[-1]}", file=sys.stderr, flush=True)
            if mode == "compile":  # prefill: the forward pass compiled (no CUDA graphs)
                model.forward = torch.compile(fwd, dynamic=False)
            try:
                ids = torch.randint(0, vocab, (1, args.prefill_len), device="cuda")
                with torch.no_grad():
                    model(ids)  # warm-up
                    torch.cuda.synchronize()
                    t0 = time.perf_counter()
                    for _ in range(args.prefill_seqs):
                        model(ids)
                    torch.cuda.synchronize()
                secs = time.perf_counter() - t0
                rows.append(dict(model=name, workload=f"prefill {args.prefill_len}", mode=mode,
                                 seqs=args.prefill_seqs,
                                 tokens_per_s=args.prefill_seqs * args.prefill_len / secs,
                                 ms_per_step=1000 * secs / args.prefill_seqs))
            except Exception as e:
                rows.append(dict(model=name, workload=f"prefill {args.prefill_len}", mode=mode,
                                 seqs=args.prefill_seqs, error=repr(e)[:300]))
            model.forward = fwd
            torch._dynamo.reset()
        del model
        torch.cuda.empty_cache()

    print(f"  {'model':<18} {'workload':<16} {'mode':<8} {'seqs':>5} {'tok/s':>12} {'ms/step':>10}")
    for r in rows:
        if "error" in r:
            print(f"  {r['model']:<18} {r['workload']:<16} {r['mode']:<8} {r['seqs']:>5} "
                  f"error: {r['error'][:60]}")
        else:
            print(f"  {r['model']:<18} {r['workload']:<16} {r['mode']:<8} {r['seqs']:>5} "
                  f"{r['tokens_per_s']:>12.1f} {r['ms_per_step']:>10.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
