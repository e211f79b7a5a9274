#!/usr/bin/env bash
# End-to-end test of the router tools as a user runs them: `radial profile`,
# `radial distill` and `radial eval` (output, files, invariants, exit codes
# and error lines), on small runs (well under a minute).
# usage: cli_router_tools.sh RADIAL_BINARY SOURCE_DIR
set -uo pipefail
RADIAL=$1
SRC=$2
MODEL=$SRC/models/stories260K
TMP=$(mktemp -d)
. "$SRC/tests/e2e/lib.sh"
trap 'rm -rf "$TMP"' EXIT



is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; }

SMALL=(--self-samples 4 --sample-tokens 48 --threads 1)

# profile: table, JSON, PNG.
"$RADIAL" profile --model "$MODEL" "${SMALL[@]}" --plot "$TMP/profile.png" >"$TMP/p.txt" 2>"$TMP/p.err"
check "profile exits 0" [ $? -eq 0 ]
check "profile prints the table" grep -q "residual ratio ||f(x)|| / ||x + f(x)|| over [0-9]* tokens (4 sequences)" "$TMP/p.txt"
check "profile writes a PNG" is_png "$TMP/profile.png"
"$RADIAL" profile --model "$MODEL" "${SMALL[@]}" --json >"$TMP/p.json"
/usr/bin/python3 - "$TMP/p.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
assert p["num_layers"] == 5 and p["sequences"] == 4 and 4 < p["positions"] <= 192, p
for l in p["layers"]:
    for k in ("attn", "mlp"):
        s = l[k]
        assert s["count"] == p["positions"] and 0 < s["p10"] <= s["median"] <= s["p90"] < 1, s
        assert 0 <= s["under_1pct"] <= s["under_5pct"] <= 1
PY
check "profile --json" [ $? -eq 0 ]

# distill: a quick router, loadable by generate and eval.
"$RADIAL" distill --model "$MODEL" --self-samples 8 --sample-tokens 48 --threads 1 --epochs 2 \
  --onpolicy-rounds 1 --onpolicy-epochs 1 --ablation-stride 1 --router-hidden 16 --out "$TMP/r" \
  >"$TMP/d.txt" 2>"$TMP/d.err"
check "distill exits 0" [ $? -eq 0 ]
check "distill writes radial.json" [ -s "$TMP/r/radial.json" ]
check "distill writes router.safetensors" [ -s "$TMP/r/router.safetensors" ]
check "distill shows progress" grep -q "loss .* depth~" "$TMP/d.err"
check "distill reports the threshold" grep -q "written to $TMP/r/radial.json" "$TMP/d.txt"
/usr/bin/python3 -c "
import json, sys
j = json.load(open('$TMP/r/radial.json'))
sys.exit(not (j['mode'] == 'forward' and j['router_hidden'] == 16 and j['pinned_layers'] == [0] and 0 <= j['threshold'] <= 1))"
check "radial.json fields" [ $? -eq 0 ]
"$RADIAL" generate --model "$MODEL" --router "$TMP/r" --prompt "Once upon a time" --max-tokens 8 --json >"$TMP/g.json"
/usr/bin/python3 -c "import json,sys; j=json.load(open('$TMP/g.json')); sys.exit(not (j['mode']=='forward' and len(j['tokens'])>0))"
check "generate routes with the distilled router" [ $? -eq 0 ]
# Deterministic for a seed.
"$RADIAL" distill --model "$MODEL" --self-samples 8 --sample-tokens 48 --threads 2 --epochs 2 \
  --onpolicy-rounds 1 --onpolicy-epochs 1 --ablation-stride 1 --router-hidden 16 --out "$TMP/r2" --quiet >/dev/null 2>&1
check "distill is reproducible for a seed" cmp -s "$TMP/r/router.safetensors" "$TMP/r2/router.safetensors"

# eval: table, JSON, CSV, PNG; full depth and threshold 0 match full depth exactly.
"$RADIAL" eval --model "$MODEL" --router "$TMP/r" "${SMALL[@]}" --thresholds 0,0.5,1 --json "$TMP/e.json" \
  --csv "$TMP/e.csv" --plot "$TMP/e.png" >"$TMP/e.txt" 2>"$TMP/e.err"
check "eval exits 0" [ $? -eq 0 ]
check "eval prints the table" grep -q "^forward  sparse" "$TMP/e.txt"
check "eval writes a PNG" is_png "$TMP/e.png"
check "eval writes CSV" grep -q "^full,,,[0-9]*," "$TMP/e.csv"
check "eval reports near ties" grep -q "^near ties: [0-9.]*% of the positions" "$TMP/e.txt"
/usr/bin/python3 - "$TMP/e.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))
pts = e["points"]
assert e["sequences"] == 4 and e["positions"] > 0 and len(pts) == 7, e
for p in pts:
    assert abs(sum(p["depth_histogram"]) - 1) < 1e-9
    if p["mode"] == "full" or p["threshold"] == 0:
        assert p["kl"] == 0 and p["top1_agreement"] == 1 and p["mean_depth"] == 5, p
    if p["mode"] == "forward" and p["threshold"] == 1:
        assert p["mean_depth"] == 1, p  # only the pinned layer 0
assert pts[0]["compute_fraction"] == 1
s = e["near_tie_share"]
assert e["tie_margin"] == 0.1 and 0 <= s <= 1, e
for p in pts:
    c = p["top1_agreement_clear"]
    assert (1 - s) * c - 1e-9 <= p["top1_agreement"] <= (1 - s) * c + s + 1e-9, (s, p)
assert pts[0]["top1_agreement_clear"] == 1
PY
check "eval invariants" [ $? -eq 0 ]

# A radial-mode router (the distilled weights, read as radial: argmax over the
# gates and the exit, revisits allowed, sparse K/V): eval runs radial mode and
# reports reuse; the forward-mode options are refused.
mkdir -p "$TMP/rr" && cp "$TMP/r/router.safetensors" "$TMP/rr/"
/usr/bin/python3 - "$TMP/r/radial.json" "$TMP/rr/radial.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r.update(mode="radial", kv_policy="sparse", max_steps=10, pinned_layers=[])
json.dump(r, open(sys.argv[2], "w"))
PY
"$RADIAL" eval --model "$MODEL" --router "$TMP/rr" "${SMALL[@]}" --json "$TMP/er.json" \
  --csv "$TMP/er.csv" >"$TMP/er.txt" 2>"$TMP/er.err"
check "radial eval exits 0" [ $? -eq 0 ]
check "radial eval prints the radial row" grep -q "^radial   sparse" "$TMP/er.txt"
check "radial eval CSV has the revisit columns" grep -q "top1_agreement,top1_agreement_clear,revisit_fraction,passes_with_revisit" "$TMP/er.csv"
/usr/bin/python3 - "$TMP/er.json" <<'PY'
import json, sys
pts = json.load(open(sys.argv[1]))["points"]
assert [p["mode"] for p in pts] == ["full", "radial"], pts
full, rad = pts
assert full["revisit_fraction"] == 0 and full["passes_with_revisit"] == 0, full
assert rad["kv_policy"] == "sparse" and "threshold" not in rad, rad
assert len(rad["depth_histogram"]) == 11 and abs(sum(rad["depth_histogram"]) - 1) < 1e-9, rad
assert 0 <= rad["revisit_fraction"] <= 1 and 0 <= rad["passes_with_revisit"] <= 1, rad
# A pass deeper than the 5 layers must have revisited one.
deep = sum(f for d, f in enumerate(rad["depth_histogram"]) if d > 5)
assert rad["passes_with_revisit"] >= deep - 1e-9, rad
PY
check "radial eval invariants" [ $? -eq 0 ]
expect_error "thresholds with a radial router" 2 "are for forward-mode routers" -- eval --model "$MODEL" --router "$TMP/rr" --thresholds 0.5

# A random-weight model runs all three (the stories260K shape, to stay quick).
DUMMY=(--dummy-config "$MODEL/config.json" --self-samples 2 --sample-tokens 24 --threads 1)
"$RADIAL" profile "${DUMMY[@]}" >/dev/null 2>&1
check "profile on random weights" [ $? -eq 0 ]
"$RADIAL" distill "${DUMMY[@]}" --epochs 1 --onpolicy-rounds 1 --onpolicy-epochs 1 --out "$TMP/dr" --quiet >/dev/null 2>&1
check "distill on random weights" [ $? -eq 0 ]
"$RADIAL" eval "${DUMMY[@]}" --router "$TMP/dr" --thresholds 0,0.5 >/dev/null 2>&1
check "eval on random weights" [ $? -eq 0 ]

# The shipped router (models/stories260K/radial.json): the model routes in
# forward mode by default, at the file's threshold, layer 0 pinned.
"$RADIAL" generate --model "$MODEL" --prompt "Once upon a time" --max-tokens 16 --json >"$TMP/ship.json"
/usr/bin/python3 - "$TMP/ship.json" "$MODEL/radial.json" <<'PY'
import json, sys
g, r = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert g["mode"] == "forward" and g["kv_policy"] == r["kv_policy"], g
assert abs(g["threshold"] - r["threshold"]) < 1e-6 and r["pinned_layers"] == [0]
assert all(p[0] == 0 and len(p) == d and 1 <= d <= 5 for p, d in zip(g["path"], g["depth"]))
PY
check "the shipped router routes by default" [ $? -eq 0 ]

# Bad input: a clear line on stderr and a non-zero exit code.
: >"$TMP/empty.txt"
expect_error "empty data file" 1 "no documents" -- profile --model "$MODEL" --data "$TMP/empty.txt"
expect_error "missing data file" 1 "cannot open" -- distill --model "$MODEL" --data "$TMP/none.txt" --out "$TMP/x"
expect_error "threshold out of range" 1 "threshold must be in [0, 1]" -- eval --model "$MODEL" --router "$TMP/r" --thresholds 0,1.5
expect_error "tie margin out of range" 2 "--tie-margin must be a number >= 0" -- eval --model "$MODEL" --router "$TMP/r" --tie-margin -1
expect_error "malformed thresholds" 1 "--thresholds expects" -- eval --model "$MODEL" --router "$TMP/r" --thresholds 0,abc
mkdir -p "$TMP/other" && cp "$TMP/r/router.safetensors" "$TMP/other/"
sed 's/"num_layers": 5/"num_layers": 3/' "$TMP/r/radial.json" >"$TMP/other/radial.json"
expect_error "router of another model" 1 "num_layers 3 does not match the model's 5" -- eval --model "$MODEL" --router "$TMP/other"
mkdir -p "$TMP/bad" && cp "$TMP/r/radial.json" "$TMP/bad/" && echo garbage >"$TMP/bad/router.safetensors"
expect_error "corrupt router file" 1 "router.safetensors" -- eval --model "$MODEL" --router "$TMP/bad"
expect_error "distill without --out" 2 "--out DIR is required" -- distill --model "$MODEL"
expect_error "data and self-samples" 2 "not both" -- profile --data x --self-samples 3
expect_error "bad pinned layer" 1 "pinned layer 9" -- distill --model "$MODEL" --pinned 9 --out "$TMP/x"
expect_error "unknown kv policy" 1 "unknown kv_policy" -- distill --model "$MODEL" --kv-policy both --out "$TMP/x"

finish
