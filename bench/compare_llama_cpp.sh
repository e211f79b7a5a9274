#!/usr/bin/env bash
# radiald's CPU engine beside llama.cpp's on the same GGUF file: the same
# prompt length, generated tokens, concurrencies and threads, full depth.
#   bench/compare_llama_cpp.sh --model FILE.gguf [--threads 1] [--prompt-len 128]
#       [--gen 128] [--concurrency 1,8,32] [--batch-size 512] [--kv-type f16|f32]
# radiald: bench/bench_generate (built in $BUILD_DIR, default build/) with
# --thresholds full: the scheduler and the CPU backend, N random prompts at
# once, prefill tokens/s up to the last sequence's first token, decode
# tokens/s after it. llama.cpp: bench/llama_cpp_bench.mjs (node-llama-cpp,
# scripts/install-bench-deps.sh), one context of N sequences, the same
# definitions. --batch-size and --kv-type go to llama.cpp only (radiald
# prefills all N prompts in one sweep and keeps F32 K/V). Prompts are random
# ids on both sides, not the same ids. Not part of CI; figures on a shared
# machine are smoke figures.
set -euo pipefail
cd "$(dirname "$0")/.."
usage() {
  cat <<'USAGE'
usage: bench/compare_llama_cpp.sh --model FILE.gguf [--threads 1] [--prompt-len 128] [--gen 128]
                                  [--concurrency 1,8,32] [--batch-size 512] [--kv-type f16|f32]
Runs radiald's bench/bench_generate (--thresholds full; $BUILD_DIR, default build) and
bench/llama_cpp_bench.mjs (llama.cpp via node-llama-cpp) on the same GGUF file with the same
lengths, concurrencies and threads, and prints prefill and decode tokens/s side by side.
--batch-size and --kv-type are llama.cpp's. prompt-len + gen must fit the model's context.
USAGE
}
die() { echo "compare_llama_cpp: $*" >&2; exit 2; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

model="" threads=1 prompt_len=128 gen=128 conc=1,8,32 batch=512 kv=f16
declare -A seen=()
while [ $# -gt 0 ]; do
  case $1 in
    -h|--help) usage; exit 0 ;;
    --model|--threads|--prompt-len|--gen|--concurrency|--batch-size|--kv-type)
      [ -z "${seen[$1]:-}" ] || die "$1 given twice"
      seen[$1]=1
      [ $# -ge 2 ] || die "$1 needs a value"
      case $1 in
        --model) model=$2 ;;
        --threads) threads=$2 ;;
        --prompt-len) prompt_len=$2 ;;
        --gen) gen=$2 ;;
        --concurrency) conc=$2 ;;
        --batch-size) batch=$2 ;;
        --kv-type) kv=$2 ;;
      esac
      shift 2 ;;
    *) die "unknown argument '$1' (--help for usage)" ;;
  esac
done
[ -n "$model" ] || die "--model FILE.gguf is required (--help for usage)"
[ -f "$model" ] || die "--model: '$model' is not a file"
is_uint "$threads" && [ "$threads" -ge 1 ] || die "--threads expects an integer >= 1, got '$threads'"
is_uint "$prompt_len" && [ "$prompt_len" -ge 1 ] || die "--prompt-len expects an integer >= 1, got '$prompt_len'"
is_uint "$gen" && [ "$gen" -ge 2 ] || die "--gen expects an integer >= 2, got '$gen'"
[[ $conc =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--concurrency expects comma-separated integers, got '$conc'"
is_uint "$batch" && [ "$batch" -ge 1 ] || die "--batch-size expects an integer >= 1, got '$batch'"
[ "$kv" = f16 ] || [ "$kv" = f32 ] || die "--kv-type expects f16 or f32, got '$kv'"

bench=${BUILD_DIR:-build}/bench/bench_generate
[ -x "$bench" ] || { echo "compare_llama_cpp: $bench not built (scripts/build.sh)" >&2; exit 1; }
[ -d bench/llama_cpp/node_modules/node-llama-cpp ] ||
  { echo "compare_llama_cpp: node-llama-cpp not installed (scripts/install-bench-deps.sh)" >&2; exit 1; }

# radiald stops a sequence at the model's context length (llama.cpp would
# run past it), so both must fit.
info=$(node bench/llama_cpp_bench.mjs --info --model "$model")
ctx=$(node -e 'const j = JSON.parse(process.argv[1]); console.log(j.context_length ?? 0)' "$info")
if [ "$ctx" -gt 0 ] && [ $((prompt_len + gen)) -gt "$ctx" ]; then
  die "--prompt-len + --gen = $((prompt_len + gen)) exceeds the model's context length $ctx"
fi

tokenizer=$(node -e 'console.log(JSON.parse(process.argv[1]).tokenizer ?? "")' "$info")
if [ "$tokenizer" = no_vocab ]; then
  echo "compare_llama_cpp: $model has no vocabulary (no_vocab), which node-llama-cpp cannot load;" \
       "embed one (radial convert --to gguf --tokenizer ...)" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "== radiald: $bench (full depth)"
"$bench" --model "$model" --prompt-len "$prompt_len" --gen "$gen" --concurrency "$conc" \
  --thresholds full --threads "$threads" | tee "$tmp/radiald.txt"
echo
echo "== llama.cpp: bench/llama_cpp_bench.mjs"
node bench/llama_cpp_bench.mjs --model "$model" --prompt-len "$prompt_len" --gen "$gen" \
  --concurrency "$conc" --threads "$threads" --batch-size "$batch" --kv-type "$kv" \
  | tee "$tmp/llama.txt" | grep -v '^{'
echo
node - "$tmp/radiald.txt" "$tmp/llama.txt" "$model" "$threads" "$prompt_len" "$gen" <<'EOF'
const fs = require("fs");
const [rFile, lFile, model, threads, p, g] = process.argv.slice(2);
const radiald = new Map();
for (const line of fs.readFileSync(rFile, "utf8").split("\n")) {
  const f = line.trim().split(/\s+/);  // mode conc prefill decode depth compute
  if (f[0] === "full" && f.length >= 4) radiald.set(Number(f[1]), { prefill: Number(f[2]), decode: Number(f[3]) });
}
const llama = new Map();
for (const line of fs.readFileSync(lFile, "utf8").split("\n"))
  if (line.startsWith("{")) {
    const j = JSON.parse(line);
    llama.set(j.concurrency, { prefill: j.prefill_tok_s, decode: j.decode_tok_s, j });
  }
const first = [...llama.values()][0]?.j;
console.log(`== side by side: ${model}, prompt ${p}, generate ${g}, threads ${threads}, full depth; ` +
            `tokens/s (ratio = radiald / llama.cpp)`);
if (first) console.log(`   llama.cpp ${first.llama_cpp_release} (node-llama-cpp ${first.node_llama_cpp}), ` +
                       `batch ${first.batch_size}, KV ${first.kv_type}, flash attention ${first.flash_attention}`);
const w = 13, num = (x) => (x == null || Number.isNaN(x) ? "-" : x.toFixed(1)).padStart(w);
const ratio = (a, b) => (a == null || b == null || !(b > 0) ? "-" : (a / b).toFixed(2) + "x").padStart(7);
console.log(`${"conc".padStart(5)} ${"radiald pre".padStart(w)} ${"llama.cpp pre".padStart(w)} ${"ratio".padStart(7)}` +
            ` ${"radiald dec".padStart(w)} ${"llama.cpp dec".padStart(w)} ${"ratio".padStart(7)}`);
const concs = [...new Set([...radiald.keys(), ...llama.keys()])];
for (const c of concs) {
  const r = radiald.get(c) ?? {}, l = llama.get(c) ?? {};
  console.log(`${String(c).padStart(5)} ${num(r.prefill)} ${num(l.prefill)} ${ratio(r.prefill, l.prefill)}` +
              ` ${num(r.decode)} ${num(l.decode)} ${ratio(r.decode, l.decode)}`);
}
EOF
