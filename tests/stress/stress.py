#!/usr/bin/python3
"""Load and fault test of radiald (ctest label `stress`; scripts/stress.sh).

Starts radiald on loopback (a small random 4-layer model with a 4096-token
context and the stories260K tokenizer, a KV pool too small for the load,
a short queue and a deadline cap), then for --soak seconds runs at once the
clients of stress_clients.py:

  bench        `radial bench` closed loop at overload (RESOURCE_EXHAUSTED expected)
  checker      greedy requests whose outputs must equal their solo outputs
  disconnect   streams cancelled after a few tokens, and calls with tiny deadlines
  stall        streams that stop reading (the deadline cap and its watchdog end them)
  hog          requests that need many KV blocks each (pool exhaustion)
  invalid      invalid requests (INVALID_ARGUMENT each, incl. one larger than the pool)
  garbage      random bytes and broken HTTP/2 on raw sockets, unparseable
               protobuf, messages over max_message_bytes, idle connections
  monitor      /metrics, the health service (must answer within 2 s) and the
               server's RSS (/proc/PID/status) every 0.5 s

then checks, exactly where the protocol allows it:
  - the server never crashed and always answered health checks;
  - every accepted request (log `start:`) has exactly one `end:` line;
  - the counters in /metrics equal what the log and the clients saw
    (finished = end lines, generated and prompt tokens, RESOURCE_EXHAUSTED
    and INVALID_ARGUMENT = rejections logged, CANCELLED + DEADLINE_EXCEEDED
    = end lines with those statuses; bench's OK count equals the OK end
    lines of its requests);
  - per request id, the client's status equals the server's wherever the
    server decided it (OK, RESOURCE_EXHAUSTED, INVALID_ARGUMENT);
  - every checker output equals its solo output;
  - once idle: no request running or waiting, KV blocks used 0;
  - peak RSS (VmHWM) under --max-rss-mib, and RSS at the end of the soak
    within --max-rss-growth-mib of RSS at its middle (medians of a tenth).
Finally SIGTERM under load: exit 0 within the drain bound, every accepted
request ended, new requests during the drain got UNAVAILABLE.

Prints a JSON summary (--json FILE too). Exit 0 when every check passed, 77
(skipped) unless RADIAL_STRESS=1.
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import stress_clients
from stress_clients import (DRAIN_TIMEOUT_S, KV_BLOCKS, MAX_DEADLINE_S, MAX_MESSAGE_BYTES,
                            MAX_QUEUED, MODEL_CONFIG, STALL_TOKENS, Clients, Tally)

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Stress(Clients):
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="radial-stress-")
        self.tally = Tally()
        self.stop = threading.Event()
        self.results = {"checks": {}}
        self.rss_samples = []       # (t, VmRSS kB)
        self.health_failures = 0
        self.health_probes = 0
        self.kv_peak = 0
        self.waiting_peak = 0

    # --- setup -------------------------------------------------------------

    def stubs(self):
        out = os.path.join(self.work, "stubs")
        subprocess.run(["bash", os.path.join(self.args.source, "examples", "gen_python_stubs.sh"),
                        out], check=True, stdout=subprocess.DEVNULL)
        sys.path.insert(0, out)
        global grpc, pb, pb_grpc, health_pb, health_grpc
        import grpc
        from radial.v1 import radial_pb2 as pb
        from radial.v1 import radial_pb2_grpc as pb_grpc
        import health_pb2 as health_pb
        import health_pb2_grpc as health_grpc
        stress_clients.bind(grpc, pb, pb_grpc, health_pb, health_grpc)

    def start_server(self, tag):
        cfg = os.path.join(self.work, "model.json")
        with open(cfg, "w") as f:
            json.dump(MODEL_CONFIG, f)
        self.port, self.metrics_port = free_port(), free_port()
        self.log_path = os.path.join(self.work, "radiald-%s.log" % tag)
        argv = [self.args.radiald, "--dummy-config", cfg, "--dummy-seed", "5",
                "--tokenizer", os.path.join(self.args.source, "models/stories260K/tokenizer.model"),
                "--listen", "127.0.0.1:%d" % self.port,
                "--metrics-listen", "127.0.0.1:%d" % self.metrics_port,
                "--threads", "1", "--kv-blocks", str(KV_BLOCKS), "--max-queued", str(MAX_QUEUED),
                "--max-tokens", "4000", "--max-prompt-tokens", "256",
                "--max-deadline-s", str(MAX_DEADLINE_S),
                "--max-message-bytes", str(MAX_MESSAGE_BYTES),
                "--drain-timeout-s", str(DRAIN_TIMEOUT_S)]
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=self.log_file, stderr=subprocess.STDOUT)
        self.target = "127.0.0.1:%d" % self.port
        ch = grpc.insecure_channel(self.target)
        stub = health_grpc.HealthStub(ch)
        end = time.time() + 60
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("radiald exited at start:\n" + open(self.log_path).read())
            try:
                r = stub.Check(health_pb.HealthCheckRequest(service="radial.v1.Radial"), timeout=1)
                if r.status == health_pb.HealthCheckResponse.SERVING:
                    ch.close()
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.05)
        raise RuntimeError("radiald did not become SERVING")

    def channel(self):
        return grpc.insecure_channel(self.target, options=[("grpc.enable_retries", 0)])

    def metrics(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port,
                                    timeout=5) as r:
            return r.read().decode()

    @staticmethod
    def metric(text, name, labels=None):
        total = None
        for line in text.splitlines():
            if not line.startswith(name) or line.startswith("#"):
                continue
            rest = line[len(name):]
            if rest[:1] not in ("{", " "):
                continue
            if labels and not all('%s="%s"' % kv in rest for kv in labels.items()):
                continue
            total = (total or 0) + float(line.rsplit(" ", 1)[1])
        return total

    # --- requests ----------------------------------------------------------

    def guarded(self, fn, *args):
        """Runs a client loop; an exception in it is a failed check."""
        def run():
            try:
                fn(*args)
            except Exception as e:  # noqa: BLE001 - any error of a client is a finding
                self.tally.fail("%s died: %s: %s" % (fn.__name__, type(e).__name__, e))
        return threading.Thread(target=run)

    def soak(self):
        bench_json = os.path.join(self.work, "bench.json")
        bench = subprocess.Popen(
            [self.args.radial, "bench", "--server", self.target, "--concurrency",
             str(self.args.concurrency), "--duration", str(self.args.soak), "--prompt-len",
             "4:48", "--max-tokens", "16:128", "--mode", "full", "--timeout", "60",
             "--json", bench_json], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        threads = [self.guarded(self.run_monitor)]
        threads += [self.guarded(self.run_checker, k) for k in range(2)]
        threads += [self.guarded(self.run_disconnect, k) for k in range(2)]
        threads += [self.guarded(self.run_stall, k) for k in range(2)]
        threads += [self.guarded(self.run_hog, k) for k in range(3)]
        threads += [self.guarded(self.run_invalid), self.guarded(self.run_garbage)]
        for t in threads:
            t.start()
        _, bench_err = bench.communicate(timeout=self.args.soak + 180)
        self.stop.set()
        for t in threads:
            t.join(timeout=120)
            if t.is_alive():
                self.tally.fail("a client thread did not finish (server hung?)")
        with open(bench_json) as f:
            self.bench = json.load(f)
        self.results["bench"] = {k: self.bench[k] for k in ("requests", "duration_s", "throughput")}
        self.results["bench_exit"] = bench.returncode

    def parse_log(self):
        starts, ends, rejected = {}, {}, {}   # rejected: rid -> code
        dup_start, dup_end = [], []
        pat = re.compile(r"\[([^\]\s]+)\] (start|end|rejected): (.*)$")
        with open(self.log_path) as f:
            for line in f:
                m = pat.search(line)
                if not m:
                    continue
                rid, kind, rest = m.groups()
                if kind == "start":
                    if rid in starts:
                        dup_start.append(rid)
                    starts[rid] = rest
                elif kind == "end":
                    if rid in ends:
                        dup_end.append(rid)
                    ends[rid] = rest
                else:
                    rejected[rid] = rest.split(":", 1)[0]
        return starts, ends, rejected, dup_start, dup_end

    def check(self, name, ok, detail):
        self.results["checks"][name] = {"ok": bool(ok), "detail": detail}

    def verify_soak(self):
        # Idle: nothing running or waiting, every KV block back.
        end = time.time() + 20
        while True:
            m = self.metrics()
            running = self.metric(m, "radial_num_requests_running")
            waiting = self.metric(m, "radial_num_requests_waiting")
            kv = self.metric(m, "radial_kv_cache_blocks_used")
            if (running, waiting, kv) == (0, 0, 0) or time.time() > end:
                break
            time.sleep(0.2)
        self.check("idle: running 0, waiting 0, KV blocks 0", (running, waiting, kv) == (0, 0, 0),
                   {"running": running, "waiting": waiting, "kv_blocks_used": kv})
        self.check("server alive after the soak", self.proc.poll() is None,
                   {"exit": self.proc.poll()})
        self.check("health answered within 2 s throughout", self.health_failures == 0,
                   {"probes": self.health_probes, "failures": self.health_failures})
        self.check("client-side checks (solo equality, expected codes)", not self.tally.failures,
                   self.tally.failures[:10])

        starts, ends, rejected, dup_start, dup_end = self.parse_log()
        missing = sorted(set(starts) - set(ends))
        self.check("every accepted request has exactly one end line",
                   not missing and not dup_start and not dup_end and set(ends) <= set(starts),
                   {"accepted": len(starts), "ended": len(ends), "missing_end": missing[:10],
                    "duplicates": (dup_start + dup_end)[:10]})

        end_status = {}
        tokens = prompt = 0
        for rid, rest in ends.items():
            st = re.search(r"status=(\S+)", rest).group(1)
            end_status[rid] = st
            tokens += int(re.search(r" tokens=(\d+)", rest).group(1))
            prompt += int(re.search(r"prompt_tokens=(\d+)", rest).group(1))
        count = lambda code: sum(1 for s in end_status.values() if s == code)

        finished = self.metric(m, "radial_request_success_total") or 0
        self.check("success_total = end lines", finished == len(ends),
                   {"metric": finished, "end_lines": len(ends)})
        gen = self.metric(m, "radial_generation_tokens_total") or 0
        ptok = self.metric(m, "radial_prompt_tokens_total") or 0
        self.check("generation/prompt token counters = sums of the end lines",
                   gen == tokens and ptok == prompt,
                   {"generation_metric": gen, "generation_log": tokens,
                    "prompt_metric": ptok, "prompt_log": prompt})
        bench_codes = self.bench["requests"]["by_status"]
        # bench's ids, and those the server makes (for a request without one)
        anonymous = lambda rid: re.fullmatch(r"bench-\d+|[0-9a-f]{8}-\d{6,}", rid) is not None
        bad_ids = self.tally.counts.get("invalid_bad_id", {}).get("INVALID_ARGUMENT", 0)
        for code, anon_want in (("RESOURCE_EXHAUSTED", bench_codes.get("RESOURCE_EXHAUSTED", 0)),
                                ("INVALID_ARGUMENT", bench_codes.get("INVALID_ARGUMENT", 0) + bad_ids)):
            metric = self.metric(m, "radial_request_errors_total", {"code": code}) or 0
            logged = sum(1 for c in rejected.values() if c == code)
            anon = sum(1 for r, c in rejected.items() if c == code and anonymous(r))
            self.check("%s: metric = rejections logged; bench's = the anonymous ones" % code,
                       metric == logged and anon == anon_want,
                       {"metric": metric, "logged": logged, "logged_anonymous": anon,
                        "bench_and_bad_ids": anon_want})
        # Per request id: what the client saw against what the server logged.
        mismatch = []
        for rid, c in self.tally.by_id.items():
            server = rejected.get(rid) or end_status.get(rid)
            if c in ("OK", "RESOURCE_EXHAUSTED", "INVALID_ARGUMENT"):
                if server != c:
                    mismatch.append((rid, c, server))
            elif rid in rejected and c not in ("CANCELLED", "DEADLINE_EXCEEDED"):
                mismatch.append((rid, c, server))
        self.check("per request id: the client's status matches the server's", not mismatch,
                   mismatch[:10])
        cancels = sum(self.metric(m, "radial_request_errors_total", {"code": c}) or 0
                      for c in ("CANCELLED", "DEADLINE_EXCEEDED"))
        self.check("CANCELLED + DEADLINE_EXCEEDED: metric = end lines",
                   cancels == count("CANCELLED") + count("DEADLINE_EXCEEDED"),
                   {"metric": cancels, "end_lines": count("CANCELLED") + count("DEADLINE_EXCEEDED")})
        bench_ok = bench_codes.get("OK", 0)
        server_ok_anon = sum(1 for rid, s in end_status.items() if s == "OK" and anonymous(rid))
        self.check("bench OK = OK end lines of requests without a client id",
                   bench_ok == server_ok_anon, {"bench": bench_ok, "server": server_ok_anon})

        rss = [kb / 1024 for _, kb in self.rss_samples]
        with open("/proc/%d/status" % self.proc.pid) as f:
            hwm = int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) / 1024

        def median(xs):
            xs = sorted(xs) or [0]
            return xs[len(xs) // 2]
        # Growth: the last tenth of the soak against the tenth around its middle
        # (medians, so that a burst of buffered tokens does not count).
        k = max(1, len(rss) // 10)
        mid = median(rss[len(rss) // 2 - k // 2:len(rss) // 2 + k // 2 + 1])
        end_rss = median(rss[-k:])
        self.check("peak RSS bounded", hwm <= self.args.max_rss_mib,
                   {"peak_rss_mib": round(hwm, 1), "limit_mib": self.args.max_rss_mib})
        self.check("RSS does not grow from the middle of the soak to its end",
                   end_rss - mid <= self.args.max_rss_growth_mib,
                   {"rss_mib_middle": round(mid, 1), "rss_mib_end": round(end_rss, 1),
                    "limit_mib": self.args.max_rss_growth_mib})
        statuses = {}
        for s in end_status.values():
            statuses[s] = statuses.get(s, 0) + 1
        watchdog = sum(1 for line in open(self.log_path) if "blocked past the deadline cap" in line)
        self.results["soak"] = {
            "seconds": self.args.soak,
            "accepted": len(starts),
            "end_status": statuses,
            "rejected_by_code": {c: sum(1 for v in rejected.values() if v == c)
                                 for c in set(rejected.values())},
            "clients": self.tally.counts,
            "bench_by_status": bench_codes,
            "kv_blocks_peak": self.kv_peak, "kv_blocks_capacity": KV_BLOCKS,
            "kv_blocks_at_rest": kv, "waiting_peak": self.waiting_peak,
            "peak_rss_mib": round(hwm, 1),
            "rss_mib_min_median_max": [round(min(rss or [0]), 1), round(median(rss), 1),
                                       round(max(rss or [0]), 1)],
            "generated_tokens": tokens,
            "streams_cancelled_by_watchdog": watchdog,
        }

    def sigterm_under_load(self):
        self.start_server("sigterm")
        stub = pb_grpc.RadialStub(self.channel())
        bench = subprocess.Popen(
            [self.args.radial, "bench", "--server", self.target, "--concurrency", "8",
             "--duration", "30", "--prompt-len", "4:48", "--max-tokens", "64:256", "--mode",
             "full", "--timeout", "30", "--json", os.path.join(self.work, "bench-term.json")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        outcomes = []

        # Four different prompts: the same one would let the prefix cache share
        # their KV blocks and all four would fit the pool at once. Apart they
        # need 4 x 376 blocks of 600 and take turns, and the signal comes once
        # the first has streamed 100 tokens: at least one stream's worth of
        # work (about a second here) is still in flight when the request
        # after the signal arrives (a fixed wait lost that race once
        # preemption got cheap).
        started = threading.Event()

        def long_stream(k):
            toks = []
            try:
                for m in stub.Generate(self.request([1, 9, 9 + k], STALL_TOKENS, "term-%d" % k),
                                       timeout=60):
                    toks.extend(t.id for t in m.tokens)
                    if len(toks) >= 100:
                        started.set()
                code = "OK"
            except grpc.RpcError as e:
                code = e.code().name
            outcomes.append((code, len(toks)))
        threads = [threading.Thread(target=long_stream, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        started.wait(timeout=30)
        t_signal = time.time()
        self.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        try:
            stub.GenerateUnary(self.request([1], 4, "after-term"), timeout=5)
            after = "OK"
        except grpc.RpcError as e:
            after = e.code().name
        try:
            code = self.proc.wait(timeout=DRAIN_TIMEOUT_S + 15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = "hung"
        exit_s = time.time() - t_signal
        for t in threads:
            t.join(timeout=60)
        bench.wait(timeout=60)
        starts, ends, _, _, _ = self.parse_log()
        self.check("SIGTERM under load: exit 0 within the drain bound",
                   code == 0 and exit_s <= DRAIN_TIMEOUT_S + 2 + 5,
                   {"exit": code, "seconds": round(exit_s, 2)})
        self.check("SIGTERM: every accepted request ended", set(starts) == set(ends),
                   {"accepted": len(starts), "ended": len(ends)})
        self.check("SIGTERM: a request during the drain gets UNAVAILABLE", after == "UNAVAILABLE",
                   {"got": after})
        self.check("SIGTERM: the long streams ended with one status each",
                   len(outcomes) == 4 and all(c in ("OK", "UNAVAILABLE") for c, _ in outcomes),
                   {"outcomes": outcomes})

    def run(self):
        self.stubs()
        self.start_server("soak")
        self.results["command"] = " ".join(sys.argv)
        self.references()
        t0 = time.time()
        self.soak()
        self.verify_soak()
        self.results["soak_wall_s"] = round(time.time() - t0, 1)
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.sigterm_under_load()
        failed = [n for n, c in self.results["checks"].items() if not c["ok"]]
        self.results["passed"] = not failed
        text = json.dumps(self.results, indent=2, sort_keys=True)
        print(text)
        if self.args.json:
            with open(self.args.json, "w") as f:
                f.write(text + "\n")
        if failed:
            print("stress: FAILED: " + "; ".join(failed), file=sys.stderr)
            print("stress: logs kept in " + self.work, file=sys.stderr)
            return 1
        if os.environ.get("RADIAL_STRESS_KEEP") == "1":
            print("stress: logs kept in " + self.work, file=sys.stderr)
        else:
            subprocess.run(["rm", "-rf", self.work])
        return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--radiald", required=True)
    p.add_argument("--radial", required=True)
    p.add_argument("--source", default=os.path.dirname(os.path.dirname(HERE)))
    p.add_argument("--soak", type=float,
                   default=float(os.environ.get("RADIAL_STRESS_SOAK_S", "180")),
                   help="seconds of load (default: $RADIAL_STRESS_SOAK_S or 180)")
    p.add_argument("--concurrency", type=int, default=32, help="radial bench concurrency")
    p.add_argument("--max-rss-mib", type=float, default=1024)
    p.add_argument("--max-rss-growth-mib", type=float, default=32)
    p.add_argument("--json", default=os.environ.get("RADIAL_STRESS_JSON"),
                   help="also write the summary here (default: $RADIAL_STRESS_JSON)")
    args = p.parse_args()
    if os.environ.get("RADIAL_STRESS") != "1":
        print("stress: skipped (set RADIAL_STRESS=1, or run scripts/stress.sh)")
        return 77
    s = Stress(args)
    try:
        return s.run()
    finally:
        if getattr(s, "proc", None) and s.proc.poll() is None:
            s.proc.kill()


if __name__ == "__main__":
    sys.exit(main())
