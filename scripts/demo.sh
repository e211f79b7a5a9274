#!/usr/bin/env bash
# The main job, end to end: installs the dependencies, builds, starts radiald
# on the default model (models/stories260K) on loopback, streams a generation
# through the gRPC client with each token's depth, asks the same over the
# OpenAI-compatible HTTP API with curl, prints a few of the server's
# Prometheus metrics, and stops the server (SIGTERM: it drains).
#   scripts/demo.sh ["prompt text"]
set -euo pipefail
cd "$(dirname "$0")/.."
PROMPT=${1:-"Once upon a time"}
GRPC_PORT=${RADIAL_DEMO_PORT:-50051}
METRICS_PORT=${RADIAL_DEMO_METRICS_PORT:-9090}
HTTP_PORT=${RADIAL_DEMO_HTTP_PORT:-8080}

bash scripts/install-deps.sh
bash scripts/build.sh

LOG=$(mktemp)
build/server/radiald --model models/stories260K --listen 127.0.0.1:$GRPC_PORT \
  --http-listen 127.0.0.1:$HTTP_PORT --metrics-listen 127.0.0.1:$METRICS_PORT 2>"$LOG" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 1 100); do
  build/tools/radial health --server 127.0.0.1:$GRPC_PORT >/dev/null 2>&1 && break
  if ! kill -0 $PID 2>/dev/null; then cat "$LOG" >&2; exit 1; fi
  sleep 0.1
done
echo "== radiald is serving on 127.0.0.1:$GRPC_PORT (metrics on :$METRICS_PORT); its log:"
sed 's/^/   /' "$LOG"
echo
echo "== radial generate --server 127.0.0.1:$GRPC_PORT --show-depth  (each token's depth in brackets)"
build/tools/radial generate --server 127.0.0.1:$GRPC_PORT --prompt "$PROMPT" --max-tokens 60 --show-depth
echo
echo "== the OpenAI HTTP API: curl http://127.0.0.1:$HTTP_PORT/v1/completions (text, then each token's depth)"
/usr/bin/python3 -c 'import json, sys; print(json.dumps({"prompt": sys.argv[1], "max_tokens": 30, "temperature": 0}))' "$PROMPT" |
  curl -s "http://127.0.0.1:$HTTP_PORT/v1/completions" -d @- |
  /usr/bin/python3 -c 'import json, sys; c = json.load(sys.stdin)["choices"][0]; print(c["text"]); print("depth:", c["radial"]["depth"])'
echo
echo "== a few lines of http://127.0.0.1:$METRICS_PORT/metrics"
curl -s http://127.0.0.1:$METRICS_PORT/metrics | grep -E '^radial_(token_depth_(count|sum)|generation_tokens_total|request_success_total|time_to_first_token_seconds_(count|sum)|layer_tokens_executed_total|compute_skipped_fraction)' | head -20
