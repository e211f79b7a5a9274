#!/usr/bin/env bash
# gRPC against the OpenAI HTTP API, side by side in one run: one radiald
# serving both (the default model at full depth, 1 engine thread); for each
# concurrency, `radial bench --api grpc` then `--api openai`, alternating for
# ROUNDS rounds (so drift in the machine's load hits both). Prints one table
# (TTFT, inter-token latency, output tokens/s; medians of the rounds) and
# writes the JSON of every run to OUTDIR. A benchmark: it prints figures, it
# never passes or fails.
# usage: bench/compare_apis.sh [RADIALD RADIAL [OUTDIR]]
#   env: CONCURRENCY (default "1 8 32"), REQUESTS (default 64), MAX_TOKENS
#        (default 128), ROUNDS (default 2), MODEL (default models/stories260K)
set -euo pipefail
cd "$(dirname "$0")/.."
RADIALD=${1:-build/server/radiald}
RADIAL=${2:-build/tools/radial}
OUT=${3:-$(mktemp -d)}
mkdir -p "$OUT"
PY=/usr/bin/python3
port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
GP=$(port) HP=$(port)
"$RADIALD" --model "${MODEL:-models/stories260K}" --no-router --listen "127.0.0.1:$GP" \
  --http-listen "127.0.0.1:$HP" --metrics-listen off --threads 1 >"$OUT/radiald.log" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "127.0.0.1:$HP/health" >/dev/null && break; sleep 0.1; done

echo "compare_apis: $RADIALD; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for conc in ${CONCURRENCY:-1 8 32}; do
  for round in $(seq 1 "${ROUNDS:-2}"); do
    for api in grpc openai; do
      p=$GP
      [ "$api" = openai ] && p=$HP
      "$RADIAL" bench --api "$api" --server "127.0.0.1:$p" --concurrency "$conc" \
        --requests "${REQUESTS:-64}" --max-tokens "${MAX_TOKENS:-128}" --prompt-len 16:64 \
        --json "$OUT/$api-c$conc-r$round.json" >/dev/null 2>&1
    done
  done
done
echo "compare_apis: done; load average: $(cut -d' ' -f1-3 /proc/loadavg); JSON in $OUT"
"$PY" - "$OUT" <<'PY'
import glob, json, os, re, statistics, sys
d = sys.argv[1]
rows = {}
for f in glob.glob(os.path.join(d, "*-c*-r*.json")):
    m = re.match(r"(grpc|openai)-c(\d+)-r\d+\.json", os.path.basename(f))
    rows.setdefault((int(m.group(2)), m.group(1)), []).append(json.load(open(f)))
print("%-5s %-7s %10s %10s %10s %12s" % ("conc", "api", "TTFT p50", "ITL p50", "ITL p99", "out tok/s"))
for (conc, api) in sorted(rows):
    js = rows[(conc, api)]
    med = lambda f: statistics.median(f(j) for j in js)
    print("%-5d %-7s %8.2f ms %8.3f ms %8.3f ms %12.1f" % (
        conc, api, med(lambda j: j["ttft_ms"]["p50"]), med(lambda j: j["itl_ms"]["p50"]),
        med(lambda j: j["itl_ms"]["p99"]), med(lambda j: j["throughput"]["output_tokens_per_s"])))
PY
