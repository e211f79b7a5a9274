#!/usr/bin/env bash
# max_connection_age_s: radiald closes a client connection (HTTP/2 GOAWAY)
# once it is that old, so clients reconnect and re-resolve (how they find
# new replicas behind a headless Service). A Python channel must go from
# READY to IDLE on its own within a few seconds of a 1 s age, and a client
# must still work afterwards. Bounded; the server is killed on exit.
# usage: connection_age.sh RADIAL_BINARY SOURCE_DIR
set -uo pipefail
RADIAL=$1
SRC=$2
RADIALD=$(dirname "$RADIAL")/../server/radiald
TMP=$(mktemp -d)
. "$SRC/tests/e2e/lib.sh"
PID=
cleanup() {
  [ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
if [ ! -x "$RADIALD" ] || ! /usr/bin/python3 -c 'import grpc' 2>/dev/null; then
  echo "SKIP: radiald or python3-grpcio missing"
  exit 0
fi

PORT=$(free_port)
"$RADIALD" --model "$SRC/models/stories260K" --listen "127.0.0.1:$PORT" --metrics-listen off \
  --threads 1 --max-connection-age-s 1 >"$TMP/radiald.log" 2>&1 &
PID=$!
check "radiald becomes SERVING" wait_serving "127.0.0.1:$PORT" "$PID" ||
  { cat "$TMP/radiald.log"; finish; exit 1; }

timeout 30 /usr/bin/python3 - "$PORT" >"$TMP/states" 2>&1 <<'PY'
import sys, time, grpc
ch = grpc.insecure_channel("127.0.0.1:%s" % sys.argv[1])
grpc.channel_ready_future(ch).result(timeout=10)
states = []
ch.subscribe(states.append, try_to_connect=False)
deadline = time.time() + 10
while time.time() < deadline and grpc.ChannelConnectivity.IDLE not in states:
    time.sleep(0.1)
print(" ".join(s.name for s in states))
PY
check "the server closes an aged connection (READY -> IDLE)" grep -q "READY.*IDLE" "$TMP/states" ||
  cat "$TMP/states"
timeout 60 "$RADIAL" generate --server "127.0.0.1:$PORT" --prompt "Once upon a time" --max-tokens 8 \
  >/dev/null 2>"$TMP/gen.err"
check "a client works across connection ages" [ $? -eq 0 ] || cat "$TMP/gen.err"
finish
