#!/usr/bin/env bash
# The container image is real: builds the CPU-only image from the Dockerfile
# with podman, runs it (read-only root, non-root user, the config mounted as a
# file), then checks against the running container:
#   - the image's HEALTHCHECK (podman healthcheck run: `radial health` over the
#     gRPC health service) becomes healthy,
#   - a streamed generation over gRPC (`radial generate --server`, from a second
#     container of the same image),
#   - GET /metrics shows the generated tokens,
#   - SIGTERM drains and exits 0,
# and removes everything it made (containers, images, the base image, files).
#
# No image registry is reachable here, so the Debian 12 base image is made
# locally: debootstrap (minbase) from the mirror the machine's apt sources use,
# with those sources copied in, imported into podman. Needs root (debootstrap,
# rootful podman); installs podman, runc and debootstrap through
# scripts/install-deps.sh --container-test.
#
# Environment:
#   RADIAL_CONTAINER_BASE_TAR=FILE  cache the debootstrapped base between local
#                                   runs (made when missing; CI leaves it unset
#                                   and builds the base from scratch)
#   RADIAL_DEBIAN_MIRROR=URL        mirror for debootstrap (default: from the
#                                   apt sources)
#   JOBS                            compile jobs inside the image build
# Prints the time of each step.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
if [ "$(id -u)" -ne 0 ]; then
  echo "container-test: needs root (debootstrap, rootful podman)" >&2
  exit 1
fi

TAG=ct$$
BASE_IMAGE=localhost/debian:bookworm-radial-$TAG
IMAGE=localhost/radiald:cpu-$TAG
SERVER=radiald-$TAG
WORK=$(mktemp -d /tmp/radial-container-test.XXXXXX)
export CONTAINERS_CONF=$WORK/containers.conf
printf '[containers]\ndefault_ulimits = []\n' >"$CONTAINERS_CONF"
PODMAN=(podman --runtime runc --cgroup-manager cgroupfs)

STEPS=()
step_start=0
begin() { step_start=$(date +%s); echo "=== container-test: $1"; }
end() {
  local s=$(($(date +%s) - step_start))
  STEPS+=("$(printf '%-34s %4d s' "$1" "$s")")
  echo "=== container-test: $1: $s s"
}

cleanup() {
  local rc=$?
  set +e
  if [ $rc -ne 0 ] && "${PODMAN[@]}" container exists "$SERVER" 2>/dev/null; then
    echo "--- radiald container log:"
    "${PODMAN[@]}" logs "$SERVER" 2>&1 | tail -n 40
  fi
  "${PODMAN[@]}" rm -f -t 0 "$SERVER" >/dev/null 2>&1
  "${PODMAN[@]}" rm -f -t 0 "$SERVER-client" >/dev/null 2>&1
  podman rmi -f "$IMAGE" >/dev/null 2>&1
  podman rmi -f "$BASE_IMAGE" >/dev/null 2>&1
  # Images of the build stage and dangling layers this build left (not ones
  # that were there before).
  for id in $(podman images -q --filter "label=radial.container-test=$TAG" 2>/dev/null) \
            $(podman images -q --filter dangling=true 2>/dev/null); do
    grep -qx "$id" "$WORK/dangling-before" 2>/dev/null || podman rmi -f "$id" >/dev/null 2>&1
  done
  rm -rf "$WORK"
  if [ ${#STEPS[@]} -gt 0 ]; then
    echo "=== container-test step times:"
    printf '    %s\n' "${STEPS[@]}"
  fi
  [ $rc -eq 0 ] && echo "container-test: passed" || echo "container-test: FAILED"
  exit $rc
}
trap cleanup EXIT

# check, free_port (the shell e2e tests' helpers).
. tests/e2e/lib.sh

# --- 1. podman, runc, debootstrap --------------------------------------------
begin "install podman runc debootstrap"
bash scripts/install-deps.sh --container-test
end "install podman runc debootstrap"

# --- 2. the Debian 12 base image ---------------------------------------------
# The apt source files (sources.list, sources.list.d/*.list, *.sources) whose
# signing keys the debootstrapped system has.
apt_source_files() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -s "$f" ] && echo "$f"
  done
}
debian_mirror() {
  if [ -n "${RADIAL_DEBIAN_MIRROR:-}" ]; then echo "$RADIAL_DEBIAN_MIRROR"; return; fi
  local uri
  uri=$(apt_source_files | xargs -r cat | awk '
    /^[[:space:]]*#/ { next }
    /^URIs:/ { for (i = 2; i <= NF; i++) print $i; next }
    /^deb[[:space:]]/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { print $i; break } }' |
    grep -v -e security -e updates | grep '/debian/\?$' | head -n 1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

begin "base image (debootstrap + import)"
BASE_TAR=${RADIAL_CONTAINER_BASE_TAR:-}
if [ -z "$BASE_TAR" ] || [ ! -s "$BASE_TAR" ]; then
  ROOTFS=$WORK/rootfs
  MIRROR=$(debian_mirror)
  echo "debootstrap --variant=minbase bookworm from $MIRROR"
  debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -n 30 "$WORK/debootstrap.log"; exit 1; }
  # The machine's apt sources (those whose keys the new system has) and proxy settings.
  copied=0
  while read -r f; do
    ok=1
    for key in $(grep -oiE '(signed-by:|signed-by=)[[:space:]]*[^] ,]+' "$f" | sed -E 's/^[^:=]*[:=][[:space:]]*//'); do
      [ -e "$ROOTFS$key" ] || ok=0
    done
    if [ $ok -eq 1 ]; then
      mkdir -p "$ROOTFS$(dirname "$f")"
      cp "$f" "$ROOTFS$f"
      copied=$((copied + 1))
    else
      echo "not copying $f (its signing key is not in the base system)"
    fi
  done < <(apt_source_files)
  if [ $copied -gt 0 ] && [ ! -e /etc/apt/sources.list ]; then rm -f "$ROOTFS/etc/apt/sources.list"; fi
  for f in /etc/apt/apt.conf.d/*; do
    if [ -f "$f" ] && grep -qi 'Acquire::.*Proxy' "$f"; then cp "$f" "$ROOTFS$f"; fi
  done
  rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
  if [ -n "$BASE_TAR" ]; then
    tar -C "$ROOTFS" -cf "$BASE_TAR" .
    tar_src=$BASE_TAR
  else
    tar -C "$ROOTFS" -cf "$WORK/base.tar" .
    tar_src=$WORK/base.tar
  fi
  rm -rf "$ROOTFS"
else
  echo "base from the cache $BASE_TAR"
  tar_src=$BASE_TAR
fi
podman import -q \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/bash"]' "$tar_src" "$BASE_IMAGE" >/dev/null
rm -f "$WORK/base.tar"
end "base image (debootstrap + import)"

# --- 3. the image --------------------------------------------------------------
begin "podman build (CPU only)"
podman images -q --filter dangling=true >"$WORK/dangling-before" 2>/dev/null || true
# --format docker keeps HEALTHCHECK (the OCI format drops it).
{ podman build --format docker --isolation=chroot --network=host --layers=false \
    --build-arg BUILD_BASE="$BASE_IMAGE" --build-arg RUNTIME_BASE="$BASE_IMAGE" \
    --build-arg CUDA=OFF --build-arg JOBS="${JOBS:-$(nproc)}" \
    --label "radial.container-test=$TAG" \
    -f Dockerfile -t "$IMAGE" . 2>&1 || echo "podman build failed: exit $?"; } |
  tee "$WORK/build.log" | while IFS= read -r line; do
    # Progress: each Dockerfile step with the seconds since the build began.
    case $line in
      *"STEP "[0-9]*|"COMMIT"*|"runtime packages:"*|"podman build failed"*)
        printf '  [%4d s] %.150s\n' $(($(date +%s) - step_start)) "$line" ;;
    esac
  done
if grep -q '^podman build failed' "$WORK/build.log"; then tail -n 40 "$WORK/build.log"; exit 1; fi
end "podman build (CPU only)"

podman image inspect "$IMAGE" >"$WORK/image.json"
/usr/bin/python3 - "$WORK/image.json" <<'EOF' || exit 1
import json, sys
img = json.load(open(sys.argv[1]))[0]
cfg = img.get("Config", {})
hc = cfg.get("Healthcheck") or img.get("Healthcheck") or img.get("HealthCheck") or {}
test = " ".join(hc.get("Test") or [])
print(f"image: {img['Size'] / 1e6:.0f} MB, user {cfg.get('User')}, entrypoint {cfg.get('Entrypoint')}, "
      f"cmd {cfg.get('Cmd')}, ports {sorted(cfg.get('ExposedPorts', {}))}")
print(f"healthcheck: {test}")
errors = []
if "radial health" not in test: errors.append("no HEALTHCHECK running `radial health`")
if cfg.get("User", "") in ("", "0", "root", "0:0"): errors.append("runs as root")
if cfg.get("Entrypoint") != ["radiald"]: errors.append("entrypoint is not radiald")
if sorted(cfg.get("ExposedPorts", {})) != ["50051/tcp", "8080/tcp", "9090/tcp"]: errors.append("EXPOSE is not 50051, 8080 and 9090")
for e in errors: print("FAIL:", e)
sys.exit(1 if errors else 0)
EOF

# --- 4. run it -------------------------------------------------------------------
begin "start radiald, health check"
PORT=$(free_port)
METRICS_PORT=$(free_port)
HTTP_PORT=$(free_port)
cat >"$WORK/radiald.json" <<EOF
{
  "model": "/opt/radial/models/stories260K",
  "listen": "0.0.0.0:$PORT",
  "http_listen": "127.0.0.1:$HTTP_PORT",
  "metrics_listen": "127.0.0.1:$METRICS_PORT",
  "threads": 2,
  "drain_timeout_s": 10,
  "log_level": "info"
}
EOF
chmod 644 "$WORK/radiald.json"
"${PODMAN[@]}" run -d --name "$SERVER" --network=host --read-only \
  -v "$WORK/radiald.json:/etc/radiald/radiald.json:ro" \
  -e RADIAL_HEALTH_ADDR="127.0.0.1:$PORT" "$IMAGE" >/dev/null 2>"$WORK/run.err" ||
  { cat "$WORK/run.err"; exit 1; }
healthy=0
for _ in $(seq 1 120); do
  if [ "$("${PODMAN[@]}" inspect -f '{{.State.Running}}' "$SERVER")" != true ]; then break; fi
  if "${PODMAN[@]}" healthcheck run "$SERVER" >"$WORK/health.out" 2>&1; then healthy=1; break; fi
  sleep 1
done
check "HEALTHCHECK (podman healthcheck run) becomes healthy" [ $healthy -eq 1 ]
[ $healthy -eq 1 ] || exit 1
check "radiald runs as uid 10001, not root" \
  [ "$("${PODMAN[@]}" exec "$SERVER" id -u)" = 10001 ]
end "start radiald, health check"

# --- 5. a streamed generation over gRPC, from a second container ---------------
begin "streamed generation + /metrics"
gen_rc=0
"${PODMAN[@]}" run --rm --name "$SERVER-client" --network=host --entrypoint radial "$IMAGE" \
  generate --server "127.0.0.1:$PORT" --prompt "Once upon a time" --max-tokens 24 --ignore-eos --json \
  >"$WORK/generate.json" 2>"$WORK/generate.err" || gen_rc=$?
check "radial generate --server exits 0" [ $gen_rc -eq 0 ]
[ $gen_rc -eq 0 ] || cat "$WORK/generate.err"
check "the generation streamed 24 tokens with their depths" /usr/bin/python3 - "$WORK/generate.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
toks = r["tokens"]
print(f"  text: {r['text']!r}")
print(f"  {len(toks)} tokens, mean depth {r['mean_depth']:.2f}, compute fraction {r['compute_fraction']:.2f}, "
      f"finish {r['finish_reason']}, ttft {r.get('ttft_seconds', 0) * 1000:.1f} ms")
depth = r["depth"]
ok = (len(toks) == 24 and len(depth) == 24 and len(r["path"]) == 24
      and all(0 <= d <= r["num_layers"] for d in depth) and r["text"].strip())
sys.exit(0 if ok else 1)
EOF

http_rc=0
curl -sf --max-time 20 "http://127.0.0.1:$HTTP_PORT/v1/completions" -H 'Content-Type: application/json' \
  -d '{"model": "stories260K", "prompt": "Once upon a time", "max_tokens": 8, "temperature": 0, "ignore_eos": true}' \
  >"$WORK/completion.json" || http_rc=$?
check "POST /v1/completions (the OpenAI HTTP API) answers" [ $http_rc -eq 0 ]
check "the completion has 8 tokens of text" /usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print("  completion:", repr(r["choices"][0]["text"]), r["usage"])
sys.exit(0 if r["usage"]["completion_tokens"] == 8 and r["choices"][0]["text"] else 1)' "$WORK/completion.json"

curl_rc=0
curl -sf --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" >"$WORK/metrics.txt" || curl_rc=$?
check "GET /metrics" [ $curl_rc -eq 0 ]
check "/metrics counts the 24 + 8 generated tokens" \
  grep -qE '^radial_generation_tokens_total\{model="stories260K"\} 32$' "$WORK/metrics.txt"
check "/metrics has the depth histogram" \
  grep -qE '^radial_token_depth_count\{model="stories260K"\} 32$' "$WORK/metrics.txt"
check "/metrics has per-layer utilisation" grep -q '^radial_layer_tokens_executed_total{' "$WORK/metrics.txt"
end "streamed generation + /metrics"

# --- 6. SIGTERM: drain, exit 0 ----------------------------------------------------
begin "stop (SIGTERM drain)"
# (podman's complaints that there is no systemd for health check timers: quiet.)
"${PODMAN[@]}" stop -t 30 "$SERVER" >/dev/null 2>"$WORK/stop.err" || cat "$WORK/stop.err"
check "radiald exits 0 on SIGTERM" [ "$("${PODMAN[@]}" inspect -f '{{.State.ExitCode}}' "$SERVER")" = 0 ]
"${PODMAN[@]}" logs "$SERVER" >"$WORK/radiald.log" 2>&1
check "radiald drained on SIGTERM" grep -q "drained" "$WORK/radiald.log"
end "stop (SIGTERM drain)"

[ $fails -eq 0 ]
