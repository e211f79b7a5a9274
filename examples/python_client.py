#!/usr/bin/python3
"""A Python client of radiald: prints the server's ModelInfo, then streams a
generation, printing the text as it arrives and then, per generated token,
its id, depth (layers executed) and path (those layers, in order).

Needs grpcio and protobuf (Debian: python3-grpcio python3-protobuf; run with
/usr/bin/python3). The API stubs come from, in order: --stubs DIR, the
RADIAL_PY_STUBS environment variable, build/python-stubs (written by
examples/gen_python_stubs.sh), or else they are generated into a temporary
directory at startup with protoc and grpc_python_plugin.

    examples/python_client.py --server 127.0.0.1:50051 --prompt "Once upon a time"

Exit status: 0 on success, 1 on a gRPC error (printed as "CODE: details").
"""

import argparse
import atexit
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def stubs_dir(explicit):
    """A directory holding radial/v1/radial_pb2*.py and health_pb2*.py."""
    for d in (explicit, os.environ.get("RADIAL_PY_STUBS"),
              os.path.join(ROOT, "build", "python-stubs")):
        if d and os.path.exists(os.path.join(d, "radial", "v1", "radial_pb2_grpc.py")):
            return d
    tmp = tempfile.mkdtemp(prefix="radial-stubs-")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    subprocess.run(["bash", os.path.join(HERE, "gen_python_stubs.sh"), tmp],
                   check=True, stdout=subprocess.DEVNULL)
    return tmp


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--server", default="127.0.0.1:50051", help="HOST:PORT of radiald")
    p.add_argument("--prompt", default="Once upon a time")
    p.add_argument("--prompt-ids", help="comma-separated token ids (instead of --prompt)")
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--top-p", type=float)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stop", action="append", default=[])
    p.add_argument("--ignore-eos", action="store_true")
    p.add_argument("--mode", choices=["full", "forward", "radial"])
    p.add_argument("--threshold", type=float)
    p.add_argument("--timeout", type=float, default=60.0, help="deadline in seconds")
    p.add_argument("--stubs", help="directory of generated stubs (gen_python_stubs.sh)")
    args = p.parse_args()

    sys.path.insert(0, stubs_dir(args.stubs))
    import grpc
    import health_pb2
    import health_pb2_grpc
    from radial.v1 import radial_pb2, radial_pb2_grpc

    mode_name = lambda m: radial_pb2.RoutingMode.Name(m).replace("ROUTING_MODE_", "").lower()
    with grpc.insecure_channel(args.server) as channel:
        try:
            health = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="radial.v1.Radial"), timeout=args.timeout)
            print("health:", health_pb2.HealthCheckResponse.ServingStatus.Name(health.status))

            stub = radial_pb2_grpc.RadialStub(channel)
            info = stub.ModelInfo(radial_pb2.ModelInfoRequest(), timeout=args.timeout)
            print(f"model: {info.name} ({info.model_type}), num_layers: {info.num_layers}, "
                  f"hidden_size: {info.hidden_size}, context_length: {info.context_length}, "
                  f"vocab_size: {info.vocab_size}")
            print(f"routing: default {mode_name(info.routing_mode)}, modes "
                  f"{[mode_name(m) for m in info.routing_modes]}, kv_policy {info.kv_policy or '-'}, "
                  f"threshold {info.threshold:g}, max_steps {info.max_steps}")
            print(f"limits: max_prompt_tokens {info.max_prompt_tokens}, max_tokens {info.max_tokens}, "
                  f"max_stop_strings {info.max_stop_strings}; bos {info.bos_token_id}, "
                  f"eos {list(info.eos_token_ids)}")

            req = radial_pb2.GenerateRequest(
                max_tokens=args.max_tokens, temperature=args.temperature, top_k=args.top_k,
                seed=args.seed, stop_strings=args.stop, ignore_eos=args.ignore_eos)
            if args.prompt_ids is not None:
                ids = [int(x) for x in args.prompt_ids.split(",") if x.strip()]
                req.token_ids.ids.extend(ids)
            else:
                req.text = args.prompt
            if args.top_p is not None:
                req.top_p = args.top_p
            if args.mode:
                req.routing_mode = radial_pb2.RoutingMode.Value("ROUTING_MODE_" + args.mode.upper())
            if args.threshold is not None:
                req.threshold = args.threshold

            tokens, last = [], None
            for msg in stub.Generate(req, timeout=args.timeout):
                if last is None:  # the first message: the request was accepted
                    print("--- text")
                    sys.stdout.write(args.prompt if args.prompt_ids is None else "")
                sys.stdout.write(msg.text)
                sys.stdout.flush()
                for i, t in enumerate(msg.tokens):
                    # A message's text belongs to its tokens (usually one per message).
                    tokens.append((t, msg.text if i == len(msg.tokens) - 1 else ""))
                last = msg
            print()
        except grpc.RpcError as e:
            print(f"python_client.py: {e.code().name}: {e.details()}", file=sys.stderr)
            return 1

    print("--- tokens: id depth path compute text")
    for t, text in tokens:
        print(f"{t.id:6d} {t.depth:3d} {','.join(map(str, t.path)):<16s} "
              f"{t.compute_fraction:5.2f} {text!r}")
    u = last.usage
    print(f"finish_reason: {radial_pb2.FinishReason.Name(last.finish_reason)}, "
          f"request_id: {last.request_id}")
    print(f"usage: prompt_tokens {u.prompt_tokens}, generated_tokens {u.generated_tokens}, "
          f"mean_depth {u.mean_depth:.2f}, layer_steps_skipped {u.layer_steps_skipped}, "
          f"compute_fraction {u.compute_fraction:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
