#!/usr/bin/env node
// Writes Hugging Face directories derived from a trained model (the
// embedded stories260K: real attention, so RoPE and biases move the
// logits), for tests/e2e/gguf_llama_cpp.sh:
//
//   node tests/e2e/gguf_variants.mjs SRC_DIR OUT_DIR
//
//   OUT_DIR/llama3  the model with Llama 3 RoPE scaling (factor 8, low 1,
//                   high 12, original context 720: the medium band holds
//                   two of the head's four frequencies, the low band one)
//   OUT_DIR/qwen2   the model as Qwen2: model_type qwen2 with Q/K/V biases
//                   (seeded, uniform in [-0.5, 0.5])
//   OUT_DIR/qwen3   the model as Qwen3: model_type qwen3 with per-head q/k
//                   RMSNorm weights (seeded, uniform in [0.5, 1.5])
// Both pad the MLP from SRC's intermediate size to the next multiple of 32
// with zero rows of gate/up and zero columns of down, which leaves the
// function unchanged (silu(0) * 0 = 0) and makes every row length a
// multiple of 32 (Q4_0 and the 32-value fallbacks need it). The tokenizer
// (tokenizer.model) is copied. F32 safetensors only.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [src, out] = process.argv.slice(2);
if (!src || !out) {
  process.stderr.write("usage: node tests/e2e/gguf_variants.mjs SRC_DIR OUT_DIR\n");
  process.exit(2);
}
const config = JSON.parse(readFileSync(join(src, "config.json"), "utf8"));
const file = readFileSync(join(src, "model.safetensors"));
const headerLen = Number(file.readBigUInt64LE(0));
const header = JSON.parse(file.subarray(8, 8 + headerLen).toString("utf8"));
const data = file.subarray(8 + headerLen);

// name -> {shape, values: Float32Array}
function readTensors() {
  const t = new Map();
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    if (info.dtype !== "F32") throw new Error(`${name}: ${info.dtype}, expected F32`);
    const [b, e] = info.data_offsets;
    const bytes = data.subarray(b, e);
    const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    t.set(name, { shape: info.shape, values });
  }
  return t;
}

function writeSafetensors(path, tensors) {
  const names = [...tensors.keys()].sort();
  const head = {};
  let offset = 0;
  for (const n of names) {
    const { shape, values } = tensors.get(n);
    head[n] = { dtype: "F32", shape, data_offsets: [offset, offset + values.length * 4] };
    offset += values.length * 4;
  }
  let json = JSON.stringify(head);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const parts = [len, Buffer.from(json, "utf8")];
  for (const n of names) parts.push(Buffer.from(tensors.get(n).values.buffer));
  writeFileSync(path, Buffer.concat(parts));
}

// [rows, cols] -> [rows2, cols2], zero-filled.
function pad(t, rows2, cols2) {
  const [rows, cols] = t.shape;
  const v = new Float32Array(rows2 * cols2);
  for (let r = 0; r < rows; ++r) v.set(t.values.subarray(r * cols, (r + 1) * cols), r * cols2);
  return { shape: [rows2, cols2], values: v };
}

function padMlp(tensors, ff, ff2) {
  const d = config.hidden_size;
  for (let i = 0; i < config.num_hidden_layers; ++i) {
    const p = `model.layers.${i}.mlp.`;
    tensors.set(p + "gate_proj.weight", pad(tensors.get(p + "gate_proj.weight"), ff2, d));
    tensors.set(p + "up_proj.weight", pad(tensors.get(p + "up_proj.weight"), ff2, d));
    tensors.set(p + "down_proj.weight", pad(tensors.get(p + "down_proj.weight"), d, ff2));
  }
}

function variant(name, cfg, edit) {
  const dir = join(out, name);
  mkdirSync(dir, { recursive: true });
  const tensors = readTensors();
  const ff2 = Math.ceil(config.intermediate_size / 32) * 32;
  padMlp(tensors, config.intermediate_size, ff2);
  edit?.(tensors);
  writeSafetensors(join(dir, "model.safetensors"), tensors);
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...cfg, intermediate_size: ff2 }, null, 2) + "\n");
  copyFileSync(join(src, "tokenizer.model"), join(dir, "tokenizer.model"));
}

variant("llama3", {
  ...config,
  rope_scaling: { rope_type: "llama3", factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 12.0,
                  original_max_position_embeddings: 720 },
});

let seed = 12345;
const uniform = () => {  // xorshift32 in [-0.5, 0.5)
  seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0;
  return seed / 2 ** 32 - 0.5;
};
const headDim = config.hidden_size / config.num_attention_heads;
variant("qwen2", {
  ...config, architectures: ["Qwen2ForCausalLM"], model_type: "qwen2", use_sliding_window: false,
  bos_token_id: 1, eos_token_id: 2,
}, (tensors) => {
  for (let i = 0; i < config.num_hidden_layers; ++i)
    for (const [proj, heads] of [["q", config.num_attention_heads], ["k", config.num_key_value_heads],
                                 ["v", config.num_key_value_heads]]) {
      const values = Float32Array.from({ length: heads * headDim }, uniform);
      tensors.set(`model.layers.${i}.self_attn.${proj}_proj.bias`, { shape: [heads * headDim], values });
    }
});

variant("qwen3", {
  ...config, architectures: ["Qwen3ForCausalLM"], model_type: "qwen3", use_sliding_window: false,
  attention_bias: false, head_dim: headDim, bos_token_id: 1, eos_token_id: 2,
}, (tensors) => {
  for (let i = 0; i < config.num_hidden_layers; ++i)
    for (const which of ["q_norm", "k_norm"]) {
      const values = Float32Array.from({ length: headDim }, () => 1 + uniform());
      tensors.set(`model.layers.${i}.self_attn.${which}.weight`, { shape: [headDim], values });
    }
});
