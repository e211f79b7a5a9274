# Shared helpers of the shell end-to-end tests. Source it after setting
# RADIAL (the `radial` binary) and TMP (a scratch directory the test owns).
#   check NAME CMD...              counts a pass if CMD succeeds, else a failure
#                                  (and returns 1, so `check ... || show_log` works)
#   expect_error NAME CODE MSG -- ARGS...
#                                  runs `radial ARGS` (60 s at most); passes if it
#                                  exits CODE and stderr contains MSG
#   free_port                      prints a free TCP port on 127.0.0.1
#   wait_serving SERVER PID [SECONDS]
#                                  polls `radial health` until SERVING (30 s
#                                  default); fails early if PID exits
#   finish                         prints the tally; its status is the test's
#   PIDS+=(PID); trap cleanup_tmp EXIT
#                                  at exit: kills every PID in PIDS and removes
#                                  TMP (copied to $KEEP_TMP first when set)
# shellcheck shell=bash

fails=0
pass=0

check() {
  local name=$1; shift
  if "$@"; then pass=$((pass + 1)); else echo "FAIL: $name"; fails=$((fails + 1)); return 1; fi
}

expect_error() {
  local name=$1 code=$2 msg=$3; shift 4
  timeout 60 "$RADIAL" "$@" >"$TMP/out" 2>"$TMP/err"
  local rc=$?
  if [ "$rc" -ne "$code" ]; then
    echo "FAIL: $name: exit $rc, expected $code"; cat "$TMP/err"; fails=$((fails + 1)); return
  fi
  if ! grep -qF -- "$msg" "$TMP/err"; then
    echo "FAIL: $name: stderr lacks '$msg':"; cat "$TMP/err"; fails=$((fails + 1)); return
  fi
  pass=$((pass + 1))
}

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_serving() {
  local server=$1 pid=$2 seconds=${3:-30}
  local tries=$((seconds * 5))
  for _ in $(seq 1 "$tries"); do
    kill -0 "$pid" 2>/dev/null || return 1
    "$RADIAL" health --server "$server" --timeout 1 >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}

finish() {
  echo "$pass passed, $fails failed"
  [ "$fails" -eq 0 ]
}

PIDS=()
cleanup_tmp() {
  local p
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  [ -n "${KEEP_TMP:-}" ] && cp -r "$TMP" "$KEEP_TMP"
  rm -rf "$TMP"
}
