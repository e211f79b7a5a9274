#!/bin/sh
# The CUDA toolchain for the Dockerfile's build stage (CUDA=ON), from NVIDIA's
# Debian 12 repository: the compiler, the runtime and cuBLAS. Keeps the
# repository's keyring package in /opt/cuda-keyring.deb for the runtime stage.
# usage: cuda.sh build CUDA_VERSION        (e.g. 13-0)
set -eu
[ "${1:-}" = build ] && [ -n "${2:-}" ] || { echo "usage: cuda.sh build CUDA_VERSION" >&2; exit 2; }
v=$2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends ca-certificates curl
curl -fsSL -o /opt/cuda-keyring.deb \
  https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/cuda-keyring_1.1-1_all.deb
dpkg -i /opt/cuda-keyring.deb
apt-get update -q
apt-get install -y -q --no-install-recommends \
  "cuda-nvcc-$v" "cuda-cudart-dev-$v" "libcublas-dev-$v"
"/usr/local/cuda-$(echo "$v" | tr - .)/bin/nvcc" --version
