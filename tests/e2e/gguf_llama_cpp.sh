#!/usr/bin/env bash
# GGUF files that `radial convert` writes, run by llama.cpp (its CPU build
# through node-llama-cpp, scripts/install-bench-deps.sh) and by radiald: the
# next-token distribution at each of 48 prompt positions must agree
# (tests/e2e/llama_cpp_agree.mjs: the largest log-probability difference
# over the spread of the log-probabilities, 0.01 for F32 files, 0.08 for
# quantized ones, where llama.cpp also rounds activations to 8 bits).
# The models are the embedded stories260K (trained: RoPE and biases move its
# logits) turned into three variants by tests/e2e/gguf_variants.mjs: Llama 3
# RoPE scaling (written as llama.cpp's rope_freqs.weight and read back from
# it), Qwen2 (the qwen2 architecture: Q/K/V biases, NEOX RoPE) and Qwen3
# (qwen3: per-head q/k RMSNorm, NEOX RoPE), each as
# F32, Q8_0, Q4_0 and the Q4_K_M / Q5_K_M mixes (whose 64-wide rows fall
# back to Q5_0 / Q5_1 / Q8_0), so llama.cpp checks radiald's reading of each
# of those types and of the three architectures. Three mismatched pairs (the
# model without its RoPE scaling, or without its q/k norms; another
# quantization) must fail the comparison.
set -uo pipefail
RADIAL=$1
ROOT=$2
TMP=$(mktemp -d)
. "$ROOT/tests/e2e/lib.sh"
trap 'rm -rf "$TMP"' EXIT
NLC="$ROOT/bench/llama_cpp/node_modules/node-llama-cpp"
[ -d "$NLC" ] || { echo "FAIL: $NLC missing: run scripts/install-bench-deps.sh"; exit 1; }
node "$ROOT/tests/e2e/gguf_variants.mjs" "$ROOT/models/stories260K" "$TMP/v" ||
  { echo "FAIL: gguf_variants.mjs"; exit 1; }
IDS=$(python3 -c "print(','.join(str(1 if i == 0 else 3 + (i * 37) % 500) for i in range(48)))")

# agree NAME FILE MAX_GAP [radial generate options...]
agree() {
  local name=$1 file=$2 gap=$3
  shift 3
  "$RADIAL" generate --model "$file" --prompt-ids "$IDS" --max-tokens 1 --dump "$TMP/$name.json" \
    "$@" >/dev/null 2>"$TMP/err" || { cat "$TMP/err"; return 1; }
  node "$ROOT/tests/e2e/llama_cpp_agree.mjs" --model "$file" --dump "$TMP/$name.json" --max-gap "$gap"
}

for v in llama3 qwen2 qwen3; do
  for t in f32 q8_0 q4_0 q4_k_m q5_k_m; do
    f=$TMP/$v-$t.gguf
    check "$v $t: convert" "$RADIAL" convert --input "$TMP/v/$v" --to gguf --out-type $t \
      --out "$f" >/dev/null || continue
    gap=0.08
    [ $t = f32 ] && gap=0.01
    check "$v $t: radiald (dtype auto) agrees with llama.cpp" agree "$v-$t" "$f" $gap
  done
  # Dequantized to f32 at load instead of kept (or held as Q8_0).
  check "$v q4_k_m, --dtype f32: agrees with llama.cpp" \
    agree "$v-q4_k_m-f32" "$TMP/$v-q4_k_m.gguf" 0.08 --dtype f32
done
for v in llama3:llama qwen2:qwen2 qwen3:qwen3; do
  check "${v%%:*}: the file is of the ${v#*:} architecture (llama.cpp reads the header)" \
    bash -c "node '$ROOT/bench/llama_cpp_bench.mjs' --info --model '$TMP/${v%%:*}-f32.gguf' |
             grep -q '\"architecture\":\"${v#*:}\"'"
done

# The comparison can fail: radiald's llama3 and qwen3 logits against
# llama.cpp on the model without the scaling and the norms (stories260K.gguf),
# and Q4_0 logits against the Q4_K_M file.
mismatch() { ! node "$ROOT/tests/e2e/llama_cpp_agree.mjs" --model "$1" --dump "$2" --max-gap "$3" >/dev/null; }
check "without its RoPE scaling the model does not agree" \
  mismatch "$ROOT/tests/data/stories260K/stories260K.gguf" "$TMP/llama3-f32.json" 0.01
check "another quantization does not agree" \
  mismatch "$TMP/llama3-q4_k_m.gguf" "$TMP/llama3-q4_0.json" 0.08
check "without its q/k norms the Qwen3 model does not agree" \
  mismatch "$ROOT/tests/data/stories260K/stories260K.gguf" "$TMP/qwen3-f32.json" 0.01
finish
