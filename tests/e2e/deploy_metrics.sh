#!/usr/bin/env bash
# The monitoring in deploy/ is checked against the real exporter: starts
# radiald with the container config (deploy/config/radiald.json; the model,
# the addresses overridden for loopback), sends one generation, scrapes
# /metrics and fails if any metric named by the Grafana dashboard
# (deploy/grafana/radial.json), a recording or alert rule
# (deploy/prometheus/rules), the HPA or prometheus-adapter is not exported
# (or, for a recording rule's name, not defined), or a label they use is not on
# the series. Then `promtool check rules` (the rules, and the dashboard's
# expressions as rules: PromQL syntax), `promtool check config`, and
# `promtool test rules` (the alerts fire and stay quiet as intended).
# usage: deploy_metrics.sh RADIAL_BINARY SOURCE_DIR
set -uo pipefail
RADIAL=$1
SRC=$2
RADIALD=$(dirname "$RADIAL")/../server/radiald
PY=/usr/bin/python3
TMP=$(mktemp -d)
. "$SRC/tests/e2e/lib.sh"
PID=
cleanup() {
  if [ -n "$PID" ]; then
    kill -TERM "$PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

if [ ! -x "$RADIALD" ] || ! "$RADIAL" health --help >/dev/null 2>&1; then
  echo "SKIP: radiald or the gRPC client is not built (RADIAL_BUILD_SERVER=OFF)"
  exit 0
fi
for tool in promtool curl; do
  if ! command -v "$tool" >/dev/null; then echo "SKIP: $tool is not installed"; exit 0; fi
done
if ! "$PY" -c 'import yaml' 2>/dev/null; then echo "SKIP: python3-yaml is not installed"; exit 0; fi

PORT=$(free_port)
METRICS_PORT=$(free_port)
"$RADIALD" --config "$SRC/deploy/config/radiald.json" --model "$SRC/models/stories260K" --threads 2 \
  --listen "127.0.0.1:$PORT" --metrics-listen "127.0.0.1:$METRICS_PORT" >"$TMP/radiald.log" 2>&1 &
PID=$!
check "radiald starts with deploy/config/radiald.json and becomes SERVING" wait_serving "127.0.0.1:$PORT" "$PID" ||
  { cat "$TMP/radiald.log"; finish; exit 1; }

"$RADIAL" generate --server "127.0.0.1:$PORT" --prompt "Once upon a time" --max-tokens 8 --timeout 60 \
  >/dev/null 2>&1
check "a generation" [ $? -eq 0 ]
curl -sf --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" >"$TMP/metrics.txt"
check "GET /metrics" [ $? -eq 0 ]

"$PY" "$SRC/tests/e2e/deploy_check.py" metrics "$SRC" "$TMP/metrics.txt" "$TMP" >"$TMP/check.out" 2>&1
check_rc=$?
grep -v '^ok:' "$TMP/check.out"
echo "($(grep -c '^ok:' "$TMP/check.out") metric and label checks passed)"
check "every metric of the dashboard, the rules and the autoscaler is exported" [ $check_rc -eq 0 ]

promtool check rules "$SRC"/deploy/prometheus/rules/*.yml >"$TMP/promtool.out" 2>&1
check "promtool check rules deploy/prometheus/rules" [ $? -eq 0 ] || cat "$TMP/promtool.out"
if [ -f "$TMP/dashboard_rules.yml" ]; then
  promtool check rules "$TMP/dashboard_rules.yml" >"$TMP/promtool.out" 2>&1
  check "promtool: the dashboard's expressions are valid PromQL" [ $? -eq 0 ] || cat "$TMP/promtool.out"
fi
promtool check config "$SRC/deploy/prometheus/prometheus.yml" >"$TMP/promtool.out" 2>&1
check "promtool check config deploy/prometheus/prometheus.yml" [ $? -eq 0 ] || cat "$TMP/promtool.out"
promtool test rules "$SRC/deploy/prometheus/tests/alerts_test.yml" >"$TMP/promtool.out" 2>&1
check "promtool test rules (the alerts)" [ $? -eq 0 ] || cat "$TMP/promtool.out"

finish
