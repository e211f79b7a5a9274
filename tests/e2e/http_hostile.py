#!/usr/bin/env python3
"""Hostile and clumsy HTTP clients against radiald's HTTP API (raw sockets,
no client library): malformed JSON, wrong types, a body over the limit,
deeply nested JSON, headers over the limit, a client that never finishes
its body, a client that never reads its event stream, a client that
disconnects mid-stream; 32 concurrent streams while the slow ones stall.
After each, the server must still answer at once. Prints "ok <name>" or
"FAIL <name>: why"; exit status 1 when any failed.
usage: http_hostile.py PORT TOKEN METRICS_PORT IO_TIMEOUT_S"""
import json, socket, sys, threading, time, urllib.request

PORT, TOKEN, METRICS, IO_TIMEOUT = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
failed = False


def check(name, ok, why=""):
    global failed
    print(("ok " if ok else "FAIL ") + name + ("" if ok else ": " + why), flush=True)
    failed |= not ok


def request(method, path, body=b"", headers=None, timeout=30):
    """One HTTP/1.1 exchange on a fresh connection: (status, headers, body)."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    h = {"Host": "x", "Authorization": "Bearer " + TOKEN, "Content-Length": str(len(body)),
         "Content-Type": "application/json", "Connection": "close"}
    h.update(headers or {})
    try:
        s.sendall((f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) +
                   "\r\n").encode() + body)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered (413) and closed before taking it all
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1]) if head else 0
    return status, head.decode("latin-1"), rest


def post(body, path="/v1/completions", **kw):
    return request("POST", path, body if isinstance(body, bytes) else body.encode(), **kw)


def error_param(rest):
    try:
        return json.loads(rest)["error"].get("param")
    except Exception:
        return "<no error object>"


def healthy(name):
    t0 = time.time()
    st, _, _ = request("GET", "/health", timeout=5)
    check(name + ": still serving", st == 200 and time.time() - t0 < 2, f"status {st}")


def running():
    text = urllib.request.urlopen(f"http://127.0.0.1:{METRICS}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith("radial_num_requests_running"):
            return float(line.split()[-1])
    return -1


st, _, rest = post("{\"prompt\": ")
check("malformed JSON is a 400", st == 400 and b"not valid JSON" in rest, f"{st} {rest[:200]}")
st, _, rest = post(json.dumps({"prompt": "x", "max_tokens": "many"}))
check("a wrong type is a 400 naming the field", st == 400 and error_param(rest) == "max_tokens", f"{st} {rest[:200]}")
st, _, rest = post("{\"prompt\": " + "[" * 100000 + "]" * 100000 + "}")
check("100000-deep JSON is a 400, no crash", st == 400, f"{st} {rest[:200]}")
st, _, rest = post(b"{\"prompt\": \"" + b"a" * (5 << 20) + b"\"}")
check("a body over the limit is a 413", st == 413, f"{st} {rest[:200]}")
st, _, rest = request("GET", "/v1/models", headers={"X-Big": "y" * 20000})
check("headers over 16 KiB are refused", st == 431, f"{st}")
st, _, rest = post(json.dumps({"prompt": "x", "max_tokens": 2, "unknown_field": {"a": [1, 2]}}))
check("unknown fields are ignored", st == 200, f"{st} {rest[:200]}")
st, _, _ = request("GET", "/v1/models", headers={"Authorization": "Bearer nope"})
check("a wrong token is a 401", st == 401)
st, _, _ = request("GET", "/health", headers={"Authorization": ""})
check("/health needs no token", st == 200)
healthy("after the bad requests")

# A client that sends its headers and part of the body, then nothing.
s = socket.create_connection(("127.0.0.1", PORT))
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"prompt\":")
t0 = time.time()
s.settimeout(IO_TIMEOUT + 10)
closed = s.recv(100) == b""
check("a body that never comes is dropped after the read timeout",
      closed and time.time() - t0 < IO_TIMEOUT + 5, f"after {time.time() - t0:.1f} s")
s.close()
healthy("after a stalled body")

# Slow readers: each asks for a long stream (16 choices x 480 tokens, about
# 2 MB of events) and never reads; meanwhile 32 normal streams run.
slow = []
for i in range(3):
    c = socket.create_connection(("127.0.0.1", PORT))
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    body = json.dumps({"prompt": "Once upon a time", "max_tokens": 480, "n": 16, "temperature": 0.8,
                       "ignore_eos": True, "stream": True}).encode()
    c.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode() +
              b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    slow.append(c)
results = [None] * 32


def stream_one(i):
    st, _, rest = post(json.dumps({"prompt": f"Tom had {i} cats", "max_tokens": 16, "temperature": 0,
                                   "stream": True}))
    events = [l for l in rest.split(b"\n") if l.startswith(b"data: ")]
    results[i] = (st, events[-1] == b"data: [DONE]" if events else False)


threads = [threading.Thread(target=stream_one, args=(i,)) for i in range(32)]
t0 = time.time()
for t in threads: t.start()
for t in threads: t.join(60)
check("32 concurrent streams finish while 3 clients stall", all(r == (200, True) for r in results),
      str(results[:4]))
check("... within the time the stalled ones would take", time.time() - t0 < 30, f"{time.time() - t0:.1f} s")
# The stalled clients' writes time out: their requests are cancelled.
deadline = time.time() + IO_TIMEOUT + 30
while time.time() < deadline and running() > 0:
    time.sleep(0.2)
check("stalled readers hold no engine resources after the write timeout", running() == 0, f"running {running()}")
for c in slow: c.close()
healthy("after slow readers")

# A client that disconnects mid-stream cancels its request at once.
c = socket.create_connection(("127.0.0.1", PORT))
body = json.dumps({"prompt": "Once upon a time", "max_tokens": 480, "n": 8, "ignore_eos": True,
                   "temperature": 0.8, "stream": True}).encode()
c.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode() +
          b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
c.recv(4096)
c.close()
t0 = time.time()
while time.time() - t0 < 5 and running() > 0:
    time.sleep(0.02)
check("a client gone mid-stream is cancelled within a moment", running() == 0,
      f"running {running()} after {time.time() - t0:.2f} s")
healthy("at the end")
sys.exit(1 if failed else 0)
