#!/usr/bin/env node
// llama.cpp (CPU, through node-llama-cpp: scripts/install-bench-deps.sh) and
// radiald on the same GGUF file and prompt: the next-token distribution at
// every prompt position, compared.
//
//   node tests/e2e/llama_cpp_agree.mjs --model FILE.gguf --dump DUMP.json --max-gap G
//
// DUMP.json is `radial generate --model FILE.gguf --prompt-ids ... --dump`:
// its prompt_tokens are fed to llama.cpp (one sequence, F32 K/V), which
// gives the probability of every token after each position (sampler at
// temperature 1 with top-k, top-p and min-p off: the softmax of the logits).
// radiald's log-softmax of its dumped logits is compared with llama.cpp's
// log-probabilities over the tokens llama.cpp gives a probability above 1e-6:
// the gap of a position is the largest difference, over the spread of
// radiald's log-probabilities there (largest minus smallest), so it reads
// the same for confident and for nearly uniform models. Prints one JSON line
// (worst gap, its position, top-1 agreement) and exits 1 when the worst gap
// exceeds G or the likeliest tokens differ where radiald's top two are more
// than G * spread apart; 2 on usage errors or when llama.cpp cannot run.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

function fail(code, msg) {
  process.stderr.write(`llama_cpp_agree: ${msg}\n`);
  process.exit(code);
}
const args = process.argv.slice(2);
const opt = {};
for (let i = 0; i < args.length; i += 2) {
  if (!["--model", "--dump", "--max-gap"].includes(args[i]) || i + 1 >= args.length)
    fail(2, `usage: --model FILE.gguf --dump DUMP.json --max-gap G (got '${args[i]}')`);
  opt[args[i].slice(2).replace("-", "_")] = args[i + 1];
}
if (!opt.model || !opt.dump || !opt.max_gap) fail(2, "--model, --dump and --max-gap are required");
const maxGap = Number(opt.max_gap);
if (!(maxGap > 0)) fail(2, `--max-gap must be a positive number, got '${opt.max_gap}'`);

const here = dirname(fileURLToPath(import.meta.url));
const entry = join(here, "..", "..", "bench", "llama_cpp", "node_modules", "node-llama-cpp", "dist", "index.js");
if (!existsSync(entry)) fail(2, "node-llama-cpp is not installed (scripts/install-bench-deps.sh)");
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(entry).href);

const dump = JSON.parse(readFileSync(opt.dump, "utf8"));
const ids = dump.prompt_tokens;
if (!Array.isArray(ids) || ids.length < 2 || !Array.isArray(dump.prompt) || dump.prompt.length !== ids.length)
  fail(2, `${opt.dump}: expected prompt_tokens and one prompt entry (with logits) per prompt token`);

const llama = await getLlama({ gpu: false, build: "never", skipDownload: true, usePrebuiltBinaries: true,
                               progressLogs: false, maxThreads: 2, logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath: opt.model, gpuLayers: 0 });
const context = await model.createContext({ sequences: 1, contextSize: Math.max(256, ids.length + 8),
                                            batchSize: 512, threads: 2,
                                            experimentalKvCacheKeyType: "F32",
                                            experimentalKvCacheValueType: "F32" });
const seq = context.getSequence();
const next = { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } };
const out = await seq.controlledEvaluate(ids.map((t) => [t, { generateNext: next }]));

let worst = { gap: 0, position: -1 }, topMismatch = null, compared = 0;
for (let p = 0; p < ids.length; ++p) {
  const probs = out[p]?.next?.probabilities;
  if (!probs || probs.size === 0) fail(2, `llama.cpp gave no probabilities at position ${p}`);
  const logits = dump.prompt[p].logits;
  const m = Math.max(...logits);
  const lse = m + Math.log(logits.reduce((s, x) => s + Math.exp(x - m), 0));
  const lr = logits.map((x) => x - lse);
  let lo = Infinity, hi = -Infinity, gap = 0;
  for (const [token, prob] of probs) {
    if (prob <= 1e-6) continue;
    if (token < 0 || token >= lr.length) fail(1, `llama.cpp token ${token} is outside radiald's vocabulary`);
    lo = Math.min(lo, lr[token]);
    hi = Math.max(hi, lr[token]);
    gap = Math.max(gap, Math.abs(lr[token] - Math.log(prob)));
    ++compared;
  }
  const spread = Math.max(hi - lo, 1e-9);
  if (gap / spread > worst.gap) worst = { gap: gap / spread, position: p };
  const llamaTop = probs.keys().next().value;
  const order = lr.map((x, i) => [x, i]).sort((a, b) => b[0] - a[0]);
  if (llamaTop !== order[0][1] && order[0][0] - order[1][0] > maxGap * spread && !topMismatch)
    topMismatch = { position: p, llama_cpp: llamaTop, radiald: order[0][1] };
}
await context.dispose();
await model.dispose();
await llama.dispose();
const ok = worst.gap <= maxGap && !topMismatch;
console.log(JSON.stringify({ model: opt.model, positions: ids.length, compared, worst_gap: worst.gap,
                             worst_position: worst.position, max_gap: maxGap, top1_mismatch: topMismatch, ok }));
process.exit(ok ? 0 : 1);
