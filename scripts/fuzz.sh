#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz: clang-14 with
# -fsanitize=fuzzer,address,undefined, engine included; no gRPC) in
# build-fuzz and runs each for a bounded time:
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 60 s, all)
# Each target starts from its committed corpus tests/fuzz/corpus/<target>/
# (seeds and regression inputs, run first) and grows a working corpus in
# build-fuzz/fuzz-corpus/<target>/ (not committed). A crash, leak, sanitizer
# report, timeout (10 s per input) or out-of-memory (2 GiB) fails the run
# and leaves the input in build-fuzz/fuzz-artifacts/; once fixed, copy it to
# tests/fuzz/corpus/<target>/ as a regression input.
# Env: JOBS (build parallelism, default nproc), RADIAL_FUZZ_BUILD (build dir).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_PER_TARGET=${1:-60}
shift || true
BUILD=${RADIAL_FUZZ_BUILD:-build-fuzz}
JOBS=${JOBS:-$(nproc)}
ALL=(fuzz_safetensors fuzz_hf_config fuzz_router_config fuzz_llama2c fuzz_tokenizer fuzz_hf_tokenizer
     fuzz_chat_template fuzz_gguf fuzz_request fuzz_json_mode fuzz_json_schema fuzz_string_pattern)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")

command -v clang++-14 >/dev/null || { echo "fuzz.sh: clang++-14 not found (scripts/install-deps.sh)" >&2; exit 1; }
t0=$(date +%s)
if [ ! -f "$BUILD/build.ninja" ]; then
  # -O1 with line tables (-g1), as the sanitizer builds of scripts/test.sh.
  CC=clang-14 CXX=clang++-14 cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" \
    -DRADIAL_FUZZ=ON -DRADIAL_CUDA=OFF -DRADIAL_BUILD_SERVER=OFF -DRADIAL_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$BUILD" -j "$JOBS" --target "${TARGETS[@]}"
echo "fuzz.sh: built in $(( $(date +%s) - t0 )) s"

mkdir -p "$BUILD/fuzz-artifacts"
failed=()
for t in "${TARGETS[@]}"; do
  seeds="$ROOT/tests/fuzz/corpus/$t"
  work="$BUILD/fuzz-corpus/$t"
  mkdir -p "$work"
  dict=()
  # The JSON targets: the dictionary, and inputs up to 64 KiB (libFuzzer's
  # default max_len follows the seeds, about 4 KiB; the deep-nesting seeds
  # are 6-12 KiB and the parser's depth limit is what they test).
  case $t in fuzz_hf_config|fuzz_router_config|fuzz_safetensors|fuzz_hf_tokenizer|fuzz_json_mode|fuzz_json_schema)
    dict=(-dict="$ROOT/tests/fuzz/json.dict" -max_len=65536) ;; esac
  echo "=== $t: ${SECONDS_PER_TARGET} s ==="
  # ASan: no leak report for the deliberately leaked service of fuzz_request
  # (reachable); abort on the first error so libFuzzer saves the input.
  if ! ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      "$BUILD/tests/fuzz/$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$BUILD/fuzz-artifacts/$t-" "${dict[@]}" \
      "$work" "$seeds" > "$BUILD/fuzz-artifacts/$t.log" 2>&1; then
    tail -40 "$BUILD/fuzz-artifacts/$t.log"
    failed+=("$t")
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|INITED|DONE" "$BUILD/fuzz-artifacts/$t.log" | tr '\n' ' '
  echo
done
echo "fuzz.sh: $(( $(date +%s) - t0 )) s in all"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: FAILED: ${failed[*]} (inputs in $BUILD/fuzz-artifacts/)" >&2
  exit 1
fi
echo "fuzz.sh: no findings in ${TARGETS[*]}"
