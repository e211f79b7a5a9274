#!/usr/bin/env bash
# Configures and builds radiald (Release) in build/. Extra arguments go to
# cmake, e.g. scripts/build.sh -DRADIAL_CUDA=OFF.
# Environment: JOBS (parallel jobs, default: all cores), BUILD_DIR (default
# build), RADIAL_BUILD_TARGETS (space-separated targets, default: all), e.g.
#   RADIAL_BUILD_TARGETS="radiald radial" scripts/build.sh -DRADIAL_BUILD_TESTS=OFF
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
TARGETS=()
if [ -n "${RADIAL_BUILD_TARGETS:-}" ]; then
  read -r -a targets <<<"$RADIAL_BUILD_TARGETS"
  TARGETS=(--target "${targets[@]}")
fi
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}" "${TARGETS[@]}"
