#!/usr/bin/env bash
# Installs the peer-benchmark npm packages (bench/llama_cpp/package.json and
# package-lock.json, with `npm ci`): node-llama-cpp 3.21.1, pinned (later
# versions break `npm ci` here), with llama.cpp's prebuilt CPU binaries for
# linux-x64 (@node-llama-cpp/linux-x64). bench/llama_cpp_bench.mjs and
# bench/compare_llama_cpp.sh use them, and so does the test
# tests/e2e/gguf_llama_cpp.sh (llama.cpp and radiald on the same GGUF files),
# which is why scripts/install-deps.sh calls this script (about 10 s, 83 MB).
#
# What it avoids:
#  * the CUDA and Vulkan binaries: node-llama-cpp lists every platform's
#    binaries as optional dependencies, and npm would fetch all of those
#    matching linux-x64 (-cuda, -cuda-ext, -vulkan). bench/llama_cpp depends
#    on @node-llama-cpp/linux-x64 directly and installs with --omit=optional,
#    so only the CPU package comes (on other platforms npm ci stops with
#    EBADPLATFORM: this bench is for linux-x64);
#  * building llama.cpp at install time: node-llama-cpp's postinstall would
#    check the binaries and, finding none usable, download llama.cpp's source
#    and build it with cmake. NODE_LLAMA_CPP_SKIP_DOWNLOAD=true skips that
#    postinstall (its README's switch); `llama_cpp_bench.mjs --check` below
#    loads the prebuilt CPU binary instead, with getLlama({gpu: false,
#    build: "never"}), which fails rather than build or download anything.
# Skipped when bench/llama_cpp/node_modules already matches the lock file.
set -euo pipefail
cd "$(dirname "$0")/../bench/llama_cpp"
command -v npm >/dev/null || { echo "install-bench-deps: npm not found (Node 20 or later)" >&2; exit 1; }
stamp=node_modules/.radial-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "install-bench-deps: bench/llama_cpp/node_modules is up to date"
  exit 0
fi
t0=$(date +%s)
NODE_LLAMA_CPP_SKIP_DOWNLOAD=true NODE_LLAMA_CPP_GPU=false \
  npm ci --omit=optional --no-audit --no-fund --loglevel=error
for gpu in linux-x64-cuda linux-x64-cuda-ext linux-x64-vulkan; do
  if [ -e "node_modules/@node-llama-cpp/$gpu" ]; then
    echo "install-bench-deps: unexpected GPU binaries node_modules/@node-llama-cpp/$gpu" >&2
    exit 1
  fi
done
node ../llama_cpp_bench.mjs --check | sed "s/^/install-bench-deps: /"
echo "$want" > "$stamp"
echo "install-bench-deps: installed in $(( $(date +%s) - t0 )) s ($(du -sh node_modules | cut -f1))"
