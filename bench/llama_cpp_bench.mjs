#!/usr/bin/env node
// llama.cpp (CPU) as radiald's peer: prefill and decode throughput on a GGUF
// file at a few concurrencies, through node-llama-cpp (pinned in
// bench/llama_cpp/package.json; scripts/install-bench-deps.sh installs it).
// Not part of CI. The figures mirror bench/bench_generate.cpp's:
//
//   * For each concurrency N: one context of N sequences; each sequence gets
//     a prompt of exactly --prompt-len token ids (BOS, then seeded random ids
//     in [3, vocab), as bench_generate does), then generates --gen tokens,
//     greedily (temperature 0), past any end-of-generation token
//     (yieldEogToken: the EOG token is yielded and fed back like any other).
//   * Prefill tokens/s: N x P prompt tokens over the time from submitting
//     the N prompts to the last sequence's first generated token.
//   * Decode tokens/s: the tokens generated after that moment, over all
//     sequences, over the time since then to the last token (prefill
//     excluded).
//
// How node-llama-cpp batches the N sequences of one context
// (dist/evaluator/LlamaContext/LlamaContext.js, version 3.21.1):
// every sequence.evaluate() step queues a decode request (the sequence's
// pending tokens, and which of them need logits) on the context. The context
// dispatches the queue at once when every one of its N sequences has a
// request queued, and otherwise on the next event-loop turn (batching
// option dispatchSchedule: "nextCycle", the default; a function can be given
// instead). A dispatch orders the queued requests by
// itemPrioritizationStrategy ("maximumParallelism", the default, shares the
// batch's token slots between as many sequences as possible;
// "firstInFirstOut" fills it in arrival order), packs up to batchSize tokens
// from them into one llama_batch (each token tagged with its sequence id and
// position) and runs a single llama_decode for all of them, then samples each
// sequence's next token from its logits and repeats while requests remain.
// So a prompt longer than what is left of the batch is split over several
// llama_decode calls, and in the decode phase the N sequences' single tokens
// go out together, one llama_decode per step. node-llama-cpp sets llama.cpp's
// n_ubatch = n_batch = batchSize (the queue lives on the JS side); batchSize
// defaults to min(512, contextSize x N) there, --batch-size here.
// The context's KV cache holds contextSize cells per sequence (here
// --prompt-len + --gen, which llama.cpp rounds up to a multiple of 256);
// K/V are F16 unless --kv-type f32.
//
// Output: one JSON line per concurrency on stdout as it finishes, then a
// table. Example:
//   node bench/llama_cpp_bench.mjs --model tests/data/stories260K/stories260K.gguf \
//        --threads 1 --prompt-len 64 --gen 64 --concurrency 1,8,32
import { existsSync, statSync, readFileSync } from "node:fs";
import { dirname, join, basename } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const USAGE = `usage: node bench/llama_cpp_bench.mjs --model FILE.gguf [--threads N] [--prompt-len P]
                                     [--gen G] [--concurrency 1,8,32] [--batch-size B]
                                     [--kv-type f16|f32] [--seed S]
       node bench/llama_cpp_bench.mjs --check
       node bench/llama_cpp_bench.mjs --info --model FILE.gguf
Measures llama.cpp's CPU backend (node-llama-cpp 3.21.1, prebuilt binaries) on a GGUF
file: for each concurrency N, one context of N sequences evaluated together, prompts of
exactly P token ids (BOS + seeded random ids), G greedy tokens each (EOS ignored).
Prints one JSON line per concurrency, then a table: prefill time and tokens/s (N x P
prompt tokens up to the last sequence's first token), decode tokens/s (tokens after
that, all sequences, over the time since).
  --model FILE.gguf   the model (required)
  --threads N         llama.cpp threads (default 1)
  --prompt-len P      prompt tokens per sequence (default 128)
  --gen G             generated tokens per sequence, >= 2 (default 128)
  --concurrency LIST  comma-separated sequence counts (default 1,8,32)
  --batch-size B      llama.cpp n_batch = n_ubatch, tokens per llama_decode (default 512)
  --kv-type T         KV cache type, f16 (llama.cpp's default) or f32 (default f16)
  --seed S            prompt seed (default 1234)
  --check             only load llama.cpp's prebuilt CPU binary and print its release
  --info              only print the GGUF file's shape as one JSON line (context_length,
                      vocab, layers, ...), read from its header
Install node-llama-cpp first: scripts/install-bench-deps.sh
`;

function usageError(msg) {
  process.stderr.write(`llama_cpp_bench: ${msg}\n`);
  process.exit(2);
}

function parseIntArg(flag, v, lo, hi) {
  if (!/^[0-9]+$/.test(v)) usageError(`${flag} expects an integer in [${lo}, ${hi}], got '${v}'`);
  const x = Number(v);
  if (!Number.isSafeInteger(x) || x < lo || x > hi)
    usageError(`${flag} expects an integer in [${lo}, ${hi}], got '${v}'`);
  return x;
}

function parseArgs(argv) {
  if (argv.length === 1 && argv[0] === "--check") return { check: true };
  const o = { check: false, info: false, model: null, threads: 1, promptLen: 128, gen: 128, concurrency: [1, 8, 32],
              batchSize: 512, kvType: "f16", seed: 1234 };
  const seen = new Set();
  for (let i = 0; i < argv.length; i++) {
    let k = argv[i], v;
    if (k === "--help" || k === "-h") {
      process.stdout.write(USAGE);
      process.exit(0);
    }
    const eq = k.indexOf("=");
    if (k.startsWith("--") && eq > 0) {
      v = k.slice(eq + 1);
      k = k.slice(0, eq);
    }
    if (k === "--check") usageError("--check takes no other arguments");
    if (k === "--info") {
      if (o.info) usageError("--info given twice");
      o.info = true;
      continue;
    }
    const known = ["--model", "--threads", "--prompt-len", "--gen", "--concurrency", "--batch-size",
                   "--kv-type", "--seed"];
    if (!known.includes(k)) usageError(`unknown argument '${argv[i]}' (--help for usage)`);
    if (seen.has(k)) usageError(`${k} given twice`);
    seen.add(k);
    if (v === undefined) {
      if (i + 1 >= argv.length) usageError(`${k} needs a value`);
      v = argv[++i];
    }
    switch (k) {
      case "--model": o.model = v; break;
      case "--threads": o.threads = parseIntArg(k, v, 1, 1024); break;
      case "--prompt-len": o.promptLen = parseIntArg(k, v, 1, 1 << 20); break;
      case "--gen": o.gen = parseIntArg(k, v, 2, 1 << 20); break;
      case "--concurrency": {
        if (v === "") usageError("--concurrency expects comma-separated integers in [1, 4096], got ''");
        o.concurrency = v.split(",").map((c) => parseIntArg("--concurrency", c, 1, 4096));
        break;
      }
      case "--batch-size": o.batchSize = parseIntArg(k, v, 1, 1 << 20); break;
      case "--kv-type":
        if (v !== "f16" && v !== "f32") usageError(`--kv-type expects f16 or f32, got '${v}'`);
        o.kvType = v;
        break;
      case "--seed": o.seed = parseIntArg(k, v, 0, 2 ** 32 - 1); break;
    }
  }
  if (o.model === null) usageError("--model FILE.gguf is required (--help for usage)");
  if (!existsSync(o.model) || !statSync(o.model).isFile()) usageError(`--model: '${o.model}' is not a file`);
  return o;
}

// The vocabulary size: the embedded vocabulary's, else llama.vocab_size,
// else the token embedding's rows (a "no_vocab" GGUF file runs from ids).
function vocabSize(gi) {
  const fromTokens = gi.metadata?.tokenizer?.ggml?.tokens?.length;
  if (fromTokens) return fromTokens;
  const arch = gi.metadata?.general?.architecture;
  const fromArch = gi.metadata?.[arch]?.vocab_size;
  if (fromArch) return Number(fromArch);
  const emb = gi.fullTensorInfo?.find?.((t) => t.name === "token_embd.weight") ??
              gi.tensorInfo?.find?.((t) => t.name === "token_embd.weight");
  return emb ? Number(emb.dimensions[emb.dimensions.length - 1]) : null;
}

// xorshift32: seeded, so every run and every concurrency gets the same prompts.
function makeRng(seed) {
  let s = (seed >>> 0) || 0x9e3779b9;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s;
  };
}

const opts = parseArgs(process.argv.slice(2));
async function main() {
  const here = dirname(fileURLToPath(import.meta.url));
  const pkgDir = join(here, "llama_cpp");
  const entry = join(pkgDir, "node_modules", "node-llama-cpp", "dist", "index.js");
  if (!existsSync(entry)) {
    process.stderr.write("llama_cpp_bench: node-llama-cpp is not installed (run scripts/install-bench-deps.sh)\n");
    process.exit(1);
  }
  const { getLlama, LlamaLogLevel, readGgufFileInfo } = await import(pathToFileURL(entry).href);
  if (opts.info) {
    // The header only: no llama.cpp binary, no weights.
    const gi = await readGgufFileInfo(opts.model, { readTensorInfo: true });
    const arch = gi.metadata?.general?.architecture;
    const am = gi.architectureMetadata ?? {};
    console.log(JSON.stringify({
      model: opts.model, architecture: arch ?? null, context_length: am.context_length ?? null,
      vocab: vocabSize(gi), tokenizer: gi.metadata?.tokenizer?.ggml?.model ?? null,
      layers: am.block_count ?? null, embedding: am.embedding_length ?? null,
      heads: am.attention?.head_count ?? null, kv_heads: am.attention?.head_count_kv ?? null,
      file_type: gi.metadata?.general?.file_type ?? null,
    }));
    return;
  }
  const nlcVersion = JSON.parse(readFileSync(join(pkgDir, "node_modules", "node-llama-cpp", "package.json"), "utf8")).version;

  // CPU only, the prebuilt binary from @node-llama-cpp/linux-x64: never build
  // llama.cpp from source, never download anything.
  const llama = await getLlama({
    gpu: false, build: "never", skipDownload: true, usePrebuiltBinaries: true, progressLogs: false,
    maxThreads: opts.check ? 1 : opts.threads, logLevel: LlamaLogLevel.error,
  });
  if (opts.check) {
    console.log(`llama.cpp ${llama.llamaCppRelease?.release ?? "?"} via node-llama-cpp ${nlcVersion}: ` +
                `${llama.buildType} CPU binary loads (${llama.systemInfo.trim()})`);
    await llama.dispose();
    process.exit(0);
  }
  // node-llama-cpp 3.21.1 aborts the process on a GGUF file without a
  // vocabulary (tokenizer.ggml.model "no_vocab": llama.cpp's GGML_ASSERT
  // "Tokenizer not initialized" while loading), so refuse those first.
  const header = await readGgufFileInfo(opts.model, { readTensorInfo: false });
  if (header.metadata?.tokenizer?.ggml?.model === "no_vocab") {
    process.stderr.write("llama_cpp_bench: the GGUF file has no vocabulary (tokenizer.ggml.model no_vocab), " +
                         "which node-llama-cpp cannot load; embed one (radial convert --to gguf --tokenizer ...)\n");
    process.exit(1);
  }
  const model = await llama.loadModel({ modelPath: opts.model, gpuLayers: 0 });
  const vocab = vocabSize(model.fileInfo);
  if (!vocab || vocab < 4) {
    process.stderr.write("llama_cpp_bench: cannot tell the vocabulary size from the GGUF file\n");
    process.exit(1);
  }
  const bos = model.tokens.bos ?? 1;
  const ctxPerSeq = opts.promptLen + opts.gen;
  if (ctxPerSeq > model.trainContextSize)
    process.stderr.write(`llama_cpp_bench: note: prompt + gen = ${ctxPerSeq} exceeds the model's trained context ` +
                         `(${model.trainContextSize}); llama.cpp runs it anyway\n`);

  const kvType = opts.kvType === "f32" ? "F32" : "F16";
  const now = () => Number(process.hrtime.bigint()) / 1e9;

  async function runOne(n) {
    const context = await model.createContext({
      sequences: n,
      contextSize: ctxPerSeq,
      batchSize: opts.batchSize,
      threads: { ideal: opts.threads, min: opts.threads },
      batching: { dispatchSchedule: "nextCycle", itemPrioritizationStrategy: "maximumParallelism" },
      experimentalKvCacheKeyType: kvType,
      experimentalKvCacheValueType: kvType,
    });
    // Count llama_decode calls and their token counts, to show the batching:
    // node-llama-cpp internals (context._ctx is the native context; initBatch(n)
    // opens each llama_batch, decodeBatch() runs llama_decode on it), wrapped
    // in a proxy; reported as null if that ever changes.
    const calls = { n: null, max: null };
    const native = context._ctx;
    if (native && typeof native.initBatch === "function") {
      calls.n = 0;
      calls.max = 0;
      context._ctx = new Proxy(native, {
        get(target, prop) {
          const v = Reflect.get(target, prop, target);
          if (prop === "initBatch")
            return (size) => {
              ++calls.n;
              calls.max = Math.max(calls.max, size);
              return v.call(target, size);
            };
          return typeof v === "function" ? v.bind(target) : v;
        },
      });
    }
    try {
      const seqs = Array.from({ length: n }, () => context.getSequence());
      const rng = makeRng(opts.seed);
      const prompts = seqs.map(() => {
        const p = [bos];
        for (let i = 1; i < opts.promptLen; i++) p.push(3 + (rng() % (vocab - 3)));
        return p;
      });
      let generated = 0, withFirst = 0, genAtFirst = 0, eog = 0;
      const perSeq = new Array(n).fill(0);
      const t0 = now();
      let tFirst = t0;
      await Promise.all(seqs.map(async (seq, s) => {
        const it = seq.evaluate(prompts[s], { temperature: 0, yieldEogToken: true });
        for await (const token of it) {
          ++generated;
          if (model.isEogToken(token)) ++eog;
          if (++perSeq[s] === 1 && ++withFirst === n) {
            tFirst = now();
            genAtFirst = generated;
          }
          if (perSeq[s] >= opts.gen) break;  // no further decode is queued for it
        }
      }));
      const tEnd = now();
      const prefillS = tFirst - t0, decodeS = tEnd - tFirst, decodeTokens = generated - genAtFirst;
      return {
        engine: "llama.cpp", node_llama_cpp: nlcVersion,
        llama_cpp_release: llama.llamaCppRelease?.release ?? null, build: llama.buildType,
        model: basename(opts.model), threads: opts.threads, prompt_len: opts.promptLen, gen: opts.gen,
        concurrency: n, batch_size: context.batchSize, context_size_per_seq: context.contextSize,
        flash_attention: context.flashAttention, kv_type: opts.kvType,
        prefill_s: prefillS, prefill_tok_s: (opts.promptLen * n) / prefillS,
        decode_s: decodeS, decode_tokens: decodeTokens,
        decode_tok_s: decodeS > 0 ? decodeTokens / decodeS : null,
        generated_tokens: generated, min_tokens_per_seq: Math.min(...perSeq),
        max_tokens_per_seq: Math.max(...perSeq), eog_tokens: eog,
        llama_decode_calls: calls.n, llama_decode_max_tokens: calls.max,
        threads_used: context.currentThreads,
      };
    } finally {
      await context.dispose();
    }
  }

  // Warm-up (untimed): the weights are mmapped, so the first pass pays the
  // page faults; one short sequence touches every tensor once.
  {
    const context = await model.createContext({ sequences: 1, contextSize: 16, batchSize: 16,
                                                threads: { ideal: opts.threads, min: opts.threads } });
    let k = 0;
    for await (const _ of context.getSequence().evaluate([bos, 3, 4, 5], { temperature: 0, yieldEogToken: true }))
      if (++k >= 2) break;
    await context.dispose();
  }

  const rows = [];
  for (const n of opts.concurrency) {
    const r = await runOne(n);
    rows.push(r);
    process.stdout.write(JSON.stringify(r) + "\n");
  }

  const f1 = (x) => (x == null ? "-" : x.toFixed(1));
  console.log(`llama.cpp ${rows[0]?.llama_cpp_release ?? "?"} via node-llama-cpp ${nlcVersion} (${llama.buildType}, CPU): ` +
              `${basename(opts.model)} (vocab ${vocab}), prompt ${opts.promptLen}, generate ${opts.gen}, ` +
              `threads ${opts.threads}, batch ${opts.batchSize}, KV ${opts.kvType}`);
  console.log(`${"conc".padStart(5)} ${"prefill s".padStart(10)} ${"prefill t/s".padStart(12)} ` +
              `${"decode s".padStart(9)} ${"decode t/s".padStart(12)} ${"tokens/seq".padStart(10)}`);
  for (const r of rows)
    console.log(`${String(r.concurrency).padStart(5)} ${r.prefill_s.toFixed(3).padStart(10)} ` +
                `${f1(r.prefill_tok_s).padStart(12)} ${r.decode_s.toFixed(3).padStart(9)} ` +
                `${f1(r.decode_tok_s).padStart(12)} ` +
                `${(r.min_tokens_per_seq === r.max_tokens_per_seq ? String(r.min_tokens_per_seq)
                    : `${r.min_tokens_per_seq}-${r.max_tokens_per_seq}`).padStart(10)}`);
  await model.dispose();
  await llama.dispose();
}

try {
  await main();
} catch (e) {
  process.stderr.write(`llama_cpp_bench: ${String(e?.message ?? e).replace(/\s*\n\s*/g, " ")}\n`);
  process.exit(1);
}
