#!/usr/bin/env bash
# Two radiald builds side by side, one run, the same machine: for each
# concurrency, `radial bench --server` against A, then B, then A and B again
# (alternating, so drift in the machine's load hits both), on the default
# model at full depth. Prints one table (TTFT, inter-token latency, output
# tokens/s; medians of the rounds) and writes the JSON of every run to
# OUTDIR. A benchmark: it prints figures, it never passes or fails.
# usage: bench/compare_servers.sh RADIALD_A RADIAL_A RADIALD_B RADIAL_B [OUTDIR]
#   env: CONCURRENCY (default "1 8 32"), REQUESTS (default 64), MAX_TOKENS
#        (default 128), ROUNDS (default 2), MODEL (default models/stories260K)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 4 ] || { sed -n '2,11p' "$0"; exit 2; }
RADIALD_A=$1 RADIAL_A=$2 RADIALD_B=$3 RADIAL_B=$4
OUT=${5:-$(mktemp -d)}
mkdir -p "$OUT"
MODEL=${MODEL:-models/stories260K}
PY=/usr/bin/python3
port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run_one() {  # run_one LABEL RADIALD RADIAL CONC ROUND
  local label=$1 radiald=$2 radial=$3 conc=$4 round=$5 p pid
  p=$(port)
  "$radiald" --model "$MODEL" --no-router --listen "127.0.0.1:$p" --threads 1 \
    >"$OUT/$label-radiald.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    "$radial" health --server "127.0.0.1:$p" --timeout 1 >/dev/null 2>&1 && break
    sleep 0.1
  done
  "$radial" bench --server "127.0.0.1:$p" --concurrency "$conc" --requests "${REQUESTS:-64}" \
    --max-tokens "${MAX_TOKENS:-128}" --prompt-len 16:64 --json "$OUT/$label-c$conc-r$round.json" \
    >/dev/null 2>&1
  kill -TERM "$pid"
  wait "$pid" || true
}

echo "compare_servers: A=$RADIALD_A B=$RADIALD_B; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for conc in ${CONCURRENCY:-1 8 32}; do
  for round in $(seq 1 "${ROUNDS:-2}"); do
    run_one A "$RADIALD_A" "$RADIAL_A" "$conc" "$round"
    run_one B "$RADIALD_B" "$RADIAL_B" "$conc" "$round"
  done
done
echo "compare_servers: done; load average: $(cut -d' ' -f1-3 /proc/loadavg); JSON in $OUT"
"$PY" - "$OUT" <<'PY'
import glob, json, os, re, statistics, sys
d = sys.argv[1]
rows = {}
for f in glob.glob(os.path.join(d, "*-c*-r*.json")):
    m = re.match(r"([AB])-c(\d+)-r\d+\.json", os.path.basename(f))
    j = json.load(open(f))
    rows.setdefault((int(m.group(2)), m.group(1)), []).append(j)
print("%-5s %-3s %10s %10s %10s %12s" % ("conc", "srv", "TTFT p50", "ITL p50", "ITL p99", "out tok/s"))
for (conc, srv) in sorted(rows):
    js = rows[(conc, srv)]
    med = lambda f: statistics.median(f(j) for j in js)
    print("%-5d %-3s %8.2f ms %8.3f ms %8.3f ms %12.1f" % (
        conc, srv, med(lambda j: j["ttft_ms"]["p50"]), med(lambda j: j["itl_ms"]["p50"]),
        med(lambda j: j["itl_ms"]["p99"]), med(lambda j: j["throughput"]["output_tokens_per_s"])))
PY
