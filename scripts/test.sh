#!/usr/bin/env bash
# Installs dependencies, builds and runs the whole test suite:
#   1. release build (CPU backend; CUDA too when nvcc is found), all tests
#   2. ASan + UBSan build (no CUDA), unit and e2e tests
#   3. TSan build (no CUDA, no gRPC: Debian's gRPC is not instrumented), unit
#      tests: the CPU backend's thread pool, the engine loop thread
# Each stage prints its time. Set RADIAL_TEST_STAGES to a subset, e.g.
# "release" or "release asan", to run fewer.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=${JOBS:-$(nproc)}
STAGES=${RADIAL_TEST_STAGES:-"release asan tsan"}

stage_start=0
begin() { stage_start=$(date +%s); echo "=== stage $1 ==="; }
end() { echo "=== stage $1: $(( $(date +%s) - stage_start )) s ==="; }

begin deps
bash scripts/install-deps.sh
end deps

build() {  # build DIR [cmake args...]
  local dir=$1; shift
  cmake -S "$ROOT" -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j "$JOBS"
}

for stage in $STAGES; do
  case $stage in
    release)
      begin release
      build build -DCMAKE_BUILD_TYPE=Release
      ctest --test-dir build --output-on-failure -j "$JOBS"
      end release
      ;;
    asan)
      begin asan-ubsan
      build build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRADIAL_CUDA=OFF -DRADIAL_SANITIZE=address,undefined
      ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --test-dir build-asan --output-on-failure -j "$JOBS" -L "unit|e2e"
      end asan-ubsan
      ;;
    tsan)
      begin tsan
      build build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRADIAL_CUDA=OFF -DRADIAL_SANITIZE=thread -DRADIAL_BUILD_SERVER=OFF
      TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
        ctest --test-dir build-tsan --output-on-failure -j "$JOBS" -L unit
      end tsan
      ;;
    *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
done
echo "all test stages passed: $STAGES"
