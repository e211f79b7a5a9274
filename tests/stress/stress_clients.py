"""The clients of the radiald stress test (stress.py): well-behaved and
misbehaving ones, each a loop that runs until `self.stop` is set and records
what it saw in `self.tally`. Mixed into stress.Stress, which provides
`target`, `port`, `proc`, `channel()`, `metrics()` and `metric()`.

bind() hands this module the generated gRPC stubs (made at run time)."""

import random
import socket
import struct
import threading
import time

grpc = pb = pb_grpc = health_pb = health_grpc = None


def bind(grpc_mod, pb_mod, pb_grpc_mod, health_pb_mod, health_grpc_mod):
    """Sets the gRPC module and the stubs this module's clients use."""
    global grpc, pb, pb_grpc, health_pb, health_grpc
    grpc, pb, pb_grpc, health_pb, health_grpc = (grpc_mod, pb_mod, pb_grpc_mod, health_pb_mod,
                                                 health_grpc_mod)


MODEL_CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 4,
    "num_attention_heads": 8, "num_key_value_heads": 4, "vocab_size": 512,
    "max_position_embeddings": 4096, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
    "tie_word_embeddings": True, "hidden_act": "silu", "bos_token_id": 1,
    "eos_token_id": 2, "torch_dtype": "float32"}
# The KV pool (blocks of 16 entries of one layer) holds the worst case of
# ~13 bench requests (<= 176 positions: 44 blocks), of 5 hogs (300 tokens:
# 76 blocks) or of one stalled stream (1500 tokens: 376 blocks); a request
# of 4000 tokens (1000 blocks) can never fit (INVALID_ARGUMENT).
KV_BLOCKS = 600
HOG_TOKENS = 300
STALL_TOKENS = 1500
MAX_QUEUED = 16
MAX_DEADLINE_S = 20
MAX_MESSAGE_BYTES = 65536
DRAIN_TIMEOUT_S = 5


class Tally:
    """Client-side outcomes by source and gRPC status code name."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.by_id = {}        # request_id -> client status (sources that set ids)
        self.failures = []     # failed client-side checks (strings)

    def add(self, source, code, request_id=None):
        with self.lock:
            d = self.counts.setdefault(source, {})
            d[code] = d.get(code, 0) + 1
            if request_id:
                self.by_id[request_id] = code

    def fail(self, message):
        with self.lock:
            if len(self.failures) < 50:
                self.failures.append(message)


class Clients:
    """The client loops (a mixin of stress.Stress)."""

    def request(self, ids, max_tokens, request_id="", **kw):
        kw.setdefault("routing_mode", pb.ROUTING_MODE_FULL)
        r = pb.GenerateRequest(max_tokens=max_tokens, ignore_eos=True, request_id=request_id, **kw)
        r.token_ids.ids.extend(ids)
        return r

    def stream(self, stub, req, timeout=60):
        """Runs a streaming call to its end: (code, token ids)."""
        toks = []
        try:
            for m in stub.Generate(req, timeout=timeout):
                toks.extend(t.id for t in m.tokens)
            return "OK", toks
        except grpc.RpcError as e:
            return e.code().name, toks

    def references(self):
        """Greedy prompts and their solo outputs (sent one at a time, idle server)."""
        rng = random.Random(11)
        self.refs = []
        stub = pb_grpc.RadialStub(self.channel())
        for i in range(6):
            ids = [1] + [rng.randrange(3, 512) for _ in range(rng.randrange(2, 40))]
            n = rng.randrange(8, 96)
            code, toks = self.stream(stub, self.request(ids, n, "ref-%d" % i))
            self.tally.add("reference", code, "ref-%d" % i)
            if code != "OK" or len(toks) != n:
                raise RuntimeError("solo reference %d failed: %s" % (i, code))
            self.refs.append((ids, n, toks))

    # --- clients -----------------------------------------------------------

    def run_checker(self, k):
        stub = pb_grpc.RadialStub(self.channel())
        i = 0
        while not self.stop.is_set():
            ids, n, want = self.refs[i % len(self.refs)]
            rid = "chk%d-%d" % (k, i)
            unary = i % 3 == 2
            if unary:
                try:
                    r = stub.GenerateUnary(self.request(ids, n, rid), timeout=60)
                    code, toks = "OK", [t.id for t in r.tokens]
                except grpc.RpcError as e:
                    code, toks = e.code().name, []
            else:
                code, toks = self.stream(stub, self.request(ids, n, rid))
            self.tally.add("checker", code, rid)
            if code == "OK" and toks != want:
                self.tally.fail("%s: output differs from its solo output" % rid)
            if code == "RESOURCE_EXHAUSTED":
                time.sleep(0.05)
            i += 1

    def run_disconnect(self, k):
        stub = pb_grpc.RadialStub(self.channel())
        rng = random.Random(100 + k)
        i = 0
        while not self.stop.is_set():
            rid = "dc%d-%d" % (k, i)
            req = self.request([1, rng.randrange(3, 512)], rng.randrange(50, 600), rid)
            if i % 2 == 0:   # cancel after a few tokens
                call = stub.Generate(req, timeout=60)
                want = rng.randrange(1, 20)
                got = 0
                code = "OK"
                try:
                    for m in call:
                        got += len(m.tokens)
                        if got >= want:
                            call.cancel()
                except grpc.RpcError as e:
                    code = e.code().name
            else:            # a deadline that passes mid-generation
                code, _ = self.stream(stub, req, timeout=rng.uniform(0.005, 0.3))
            self.tally.add("disconnect", code, rid)
            i += 1

    def run_stall(self, k):
        """Opens a long stream, reads one message, then stops reading for
        longer than the deadline cap (+ its 2 s grace); then drains it. A
        1 KB receive window (no BDP probing) makes the server's Write block
        soon after: the watchdog must end the call."""
        stub = pb_grpc.RadialStub(grpc.insecure_channel(self.target, options=[
            ("grpc.http2.lookahead_bytes", 1024), ("grpc.http2.bdp_probe", 0)]))
        i = 0
        while not self.stop.is_set():
            rid = "stall%d-%d" % (k, i)
            call = stub.Generate(self.request([1, 7, 9], STALL_TOKENS, rid), timeout=120)
            code = "OK"
            try:
                next(call)
                self.stop.wait(MAX_DEADLINE_S + 4)
                for _ in call:
                    pass
            except grpc.RpcError as e:
                code = e.code().name
            except StopIteration:
                pass
            self.tally.add("stall", code, rid)
            i += 1

    def run_hog(self, k):
        stub = pb_grpc.RadialStub(self.channel())
        i = 0
        while not self.stop.is_set():
            rid = "hog%d-%d" % (k, i)
            code, toks = self.stream(stub, self.request([1, 5, 6, 7], HOG_TOKENS, rid))
            self.tally.add("hog", code, rid)
            if code == "OK" and len(toks) != HOG_TOKENS:
                self.tally.fail("%s: %d tokens, not %d" % (rid, len(toks), HOG_TOKENS))
            if code != "OK":
                time.sleep(0.1)
            i += 1

    def run_invalid(self):
        stub = pb_grpc.RadialStub(self.channel())
        bad = [
            lambda rid: self.request([1, 512], 4, rid),                      # id outside vocab
            lambda rid: self.request([1, -3], 4, rid),
            lambda rid: self.request([1] * 300, 4, rid),                     # prompt over 256
            lambda rid: self.request([1], 4001, rid),                        # max_tokens over limit
            lambda rid: self.request([1], 4000, rid),                        # more KV than the pool
            lambda rid: self.request([1], 4, rid, temperature=-1),
            lambda rid: self.request([1], 4, rid, top_p=1.5),
            lambda rid: self.request([1], 4, rid, stop_strings=["a"] * 9),   # over max_stop_strings
            lambda rid: self.request([1], 4, rid, stop_strings=["x" * 257]),
            lambda rid: self.request([1], 4, rid, stop_strings=[""]),
            lambda rid: self.request([1], 4, rid, routing_mode=pb.ROUTING_MODE_RADIAL),
            lambda rid: self.request([1], 4, rid + " with spaces"),
        ]
        i = 0
        while not self.stop.is_set():
            rid = "bad-%d" % i
            req = bad[i % len(bad)](rid)
            code, _ = self.stream(stub, req, timeout=30)
            # A bad request_id is replaced by a server-made one in the log.
            if " " in req.request_id:
                self.tally.add("invalid_bad_id", code)
            else:
                self.tally.add("invalid", code, rid)
            # The request's own checks come before the queue limit: even at
            # overload an invalid request is INVALID_ARGUMENT.
            if code != "INVALID_ARGUMENT":
                self.tally.fail("%s: expected INVALID_ARGUMENT, got %s" % (rid, code))
            i += 1
            self.stop.wait(0.05)

    def run_garbage(self):
        rng = random.Random(7)
        ch = self.channel()
        raw = ch.unary_stream("/radial.v1.Radial/Generate",
                              request_serializer=None, response_deserializer=None)
        i = 0
        while not self.stop.is_set():
            kind = i % 5
            try:
                self.garbage_once(kind, rng, raw, ch)
            except OSError:
                pass  # the server closed a broken connection: what it should do
            if kind in (0, 1, 4):
                self.tally.add("garbage_raw", {0: "random_bytes", 1: "bad_http2", 4: "idle"}[kind])
            i += 1
            self.stop.wait(0.02)

    def garbage_once(self, kind, rng, raw, ch):
        """One misbehaving call or connection of kind 0..4."""
        if kind == 0:      # random bytes on a raw socket
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                s.sendall(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4096))))
        elif kind == 1:    # the HTTP/2 preface, then junk frames
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
                for _ in range(8):
                    n = rng.randrange(0, 64)
                    s.sendall(struct.pack(">I", n)[1:] + bytes([rng.randrange(10),
                              rng.randrange(256)]) + struct.pack(">I", rng.randrange(1 << 31))
                              + bytes(rng.randrange(256) for _ in range(n)))
                try:
                    s.recv(4096)
                except OSError:
                    pass
        elif kind == 2:    # unparseable protobuf (field number 0 is invalid)
            body = b"\x00" + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
            try:
                for _ in raw(body, timeout=10):
                    pass
                code = "OK"
            except grpc.RpcError as e:
                code = e.code().name
            self.tally.add("garbage_proto", code)
        elif kind == 3:    # a message over max_message_bytes
            stub = pb_grpc.RadialStub(ch)
            code, _ = self.stream(stub, pb.GenerateRequest(text="x" * (MAX_MESSAGE_BYTES + 10)),
                                  timeout=10)
            self.tally.add("oversize", code)
            if code != "RESOURCE_EXHAUSTED":
                self.tally.fail("oversize message: got %s" % code)
        else:              # a connection that says nothing for a while
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                self.stop.wait(2)


    def run_monitor(self):
        ch = self.channel()
        hstub = health_grpc.HealthStub(ch)
        t0 = time.time()
        while not self.stop.is_set():
            try:
                with open("/proc/%d/status" % self.proc.pid) as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            self.rss_samples.append((time.time() - t0, int(line.split()[1])))
            except OSError:
                pass
            self.health_probes += 1
            try:
                r = hstub.Check(health_pb.HealthCheckRequest(service="radial.v1.Radial"),
                                timeout=2)
                if r.status != health_pb.HealthCheckResponse.SERVING:
                    self.health_failures += 1
            except grpc.RpcError:
                self.health_failures += 1
            try:
                m = self.metrics()
                self.kv_peak = max(self.kv_peak, self.metric(m, "radial_kv_cache_blocks_used") or 0)
                self.waiting_peak = max(self.waiting_peak,
                                        self.metric(m, "radial_num_requests_waiting") or 0)
            except OSError:
                self.health_failures += 1
            self.stop.wait(0.5)

    # --- phases ------------------------------------------------------------
