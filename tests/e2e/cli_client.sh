#!/usr/bin/env bash
# End-to-end test of the gRPC client side against a real radiald on loopback:
# `radial health`, `radial generate --server` (same tokens as local
# generation), `radial bench`, the Python example, error reporting, and a
# clean SIGTERM shutdown. Bounded: every step has a timeout, and the server is
# killed on exit.
# usage: cli_client.sh RADIAL_BINARY SOURCE_DIR
set -uo pipefail
RADIAL=$1
SRC=$2
RADIALD=$(dirname "$RADIAL")/../server/radiald
MODEL=$SRC/models/stories260K
PY=/usr/bin/python3
TMP=$(mktemp -d)
. "$SRC/tests/e2e/lib.sh"
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -KILL "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

if [ ! -x "$RADIALD" ] || ! "$RADIAL" health --help >/dev/null 2>&1; then
  echo "SKIP: radiald or the gRPC client is not built (RADIAL_BUILD_SERVER=OFF)"
  exit 0
fi

PORT=$(free_port)
METRICS_PORT=$(free_port)
# The shipped router is not under test here: serve full depth (--no-router).
SERVER=127.0.0.1:$PORT
"$RADIALD" --model "$MODEL" --no-router --listen "$SERVER" --metrics-listen "127.0.0.1:$METRICS_PORT" \
  >"$TMP/radiald.log" 2>&1 &
SERVER_PID=$!

# Wait (at most 30 s) until the server reports SERVING.
check "radiald becomes SERVING" wait_serving "$SERVER" "$SERVER_PID"
if [ "$fails" -ne 0 ]; then
  echo "radiald log:"; cat "$TMP/radiald.log"
  finish; exit 1
fi
"$RADIAL" health --server "$SERVER" --timeout 5 >"$TMP/health" 2>&1
check "health prints SERVING" grep -qx SERVING "$TMP/health"
"$RADIAL" health --server "$SERVER" --service "" >"$TMP/health" 2>&1
check "health of the whole server: SERVING" [ $? -eq 0 ]

# Remote generation gives the tokens of local generation (greedy, 60 tokens).
timeout 60 "$RADIAL" generate --server "$SERVER" --prompt "Once upon a time" --max-tokens 60 --json >"$TMP/remote.json"
check "generate --server --json exits 0" [ $? -eq 0 ]
timeout 60 "$RADIAL" generate --model "$MODEL" --no-router --prompt "Once upon a time" --max-tokens 60 --json >"$TMP/local.json"
check "local generate --json exits 0" [ $? -eq 0 ]
"$PY" - "$TMP/remote.json" "$TMP/local.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
l = json.load(open(sys.argv[2]))
assert len(r["tokens"]) == 60, len(r["tokens"])
for k in ("prompt_tokens", "tokens", "text", "depth", "path", "finish_reason", "mode", "num_layers"):
    assert r[k] == l[k], (k, r[k], l[k])
assert r["mean_depth"] == l["mean_depth"] == 5
assert r["ttft_seconds"] is not None and r["ttft_seconds"] >= 0
PY
check "remote tokens equal local tokens" [ $? -eq 0 ]

# Streaming: the text and a summary line on stderr.
timeout 60 "$RADIAL" generate --server "$SERVER" --prompt "Once upon a time" --max-tokens 60 >"$TMP/out" 2>"$TMP/err"
check "generate --server streams exits 0" [ $? -eq 0 ]
check "generate --server streams the text" grep -q "Once upon a time, there was a little girl named Lily" "$TMP/out"
check "generate --server prints a summary line" grep -q "60 tokens in .* s: TTFT .* ms, decode .* tok/s, mean depth 5.00 of 5 layers" "$TMP/err"

# Sampling with a seed is deterministic across the wire as well.
timeout 60 "$RADIAL" generate --server "$SERVER" --prompt "The dog" --max-tokens 40 --temperature 0.8 --top-p 0.9 --seed 7 --json >"$TMP/s1.json"
timeout 60 "$RADIAL" generate --model "$MODEL" --no-router --prompt "The dog" --max-tokens 40 --temperature 0.8 --top-p 0.9 --seed 7 --json >"$TMP/s2.json"
"$PY" -c "import json,sys; a=json.load(open('$TMP/s1.json')); b=json.load(open('$TMP/s2.json')); sys.exit(a['tokens']!=b['tokens'])"
check "seeded sampling: remote equals local" [ $? -eq 0 ]

# Logit bias and OpenAI's penalties travel over gRPC: remote equals local,
# and they change the text (token 403 is "Once", banned here).
SAMPLING=(--prompt "Once upon a time" --max-tokens 40 --presence-penalty 0.8 --frequency-penalty 1.2 --logit-bias 403=-100 --logit-bias 261=1.5 --json)
timeout 60 "$RADIAL" generate --server "$SERVER" "${SAMPLING[@]}" >"$TMP/p1.json"
timeout 60 "$RADIAL" generate --model "$MODEL" --no-router "${SAMPLING[@]}" >"$TMP/p2.json"
"$PY" - "$TMP/p1.json" "$TMP/p2.json" "$TMP/local.json" <<'PY'
import json, sys
a, b, plain = (json.load(open(f)) for f in sys.argv[1:])
assert a["tokens"] == b["tokens"], (a["tokens"], b["tokens"])
assert 403 not in a["tokens"] and a["tokens"] != plain["tokens"][:40]
PY
check "logit bias and penalties: remote equals local, and they apply" [ $? -eq 0 ]
timeout 60 "$RADIAL" generate --server "$SERVER" --prompt "x" --logit-bias 403=500 >/dev/null 2>"$TMP/err"
check "an out-of-range logit bias is INVALID_ARGUMENT (exit 1)" [ $? -eq 1 ]
check "... naming the field" grep -q "INVALID_ARGUMENT: logit_bias of token 403 must be in \[-100, 100\]" "$TMP/err"

# Log-probabilities over gRPC: the sampled tokens' (3 alternatives) and the
# prompt's own (2 alternatives), remote equal to local, each list best first
# and consistent with the token's own figure; usage errors.
for where in remote local; do
  target=(--server "$SERVER")
  [ $where = local ] && target=(--model "$MODEL" --no-router)
  timeout 60 "$RADIAL" generate "${target[@]}" --prompt "The dog ran" --max-tokens 12 \
    --temperature 0.8 --top-p 0.9 --seed 5 --logprobs 3 --prompt-logprobs 2 --json >"$TMP/lp_$where.json"
  check "generate --logprobs --prompt-logprobs ($where) exits 0" [ $? -eq 0 ]
  timeout 60 "$RADIAL" generate "${target[@]}" --prompt "The dog ran" --max-tokens 6 --logprobs 0 \
    --json >"$TMP/lpg_$where.json"
done
"$PY" - "$TMP/lp_remote.json" "$TMP/lp_local.json" "$TMP/lpg_remote.json" "$TMP/lpg_local.json" <<'PY'
import json, math, sys
r, l, g, gl = (json.load(open(f)) for f in sys.argv[1:])
assert r["tokens"] == l["tokens"] and len(r["tokens"]) == 12
n = len(r["prompt_tokens"])
assert len(r["logprobs"]) == 12 and len(r["top_logprobs"]) == 12
assert len(r["prompt_logprobs"]) == n and r["prompt_logprobs"][0] is None
assert r["top_prompt_logprobs"][0] is None
for a, b in ((r["logprobs"], l["logprobs"]), (r["prompt_logprobs"][1:], l["prompt_logprobs"][1:])):
    assert all(abs(x - y) < 1e-5 for x, y in zip(a, b)), (a, b)
def check_top(tok, lp, top, k):
    # k entries, best first (null: -inf); the token's own value where it is
    # among them, else no more than the last of them.
    vals = [-math.inf if x is None else x for _, x in top]
    assert len(top) == k and vals == sorted(vals, reverse=True), top
    assert lp is not None and lp <= 0, lp
    if tok in [i for i, _ in top]:
        assert abs(dict(zip([i for i, _ in top], vals))[tok] - lp) < 1e-6, (tok, lp, top)
    else:
        assert lp <= vals[-1] + 1e-6, (tok, lp, top)
for tok, lp, top in zip(r["tokens"], r["logprobs"], r["top_logprobs"]):
    check_top(tok, lp, top, 3)
for tok, lp, top in zip(r["prompt_tokens"][1:], r["prompt_logprobs"][1:], r["top_prompt_logprobs"][1:]):
    check_top(tok, lp, top, 2)
assert g["tokens"] == gl["tokens"] and g["logprobs"] == gl["logprobs"]
assert all(x is not None and x <= 0 for x in g["logprobs"])
assert all(t == 0 for t in map(len, g["top_logprobs"]))
assert "prompt_logprobs" not in g
PY
check "logprobs: remote equals local; ordered, sized, the prompt's first null" [ $? -eq 0 ]
# JSON mode over gRPC: remote equals local, and the text is a JSON object
# (biases toward the byte tokens of '"' and '}' make it close in the budget).
for where in remote local; do
  target=(--server "$SERVER")
  [ $where = local ] && target=(--model "$MODEL" --no-router)
  timeout 60 "$RADIAL" generate "${target[@]}" --prompt "Lily wrote" --max-tokens 120 --temperature 1 \
    --seed 9 --logit-bias 37=5 --logit-bias 128=10 --json-object --json >"$TMP/jo_$where.json"
done
"$PY" - "$TMP/jo_remote.json" "$TMP/jo_local.json" <<'PY'
import json, sys
r, l = (json.load(open(f)) for f in sys.argv[1:])
assert r["tokens"] == l["tokens"] and r["text"] == l["text"], (r["text"], l["text"])
assert r["finish_reason"] == "stop", r
assert isinstance(json.loads(r["text"]), dict), r["text"]
PY
check "--json-object: remote equals local, the text a JSON object" [ $? -eq 0 ]
cat >"$TMP/schema.json" <<'JSON'
{"type": "object", "properties": {"mood": {"enum": ["happy", "sad"]}, "ok": {"type": "boolean"},
 "n": {"type": "integer"}}, "required": ["mood", "ok"], "additionalProperties": false}
JSON
for where in remote local; do
  target=(--server "$SERVER")
  [ $where = local ] && target=(--model "$MODEL" --no-router)
  timeout 60 "$RADIAL" generate "${target[@]}" --prompt "Lily wrote" --max-tokens 300 --temperature 1 \
    --seed 4 --json-schema "$TMP/schema.json" --json >"$TMP/js_$where.json"
done
"$PY" - "$TMP/js_remote.json" "$TMP/js_local.json" <<'PY'
import json, sys
r, l = (json.load(open(f)) for f in sys.argv[1:])
assert r["tokens"] == l["tokens"] and r["text"] == l["text"], (r["text"], l["text"])
assert r["finish_reason"] == "stop", r
v = json.loads(r["text"])
assert list(v)[:2] == ["mood", "ok"] and v["mood"] in ("happy", "sad") and isinstance(v["ok"], bool), v
PY
check "--json-schema: remote equals local, the text valid against the schema" [ $? -eq 0 ]
echo '{"type": "object", "properties": {"a": {"type": "number", "multipleOf": 2}}}' >"$TMP/bad-schema.json"
timeout 60 "$RADIAL" generate --server "$SERVER" --prompt "x" --json-schema "$TMP/bad-schema.json" \
  >/dev/null 2>"$TMP/err"
check "a schema with a keyword radiald cannot hold is INVALID_ARGUMENT (exit 1)" [ $? -eq 1 ]
check "... naming the keyword and where it is" grep -q 'INVALID_ARGUMENT: json_schema: "multipleOf".*/properties/a' "$TMP/err"
timeout 60 "$RADIAL" generate --server "$SERVER" --prompt "x" --json-schema "$TMP/missing.json" \
  >/dev/null 2>"$TMP/err"
check "--json-schema with a missing file is a usage error (exit 2)" [ $? -eq 2 ]
timeout 60 "$RADIAL" generate --server "$SERVER" --prompt "x" --logprobs 21 --json >/dev/null 2>"$TMP/err"
check "--logprobs 21 is INVALID_ARGUMENT (exit 1)" [ $? -eq 1 ]
check "... naming the field" grep -q "INVALID_ARGUMENT: logprobs must be in \[0, 20\]" "$TMP/err"
timeout 60 "$RADIAL" generate --server "$SERVER" --prompt "x" --logprobs 2 >/dev/null 2>"$TMP/err"
check "--logprobs without --json is a usage error (exit 2)" [ $? -eq 2 ]
check "... saying so" grep -q "logprobs needs --json" "$TMP/err"

# Bench: 16 requests, 4 in flight, exactly 16 output tokens each.
timeout 120 "$RADIAL" bench --server "$SERVER" --concurrency 4 --requests 16 --max-tokens 16 --prompt-len 8:32 \
  --json - >"$TMP/bench.json" 2>"$TMP/bench.err"
check "bench exits 0" [ $? -eq 0 ]
"$PY" - "$TMP/bench.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["requests"]["ok"] == 16 and j["requests"]["failed"] == 0, j["requests"]
assert j["requests"]["by_status"] == {"OK": 16}, j["requests"]
assert j["tokens"]["output"] == 16 * 16, j["tokens"]
assert 16 * 8 <= j["tokens"]["prompt"] <= 16 * 32, j["tokens"]
assert j["load"] == {"type": "closed", "concurrency": 4}, j["load"]
for k in ("ttft_ms", "itl_ms", "e2e_ms"):
    s = j[k]
    assert s["count"] > 0 and 0 <= s["p50"] <= s["p90"] <= s["p99"], (k, s)
assert j["itl_ms"]["count"] == 16 * 15, j["itl_ms"]
assert j["throughput"]["requests_per_s"] > 0 and j["throughput"]["output_tokens_per_s"] > 0
assert j["mean_depth"] == 5 and abs(j["compute_fraction"] - 1) < 1e-6
PY
check "bench JSON: 16 ok, lengths and latencies" [ $? -eq 0 ]
check "bench report on stderr with --json -" grep -q "16 ok, 0 failed" "$TMP/bench.err"

# The same 22-token prompt twice: the second finds its first 16 positions cached.
for k in 1 2; do
  timeout 60 "$RADIAL" generate --server "$SERVER" --prompt "Once upon a time, there was a little girl named Lily who loved to play" \
    --max-tokens 8 --json >"$TMP/cached$k.json"
done
"$PY" -c "import json,sys; a=json.load(open('$TMP/cached1.json')); b=json.load(open('$TMP/cached2.json')); sys.exit(not (len(b['prompt_tokens']) == 22 and b['cached_prompt_tokens'] == 16 and a['tokens'] == b['tokens']))"
check "generate --json: a repeated prompt reports cached_prompt_tokens 16, same tokens" [ $? -eq 0 ]

# Bench with a shared prefix, one request at a time: 40 common tokens are 2
# whole 16-entry KV blocks, which every request after the first finds cached.
timeout 120 "$RADIAL" bench --server "$SERVER" --requests 8 --max-tokens 4 --prompt-len 48 --shared-prefix 40 \
  --json - >"$TMP/bench_prefix.json" 2>"$TMP/bench_prefix.err"
check "bench --shared-prefix exits 0" [ $? -eq 0 ]
"$PY" -c "import json,sys; j=json.load(open('$TMP/bench_prefix.json')); sys.exit(not (j['tokens']['prompt_cached'] == 7 * 32 and j['config']['shared_prefix'] == 40))"
check "bench --shared-prefix: the server's prefix cache served 7 x 32 prompt tokens" [ $? -eq 0 ]
check "bench report shows the prefix cache" grep -q "prefix cache  224 of the prompt tokens" "$TMP/bench_prefix.err"

# Open loop with a duration: bounded, and every request succeeds.
timeout 60 "$RADIAL" bench --server "$SERVER" --rate 50 --duration 1 --max-tokens 8 --prompt-len 16 \
  --json "$TMP/open.json" >"$TMP/open.txt" 2>/dev/null
check "bench --rate exits 0" [ $? -eq 0 ]
"$PY" -c "import json,sys; j=json.load(open('$TMP/open.json')); r=j['requests']; sys.exit(not (r['ok']>0 and r['failed']==0 and j['load']['type']=='poisson'))"
check "bench --rate JSON" [ $? -eq 0 ]

# The Python example, with stubs from gen_python_stubs.sh.
bash "$SRC/examples/gen_python_stubs.sh" "$TMP/stubs" >/dev/null
check "gen_python_stubs.sh writes the stubs" [ -f "$TMP/stubs/radial/v1/radial_pb2_grpc.py" ]
timeout 60 "$PY" "$SRC/examples/python_client.py" --server "$SERVER" --stubs "$TMP/stubs" \
  --prompt "Once upon a time" --max-tokens 60 >"$TMP/py.out" 2>"$TMP/py.err"
check "python_client.py exits 0" [ $? -eq 0 ]
check "python_client.py prints ModelInfo" grep -q "num_layers: 5" "$TMP/py.out"
check "python_client.py streams the text" grep -q "Once upon a time, there was a little girl named Lily" "$TMP/py.out"
check "python_client.py prints per-token depth" [ "$(grep -cE '^ +[0-9]+ +5 0,1,2,3,4 ' "$TMP/py.out")" -eq 60 ]
check "python_client.py prints the finish reason" grep -q "finish_reason: FINISH_REASON_LENGTH" "$TMP/py.out"
# Without --stubs it generates them into a temporary directory.
timeout 60 "$PY" "$SRC/examples/python_client.py" --server "$SERVER" --max-tokens 4 >/dev/null 2>"$TMP/py.err"
check "python_client.py generates its stubs" [ $? -eq 0 ]

# Bad input: exit 1 and the gRPC code with the server's message.
expect_error "top-p 0" 1 "radial generate: INVALID_ARGUMENT: top_p" -- generate --server "$SERVER" --prompt hi --top-p 0
expect_error "negative temperature" 1 "radial generate: INVALID_ARGUMENT: temperature" -- generate --server "$SERVER" --prompt hi --temperature -1
expect_error "forward without a router" 1 "INVALID_ARGUMENT" -- generate --server "$SERVER" --prompt hi --mode forward
expect_error "max-tokens 0" 1 "max_tokens must be at least 1" -- generate --server "$SERVER" --prompt hi --max-tokens 0
expect_error "unknown mode" 1 "unknown routing mode" -- generate --server "$SERVER" --prompt hi --mode sideways
expect_error "model option with --server" 2 "does not apply with --server" -- generate --server "$SERVER" --model "$MODEL" --prompt hi
expect_error "unreachable server" 1 "radial generate: UNAVAILABLE" -- generate --server 127.0.0.1:1 --prompt hi
expect_error "health: unreachable" 1 "radial health: UNAVAILABLE" -- health --server 127.0.0.1:1
expect_error "health: unknown service" 1 "NOT_FOUND" -- health --server "$SERVER" --service no.such.Service
expect_error "bench without --server" 2 "--server HOST:PORT is required" -- bench --requests 1
expect_error "bench: bad range" 2 "--prompt-len expects N or LO:HI" -- bench --server "$SERVER" --prompt-len 9:3
expect_error "bench: shared prefix too long" 2 "--shared-prefix expects 0..8" -- bench --server "$SERVER" --prompt-len 8:32 --shared-prefix 9
expect_error "bench: longer than the context" 2 "context length" -- bench --server "$SERVER" --prompt-len 500 --max-tokens 100
expect_error "bench: unreachable" 1 "radial bench: UNAVAILABLE" -- bench --server 127.0.0.1:1 --requests 1
expect_error "deadline" 1 "radial generate: DEADLINE_EXCEEDED" -- generate --server "$SERVER" --prompt hi --max-tokens 500 --ignore-eos --timeout 0.005
timeout 60 "$PY" "$SRC/examples/python_client.py" --server "$SERVER" --stubs "$TMP/stubs" --top-p 0 >/dev/null 2>"$TMP/py.err"
check "python_client.py: error exits 1" [ $? -eq 1 ]
check "python_client.py: error names the code" grep -q "INVALID_ARGUMENT" "$TMP/py.err"

# Ctrl-C stops a bench: the requests in flight are cancelled, the report is
# still written, and the exit code says that requests failed.
timeout 60 "$RADIAL" bench --server "$SERVER" --concurrency 2 --duration 30 --max-tokens 400 --prompt-len 16 \
  --json "$TMP/int.json" >/dev/null 2>&1 &
BENCH_PID=$!
sleep 1
kill -INT "$BENCH_PID"
wait "$BENCH_PID"
check "interrupted bench exits 1" [ $? -eq 1 ]
"$PY" - "$TMP/int.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
r = j["requests"]
assert j["interrupted"] is True, j
assert r["by_status"].get("CANCELLED", 0) >= 1, r
assert r["sent"] == r["ok"] + r["failed"], r
assert j["duration_s"] < 10, j["duration_s"]
PY
check "interrupted bench: report with CANCELLED requests" [ $? -eq 0 ]

# SIGTERM: radiald drains and exits 0 (within 30 s).
kill -TERM "$SERVER_PID"
rc=
for _ in $(seq 1 300); do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then wait "$SERVER_PID"; rc=$?; break; fi
  sleep 0.1
done
check "radiald exits 0 on SIGTERM (exit ${rc:-none})" [ "${rc:-1}" -eq 0 ]
[ -n "$rc" ] && SERVER_PID=

if [ "$fails" -ne 0 ]; then echo "radiald log:"; tail -n 30 "$TMP/radiald.log"; fi
finish
