#!/usr/bin/env bash
# Builds the training corpus and its SentencePiece tokenizer from Debian
# packages (issue 17, part 3; docs/training.md). Not part of CI.
#   scripts/build-corpus.sh [OUT_DIR]      (default: corpus/, ignored by git)
# Writes OUT_DIR/train.txt, heldout.txt (one document per line),
# manifest.json (documents and bytes per source), tokenizer.model and
# tokenizer.vocab (SentencePiece BPE, 4096 pieces, Llama 2's settings:
# byte fallback, split digits, BOS 1, EOS 2, UNK 0), and train.u16,
# heldout.u16 (token ids, see tools/corpus/tokenize_corpus.py).
# Deterministic: the same packages give the same files.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-corpus}
VOCAB=${RADIAL_CORPUS_VOCAB:-4096}
# The text packages, SentencePiece's trainer and Python module, and OpenBLAS:
# Debian's python3-torch calls the reference BLAS (libblas3, 5 GFLOP/s on
# 2 cores) unless OpenBLAS provides libblas.so.3 (60 GFLOP/s), which makes
# `radial_torch train` 6x faster.
PACKAGES=(bible-kjv bible-kjv-text python3.11-doc debian-reference-en fortunes dict-gcide
          sentencepiece python3-sentencepiece python3-torch libopenblas0-pthread)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
mkdir -p "$OUT"
t0=$(date +%s)
/usr/bin/python3 tools/corpus/build_corpus.py --out "$OUT"
# Deterministic: the pieces and scores (tokenizer.vocab) do not depend on the
# seed or the run; only the trainer settings recorded in the .model differ.
spm_train --input="$OUT/train.txt" --model_prefix="$OUT/tokenizer" --vocab_size="$VOCAB" \
  --model_type=bpe --character_coverage=0.9999 --byte_fallback=true --split_digits=true \
  --normalization_rule_name=identity --remove_extra_whitespaces=false \
  --allow_whitespace_only_pieces=true --max_sentence_length=100000 \
  --input_sentence_size=400000 --shuffle_input_sentence=true --seed_sentencepiece_size=1000000 \
  --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1 --num_threads=1 --random_seed=1 --minloglevel=1
for split in train heldout; do
  /usr/bin/python3 tools/corpus/tokenize_corpus.py --model "$OUT/tokenizer.model" \
    "$OUT/$split.txt" "$OUT/$split.u16"
done
echo "build-corpus: $OUT in $(( $(date +%s) - t0 )) s"
