#!/usr/bin/env bash
# radiald serving on a backend, end to end over gRPC (scripts/gpu-check.sh's
# `serve` stage runs it on the GPU machine with the cuda backend; with `cpu`
# it runs anywhere, which is how the script itself is checked):
#   1. radiald (dtype default for the backend: bf16 on cuda; the shipped
#      forward-mode router) becomes SERVING; the time it took is printed
#   2. a streamed generation with per-token depth
#   3. 8 greedy requests, one at a time, then all 8 at once: each gets its
#      48 tokens, and its tokens and path are compared with its solo run.
#      In bf16 the differences are counted and printed, not failed: a row's
#      projections run in the GEMV kernel or cuBLAS by the batch's size,
#      whose fp32 sums differ in order, and one bf16 rounding apart can
#      flip a near-tie later on. Step 6 requires identity in f32.
#   4. /metrics: radial_token_depth counts exactly the tokens generated so
#      far, and the per-layer counters are there
#   5. SIGTERM while 16 long requests run: each still gets all its tokens,
#      radiald exits 0
#   6. a second radiald in f32 with the router: the solo and concurrent
#      runs of step 3 identical (tokens and paths), and its greedy tokens
#      and paths equal local generation on the CPU backend (the reference
#      path), in forward mode and in full mode
# usage: gpu-serve-check.sh RADIAL RADIALD [BACKEND]
#   RADIAL, RADIALD: the binaries (wrappers that set their library path are
#   fine: they must exec the real program, so that signals reach it)
#   BACKEND: cuda (default) or cpu
set -uo pipefail
RADIAL=$1
RADIALD=$2
BACKEND=${3:-cuda}
SRC=$(cd "$(dirname "$0")/.." && pwd)
MODEL=$SRC/models/stories260K
PY=${PYTHON:-python3}
TMP=$(mktemp -d)
. "$SRC/tests/e2e/lib.sh"
# lib.sh's free_port uses Debian's /usr/bin/python3; use whichever is here.
free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

metric() {  # metric PORT NAME: the sum of NAME's samples on /metrics
  "$PY" - "$1" "$2" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode()
total, seen = 0.0, False
for line in text.splitlines():
    if line.startswith(sys.argv[2] + " ") or line.startswith(sys.argv[2] + "{"):
        total += float(line.rsplit(" ", 1)[1]); seen = True
print(int(total) if seen and total == int(total) else (total if seen else "absent"))
PY
}

start_server() {  # start_server NAME ARGS...: sets SERVER, METRICS, SERVER_PID
  local name=$1; shift
  local port mport
  port=$(free_port); mport=$(free_port)
  SERVER=127.0.0.1:$port
  METRICS=$mport
  local t0=$SECONDS
  "$RADIALD" --model "$MODEL" --backend "$BACKEND" --listen "$SERVER" \
    --metrics-listen "127.0.0.1:$mport" "$@" >"$TMP/$name.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  if check "$name: radiald --backend $BACKEND $* becomes SERVING" wait_serving "$SERVER" "$SERVER_PID" 120; then
    echo "  $name: SERVING after $((SECONDS - t0)) s"
  else
    echo "  $name: radiald log:"; tail -n 40 "$TMP/$name.log"
    return 1
  fi
}

echo "== serve check: backend $BACKEND"
if ! start_server bf16; then finish; exit 1; fi
grep -iE "backend|kv|pool|memory" "$TMP/bf16.log" | head -n 8 | sed 's/^/  log: /'
echo "  shared libraries radiald has loaded (for the container image's runtime list):"
awk '$6 ~ /\.so/ {print $6}' "/proc/$SERVER_PID/maps" 2>/dev/null | sort -u | sed 's/^/    /'

# 2. Streaming with per-token depth.
timeout 120 "$RADIAL" generate --server "$SERVER" --prompt "Once upon a time" --max-tokens 60 \
  --ignore-eos --show-depth >"$TMP/stream.out" 2>"$TMP/stream.err"
check "streamed generation exits 0" [ $? -eq 0 ]
check "streamed generation prints text" [ -s "$TMP/stream.out" ]
check "streamed generation reports the mean depth" grep -q "60 tokens in .*mean depth" "$TMP/stream.err"
head -c 600 "$TMP/stream.out" | sed 's/^/  stream: /'; echo
sed 's/^/  stream: /' "$TMP/stream.err"
generated=60

# 3. Solo, then concurrent, greedy requests.
PROMPTS=("Once upon a time" "The little dog" "Lily and Tom" "One day, a bird" "The sun was" \
  "Sam had a red ball" "In the park" "Mom said")
solo_vs_concurrent() {  # solo_vs_concurrent NAME STRICT(0|1): step 3 against $SERVER
  local name=$1 strict=$2 i j wait_rc=0 pids=()
  for i in "${!PROMPTS[@]}"; do
    timeout 120 "$RADIAL" generate --server "$SERVER" --prompt "${PROMPTS[$i]}" --max-tokens 48 \
      --ignore-eos --json >"$TMP/$name-solo$i.json" 2>>"$TMP/$name-solo.err" || echo "  $name: solo request $i failed"
  done
  for i in "${!PROMPTS[@]}"; do
    timeout 120 "$RADIAL" generate --server "$SERVER" --prompt "${PROMPTS[$i]}" --max-tokens 48 \
      --ignore-eos --json >"$TMP/$name-conc$i.json" 2>>"$TMP/$name-conc.err" &
    pids+=($!)
  done
  for j in "${pids[@]}"; do wait "$j" || wait_rc=1; done
  check "$name: 8 concurrent requests exit 0" [ $wait_rc -eq 0 ]
  "$PY" - "$TMP" "$name" "${#PROMPTS[@]}" "$strict" <<'PY'
import json, sys, os
d, name, n, strict = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
same, diff = 0, []
for i in range(n):
    a = json.load(open(os.path.join(d, "%s-solo%d.json" % (name, i))))
    b = json.load(open(os.path.join(d, "%s-conc%d.json" % (name, i))))
    assert len(a["tokens"]) == len(b["tokens"]) == 48, (i, len(a["tokens"]), len(b["tokens"]))
    if a["tokens"] == b["tokens"] and a["path"] == b["path"]:
        same += 1
    else:
        k = next(k for k in range(48) if a["tokens"][k] != b["tokens"][k] or a["path"][k] != b["path"][k])
        diff.append("request %d parts at token %d" % (i, k))
print("  %s: concurrent vs solo: %d of %d identical (tokens and paths)%s%s" % (
    name, same, n, "; " + ", ".join(diff) if diff else "", "" if strict else " (reported, not required)"))
depths = [x for i in range(n) for x in json.load(open(os.path.join(d, "%s-solo%d.json" % (name, i))))["depth"]]
print("  %s: solo mean depth %.3f over %d tokens" % (name, sum(depths) / len(depths), len(depths)))
sys.exit(0 if same == n or not strict else 3)
PY
  check "$name: concurrent greedy requests get their tokens$([ "$strict" = 1 ] && echo ", equal to their solo runs")" [ $? -eq 0 ]
}
# Strict on the CPU backend (batch-invariant by design), reported in bf16.
solo_vs_concurrent bf16 "$([ "$BACKEND" = cpu ] && echo 1 || echo 0)"
generated=$((generated + 2 * 8 * 48))

# 4. Metrics.
count=$(metric "$METRICS" radial_token_depth_count)
echo "  metrics: radial_token_depth_count $count (tokens generated: $generated)"
check "radial_token_depth counts every generated token" [ "$count" = "$generated" ]
executed=$(metric "$METRICS" radial_layer_tokens_executed_total)
echo "  metrics: radial_layer_tokens_executed_total (all layers) $executed"
check "per-layer counters are exported" [ "$executed" != absent ]
check "per-layer counters count passes" [ "${executed%.*}" -gt 0 ] 2>/dev/null

# 5. SIGTERM drain with 16 long requests in flight.
DRAIN_PIDS=()
for i in $(seq 0 15); do
  timeout 120 "$RADIAL" generate --server "$SERVER" --prompt "${PROMPTS[$((i % 8))]}" \
    --max-tokens 480 --ignore-eos --json >"$TMP/drain$i.json" 2>"$TMP/drain$i.err" &
  DRAIN_PIDS+=($!)
done
running=0
for _ in $(seq 1 400); do  # until they run (at most about 20 s)
  running=$(metric "$METRICS" radial_num_requests_running)
  [ "$running" != 0 ] && break
  sleep 0.02
done
kill -TERM "$SERVER_PID"
echo "  drain: requests running just before SIGTERM: $running"
check "requests were running when SIGTERM came" [ "$running" != 0 ]
drain_ok=0
for i in "${!DRAIN_PIDS[@]}"; do
  wait "${DRAIN_PIDS[$i]}" || { drain_ok=1; echo "  drain: request $i failed: $(cat "$TMP/drain$i.err")"; }
done
check "requests in flight at SIGTERM finish" [ $drain_ok -eq 0 ]
"$PY" - "$TMP" <<'PY'
import json, sys, os
for i in range(16):
    j = json.load(open(os.path.join(sys.argv[1], "drain%d.json" % i)))
    assert len(j["tokens"]) == 480 and j["finish_reason"] == "length", (i, len(j["tokens"]), j["finish_reason"])
PY
check "each drained request got all 480 tokens" [ $? -eq 0 ]
timeout 60 tail --pid="$SERVER_PID" -f /dev/null
wait "$SERVER_PID"
server_rc=$?
check "radiald exits 0 after the drain" [ $server_rc -eq 0 ]
tail -n 3 "$TMP/bf16.log" | sed 's/^/  log: /'

# 6. f32 with the router: solo and concurrent runs identical; the server's
# tokens and paths are the CPU reference's, in forward and in full mode.
if start_server f32 --dtype f32; then
  solo_vs_concurrent f32 1
  for mode in forward full; do
    for i in 0 1 2; do
      timeout 120 "$RADIAL" generate --server "$SERVER" --prompt "${PROMPTS[$i]}" --max-tokens 100 \
        --mode $mode --ignore-eos --json >"$TMP/f32_remote$i.json" 2>/dev/null
      timeout 120 "$RADIAL" generate --model "$MODEL" --prompt "${PROMPTS[$i]}" --max-tokens 100 \
        --mode $mode --ignore-eos --json >"$TMP/f32_local$i.json" 2>/dev/null
      "$PY" -c "import json,sys; a=json.load(open('$TMP/f32_remote$i.json')); b=json.load(open('$TMP/f32_local$i.json')); sys.exit(a['tokens']!=b['tokens'] or a['path']!=b['path'] or len(a['tokens'])!=100)"
      check "f32 server tokens and paths equal the CPU's ($mode mode, prompt $i)" [ $? -eq 0 ]
    done
  done
  kill -TERM "$SERVER_PID"; wait "$SERVER_PID"
  check "f32 radiald exits 0" [ $? -eq 0 ]
fi
finish
