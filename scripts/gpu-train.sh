#!/usr/bin/env bash
# The GPU training run of issue 17 (part 4), in two halves:
#
#   scripts/gpu-train.sh pack CORPUS_DIR     (here, on the build machine)
#     packs the tokenized corpus of scripts/build-corpus.sh (train.u16,
#     heldout.u16, tokenizer.model, manifest.json: about 10 MB with xz, of
#     the 64 MiB a device call may carry) into build-gpu-train/corpus.tar.xz,
#     the one path to carry. The ids travel, not the text: the device's
#     python3 need not have sentencepiece.
#
#   scripts/gpu-train.sh run [TRAIN ARGS...]  (on the GPU machine, repository
#     root, build-gpu-train carried; results in $OUT, or gpu-train-results/)
#     unpacks the corpus and runs `radial_torch train --device cuda --bf16`
#     with the shape below (about 27M parameters; TRAIN ARGS are appended, so
#     they override), stopping the step loop after MAX_SECONDS (default 420)
#     so that held-out figures and the export fit one 9-minute call. The
#     device returns at most 8 files of at most 16 MiB: the weights come back
#     as BF16 shards of at most 15 MiB (four for this shape), the small files
#     (config.json, index, radial.json, router.safetensors, tokenizer.model,
#     training.json) in one model-meta.tar, and train.log.
#     Back here: mkdir M && cp $FILES_AT/model-0000* M/ && tar -C M -xf
#     $FILES_AT/model-meta.tar, then `radial eval` / `radial_torch
#     perplexity` as in docs/training.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PACK_DIR=build-gpu-train
PYTHON=${PYTHON:-python3}  # the one with torch (here: /usr/bin/python3)

pack() {
  local corpus=${1:?usage: scripts/gpu-train.sh pack CORPUS_DIR}
  for f in train.u16 heldout.u16 tokenizer.model manifest.json; do
    [[ -f $corpus/$f ]] || { echo "gpu-train: $corpus/$f missing (run scripts/build-corpus.sh)" >&2; exit 2; }
  done
  mkdir -p "$PACK_DIR"
  tar -C "$corpus" -cf - train.u16 heldout.u16 tokenizer.model manifest.json |
    xz -T"${JOBS:-2}" -6 >"$PACK_DIR/corpus.tar.xz"
  ls -l "$PACK_DIR/corpus.tar.xz"
}

run() {
  local out=${OUT:-gpu-train-results}
  [[ -f $PACK_DIR/corpus.tar.xz ]] || { echo "gpu-train: $PACK_DIR/corpus.tar.xz missing (pack it and carry $PACK_DIR)" >&2; exit 2; }
  work=$(mktemp -d "${TMPDIR:-/tmp}/gpu-train.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$out" "$work/corpus"
  "$PYTHON" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
    "$PACK_DIR/corpus.tar.xz" "$work/corpus"
  {
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
    "$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
    (cd tools && "$PYTHON" -m radial_torch train --data "$work/corpus" --out "$work/model" \
      --device cuda --bf16 --export-dtype BF16 --shard-mib 15 \
      --layers 16 --hidden 384 --heads 6 --kv-heads 2 --intermediate 1024 --context 512 \
      --router-hidden 128 --batch 32 --steps 4000 --distill 3 --target-depth 0.58 \
      --layer-dropout 0.1 --log-every 100 \
      --max-seconds "${MAX_SECONDS:-420}" "$@")
  } >"$out/train.log" 2>&1 || { tail -n 30 "$out/train.log" >&2; exit 1; }
  cp "$work"/model/model-0*.safetensors "$out/"
  tar -C "$work/model" -cf "$out/model-meta.tar" --exclude='model-0*.safetensors' .
  ls -l "$out"
  tail -n 3 "$out/train.log"
}

case ${1:-} in
  pack) shift; pack "$@" ;;
  run) shift; run "$@" ;;
  *) echo "usage: scripts/gpu-train.sh pack CORPUS_DIR | run [TRAIN ARGS...]" >&2; exit 2 ;;
esac
