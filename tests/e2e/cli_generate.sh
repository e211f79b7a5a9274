#!/usr/bin/env bash
# End-to-end test of `radial generate` and `radial convert` as a user runs
# them: output, JSON fields, exit codes and error lines for bad input.
# usage: cli_generate.sh RADIAL_BINARY SOURCE_DIR
set -uo pipefail
RADIAL=$1
SRC=$2
MODEL=$SRC/models/stories260K
DATA=$SRC/tests/data/stories260K
TMP=$(mktemp -d)
. "$SRC/tests/e2e/lib.sh"
trap 'rm -rf "$TMP"' EXIT



# The default model ships a router (forward mode by default): the checks
# against reference.json ask for full depth explicitly.
# Streaming text: the reference continuation of the first reference prompt.
"$RADIAL" generate --model "$MODEL" --mode full --prompt "Once upon a time" --max-tokens 124 >"$TMP/out" 2>"$TMP/err"
check "generate exits 0" [ $? -eq 0 ]
check "generate streams the reference text" grep -q "Once upon a time, there was a little girl named Lily" "$TMP/out"
check "generate prints a summary line, prefill and decode apart" grep -q "tokens in .* s: prefill [0-9]* tokens in .* tok/s), decode .* tok/s; mean depth 5.00 of 5 layers" "$TMP/err"

# JSON: fields and reference tokens.
"$RADIAL" generate --model "$MODEL" --mode full --prompt "Once upon a time" --max-tokens 124 --json >"$TMP/j.json"
check "json exits 0" [ $? -eq 0 ]
/usr/bin/python3 - "$TMP/j.json" "$DATA/reference.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
ref = json.load(open(sys.argv[2]))["cases"][0]
assert j["prompt_tokens"] == ref["prompt_tokens"], j["prompt_tokens"]
assert j["tokens"] == ref["tokens"], "tokens differ from reference.json"
assert j["text"] == ref["text"]
assert len(j["depth"]) == len(j["tokens"]) and all(d == 5 for d in j["depth"])
assert all(p == [0, 1, 2, 3, 4] for p in j["path"])
assert j["mode"] == "full" and j["mean_depth"] == 5
PY
check "json matches reference.json" [ $? -eq 0 ]

# --dump (tools/radial_torch's comparison): per prompt position its path and
# logits, per token its path and 20 log-probabilities; the tokens as --json's.
"$RADIAL" generate --model "$MODEL" --prompt-ids 1,403,407,261,378 --max-tokens 4 --json --dump "$TMP/dump.json" >"$TMP/dj.json"
check "dump exits 0" [ $? -eq 0 ]
/usr/bin/python3 - "$TMP/dump.json" "$TMP/dj.json" <<'PY'
import json, sys
d, j = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert d["mode"] == "forward" and d["kv_policy"] == "propagate", d["mode"]
assert d["prompt_tokens"] == [1, 403, 407, 261, 378]
assert len(d["prompt"]) == 5 and all(len(p["logits"]) == 512 and p["path"][0] == 0 for p in d["prompt"])
assert [t["id"] for t in d["tokens"]] == j["tokens"] and [t["path"] for t in d["tokens"]] == j["path"]
assert d["tokens"][0]["path"] == d["prompt"][-1]["path"]
assert all(len(t["top_logprobs"]) == 20 and t["top_logprobs"][0][0] == t["id"] for t in d["tokens"])
PY
check "dump has paths, logits and log-probabilities" [ $? -eq 0 ]
"$RADIAL" generate --server 127.0.0.1:1 --prompt-ids 1 --dump "$TMP/x.json" >/dev/null 2>"$TMP/err"
check "dump with --server is a usage error" [ $? -eq 2 ]

# The llama2.c checkpoint with --tokenizer gives the same tokens.
"$RADIAL" generate --model "$DATA/stories260K.bin" --tokenizer "$DATA/tok512.model" --prompt "Once upon a time" \
  --max-tokens 124 --json >"$TMP/b.json"
check "llama2.c checkpoint generates" [ $? -eq 0 ]
/usr/bin/python3 -c "import json,sys; a=json.load(open('$TMP/j.json')); b=json.load(open('$TMP/b.json')); sys.exit(a['tokens']!=b['tokens'])"
check "llama2.c and HF give the same tokens" [ $? -eq 0 ]

# The GGUF file with its embedded tokenizer gives the same tokens; its
# llama.context_length (128) caps a longer request, --context-length lifts it.
"$RADIAL" generate --model "$DATA/stories260K.gguf" --prompt "Once upon a time" --max-tokens 124 --json >"$TMP/g.json"
check "GGUF generates with its embedded tokenizer" [ $? -eq 0 ]
/usr/bin/python3 -c "import json,sys; a=json.load(open('$TMP/j.json')); b=json.load(open('$TMP/g.json')); sys.exit(a['tokens']!=b['tokens'] or a['prompt_tokens']!=b['prompt_tokens'])"
check "GGUF and HF give the same tokens" [ $? -eq 0 ]
"$RADIAL" generate --model "$DATA/stories260K.gguf" --prompt-ids 1 --max-tokens 300 --json >"$TMP/g2.json"
/usr/bin/python3 -c "import json,sys; sys.exit(len(json.load(open('$TMP/g2.json'))['tokens']) != 128)"
check "GGUF context length caps generation at the file's 128 positions (129 ids)" [ $? -eq 0 ]
"$RADIAL" generate --model "$DATA/stories260K.gguf" --context-length 512 --prompt-ids 1 --max-tokens 300 --json >"$TMP/g3.json"
/usr/bin/python3 -c "import json,sys; sys.exit(len(json.load(open('$TMP/g3.json'))['tokens']) != 300)"
check "--context-length overrides the GGUF context length" [ $? -eq 0 ]

# Convert the llama2.c checkpoint and generate from the result.
"$RADIAL" convert --from llama2c --input "$DATA/stories260K.bin" --tokenizer "$DATA/tok512.model" --out "$TMP/conv" >/dev/null 2>&1
check "convert exits 0" [ $? -eq 0 ]
"$RADIAL" generate --model "$TMP/conv" --prompt "Once upon a time" --max-tokens 124 --json >"$TMP/c.json"
/usr/bin/python3 -c "import json,sys; a=json.load(open('$TMP/j.json')); b=json.load(open('$TMP/c.json')); sys.exit(a['tokens']!=b['tokens'])"
check "converted model gives the same tokens" [ $? -eq 0 ]

# Sampling is deterministic for a seed.
"$RADIAL" generate --model "$MODEL" --prompt "The dog" --max-tokens 40 --temperature 0.8 --top-p 0.9 --seed 7 --json >"$TMP/s1.json"
"$RADIAL" generate --model "$MODEL" --prompt "The dog" --max-tokens 40 --temperature 0.8 --top-p 0.9 --seed 7 --json >"$TMP/s2.json"
/usr/bin/python3 -c "import json,sys; a=json.load(open('$TMP/s1.json')); b=json.load(open('$TMP/s2.json')); sys.exit(a['tokens']!=b['tokens'])"
check "seeded sampling gives the same tokens" [ $? -eq 0 ]

# Stop strings end the text before the stop string.
"$RADIAL" generate --model "$MODEL" --mode full --prompt "Once upon a time" --max-tokens 124 --stop "Lily" --json >"$TMP/stop.json"
/usr/bin/python3 -c "import json,sys; j=json.load(open('$TMP/stop.json')); sys.exit(not (j['finish_reason']=='stop_string' and j['text']==', there was a little girl named '))"
check "stop string" [ $? -eq 0 ]

# --logit-bias forces a token (403 is "Once").
"$RADIAL" generate --model "$MODEL" --prompt-ids 1 --max-tokens 3 --logit-bias 403=100 --json >"$TMP/bias.json"
/usr/bin/python3 -c "import json,sys; j=json.load(open('$TMP/bias.json')); sys.exit(j['tokens']!=[403, 403, 403])"
check "logit bias forces token 403" [ $? -eq 0 ]

# Bad input: a clear line on stderr and a non-zero exit code, never a crash.
expect_error "max-tokens 0" 1 "max_tokens must be at least 1" -- generate --model "$MODEL" --prompt hi --max-tokens 0
expect_error "threshold out of range" 1 "threshold must be in [0, 1]" -- generate --model "$MODEL" --prompt hi --dummy-config "$SRC/models/stories260K/config.json" --threshold 1.5
expect_error "forward without a router" 1 "needs a router" -- generate --model "$MODEL" --no-router --prompt hi --mode forward
expect_error "unknown mode" 1 "unknown routing mode" -- generate --model "$MODEL" --prompt hi --mode sideways
expect_error "missing model" 1 "nope: not found" -- generate --model "$TMP/nope" --prompt hi
expect_error "missing tokenizer" 1 "tokenizer" -- generate --model "$DATA/stories260K.bin" --prompt hi
expect_error "bad tokenizer path" 1 "not-there.model" -- generate --model "$DATA/stories260K.bin" --tokenizer "$TMP/not-there.model" --prompt hi
head -c 5000 "$DATA/stories260K.bin" >"$TMP/trunc.bin"
expect_error "truncated checkpoint" 1 "trunc.bin" -- generate --model "$TMP/trunc.bin" --tokenizer "$DATA/tok512.model" --prompt hi
expect_error "unknown option" 2 "unknown option --frobnicate" -- generate --frobnicate
expect_error "malformed number" 2 "--max-tokens expects an integer" -- generate --prompt hi --max-tokens ten
expect_error "negative temperature" 1 "temperature" -- generate --model "$MODEL" --prompt hi --temperature -1
expect_error "presence penalty out of range" 1 "presence_penalty must be in [-2, 2], got 3" -- generate --model "$MODEL" --prompt hi --presence-penalty 3
expect_error "logit bias outside the vocabulary" 1 "logit_bias token id 600 is outside the vocabulary [0, 512)" -- generate --model "$MODEL" --prompt hi --logit-bias 600=1
expect_error "malformed logit bias" 2 "--logit-bias expects ID=BIAS" -- generate --model "$MODEL" --prompt hi --logit-bias 600
long=$(printf 'the %.0s' $(seq 1 600))
expect_error "prompt longer than the context" 1 "longer than the context" -- generate --model "$MODEL" --prompt "$long"
expect_error "unknown command" 2 "unknown command" -- frobnicate

finish
