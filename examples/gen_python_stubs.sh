#!/usr/bin/env bash
# Generates the Python gRPC stubs of the radiald API (radial/v1/radial_pb2.py,
# radial/v1/radial_pb2_grpc.py) and of the gRPC health check (health_pb2.py,
# health_pb2_grpc.py) into OUT_DIR (default: build/python-stubs under the
# repository root), with protoc and grpc_python_plugin (Debian:
# protobuf-compiler, protobuf-compiler-grpc). Put OUT_DIR on PYTHONPATH, or let
# examples/python_client.py find it there.
# usage: examples/gen_python_stubs.sh [OUT_DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-$ROOT/build/python-stubs}
PLUGIN=$(command -v grpc_python_plugin) || { echo "gen_python_stubs.sh: grpc_python_plugin not found" >&2; exit 1; }
command -v protoc >/dev/null || { echo "gen_python_stubs.sh: protoc not found" >&2; exit 1; }
mkdir -p "$OUT"
protoc --proto_path="$ROOT/proto" --python_out="$OUT" --grpc_python_out="$OUT" \
  --plugin=protoc-gen-grpc_python="$PLUGIN" "$ROOT/proto/radial/v1/radial.proto"
protoc --proto_path="$ROOT/server/client" --python_out="$OUT" --grpc_python_out="$OUT" \
  --plugin=protoc-gen-grpc_python="$PLUGIN" "$ROOT/server/client/health.proto"
echo "$OUT"
