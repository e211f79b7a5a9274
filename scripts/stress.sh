#!/usr/bin/env bash
# Load and fault tests of radiald (ctest label `stress`, loopback only):
#   scripts/stress.sh            the soak: 180 s of overload and misbehaving
#                                clients, then SIGTERM under load (~5 min)
#   scripts/stress.sh --short    the same with a 45 s soak (~2 min; CI)
# Builds radiald and radial in $BUILD (default: build, Release; configured
# if missing) and runs `ctest -L stress` there with RADIAL_STRESS=1. The
# checks and what they prove: tests/stress/stress.py. The JSON summary
# (requests by status, RSS, KV blocks) goes to $BUILD/stress-summary.json.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${BUILD:-build}
JOBS=${JOBS:-$(nproc)}
SOAK=180
case "${1:-}" in
  --short) SOAK=45 ;;
  "") ;;
  *) echo "usage: scripts/stress.sh [--short]" >&2; exit 2 ;;
esac
t0=$(date +%s)
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake "$BUILD" >/dev/null  # picks up tests/stress when the tree was configured before it
cmake --build "$BUILD" -j "$JOBS" --target radiald radial
echo "stress.sh: built in $(( $(date +%s) - t0 )) s; soak ${SOAK} s"
RADIAL_STRESS=1 RADIAL_STRESS_SOAK_S=$SOAK RADIAL_STRESS_JSON="$ROOT/$BUILD/stress-summary.json" \
  ctest --test-dir "$BUILD" -L stress --output-on-failure
echo "stress.sh: passed in $(( $(date +%s) - t0 )) s; summary in $BUILD/stress-summary.json"
