#!/usr/bin/python3
"""Measures what oversized and hostile inputs cost radiald: for each case,
the wall time of the call, its status, and the server's resident memory
(VmRSS now, VmHWM = the peak so far, from /proc/PID/status) after it.

Starts radiald on loopback (the default model unless --model) with the gRPC
API and the HTTP API, then runs, in order:
  - Tokenize of 1 MiB of text over gRPC, one call and 4 at once;
  - Generate with 1 MiB of prompt text over gRPC;
  - POST /v1/completions with a 1 MiB prompt, and with a 4 MiB body
    (the body limit), and a body of JSON nested 100,000 deep;
  - radial.json and config.json files nested 100,000 deep, loaded by
    `radial generate` (peak RSS of that process, from getrusage).
A benchmark that prints figures (docs/security.md quotes them), not a test.
Run it from the repository root after building (build/):

    /usr/bin/python3 bench/hostile_inputs.py [--build build] [--model models/stories260K]
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mem_mib(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) / 1024
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "stories260K"))
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="radial-hostile-")
    try:
        subprocess.run(["bash", os.path.join(ROOT, "examples", "gen_python_stubs.sh"), tmp],
                       check=True, stdout=subprocess.DEVNULL)
        sys.path.insert(0, tmp)
        import grpc
        from radial.v1 import radial_pb2, radial_pb2_grpc

        gport, hport = free_port(), free_port()
        proc = subprocess.Popen(
            [os.path.join(args.build, "server", "radiald"), "--model", args.model, "--listen",
             f"127.0.0.1:{gport}", "--http-listen", f"127.0.0.1:{hport}", "--metrics-listen",
             "off", "--log-level", "warn"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{hport}"
        for _ in range(300):
            try:
                if urllib.request.urlopen(base + "/health", timeout=1).status == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.1)
        chan = grpc.insecure_channel(f"127.0.0.1:{gport}",
                                     options=[("grpc.max_send_message_length", 8 << 20)])
        stub = radial_pb2_grpc.RadialStub(chan)
        rows = []

        def row(name, fn):
            t0 = time.time()
            status = fn()
            m = mem_mib(proc.pid)
            rows.append((name, status, time.time() - t0, m["VmRSS"], m["VmHWM"]))

        m0 = mem_mib(proc.pid)
        rows.append(("(idle, after start)", "", 0.0, m0["VmRSS"], m0["VmHWM"]))
        text = "Once upon a time there was a little dog. " * ((1 << 20) // 42 + 1)
        text = text[: 1 << 20]

        def grpc_status(call):
            try:
                call()
                return "OK"
            except grpc.RpcError as e:
                return e.code().name

        row("gRPC Tokenize, 1 MiB of text",
            lambda: grpc_status(lambda: stub.Tokenize(radial_pb2.TokenizeRequest(text=text))))

        def many(t=text, n=4):
            out = []
            ts = [threading.Thread(target=lambda: out.append(grpc_status(
                lambda: stub.Tokenize(radial_pb2.TokenizeRequest(text=t))))) for _ in range(n)]
            for th in ts: th.start()
            for th in ts: th.join()
            return ",".join(sorted(set(out)))

        row("gRPC Tokenize, 1 MiB of text, 4 at once", many)
        limit = text[: 32 * 512]  # the default model's limit: 32 bytes per context position
        row("gRPC Tokenize, 16 KiB (the limit), 16 at once", lambda: many(limit, 16))
        row("gRPC Generate, 1 MiB of prompt text", lambda: grpc_status(
            lambda: list(stub.Generate(radial_pb2.GenerateRequest(text=text, max_tokens=4)))))

        def http(body):
            req = urllib.request.Request(base + "/v1/completions", data=body,
                                         headers={"Content-Type": "application/json"})
            try:
                return str(urllib.request.urlopen(req, timeout=60).status)
            except urllib.error.HTTPError as e:
                return str(e.code)
            except (urllib.error.URLError, ConnectionError) as e:
                return "closed (" + type(e).__name__ + ")"

        row("HTTP completion, 1 MiB prompt",
            lambda: http(json.dumps({"prompt": text, "max_tokens": 4}).encode()))
        row("HTTP completion, 4 MiB + 1 body", lambda: http(b" " * ((4 << 20) + 1)))
        row("HTTP completion, JSON nested 100,000 deep",
            lambda: http(b'{"prompt": ' + b"[" * 100000 + b"]" * 100000 + b"}"))
        chan.close()
        proc.terminate()
        proc.wait(timeout=60)

        # Hostile files: the loader's peak RSS, as a child of this process.
        radial = os.path.join(args.build, "tools", "radial")
        for name, path_fn in (("config.json with hidden_size nested 100,000 deep", "config"),
                              ("radial.json with num_layers nested 100,000 deep", "router")):
            d = os.path.join(tmp, path_fn)
            shutil.copytree(args.model, d)
            deep = "[" * 100000 + "]" * 100000
            if path_fn == "config":
                with open(os.path.join(d, "config.json")) as f:
                    cfg = f.read()
                with open(os.path.join(d, "config.json"), "w") as f:
                    f.write(cfg.replace('"hidden_size": ', '"hidden_size": ' + deep + ', "x": ', 1))
            else:
                with open(os.path.join(d, "radial.json"), "w") as f:
                    f.write('{"num_layers": ' + deep + "}")
            t0 = time.time()
            child = subprocess.Popen([radial, "generate", "--model", d, "--prompt", "x",
                                      "--max-tokens", "1"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
            err = child.stderr.read()
            _, status, usage = os.wait4(child.pid, 0)  # this child's own peak RSS
            child.returncode = os.waitstatus_to_exitcode(status)
            msg = (err.strip().splitlines() or [""])[-1][:90]
            peak = usage.ru_maxrss
            rows.append((name, f"exit {child.returncode}: {msg}", time.time() - t0, float("nan"),
                         peak / 1024))

        print(f"{'case':<48} {'seconds':>8} {'RSS MiB':>8} {'peak MiB':>9}  status")
        for name, status, secs, rss, hwm in rows:
            print(f"{name:<48} {secs:8.3f} {rss:8.1f} {hwm:9.1f}  {status}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
