#!/bin/sh
# Prints the Debian packages that hold the shared libraries the given
# executables load (ldd), one per line, sorted: the runtime stage of the
# Dockerfile installs exactly these. Fails when a library is missing or
# belongs to no package, except the NVIDIA driver's libcuda.so.1, which the
# container runtime (nvidia-container-toolkit) mounts from the host.
# usage: runtime-packages.sh EXECUTABLE...
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for exe in "$@"; do
  ldd "$exe" >"$tmp/ldd"
  while read -r line; do
    case $line in
      libcuda.so.1*"=> not found"*) ;;
      *"=> not found"*) echo "runtime-packages: $exe: ${line%% *} not found" >&2; exit 1 ;;
      *"=> /"*) path=${line#*=> }; echo "${path%% (*}" ;;
      /*) echo "${line%% (*}" ;;
    esac
  done <"$tmp/ldd" >>"$tmp/paths"
done
sort -u "$tmp/paths" -o "$tmp/paths"
# One dpkg-query for every library (each call reads the whole file database):
# the path as ldd resolved it, its target, and both sides of the /usr merge.
while read -r p; do
  r=$(readlink -f "$p")
  printf '%s\n' "$p" "$r" "/usr$p" "${p#/usr}" "/usr$r" "${r#/usr}"
done <"$tmp/paths" | sort -u >"$tmp/candidates"
xargs dpkg-query -S <"$tmp/candidates" 2>/dev/null >"$tmp/owners" || true
while read -r p; do
  r=$(readlink -f "$p")
  owner=$(awk -v a="$p" -v b="$r" -v c="/usr$p" -v d="${p#/usr}" -v e="/usr$r" -v f="${r#/usr}" '
    { n = index($0, ": "); path = substr($0, n + 2) }
    path == a || path == b || path == c || path == d || path == e || path == f {
      split(substr($0, 1, n - 1), pk, ":"); print pk[1]; exit }' "$tmp/owners")
  if [ -z "$owner" ]; then
    echo "runtime-packages: no Debian package holds $p" >&2
    exit 1
  fi
  echo "$owner"
done <"$tmp/paths" >"$tmp/packages"
sort -u "$tmp/packages"
