#!/usr/bin/env bash
# GPU checks of the CUDA backend, in two halves:
#
#   scripts/gpu-check.sh pack     (here, on the build machine)
#     builds `radial`, `radiald` and `cuda_tests` in build-cuda (RADIAL_CUDA=ON,
#     sm_90) and copies them, with the shared libraries the GPU machine lacks
#     (what ldd resolves outside the CUDA toolkit and the C runtime) and the
#     list of cuda test cases, into build-cuda/gpu/ (the one path to carry).
#
#   scripts/gpu-check.sh [STAGE...]   (on the GPU machine, repository root,
#     with build-cuda/gpu carried). Results go to $OUT (or gpu-results/
#     without it); the device tool returns at most 8 files, so the stages
#     write these: env.txt tests.txt sanitizer.txt serve.txt bench.txt (every
#     benchmark's and profile's log) bench-1b.json peer-1b.json summary.txt
#     (bench-quick keeps the default model's JSON out of them).
#     Our binaries get the packed libraries and cuBLAS's directory on their
#     own command lines only (wrappers in $WORK/bin), never the whole script:
#     the packed Debian libraries would shadow the image's for python3.
#     Stages:
#       env          the machine: OS, glibc, nvidia-smi, nvcc, where cuBLAS was
#                    found, what each binary resolves (and does not)
#       tests-isolated  each cuda test case in its own process with
#                    CUDA_LAUNCH_BLOCKING=1, a timeout and capped output, so a
#                    sticky CUDA error or a crash names its case and cannot take
#                    the others down
#       sanitizer    compute-sanitizer: memcheck on the model, attention, layer
#                    and head tests, racecheck on the kernels sharing memory
#                    (SANITIZE_CASES; a failure to start is reported, not fatal)
#       serve        scripts/gpu-serve-check.sh: radiald --backend cuda end to end
#       bench-quick  short bench-engine runs: default model (bf16), Llama-3.2-1B shape
#       tests        all cuda tests in one process (faster, less isolated)
#       bench-small bench-1b bench-8b peer-1b peer-8b   the full benchmarks
#       bench-1b-long  1B shape, 256 sequences of 2048-token prompts (KV-bound)
#       gemv-ab      1B decode at 1, 4, 8 sequences with RADIAL_CUDA_GEMV_ROWS
#                    0 (cuBLAS only), 4 (the default) and 8
#       summary      the table of the results (printed last)
#       peer-quick   bench/peer_hf.py eager on the 1B shape, bench-quick's sizes
#       profile      ncu kernel durations of batch-1 decode steps (1B shape)
#       profile-forward64  the same for forward mode at 64 sequences
#     Default stages: first-run = env tests-isolated sanitizer serve bench-quick summary.
#     The performance issue's two calls (about 5 and 8 minutes, estimated):
#     perf  = env tests-isolated bench-1b bench-1b-long gemv-ab profile summary
#     perf2 = bench-8b peer-1b peer-8b sanitizer profile-forward64 summary
#     Every stage writes its results as it goes: a call cut short keeps them,
#     and `scripts/gpu-check.sh summary DIR` redoes the summary here.
#     One device command may run 10 minutes; first-run takes about 5.
set -uo pipefail
cd "$(dirname "$0")/.."
GPU_DIR=build-cuda/gpu
RESULTS=${OUT:-gpu-results}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
mkdir -p "$RESULTS"

pack() {
  set -e
  cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DRADIAL_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
  cmake --build build-cuda -j "${JOBS:-2}" --target radial radiald cuda_tests
  rm -rf "$GPU_DIR"
  mkdir -p "$GPU_DIR/bin" "$GPU_DIR/lib"
  cp build-cuda/tools/radial build-cuda/server/radiald build-cuda/tests/cuda_tests "$GPU_DIR/bin/"
  strip "$GPU_DIR/bin/"*
  # (Catch2 exits with the number of test cases it listed.)
  { "$GPU_DIR/bin/cuda_tests" --list-test-names-only || true; } | grep -v '^$' >"$GPU_DIR/cuda-tests.list"
  # Libraries outside the CUDA toolkit and the C/C++ runtime the device has.
  for bin in "$GPU_DIR"/bin/*; do
    ldd "$bin" | awk '/=> \// {print $3}'
  done | sort -u | grep -v -E '/(libc|libm|libdl|librt|libpthread|libgcc_s|libstdc\+\+|ld-linux[^/]*)\.so|/usr/local/cuda|libcuda\.so|libcudart|libcublas' |
    while read -r lib; do cp -L "$lib" "$GPU_DIR/lib/"; done
  du -sh "$GPU_DIR"
  echo "pack: $(wc -l <"$GPU_DIR/cuda-tests.list") cuda test cases"
  echo "carry: [\"$GPU_DIR\"]; run: bash scripts/gpu-check.sh [STAGE...]"
}

# cuBLAS 13's directory: the CUDA toolkit's, or the one the CUDA 13 wheels
# bring (nvidia/cu13/lib; older wheels: nvidia/cublas/lib), else a search.
find_cublas() {
  local d base
  for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda/lib; do
    [ -e "$d/libcublas.so.13" ] && { echo "$d"; return; }
  done
  base=$(python3 -c 'import nvidia, os; print(list(nvidia.__path__)[0])' 2>/dev/null)
  for d in "$base/cu13/lib" "$base/cublas/lib"; do
    [ -n "$base" ] && [ -e "$d/libcublas.so.13" ] && { echo "$d"; return; }
  done
  d=$(find /usr /opt -name 'libcublas.so.13*' -not -path '*/stubs/*' 2>/dev/null | head -n 1)
  [ -n "$d" ] && dirname "$d"
}

setup() {
  CUBLAS_DIR=$(find_cublas)
  LIBPATH="$PWD/$GPU_DIR/lib${CUBLAS_DIR:+:$CUBLAS_DIR}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  mkdir -p "$WORK/bin"
  local b
  for b in radial radiald cuda_tests; do
    printf '#!/bin/sh\nLD_LIBRARY_PATH=%q exec %q "$@"\n' "$LIBPATH" "$PWD/$GPU_DIR/bin/$b" >"$WORK/bin/$b"
    chmod +x "$WORK/bin/$b"
  done
  RADIAL=$WORK/bin/radial
  RADIALD=$WORK/bin/radiald
  CUDA_TESTS=$WORK/bin/cuda_tests
}

stage_env() {
  {
    echo "== date"; date -u
    echo "== uname"; uname -a
    echo "== os"; grep -E '^(PRETTY_NAME|VERSION_ID)=' /etc/os-release
    echo "== glibc"; ldd --version 2>&1 | head -n 1
    echo "== nvidia-smi"; nvidia-smi 2>&1
    nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm,clocks.mem,power.limit,persistence_mode --format=csv 2>&1
    echo "== nvcc"; (nvcc --version || /usr/local/cuda/bin/nvcc --version) 2>&1 | tail -n 2
    echo "== compute-sanitizer"; (compute-sanitizer --version || /usr/local/cuda/bin/compute-sanitizer --version) 2>&1 | head -n 2
    echo "== python"; python3 -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tail -n 1
    echo "== cuBLAS"; echo "dir: ${CUBLAS_DIR:-NOT FOUND}"; [ -n "$CUBLAS_DIR" ] && ls -l "$CUBLAS_DIR" | grep -E 'libcublas(Lt)?\.so' 
    echo "== every libcublas.so.13 on the machine"; find /usr /opt -name 'libcublas.so.13*' 2>/dev/null | head
    echo "== libraries (LD_LIBRARY_PATH=$LIBPATH for our binaries only)"
    local bin
    for bin in "$GPU_DIR"/bin/*; do
      echo "-- $bin"
      LD_LIBRARY_PATH=$LIBPATH ldd "$bin" | awk '{print "   " $0}'
    done
    echo "== unresolved"
    for bin in "$GPU_DIR"/bin/*; do
      LD_LIBRARY_PATH=$LIBPATH ldd "$bin" | grep "not found" | sed "s|^|$bin: |"
    done
    echo "(end)"
  } >"$RESULTS/env.txt" 2>&1
  grep -E "PRETTY|GLIBC|glibc|NVIDIA H|^dir:|not found" "$RESULTS/env.txt" | head -n 12
}

# Catch2 test specs treat , [ ] \ specially: escape them in a test name.
catch_spec() { printf '%s' "$1" | sed -e 's/[\\,[]/\\&/g' -e 's/]/\\]/g'; }

stage_tests_isolated() {
  local out=$RESULTS/tests.txt list=$GPU_DIR/cuda-tests.list
  : >"$out"
  [ -s "$list" ] || { "$CUDA_TESTS" --list-test-names-only || true; } | grep -v '^$' >"$list"
  local name rc t0 ms status i=0 pass=0 fail=0
  while IFS= read -r name; do
    i=$((i + 1))
    t0=$(date +%s%N)
    CUDA_LAUNCH_BLOCKING=1 RADIAL_SOURCE_DIR=$PWD timeout -k 5 "${CASE_TIMEOUT:-150}" \
      "$CUDA_TESTS" "$(catch_spec "$name")" --durations yes >"$WORK/case.log" 2>&1
    rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    if [ $rc -eq 0 ]; then
      pass=$((pass + 1)); status=PASS
    else
      fail=$((fail + 1)); status="FAIL(rc=$rc)"
      [ $rc -eq 124 ] && status="TIMEOUT"
    fi
    printf '%-12s %4d.%01ds  %s\n' "$status" $((ms / 1000)) $((ms % 1000 / 100)) "$name" |
      tee -a "$WORK/tests-summary"
    {
      printf '=== %s %s (%d ms)\n' "$status" "$name" "$ms"
      if [ "$(wc -c <"$WORK/case.log")" -le 12000 ]; then cat "$WORK/case.log"
      else head -c 8000 "$WORK/case.log"; echo; echo "[... $(wc -c <"$WORK/case.log") bytes; the last 3000:]"; tail -c 3000 "$WORK/case.log"; fi
      echo
    } >>"$out"
  done <"$list"
  echo "cuda test cases: $pass passed, $fail failed (of $i)" | tee -a "$WORK/tests-summary"
  { echo "== summary"; cat "$WORK/tests-summary"; } >>"$out"
}

# compute-sanitizer on chosen cases, each with a timeout: memcheck (bad
# accesses) on the model, attention, layer and head paths, racecheck
# (shared-memory hazards) on the kernels that share memory across warps.
SANITIZE_CASES=(
  "memcheck|fp32 on the GPU reproduces reference.json"
  "memcheck|paged_attention matches cpu::attend on mixed batches"
  "memcheck|forward_layer matches the CPU backend at real attention shapes"
  "memcheck|the head beyond head_rows agrees with the CPU: logits, greedy and sampled rows"
  "memcheck|routed decode of many sequences: f32 equals the CPU's, bf16 stays close"
  "racecheck|paged_attention matches cpu::attend on mixed batches"
  "racecheck|sample_rows draws what sample_token draws"
  "racecheck|rmsnorm_rows gathers and normalises like cpu::rmsnorm"
  "racecheck|rope_write_kv rotates Q and K like cpu::Rope and stores K/V"
  "racecheck|greedy rows split over many CTAs take the smallest id of the largest value"
  "memcheck|gemv_xwt matches cpu::gemm_xwt for up to 8 rows"
)
stage_sanitizer() {
  local cs entry tool name rc
  cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  : >"$RESULTS/sanitizer.txt"
  if [ ! -x "$cs" ]; then echo "compute-sanitizer not found" | tee "$RESULTS/sanitizer.txt"; return 0; fi
  for entry in "${SANITIZE_CASES[@]}"; do
    tool=${entry%%|*}; name=${entry#*|}
    RADIAL_SOURCE_DIR=$PWD LD_LIBRARY_PATH=$LIBPATH timeout -k 5 "${SANITIZER_TIMEOUT:-60}" \
      "$cs" --tool "$tool" --print-limit 20 --error-exitcode 99 \
      "$PWD/$GPU_DIR/bin/cuda_tests" "$(catch_spec "$name")" >"$WORK/san.log" 2>&1
    rc=$?
    {
      echo "=== $tool: $name: exit $rc (99: errors found; 124: timeout; other: see the log)"
      grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed|failed" "$WORK/san.log" | head -n 5
      [ $rc -ne 0 ] && tail -c 6000 "$WORK/san.log"
    } >>"$RESULTS/sanitizer.txt"
    printf '%-9s exit %-3s %s\n' "$tool" "$rc" "$name" | tee -a "$WORK/sanitizer-summary"
  done
}

stage_serve() {
  timeout -k 5 "${SERVE_TIMEOUT:-180}" bash scripts/gpu-serve-check.sh "$RADIAL" "$RADIALD" cuda \
    >"$RESULTS/serve.txt" 2>&1
  echo "serve check exit: $?" >>"$RESULTS/serve.txt"
  grep -E "FAIL|passed|SERVING after|identical|exit:" "$RESULTS/serve.txt"
}

bench() {  # bench NAME [bench-engine args...]; JSON into $BENCH_JSON_DIR (default: results)
  local name=$1; shift
  echo "=== bench-engine $name: $*" | tee -a "$RESULTS/bench.txt"
  timeout -k 5 "${BENCH_TIMEOUT:-300}" "$RADIAL" bench-engine --backend cuda \
    --json "${BENCH_JSON_DIR:-$RESULTS}/bench-$name.json" "$@" 2>&1 | tee -a "$RESULTS/bench.txt"
  echo "exit: ${PIPESTATUS[0]}" | tee -a "$RESULTS/bench.txt"
}

peer() {  # peer NAME CONFIG [peer_hf args...]
  local name=$1 config=$2; shift 2
  echo "=== peer_hf $name: $config $*" | tee -a "$RESULTS/bench.txt"
  PYTHONUNBUFFERED=1 timeout -k 5 "${BENCH_TIMEOUT:-300}" python3 bench/peer_hf.py \
    --config "$config" --json "$RESULTS/peer-$name.json" "$@" 2>&1 | tee -a "$RESULTS/bench.txt"
  echo "exit: ${PIPESTATUS[0]}" | tee -a "$RESULTS/bench.txt"
}

# Where a batch-1 decode step of the Llama-3.2-1B shape spends its GPU time:
# Nsight Compute's duration of each kernel over a window of decode steps
# (clocks left alone), summed by kernel; steps = launches of embed_rows.
# The measured ms/step minus the kernels' sum is host work and launch gaps.
stage_profile() {  # stage_profile [MODE [SEQUENCES]] (default: full 1)
  local ncu mode=${1:-full} seqs=${2:-1}
  ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -n 1)
  echo "=== profile: ncu kernel durations, decode 1B shape, $seqs sequence(s), $mode mode" | tee -a "$RESULTS/bench.txt"
  if [ -z "$ncu" ]; then echo "ncu not found" | tee -a "$RESULTS/bench.txt"; return 0; fi
  LD_LIBRARY_PATH=$LIBPATH timeout -k 5 "${PROFILE_TIMEOUT:-150}" "$ncu" --clock-control none \
    --metrics gpu__time_duration.sum --csv --launch-skip "${PROFILE_SKIP:-4000}" \
    --launch-count "${PROFILE_COUNT:-600}" "$PWD/$GPU_DIR/bin/radial" bench-engine --backend cuda \
    --dummy-config models/configs/llama-3.2-1b.json --concurrency "$seqs" --modes "$mode" --threshold 0.5 \
    --prompt-len 128 --gen-tokens 64 --prefill-seqs 1 --prefill-len 128 >"$WORK/ncu.csv" 2>"$WORK/ncu.err"
  echo "ncu exit: $?" | tee -a "$RESULTS/bench.txt"
  python3 - "$WORK/ncu.csv" <<'PY' 2>&1 | tee -a "$RESULTS/bench.txt"
import csv, re, sys
rows = [r for r in csv.reader(l for l in open(sys.argv[1]) if l.startswith('"'))]
if len(rows) < 2:
    print("no kernel rows"); sys.exit(0)
h = rows[0]
K, U, V = h.index("Kernel Name"), h.index("Metric Unit"), h.index("Metric Value")
scale = {"ns": 1e-3, "nsecond": 1e-3, "us": 1, "usecond": 1, "ms": 1e3, "msecond": 1e3, "s": 1e6, "second": 1e6}
agg = {}
for r in rows[1:]:
    name = r[K].replace("(anonymous namespace)::", "").replace("<unnamed>::", "").replace("void ", "")
    name = re.sub(r"\(.*", "", name).replace("radial::kernels::", "").replace("radial::", "")
    us = float(r[V].replace(",", "")) * scale.get(r[U], 1)
    c, t = agg.get(name, (0, 0.0))
    agg[name] = (c + 1, t + us)
steps = max(1, sum(c for n, (c, t) in agg.items() if n.startswith("embed")))
total = sum(t for c, t in agg.values())
print("%d kernels over %d decode steps: %.1f us of kernels per step" % (sum(c for c, t in agg.values()), steps, total / steps))
print("  %-60s %6s %10s %9s" % ("kernel", "count", "us/step", "us each"))
for n, (c, t) in sorted(agg.items(), key=lambda x: -x[1][1]):
    print("  %-60s %6d %10.1f %9.2f" % (n[:60], c, t / steps, t / c))
PY
  tail -n 3 "$WORK/ncu.err" | tee -a "$RESULTS/bench.txt"
}

summary() {
  local dir=${1:-$RESULTS}
  {
    [ -f "$WORK/tests-summary" ] && { echo "cuda test cases (one process each):"; sed 's/^/  /' "$WORK/tests-summary"; }
    [ -f "$WORK/sanitizer-summary" ] && { echo "compute-sanitizer (exit 0: clean; 99: errors; 124: timeout):"; sed 's/^/  /' "$WORK/sanitizer-summary"; }
    [ -f "$dir/serve.txt" ] && { echo "serve:"; grep -E "FAIL|passed|SERVING after|identical|depth_count|exit:" "$dir/serve.txt" | sed 's/^/  /'; }
    python3 - "$dir" "$WORK" <<'PY'
import glob, json, os, sys
d, work = sys.argv[1], sys.argv[2]
def load(name):
    p = os.path.join(d, name)
    return json.load(open(p)) if os.path.exists(p) else None
def find(rows, workload_prefix, mode, seqs=None):
    for r in rows or []:
        if r["workload"].startswith(workload_prefix) and r["mode"] == mode and \
                (seqs is None or r["seqs"] == seqs) and "tokens_per_s" in r:
            return r
    return None
for name in ("small-bf16", "small-f32", "1b", "1b-long", "8b"):
    b = load("bench-%s.json" % name)
    if not b:
        continue
    print("bench-engine %-10s %s, %.0f GB/s, %.0f TFLOP/s measured" % (
        name, b["backend"], b["bandwidth_bytes_per_s"] / 1e9, b["gemm_flops_per_s"] / 1e12))
    for r in b["rows"]:
        print("  %-16s %-8s %4d  depth %5.2f  %10.1f tok/s  floor %10.1f  %5.1f%%  %7.3f ms/step  calls %4.1f  waits %4.1f" % (
            r["workload"], r["mode"], r["seqs"], r["depth"], r["tokens_per_s"],
            r["floor_tokens_per_s"], 100 * r["tokens_per_s"] / max(r["floor_tokens_per_s"], 1e-9),
            r["ms_per_step"], r.get("layer_calls_per_step", 0), r.get("host_waits_per_step", 0)))
for name in ("1b", "8b"):
    b, p = load("bench-%s.json" % name), load("peer-%s.json" % name)
    rows = b["rows"] if b else None
    r = find(rows, "decode", "full", 1)
    if r and name == "1b":
        f = r["tokens_per_s"] / r["floor_tokens_per_s"]
        print("target %s batch-1 decode full: %.1f%% of floor (target >= 70%%): %s" % (name, 100 * f, "MET" if f >= 0.7 else "MISSED"))
    r = find(rows, "decode", "full", 64)
    q = find(p, "decode", "compile", 64)
    if r and q:
        print("target %s 64 seqs full %.0f tok/s vs torch.compile %.0f: %s" % (name, r["tokens_per_s"], q["tokens_per_s"], "MET" if r["tokens_per_s"] >= q["tokens_per_s"] else "MISSED"))
for name in ("1b", "1b-long", "8b"):  # forward at half depth against full, beside the floors' ratio
    b = load("bench-%s.json" % name)
    for r in (b or {}).get("rows", []):
        if r["mode"] != "forward" or not (r["workload"].startswith("prefill") or r["seqs"] == 256):
            continue
        f = find(b["rows"], r["workload"], "full", r["seqs"])
        if f and f["tokens_per_s"] > 0 and f["floor_tokens_per_s"] > 0:
            got = r["tokens_per_s"] / f["tokens_per_s"]
            want = r["floor_tokens_per_s"] / f["floor_tokens_per_s"]
            print("target %s %s x%d forward/full %.2fx vs floors' %.2fx: %.0f%% (target >= 90%%): %s" % (
                name, r["workload"], r["seqs"], got, want, 100 * got / want, "MET" if got >= 0.9 * want else "MISSED"))
for p in sorted(glob.glob(os.path.join(work, "bench-gemv*.json"))):
    b = json.load(open(p))
    for r in b["rows"]:
        print("%-14s %-16s %-8s %4d  %10.1f tok/s  %5.1f%% of floor" % (
            os.path.basename(p)[6:-5], r["workload"], r["mode"], r["seqs"], r["tokens_per_s"],
            100 * r["tokens_per_s"] / max(r["floor_tokens_per_s"], 1e-9)))
for p in sorted(glob.glob(os.path.join(d, "peer-*.json"))):
    for r in json.load(open(p)):
        print("peer %-22s %-16s %-8s %4d  %s" % (r["model"], r["workload"], r["mode"], r["seqs"],
              "%.1f tok/s" % r["tokens_per_s"] if "tokens_per_s" in r else r.get("error", "")))
PY
  } >"$dir/summary.txt" 2>&1
  echo "=== gpu-check summary ($dir)"
  cat "$dir/summary.txt"
}

if [ "${1:-}" = pack ]; then pack; exit; fi
if [ "${1:-}" = summary ]; then summary "${2:-}"; exit; fi
setup
stages=${*:-first-run}
stages=${stages/first-run/env tests-isolated sanitizer serve bench-quick summary}
stages=${stages/perf2/bench-8b peer-1b peer-8b sanitizer profile-forward64 summary}
stages=${stages/perf/env tests-isolated bench-1b bench-1b-long gemv-ab profile summary}
for s in $stages; do
  t0=$SECONDS
  echo "=== stage $s"
  case $s in
    env) stage_env ;;
    tests-isolated) stage_tests_isolated ;;
    sanitizer) stage_sanitizer ;;
    serve) stage_serve ;;
    bench-quick)
      BENCH_JSON_DIR=$WORK bench small-bf16 --dtype bf16 --concurrency 1,64 --prompt-len 128 \
        --gen-tokens 64 --prefill-len 512 --prefill-seqs 8
      bench 1b --dummy-config models/configs/llama-3.2-1b.json --threshold 0.5 \
        --concurrency 1,8,64 --prompt-len 256 --gen-tokens 32 --prefill-len 1024 --prefill-seqs 4 ;;
    tests)
      RADIAL_SOURCE_DIR=$PWD "$CUDA_TESTS" --durations yes 2>&1 | tee "$RESULTS/tests.txt" ;;
    bench-small)
      bench small-bf16 --dtype bf16
      bench small-f32 --dtype f32 ;;
    bench-1b) bench 1b --dummy-config models/configs/llama-3.2-1b.json --threshold 0.5 ;;
    bench-1b-long)  # the KV-bound regime: 256 sequences of 2048-token prompts
      bench 1b-long --dummy-config models/configs/llama-3.2-1b.json --threshold 0.5 \
        --concurrency 256 --prompt-len 2048 --gen-tokens 32 --prefill-seqs 0 ;;
    gemv-ab)  # decode projections of <= N rows by the GEMV kernel: N = 0 (cuBLAS), 4, 8
      for rows in 0 4 8; do
        RADIAL_CUDA_GEMV_ROWS=$rows BENCH_JSON_DIR=$WORK bench "gemv$rows" \
          --dummy-config models/configs/llama-3.2-1b.json --modes full --concurrency 1,4,8 \
          --gen-tokens 128 --prefill-seqs 0
      done ;;
    bench-8b) bench 8b --dummy-config models/configs/llama-3.1-8b.json --threshold 0.5 ;;
    peer-quick)
      peer 1b models/configs/llama-3.2-1b.json --modes eager --concurrency 1,8,64 \
        --prompt-len 256 --gen-tokens 32 --prefill-len 1024 --prefill-seqs 4 ;;
    profile) stage_profile ;;
    profile-forward64) stage_profile forward 64 ;;
    peer-1b) peer 1b models/configs/llama-3.2-1b.json ;;
    peer-8b) peer 8b models/configs/llama-3.1-8b.json ;;
    summary) summary ;;
    *) echo "gpu-check: unknown stage $s" >&2; exit 2 ;;
  esac
  echo "=== stage $s: $((SECONDS - t0)) s"
done
rm -rf "$WORK"
