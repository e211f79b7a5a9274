// The peer of bench_tokenizer: the same chunks (about 4 KiB, cut at line
// ends), encoded without special tokens by @huggingface/tokenizers (pinned
// in tests/npm/package.json), best of --passes passes after a warm-up, MB/s
// of input text (UTF-8 bytes).
//   node bench/peer_tokenizers.mjs --tokenizer DIR [--passes N] FILE...
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(join(process.cwd(), "tests/npm/package.json"));
const { Tokenizer } = await import(require.resolve("@huggingface/tokenizers").replace(/tokenizers\.cjs$/, "tokenizers.mjs"));

const args = process.argv.slice(2);
let dir = null, passes = 5;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--tokenizer") dir = args[++i];
  else if (args[i] === "--passes") passes = Number(args[++i]);
  else files.push(args[i]);
}
const tok = new Tokenizer(JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8")),
                          JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8")));
const text = files.map((f) => readFileSync(f, "utf8")).join("");
const bytes = Buffer.byteLength(text, "utf8");
const chunks = [];
for (let start = 0; start < text.length;) {
  let end = Math.min(text.length, start + 4096);
  const nl = text.indexOf("\n", end);
  end = nl < 0 ? text.length : nl + 1;
  chunks.push(text.slice(start, end));
  start = end;
}
let best = Infinity, tokens = 0;
for (let p = 0; p <= passes; p++) {
  const t0 = process.hrtime.bigint();
  let n = 0;
  for (const c of chunks) n += tok.encode(c, { add_special_tokens: false }).ids.length;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (p > 0) best = Math.min(best, s);
  tokens = n;
}
console.log(`hf-js    tokenizers.js ${(bytes / 1e6).toFixed(2).padStart(5)} MB  ${String(tokens).padStart(9)} tokens  ${(bytes / 1e6 / best).toFixed(1).padStart(7)} MB/s  ${(tokens / 1e6 / best).toFixed(2).padStart(6)} Mtok/s`);
