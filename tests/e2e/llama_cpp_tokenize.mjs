#!/usr/bin/env node
// llama.cpp's tokenizer (node-llama-cpp: scripts/install-bench-deps.sh),
// radiald's (its vLLM-style POST /tokenize) on the same GGUF file's embedded
// vocabulary, and Hugging Face's reference ids, text by text.
//
//   node tests/e2e/llama_cpp_tokenize.mjs --model FILE.gguf --url http://HOST:PORT \
//        (--expected tests/data/tokenizers/NAME.expected.json [--min-agree F] | --texts TEXTS.json)
//
// The expected file's cases hold each text and @huggingface/tokenizers' ids
// for it without added special tokens (ids_no_special). Each text is
// tokenized without added special tokens (radiald: add_special_tokens false;
// llama.cpp: no BOS), with special-token text parsed as the tokens
// (llama.cpp's parse_special, as Hugging Face's tokenizers split added tokens
// out of any text). radiald must give Hugging Face's ids; llama.cpp is
// compared with both and its departures from Hugging Face counted and shown
// (it skips the NFC normalizer of Qwen's tokenizer, and it turns vocabulary
// entries that look like end-of-turn markers, such as "</s>", into control
// tokens). Prints one JSON line and exits 1 when radiald departs from
// Hugging Face, or when llama.cpp agrees with fewer than --min-agree of the
// texts (default 0.9). With --texts (a JSON array of strings, no reference
// ids: a vocabulary Hugging Face has no tokenizer.json for) radiald must give
// llama.cpp's ids for every text. Exits 2 on usage errors or when llama.cpp
// cannot run.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

function fail(code, msg) {
  process.stderr.write(`llama_cpp_tokenize: ${msg}\n`);
  process.exit(code);
}
const args = process.argv.slice(2);
const opt = {};
for (let i = 0; i < args.length; i += 2) {
  if (!["--model", "--url", "--expected", "--min-agree", "--texts"].includes(args[i]) ||
      i + 1 >= args.length)
    fail(2, "usage: --model FILE.gguf --url http://HOST:PORT (--expected E.json [--min-agree F] | " +
            `--texts T.json) (got '${args[i]}')`);
  opt[args[i].slice(2).replace("-", "_")] = args[i + 1];
}
if (!opt.model || !opt.url || !opt.expected === !opt.texts)
  fail(2, "--model, --url and one of --expected and --texts are required");
let cases, minAgree = Number(opt.min_agree ?? 0.9);
if (opt.expected) {
  cases = JSON.parse(readFileSync(opt.expected, "utf8")).cases;
  if (!Array.isArray(cases) || cases.some((c) => typeof c.text !== "string" || !Array.isArray(c.ids_no_special)))
    fail(2, `${opt.expected}: expected cases of {text, ids_no_special}`);
} else {
  const texts = JSON.parse(readFileSync(opt.texts, "utf8"));
  if (!Array.isArray(texts) || texts.some((t) => typeof t !== "string"))
    fail(2, `${opt.texts}: expected a JSON array of strings`);
  cases = texts.map((text) => ({ text, ids_no_special: null }));  // llama.cpp's ids are the reference
  minAgree = 1;
}

const here = dirname(fileURLToPath(import.meta.url));
const entry = join(here, "..", "..", "bench", "llama_cpp", "node_modules", "node-llama-cpp", "dist", "index.js");
if (!existsSync(entry)) fail(2, "node-llama-cpp is not installed (scripts/install-bench-deps.sh)");
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(entry).href);
const llama = await getLlama({ gpu: false, build: "never", skipDownload: true, usePrebuiltBinaries: true,
                               progressLogs: false, maxThreads: 1, logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath: opt.model, gpuLayers: 0, vocabOnly: true });

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const radialWrong = [], llamaDeparts = [];
for (const { text, ids_no_special: hf } of cases) {
  const llamaIds = Array.from(model.tokenize(text, true));
  const res = await fetch(`${opt.url}/tokenize`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ prompt: text, add_special_tokens: false }),
  });
  if (!res.ok) fail(1, `POST /tokenize: HTTP ${res.status} for ${JSON.stringify(text).slice(0, 60)}: ${await res.text()}`);
  const got = (await res.json()).tokens;
  const ref = hf ?? llamaIds;
  const shown = { text: text.slice(0, 60), reference: ref.slice(0, 16), radiald: got.slice(0, 16),
                  llama_cpp: llamaIds.slice(0, 16) };
  if (!same(got, ref)) radialWrong.push(shown);
  if (!same(llamaIds, ref)) llamaDeparts.push(shown);
}
await model.dispose();
await llama.dispose();
const agree = 1 - llamaDeparts.length / cases.length;
const ok = radialWrong.length === 0 && agree >= minAgree;
console.log(JSON.stringify({ model: opt.model, texts: cases.length, radiald_departs: radialWrong.length,
                             llama_cpp_departs: llamaDeparts.length, llama_cpp_agrees: agree, ok,
                             radiald_departures: radialWrong.slice(0, 3),
                             llama_cpp_departures: llamaDeparts.slice(0, 4) }));
process.exit(ok ? 0 : 1);
