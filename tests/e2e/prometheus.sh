#!/usr/bin/env bash
# End-to-end test of radiald's metrics with a real Prometheus server (Debian's
# `prometheus` package) on loopback: Prometheus scrapes radiald every second,
# `radial bench` sends traffic, and Prometheus's query API must show it in the
# depth and TTFT histograms. Also lints /metrics with `promtool check metrics`.
# Bounded: every wait has a deadline; both servers are killed on exit.
# usage: prometheus.sh RADIAL_BINARY SOURCE_DIR
set -uo pipefail
RADIAL=$1
SRC=$2
RADIALD=$(dirname "$RADIAL")/../server/radiald
MODEL=$SRC/models/stories260K
PY=/usr/bin/python3
TMP=$(mktemp -d)
. "$SRC/tests/e2e/lib.sh"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

if [ ! -x "$RADIALD" ] || ! "$RADIAL" health --help >/dev/null 2>&1; then
  echo "SKIP: radiald or the gRPC client is not built (RADIAL_BUILD_SERVER=OFF)"
  exit 0
fi
for tool in prometheus promtool curl; do
  if ! command -v "$tool" >/dev/null; then echo "SKIP: $tool is not installed"; exit 0; fi
done

# query EXPR: the value of a PromQL expression with one result ("" if none).
query() {
  curl -s --max-time 5 -G "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
    "$PY" -c 'import json, sys
try:
    r = json.load(sys.stdin)["data"]["result"]
    print(r[0]["value"][1] if len(r) == 1 else "")
except Exception:
    print("")'
}
# wait_for SECONDS EXPR PYTHON_CONDITION_ON_v: polls until the condition holds.
wait_for() {
  local secs=$1 expr=$2 cond=$3 v
  local deadline=$((SECONDS + secs))
  while [ "$SECONDS" -lt "$deadline" ]; do
    v=$(query "$expr")
    if [ -n "$v" ] && "$PY" -c "import sys; v = float(sys.argv[1]); sys.exit(0 if ($cond) else 1)" "$v"; then
      return 0
    fi
    sleep 0.5
  done
  echo "  last value of '$expr': '${v:-}'"
  return 1
}

PORT=$(free_port)
METRICS_PORT=$(free_port)
PROM_PORT=$(free_port)
SERVER=127.0.0.1:$PORT
# Full depth (--no-router): the checks below expect mean depth 5.
"$RADIALD" --model "$MODEL" --no-router --listen "$SERVER" --metrics-listen "127.0.0.1:$METRICS_PORT" \
  >"$TMP/radiald.log" 2>&1 &
PIDS+=($!)
ready=0
for _ in $(seq 1 150); do
  if "$RADIAL" health --server "$SERVER" --timeout 1 >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.2
done
check "radiald becomes SERVING" [ "$ready" -eq 1 ]
if [ "$ready" -ne 1 ]; then cat "$TMP/radiald.log"; exit 1; fi

# The exposition format passes promtool's checks.
curl -s --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" >"$TMP/metrics.txt"
check "GET /metrics" grep -q "^radial_token_depth_bucket" "$TMP/metrics.txt"
promtool check metrics <"$TMP/metrics.txt" >"$TMP/promtool.out" 2>&1
check "promtool check metrics" [ $? -eq 0 ]
[ -s "$TMP/promtool.out" ] && cat "$TMP/promtool.out"

cat >"$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: radiald
    static_configs:
      - targets: ['127.0.0.1:$METRICS_PORT']
EOF
promtool check config "$TMP/prometheus.yml" >/dev/null 2>&1
check "prometheus config is valid" [ $? -eq 0 ]
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$TMP/prometheus.log" 2>&1 &
PIDS+=($!)

prom_ready=0
for _ in $(seq 1 60); do
  if curl -sf --max-time 2 "http://127.0.0.1:$PROM_PORT/-/ready" >/dev/null; then prom_ready=1; break; fi
  sleep 0.5
done
check "prometheus becomes ready" [ "$prom_ready" -eq 1 ]
if [ "$prom_ready" -ne 1 ]; then cat "$TMP/prometheus.log"; echo "$pass passed, $((fails)) failed"; exit 1; fi

# Scraped before any traffic: the target is up and the histograms are empty.
check "prometheus scrapes radiald (up == 1)" wait_for 30 'up{job="radiald"}' 'v == 1'
check "no tokens before the traffic" wait_for 10 'sum(radial_token_depth_count{job="radiald"})' 'v == 0'

# Traffic: 16 requests of exactly 16 generated tokens each.
timeout 120 "$RADIAL" bench --server "$SERVER" --concurrency 4 --requests 16 --max-tokens 16 --prompt-len 32 \
  --json "$TMP/bench.json" >/dev/null 2>&1
check "bench exits 0" [ $? -eq 0 ]

check "depth histogram: 256 tokens" wait_for 30 'sum(radial_token_depth_count{job="radiald"})' 'v == 256'
check "depth histogram buckets: +Inf bucket 256" \
  wait_for 10 'sum(radial_token_depth_bucket{job="radiald",le="+Inf"})' 'v == 256'
check "depth histogram: mean depth 5 (full mode)" \
  wait_for 10 'sum(radial_token_depth_sum{job="radiald"}) / sum(radial_token_depth_count{job="radiald"})' 'v == 5'
check "TTFT histogram: 16 requests" \
  wait_for 30 'sum(radial_time_to_first_token_seconds_count{job="radiald"})' 'v == 16'
check "TTFT histogram: positive times" \
  wait_for 10 'sum(radial_time_to_first_token_seconds_sum{job="radiald"})' 'v > 0'

if [ "$fails" -ne 0 ]; then
  echo "radiald log:"; tail -n 20 "$TMP/radiald.log"
  echo "prometheus log:"; tail -n 20 "$TMP/prometheus.log"
fi
finish
