#!/usr/bin/env bash
# Configures and builds radiald (Release) in build/. Extra arguments go to
# cmake, e.g. scripts/build.sh -DRADIAL_CUDA=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j "${JOBS:-$(nproc)}"
