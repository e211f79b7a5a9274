#!/usr/bin/env bash
# Installs dependencies, builds and runs the whole test suite, stage by stage:
#   release    Release build (CPU backend; the CUDA backend too when nvcc is
#              found), unit + e2e tests, and the `cuda` tests (they skip with a
#              message where no GPU is present)
#   asan       ASan + UBSan build (no CUDA), unit and e2e tests with the server
#   tsan       TSan build (no CUDA, no gRPC: Debian's gRPC is not
#              instrumented), unit tests: the CPU backend's thread pool, the
#              scheduler and the engine loop thread (EngineService); not the
#              single-threaded structured-output automata
#   stress     the short load and fault run on the release build
#              (scripts/stress.sh --short)
#   fuzz       libFuzzer targets, 10 s each (scripts/fuzz.sh 10)
#   container  builds the CPU-only image with podman and tests it
#              (scripts/container-test.sh)
# Each stage has a time budget (seconds) sized for CI (2 cores, cold caches)
# and prints its time; a summary table comes last. A stage over its budget is
# reported, not failed (timings are noisy); a failing stage stops the run.
# RADIAL_TEST_STAGES picks a subset, e.g. RADIAL_TEST_STAGES="release asan".
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=${JOBS:-$(nproc)}
STAGES=${RADIAL_TEST_STAGES:-"release stress asan tsan fuzz container"}

declare -A BUDGET=([deps]=600 [release]=1020 [asan]=1200 [tsan]=480 [fuzz]=420 [stress]=300 [container]=1200)
SUMMARY=()
run_stage() {  # run_stage NAME FUNCTION
  local name=$1 fn=$2 start elapsed budget=${BUDGET[$1]}
  echo "=== stage $name (budget ${budget} s) ==="
  start=$(date +%s)
  "$fn"
  elapsed=$(($(date +%s) - start))
  local verdict=ok
  [ "$elapsed" -gt "$budget" ] && verdict="OVER BUDGET"
  echo "=== stage $name: ${elapsed} s of ${budget} s: $verdict ==="
  SUMMARY+=("$(printf '%-10s %6s s %6s s  %s' "$name" "$elapsed" "$budget" "$verdict")")
}

build() {  # build DIR [cmake args...]
  local dir=$1; shift
  cmake -S "$ROOT" -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j "$JOBS"
}

stage_deps() {
  local extra=()
  [[ " $STAGES " == *" container "* ]] && extra=(--container-test)
  bash scripts/install-deps.sh "${extra[@]}"
}
stage_release() {
  build build -DCMAKE_BUILD_TYPE=Release
  ctest --test-dir build --output-on-failure -j "$JOBS" -L "unit|e2e|cuda"
}
# Sanitizer builds: -O1 with line tables only (-g1), as the sanitizers'
# documentation recommends; it halves their compile time against -O2 -g
# (gcc 12, 2 cores: ASan server/http_server.cpp 372 s -> 180 s) and keeps
# file:line in every report.
SAN_BUILD=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG")
stage_asan() {
  build build-asan "${SAN_BUILD[@]}" -DRADIAL_CUDA=OFF -DRADIAL_SANITIZE=address,undefined
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$JOBS" -L "unit|e2e"
}
stage_tsan() {
  build build-tsan "${SAN_BUILD[@]}" -DRADIAL_CUDA=OFF -DRADIAL_SANITIZE=thread -DRADIAL_BUILD_SERVER=OFF
  # The structured-output automata's tests (JSON mode, JSON Schema mode,
  # number bounds, patterns, oneOf) walk bytes exhaustively on one thread:
  # the release and ASan stages run them; under TSan they took 5 minutes
  # and could find no race.
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    ctest --test-dir build-tsan --output-on-failure -j "$JOBS" -L unit \
      -E '^(JSON|Number bounds|Pattern|oneOf)'
}
stage_fuzz() { bash scripts/fuzz.sh 10; }
stage_stress() { bash scripts/stress.sh --short; }
stage_container() { bash scripts/container-test.sh; }

total_start=$(date +%s)
run_stage deps stage_deps
for stage in $STAGES; do
  case $stage in
    release | asan | tsan | fuzz | stress | container) run_stage "$stage" "stage_$stage" ;;
    *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
done
echo
echo "stage        time   budget"
printf '%s\n' "${SUMMARY[@]}"
echo "total: $(($(date +%s) - total_start)) s; all test stages passed: $STAGES"
