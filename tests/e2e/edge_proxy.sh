#!/usr/bin/env bash
# The edge proxy (deploy/proxy/nginx.conf, Debian's nginx) in front of
# radiald, on loopback: the file as deployed, with only its ports and
# upstream addresses replaced (and one worker process).
#   - gRPC through it: `radial generate` streams 8 tokens; the bearer token is
#     still radiald's to check (UNAUTHENTICATED without it); health SERVING;
#   - the HTTP API through it: a streamed /v1/completions ends with
#     data: [DONE]; /health answers 200;
#   - an HTTP/2 CONTINUATION flood (tests/stress/h2_continuation_flood.py,
#     32 MiB, SETTINGS never acknowledged) at the proxy's gRPC port: nginx
#     closes the connection, radiald's RSS grows < 16 MiB and nginx's
#     worker's < 64 MiB; radiald still serves afterwards.
# RADIAL_EDGE_FLOOD_DIRECT=1 floods radiald's own gRPC port instead (the same
# bounds): that run must fail, which shows what the proxy changes.
# Skipped when nginx is not installed (scripts/install-deps.sh installs it).
# usage: edge_proxy.sh RADIAL_BINARY SOURCE_DIR
set -uo pipefail
RADIAL=$1
SRC=$2
RADIALD=$(dirname "$RADIAL")/../server/radiald
TMP=$(mktemp -d)
. "$SRC/tests/e2e/lib.sh"
trap cleanup_tmp EXIT
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$NGINX" ]; then
  echo "SKIP: nginx is not installed (scripts/install-deps.sh installs it)"
  exit 0
fi
if [ ! -x "$RADIALD" ]; then
  echo "SKIP: radiald is not built (RADIAL_BUILD_SERVER=OFF)"
  exit 0
fi
START=$(date +%s)

printf 'e2e-edge-token-0123456789abcdef\n' >"$TMP/token"
chmod 600 "$TMP/token"
TOKEN=$(cat "$TMP/token")
GRPC=$(free_port); HTTP=$(free_port); NGINX_GRPC=$(free_port); NGINX_HTTP=$(free_port)
"$RADIALD" --model "$SRC/models/stories260K" --listen "127.0.0.1:$GRPC" --http-listen "127.0.0.1:$HTTP" \
  --metrics-listen off --threads 1 --auth-token-file "$TMP/token" >"$TMP/radiald.log" 2>&1 &
RADIALD_PID=$!
PIDS+=("$RADIALD_PID")

# The deployed file; only the addresses change. It runs unprivileged: the
# pid file and temporary directories are relative to the prefix (-p).
mkdir -p "$TMP/nginx"
sed -e "s/server radiald:50052;/server 127.0.0.1:$GRPC;/" \
    -e "s/server radiald:8081;/server 127.0.0.1:$HTTP;/" \
    -e "s/listen 50051 http2;/listen 127.0.0.1:$NGINX_GRPC http2;/" \
    -e "s/listen 8080;/listen 127.0.0.1:$NGINX_HTTP;/" \
    -e "s/worker_processes auto;/worker_processes 1;/" \
    "$SRC/deploy/proxy/nginx.conf" >"$TMP/nginx/nginx.conf"
check "the test's nginx.conf differs from deploy/proxy/nginx.conf only in its addresses" \
  [ "$(diff "$SRC/deploy/proxy/nginx.conf" "$TMP/nginx/nginx.conf" | grep -c '^>')" -eq 5 ]
"$NGINX" -p "$TMP/nginx/" -e stderr -c "$TMP/nginx/nginx.conf" >"$TMP/nginx.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")

check "radiald becomes SERVING" wait_serving "127.0.0.1:$GRPC" "$RADIALD_PID" 60 ||
  { tail -20 "$TMP/radiald.log"; finish; exit 1; }
check "health through nginx: SERVING" wait_serving "127.0.0.1:$NGINX_GRPC" "$NGINX_PID" 10 ||
  { cat "$TMP/nginx.log"; finish; exit 1; }
WORKER=$(ps -o pid= --ppid "$NGINX_PID" | tr -d ' ' | head -n 1)
check "nginx runs one worker process" [ -n "$WORKER" ]

# gRPC through the proxy.
timeout 30 "$RADIAL" generate --server "127.0.0.1:$NGINX_GRPC" --token-file "$TMP/token" \
  --prompt "Once upon a time" --max-tokens 8 --ignore-eos --json >"$TMP/gen.json" 2>"$TMP/gen.err"
check "radial generate through nginx exits 0" [ $? -eq 0 ] || cat "$TMP/gen.err"
check "it streamed 8 tokens" /usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if len(r["tokens"]) == 8 and r["text"].strip() else 1)' "$TMP/gen.json"
expect_error "no token through nginx: radiald answers UNAUTHENTICATED" 1 "UNAUTHENTICATED" -- \
  generate --server "127.0.0.1:$NGINX_GRPC" --prompt hi --max-tokens 2

# The HTTP API through the proxy: server-sent events, unbuffered.
curl -sN --max-time 20 -D "$TMP/sse.h" "http://127.0.0.1:$NGINX_HTTP/v1/completions" \
  -H "Authorization: Bearer $TOKEN" \
  -d '{"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0, "stream": true}' >"$TMP/sse.txt"
check "SSE through nginx: 200 text/event-stream" grep -qi "^content-type: text/event-stream" "$TMP/sse.h"
check "SSE through nginx: data: chunks, then data: [DONE]" /usr/bin/python3 -c '
import json, sys
raw = open(sys.argv[1]).read()
events = raw.split("\n\n")[:-1]
ok = raw.endswith("data: [DONE]\n\n") and len(events) >= 2
ok = ok and all(json.loads(e[6:])["object"] == "text_completion" for e in events[:-1])
sys.exit(0 if ok else 1)' "$TMP/sse.txt"
check "/health through nginx: 200" \
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NGINX_HTTP/health")" = 200 ]
check "/v1/models through nginx without the token: 401 (radiald checks it)" \
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NGINX_HTTP/v1/models")" = 401 ]

# The flood, at the proxy (or at radiald itself with RADIAL_EDGE_FLOOD_DIRECT=1).
if [ -n "${RADIAL_EDGE_FLOOD_DIRECT:-}" ]; then TARGET=$GRPC; else TARGET=$NGINX_GRPC; fi
timeout 60 /usr/bin/python3 "$SRC/tests/stress/h2_continuation_flood.py" --port "$TARGET" --mb 1,4,16,32 \
  --no-ack-settings --pid "radiald=$RADIALD_PID" --pid "nginx=$WORKER" \
  --bound radiald=16 --bound nginx=64 >"$TMP/flood.json" 2>"$TMP/flood.err"
rc=$?
sed 's/^/  /' "$TMP/flood.err"
check "the flood leaves radiald (< 16 MiB) and nginx (< 64 MiB) bounded" [ $rc -eq 0 ]
check "the connection was closed" /usr/bin/python3 -c '
import json, sys
sys.exit(0 if json.load(open(sys.argv[1]))["peer_closed"] else 1)' "$TMP/flood.json"
"$RADIAL" health --server "127.0.0.1:$NGINX_GRPC" --timeout 5 >/dev/null
check "radiald still SERVING through nginx after the flood" [ $? -eq 0 ]
timeout 30 "$RADIAL" generate --server "127.0.0.1:$NGINX_GRPC" --token-file "$TMP/token" \
  --prompt "Once upon a time" --max-tokens 4 >/dev/null 2>&1
check "and still generates" [ $? -eq 0 ]
check "nginx and radiald are running" kill -0 "$NGINX_PID" "$RADIALD_PID"

echo "edge_proxy: $(($(date +%s) - START)) s"
finish
