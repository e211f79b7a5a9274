#!/usr/bin/env bash
# GPU checks of the CUDA backend, in two halves:
#
#   scripts/gpu-check.sh pack     (here, on the build machine)
#     builds `radial` and `cuda_tests` in build-cuda (RADIAL_CUDA=ON, sm_90)
#     and copies them, with the shared libraries the GPU machine lacks (what
#     ldd resolves outside the CUDA toolkit and the C runtime), into
#     build-cuda/gpu/ (the one path to carry, well under 64 MiB).
#
#   scripts/gpu-check.sh [STAGE...]   (on the GPU machine, repository root,
#     with build-cuda/gpu carried): checks with ldd that everything
#     resolves, then runs the stages (default: tests bench-small bench-1b
#     bench-8b peer-1b summary) and prints a short table last. Results go
#     to $OUT (or gpu-results/ without it) as JSON and logs.
#     Stages: tests        the `cuda` tests (every kernel and the model vs the CPU)
#             bench-small  bench-engine on the default model (bf16 and f32)
#             bench-1b     bench-engine, random weights shaped like Llama-3.2-1B
#             bench-8b     the same for Llama-3.1-8B
#             peer-1b      bench/peer_hf.py (eager, torch.compile) for the 1B shape
#             peer-8b      the same for the 8B shape
#             summary [DIR]  the table from the JSON files in DIR (default: the results dir)
#     One device command may run 10 minutes: peer-8b (torch.compile at four
#     batch sizes) belongs in a call of its own.
set -uo pipefail
cd "$(dirname "$0")/.."
GPU_DIR=build-cuda/gpu
RESULTS=${OUT:-gpu-results}
mkdir -p "$RESULTS"

pack() {
  set -e
  cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DRADIAL_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
  cmake --build build-cuda -j "${JOBS:-2}" --target radial cuda_tests
  rm -rf "$GPU_DIR"
  mkdir -p "$GPU_DIR/bin" "$GPU_DIR/lib"
  cp build-cuda/tools/radial build-cuda/tests/cuda_tests "$GPU_DIR/bin/"
  strip "$GPU_DIR/bin/"*
  # Libraries outside the CUDA toolkit and the C/C++ runtime the device has.
  for bin in "$GPU_DIR"/bin/*; do
    ldd "$bin" | awk '/=> \// {print $3}'
  done | sort -u | grep -v -E '/(libc|libm|libdl|librt|libpthread|libgcc_s|libstdc\+\+|ld-linux[^/]*)\.so|/usr/local/cuda|libcuda\.so|libcudart|libcublas' |
    while read -r lib; do cp -L "$lib" "$GPU_DIR/lib/"; done
  du -sh "$GPU_DIR"
  echo "carry: [\"$GPU_DIR\"]; run: bash scripts/gpu-check.sh [STAGE...]"
}

check_libs() {
  # cuBLAS: the toolkit's, or the one PyTorch's wheels bring.
  local extra="$PWD/$GPU_DIR/lib"
  for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib \
    "$(python3 -c 'import nvidia.cublas, os; print(os.path.join(list(nvidia.cublas.__path__)[0], "lib"))' 2>/dev/null)"; do
    [ -n "$d" ] && [ -e "$d/libcublas.so.13" ] && extra="$extra:$d"
  done
  export LD_LIBRARY_PATH="$extra${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # cuBLAS is dlopen'ed (kernels/cublas_loader.cpp), so ldd does not show it.
  [ "$extra" != "$PWD/$GPU_DIR/lib" ] || [ -n "${RADIAL_CUBLAS_LIBRARY:-}" ] ||
    { echo "gpu-check: libcublas.so.13 not found (set RADIAL_CUBLAS_LIBRARY)"; exit 1; }
  local missing=0
  for bin in "$GPU_DIR"/bin/*; do
    if ldd "$bin" | grep -q "not found"; then
      echo "gpu-check: $bin: unresolved libraries:"; ldd "$bin" | grep "not found"; missing=1
    fi
  done
  [ $missing = 0 ] || exit 1
  nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.mem --format=csv,noheader || true
}

RADIAL=$GPU_DIR/bin/radial
bench() {  # bench NAME [bench-engine args...]
  local name=$1; shift
  echo "=== bench-engine $name ==="
  "$RADIAL" bench-engine --backend cuda --json "$RESULTS/bench-$name.json" "$@" \
    2>&1 | tee "$RESULTS/bench-$name.log"
}

peer() {  # peer NAME CONFIG
  echo "=== peer_hf $1 ==="
  PYTHONUNBUFFERED=1 python3 bench/peer_hf.py --config "$2" --json "$RESULTS/peer-$1.json" \
    2>&1 | tee "$RESULTS/peer-$1.log"
}

summary() {
  local dir=${1:-$RESULTS}
  python3 - "$dir" <<'PY'
import glob, json, os, sys
d = sys.argv[1]
def load(name):
    p = os.path.join(d, name)
    return json.load(open(p)) if os.path.exists(p) else None
def find(rows, workload_prefix, mode, seqs=None):
    for r in rows or []:
        if r["workload"].startswith(workload_prefix) and r["mode"] == mode and \
                (seqs is None or r["seqs"] == seqs) and "tokens_per_s" in r:
            return r
    return None
print("gpu-check summary (%s)" % d)
t = load("tests.rc")
for name in ("small-bf16", "small-f32", "1b", "8b"):
    b = load("bench-%s.json" % name)
    if not b:
        continue
    print("  bench-engine %-10s %s, %.0f GB/s, %.0f TFLOP/s measured" % (
        name, b["backend"], b["bandwidth_bytes_per_s"] / 1e9, b["gemm_flops_per_s"] / 1e12))
    for r in b["rows"]:
        print("    %-16s %-8s %4d  depth %5.2f  %10.1f tok/s  floor %10.1f  %5.1f%%" % (
            r["workload"], r["mode"], r["seqs"], r["depth"], r["tokens_per_s"],
            r["floor_tokens_per_s"], 100 * r["tokens_per_s"] / max(r["floor_tokens_per_s"], 1e-9)))
print("  targets:")
for name in ("1b", "8b"):
    b, p = load("bench-%s.json" % name), load("peer-%s.json" % name)
    rows = b["rows"] if b else None
    r = find(rows, "decode", "full", 1)
    if r and name == "1b":
        f = r["tokens_per_s"] / r["floor_tokens_per_s"]
        print("    %s batch-1 decode full: %.1f%% of floor (target >= 70%%): %s" % (name, 100 * f, "MET" if f >= 0.7 else "MISSED"))
    r = find(rows, "decode", "full", 64)
    q = find(p, "decode", "compile", 64)
    if r and q:
        print("    %s 64 seqs full %.0f tok/s vs torch.compile %.0f: %s" % (name, r["tokens_per_s"], q["tokens_per_s"], "MET" if r["tokens_per_s"] >= q["tokens_per_s"] else "MISSED"))
    for wl, seqs in (("decode", 256), ("prefill", None)):
        a, f = find(rows, wl, "full", seqs), find(rows, wl, "forward", seqs)
        if a and f:
            x = f["tokens_per_s"] / a["tokens_per_s"]
            print("    %s %s forward (depth %.2f) / full: %.2fx (target >= 1.6x): %s" % (name, wl if seqs is None else "%s x%d" % (wl, seqs), f["depth"], x, "MET" if x >= 1.6 else "MISSED"))
for p in sorted(glob.glob(os.path.join(d, "peer-*.json"))):
    for r in json.load(open(p)):
        print("  peer %-22s %-16s %-8s %4d  %s" % (r["model"], r["workload"], r["mode"], r["seqs"],
              "%.1f tok/s" % r["tokens_per_s"] if "tokens_per_s" in r else r.get("error", "")))
if t is not None:
    print("  cuda tests: exit %s" % t)
PY
}

if [ "${1:-}" = pack ]; then pack; exit; fi
if [ "${1:-}" = summary ]; then summary "${2:-}"; exit; fi
check_libs
stages=${*:-tests bench-small bench-1b bench-8b peer-1b summary}
for s in $stages; do
  case $s in
    tests)
      echo "=== cuda tests ==="
      RADIAL_SOURCE_DIR=$PWD "$GPU_DIR/bin/cuda_tests" --durations yes 2>&1 | tee "$RESULTS/cuda-tests.log"
      echo "${PIPESTATUS[0]}" >"$RESULTS/tests.rc" ;;
    bench-small)
      bench small-bf16 --dtype bf16
      bench small-f32 --dtype f32 ;;
    bench-1b) bench 1b --dummy-config models/configs/llama-3.2-1b.json --threshold 0.5 ;;
    bench-8b) bench 8b --dummy-config models/configs/llama-3.1-8b.json --threshold 0.5 ;;
    peer-1b) peer 1b models/configs/llama-3.2-1b.json ;;
    peer-8b) peer 8b models/configs/llama-3.1-8b.json ;;
    summary) summary ;;
    *) echo "gpu-check: unknown stage $s" >&2; exit 2 ;;
  esac
done
