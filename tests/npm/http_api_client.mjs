// The official OpenAI client (npm `openai`, pinned in tests/npm) against
// radiald's HTTP API: completions and chat, streamed and not, n, logprobs,
// stop, seed, include_usage, logit_bias and penalties, echo, JSON and JSON
// Schema modes (with the SDK's zod helper), the tokenizer
// routes, the prefix cache, errors, auth, radial's extensions, and 32
// concurrent streams equal to their solo runs. Prints "ok <name>" per check
// and exits 1 when any failed.
// (Driven by tests/e2e/http_api.sh; it lives here, beside the packages it imports.)
// usage: node http_api_client.mjs STORIES_URL CHAT_URL TOKEN CHAT_MODEL_DIR
import assert from "node:assert/strict";
import fs from "node:fs";
import OpenAI from "openai";
import { Template } from "@huggingface/jinja";
import { Tokenizer } from "@huggingface/tokenizers";
import { z } from "zod";
import { zodFunction, zodResponseFormat } from "openai/helpers/zod";

const [storiesUrl, chatUrl, token, chatDir] = process.argv.slice(2);

const stories = new OpenAI({ baseURL: storiesUrl + "/v1", apiKey: token, maxRetries: 0 });
const chat = new OpenAI({ baseURL: chatUrl + "/v1", apiKey: token, maxRetries: 0 });
let failed = false;
async function check(name, fn) {
  try {
    await fn();
    console.log("ok " + name);
  } catch (e) {
    console.log("FAIL " + name + ": " + (e.stack || e));
    failed = true;
  }
}

async function streamText(client, params) {
  const chunks = [];
  const stream = await client.completions.create({ ...params, stream: true });
  for await (const c of stream) chunks.push(c);
  return chunks;
}

await check("models.list names the served model", async () => {
  const models = await stories.models.list();
  const ids = [];
  for await (const m of models) ids.push(m.id);
  assert.deepEqual(ids, ["stories260K"]);
});

const greedy = { model: "stories260K", prompt: "Once upon a time", max_tokens: 40, temperature: 0 };
let solo;
await check("completion: greedy text, usage, finish_reason, radial depth", async () => {
  solo = await stories.completions.create(greedy);
  assert.equal(solo.object, "text_completion");
  assert.equal(solo.choices.length, 1);
  assert.match(solo.choices[0].text, /Lily/);
  assert.equal(solo.choices[0].finish_reason, "length");
  assert.equal(solo.usage.prompt_tokens, 5);
  assert.equal(solo.usage.completion_tokens, 40);
  assert.equal(solo.choices[0].radial.depth.length, 40);
  assert.ok(solo.radial.mean_depth > 0 && solo.radial.mean_depth <= 5);
});

await check("completion: streamed deltas joined equal the non-streamed text", async () => {
  const chunks = await streamText(stories, greedy);
  const text = chunks.map((c) => c.choices[0]?.text ?? "").join("");
  assert.equal(text, solo.choices[0].text);
  assert.equal(chunks.at(-1).choices[0].finish_reason, "length");
  assert.ok(chunks.slice(0, -1).every((c) => c.choices[0].finish_reason === null));
});

await check("completion: include_usage sends a last chunk with usage and no choices", async () => {
  const chunks = await streamText(stories, { ...greedy, max_tokens: 5, stream_options: { include_usage: true } });
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.deepEqual(last.usage, {
    prompt_tokens: 5, completion_tokens: 5, total_tokens: 10, prompt_tokens_details: { cached_tokens: 0 },
  });
});

await check("completion: a repeated prompt is served from the prefix cache, to the same text", async () => {
  // 16-entry KV blocks: the second request finds the first's whole blocks
  // (never the last prompt token, whose pass yields the first new one).
  const p = { ...greedy, max_tokens: 12,
    prompt: "Once upon a time, there was a little girl named Lily. She loved to play outside in the sun with her big red ball." };
  const first = await stories.completions.create(p);
  const again = await stories.completions.create(p);
  const n = again.usage.prompt_tokens;
  assert.ok(n > 32, "prompt of " + n + " tokens");
  assert.equal(again.usage.prompt_tokens_details.cached_tokens, Math.floor((n - 1) / 16) * 16);
  assert.equal(again.choices[0].text, first.choices[0].text);
  assert.deepEqual(again.choices[0].radial.depth, first.choices[0].radial.depth);
});

await check("completion: n choices with a seed, reproducible", async () => {
  const p = { model: "stories260K", prompt: "The dog", max_tokens: 20, temperature: 0.9, n: 3, seed: 11 };
  const a = await stories.completions.create(p);
  const b = await stories.completions.create(p);
  assert.deepEqual(a.choices.map((c) => c.index), [0, 1, 2]);
  assert.deepEqual(a.choices.map((c) => c.text), b.choices.map((c) => c.text));
  assert.ok(new Set(a.choices.map((c) => c.text)).size > 1, "seeded choices differ");
  assert.equal(a.usage.completion_tokens, 60);
});

await check("completion: stop string ends with finish_reason stop, the stop never shown", async () => {
  const r = await stories.completions.create({ ...greedy, stop: ["little"] });
  assert.equal(r.choices[0].finish_reason, "stop");
  assert.ok(!r.choices[0].text.includes("little"));
  assert.ok(solo.choices[0].text.startsWith(r.choices[0].text));
});

await check("completion: logprobs from the sampled distribution", async () => {
  const r = await stories.completions.create({ ...greedy, max_tokens: 6, logprobs: 3 });
  const lp = r.choices[0].logprobs;
  assert.equal(lp.tokens.length, 6);
  assert.equal(lp.tokens.join(""), r.choices[0].text);
  for (let i = 0; i < 6; ++i) {
    assert.ok(lp.token_logprobs[i] <= 0);
    const tops = Object.values(lp.top_logprobs[i]);
    assert.equal(tops.length, 3);
    assert.equal(Math.max(...tops), lp.token_logprobs[i], "greedy: the token is the likeliest");
  }
});

await check("completion: routing_mode full runs every layer; radial_path lists them", async () => {
  const r = await stories.completions.create({ ...greedy, max_tokens: 4, routing_mode: "full", radial_path: true });
  assert.deepEqual(r.choices[0].radial.depth, [5, 5, 5, 5]);
  assert.deepEqual(r.choices[0].radial.path[0], [0, 1, 2, 3, 4]);
});

await check("completion: logit_bias forces a token; penalties change greedy text", async () => {
  // Token 403 is "▁Once" ("Once upon a time" is [1, 403, 407, 261, 378]).
  const forced = await stories.completions.create({ ...greedy, max_tokens: 4, logit_bias: { "403": 100 } });
  assert.equal(forced.choices[0].text, " Once Once Once Once");
  const penalized = { ...greedy, presence_penalty: 1.5, frequency_penalty: 1.5, logprobs: 2 };
  const a = await stories.completions.create(penalized);
  const b = await stories.completions.create(penalized);
  assert.notEqual(a.choices[0].text, solo.choices[0].text);
  assert.equal(a.choices[0].text, b.choices[0].text);
  // The log-probabilities are of the penalized distribution: greedy's token is its likeliest.
  const lp = a.choices[0].logprobs;
  for (let i = 0; i < 40; ++i)
    assert.equal(Math.max(...Object.values(lp.top_logprobs[i])), lp.token_logprobs[i]);
});

await check("completion: echo scores the prompt (lm-evaluation-harness's loglikelihood request)", async () => {
  // The prompt and the greedy continuation, scored: every continuation
  // token is the likeliest at its position (lm-eval's is_greedy).
  const text = "Once upon a time" + solo.choices[0].text;
  const r = await stories.completions.create({ ...greedy, prompt: text, echo: true, max_tokens: 0, logprobs: 1 });
  const c = r.choices[0];
  assert.equal(c.text, text);
  assert.equal(r.usage.completion_tokens, 0);
  assert.equal(c.finish_reason, "length");
  // Even when the one token the engine runs is EOS (2, forced here).
  const eos = await stories.completions.create({ ...greedy, echo: true, max_tokens: 0, logit_bias: { "2": 100 } });
  assert.equal(eos.choices[0].finish_reason, "length");
  assert.equal(eos.choices[0].text, "Once upon a time");
  const lp = c.logprobs;
  const n = lp.tokens.length;
  assert.equal(n, r.usage.prompt_tokens);
  assert.equal(lp.tokens.join(""), text);
  assert.equal(lp.token_logprobs[0], null);
  assert.equal(lp.top_logprobs[0], null);
  for (let i = 1; i < n; ++i) {
    assert.equal(lp.text_offset[i], lp.text_offset[i - 1] + Buffer.byteLength(lp.tokens[i - 1]));
    assert.ok(lp.token_logprobs[i] <= 0);
    if (i >= 5) assert.equal(Object.values(lp.top_logprobs[i])[0], lp.token_logprobs[i], "position " + i);
  }
  // lm-eval's own request (lm_eval/models/openai_completions.py): token-id
  // prompts in a batch, max_tokens 1; it reads [ctxlen:-1] of each choice.
  const ctx = [1, 403, 407, 261];
  const batch = await stories.completions.create({ model: "stories260K", prompt: [[...ctx, 378], [...ctx, 378, 11]],
    temperature: 0, max_tokens: 1, logprobs: 1, seed: 1234, echo: true });
  const [a, b] = [...batch.choices].sort((x, y) => x.index - y.index).map((x) => x.logprobs);
  assert.equal(a.token_logprobs.length, 5 + 1);
  assert.equal(b.token_logprobs.length, 6 + 1);
  const scoreA = a.token_logprobs.slice(4, -1), scoreB = b.token_logprobs.slice(4, -1);
  assert.equal(scoreA.length, 1);
  assert.equal(scoreB.length, 2);
  assert.ok(Math.abs(scoreA[0] - scoreB[0]) < 1e-5, "the same position scores alike in both prompts");
  for (const top of b.top_logprobs.slice(4, -1)) assert.equal(Object.keys(top).length, 1);
  // With a completion: the prompt's entries, then the generated tokens'.
  const g = await stories.completions.create({ ...greedy, echo: true, max_tokens: 3, logprobs: 0 });
  const gt = g.choices[0].text;
  assert.ok(gt.startsWith("Once upon a time") && gt.length > 16);
  assert.ok(solo.choices[0].text.startsWith(gt.slice(16)));
  assert.equal(g.choices[0].logprobs.tokens.length, 5 + 3);
  assert.equal(g.choices[0].logprobs.text_offset[5], 16);
  // Streamed: the echo is the first chunk, then the same text as not streamed.
  const chunks = await streamText(stories, { ...greedy, echo: true, max_tokens: 8 });
  const whole = await stories.completions.create({ ...greedy, echo: true, max_tokens: 8 });
  assert.equal(chunks[0].choices[0].text, "Once upon a time");
  assert.equal(chunks.map((x) => x.choices[0]?.text ?? "").join(""), whole.choices[0].text);
});

await check("vLLM's tokenizer routes, as lm-evaluation-harness's remote tokenizer probes them", async () => {
  const base = storiesUrl;
  const auth = { Authorization: "Bearer " + token, "Content-Type": "application/json" };
  const post = (path, body, headers = auth) => fetch(base + path, { method: "POST", headers, body: JSON.stringify(body) });
  // lm_eval.utils.check_remote_tokenizer_support: /tokenizer_info has
  // eos_token, /tokenize of "test" without special tokens returns a list.
  const info = await (await fetch(base + "/tokenizer_info", { headers: auth })).json();
  assert.ok("eos_token" in info);
  assert.equal(info.eos_token, "</s>");
  assert.equal(info.bos_token, "<s>");
  const probe = await (await post("/tokenize", { prompt: "test", add_special_tokens: false })).json();
  assert.ok(Array.isArray(probe.tokens) && probe.tokens.length > 0);
  const t = await (await post("/tokenize", { prompt: "Once upon a time" })).json();
  assert.deepEqual(t.tokens, [1, 403, 407, 261, 378]);
  assert.equal(t.count, 5);
  const d = await (await post("/detokenize", { tokens: t.tokens.slice(1) })).json();
  assert.equal(d.prompt, "Once upon a time");
  // Errors and auth as on /v1.
  const bad = await post("/detokenize", { tokens: [600] });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.param, "tokens");
  assert.equal((await post("/tokenize", { prompt: "x" }, { "Content-Type": "application/json" })).status, 401);
  assert.equal((await fetch(base + "/tokenize", { headers: auth })).status, 405);
});

await check("errors: 401 bad token, 404 model, 400 naming the field", async () => {
  const bad = new OpenAI({ baseURL: storiesUrl + "/v1", apiKey: "wrong", maxRetries: 0 });
  await assert.rejects(bad.completions.create(greedy), (e) => e.status === 401);
  await assert.rejects(stories.completions.create({ ...greedy, model: "nope" }),
    (e) => e.status === 404 && e.code === "model_not_found");
  await assert.rejects(stories.completions.create({ ...greedy, presence_penalty: 3 }),
    (e) => e.status === 400 && e.param === "presence_penalty");
  await assert.rejects(stories.completions.create({ ...greedy, logit_bias: { "512": 1 } }),
    (e) => e.status === 400 && e.param === "logit_bias" && /vocabulary/.test(e.message));
  await assert.rejects(stories.completions.create({ ...greedy, temperature: 7 }),
    (e) => e.status === 400 && e.param === "temperature");
  await assert.rejects(stories.chat.completions.create({ model: "stories260K", messages: [{ role: "user", content: "x" }] }),
    (e) => e.status === 400 && /chat template/.test(e.message));
});

await check("32 concurrent streams equal their solo runs", async () => {
  const prompts = Array.from({ length: 32 }, (_, i) => "Tom had " + i + " cats");
  const soloTexts = [];
  for (const p of prompts.slice(0, 4))
    soloTexts.push((await stories.completions.create({ ...greedy, prompt: p, max_tokens: 24 })).choices[0].text);
  const all = await Promise.all(prompts.map((p) => streamText(stories, { ...greedy, prompt: p, max_tokens: 24 })));
  for (let i = 0; i < 32; ++i) {
    const text = all[i].map((c) => c.choices[0]?.text ?? "").join("");
    assert.equal(all[i].at(-1).choices[0].finish_reason, "length");
    if (i < 4) assert.equal(text, soloTexts[i], "prompt " + i);
  }
});

// Chat, on random weights with Llama-3.1's real tokenizer and chat template.
const cfg = JSON.parse(fs.readFileSync(chatDir + "/tokenizer_config.json", "utf8"));
const hfTok = new Tokenizer(JSON.parse(fs.readFileSync(chatDir + "/tokenizer.json", "utf8")), cfg);
const template = new Template(cfg.chat_template);
const messages = [
  { role: "system", content: "You are terse." },
  { role: "user", content: "Héllo, wörld! 東京 🙂" },
  { role: "assistant", content: "Hi." },
  { role: "user", content: "Again <|eot_id|>" },
];
const chatModel = chatDir.split("/").filter(Boolean).at(-1);
await check("chat: usage.prompt_tokens equals Hugging Face's template + tokenizer", async () => {
  const rendered = template.render({ messages, add_generation_prompt: true, bos_token: cfg.bos_token, eos_token: cfg.eos_token });
  const want = hfTok.encode(rendered, { add_special_tokens: false }).ids.length;
  const r = await chat.chat.completions.create({ model: chatModel, messages, max_tokens: 3, temperature: 0 });
  assert.equal(r.object, "chat.completion");
  assert.equal(r.usage.prompt_tokens, want);
  assert.equal(r.choices[0].message.role, "assistant");
  assert.equal(r.usage.completion_tokens, 3);
});

await check("chat: streamed deltas equal the message; role first; include_usage", async () => {
  const p = { model: chatModel, messages, max_completion_tokens: 8, temperature: 0 };
  const whole = await chat.chat.completions.create(p);
  const stream = await chat.chat.completions.create({ ...p, stream: true, stream_options: { include_usage: true } });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  assert.equal(chunks[0].choices[0].delta.role, "assistant");
  const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
  assert.equal(text, whole.choices[0].message.content);
  assert.equal(chunks.at(-1).usage.completion_tokens, 8);
});

await check("chat: logprobs with top_logprobs, token bytes", async () => {
  const r = await chat.chat.completions.create({ model: chatModel, messages, max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 2 });
  const content = r.choices[0].logprobs.content;
  assert.equal(content.length, 4);
  for (const t of content) {
    assert.equal(t.top_logprobs.length, 2);
    assert.ok(Array.isArray(t.bytes));
    assert.equal(t.top_logprobs[0].logprob, t.logprob);
  }
});

await check("chat: response_format json_object holds the reply to a JSON object", async () => {
  // Random weights write no JSON of their own: a bias toward the token "{}"
  // (a "}" alone would be taken inside a string) makes the object close at
  // once, ending with "stop".
  const [emptyObject] = hfTok.encode("{}", { add_special_tokens: false }).ids;
  const closed = await chat.chat.completions.create({ model: chatModel, messages, max_tokens: 40, seed: 3,
    response_format: { type: "json_object" }, logit_bias: { [String(emptyObject)]: 30 } });
  assert.equal(closed.choices[0].finish_reason, "stop");
  const obj = JSON.parse(closed.choices[0].message.content);
  assert.equal(typeof obj, "object");
  assert.ok(!Array.isArray(obj) && obj !== null);
  // Unbiased, cut by max_tokens: still the start of one JSON object, streamed the same.
  const params = { model: chatModel, messages, max_tokens: 24, seed: 4, temperature: 1,
                   response_format: { type: "json_object" } };
  const cut = await chat.chat.completions.create(params);
  const text = cut.choices[0].message.content;
  assert.match(text, /^\s*\{/);
  if (cut.choices[0].finish_reason === "stop") JSON.parse(text);
  else assert.equal(cut.choices[0].finish_reason, "length");
  let streamed = "";
  for await (const c of await chat.chat.completions.create({ ...params, stream: true }))
    streamed += c.choices[0]?.delta?.content ?? "";
  assert.equal(streamed, text);
  // Completions take it too.
  const comp = await stories.completions.create({ ...greedy, max_tokens: 30, response_format: { type: "json_object" },
    logit_bias: { "37": 5, "128": 5 } });
  assert.match(comp.choices[0].text, /^\s*\{/);
});

await check("chat: response_format json_schema, read by the client's parse()", async () => {
  // OpenAI's strict-mode shape: an enum, a boolean, a nullable object
  // (anyOf), a $ref; the client's parse() JSON-parses the message. Random
  // weights wander only where the schema leaves room (whitespace, here),
  // so the object closes within the budget.
  const schema = {
    type: "object",
    properties: {
      mood: { enum: ["happy", "sad"] },
      ok: { type: "boolean" },
      pet: { anyOf: [{ type: "null" }, { $ref: "#/$defs/pet" }] },
    },
    required: ["mood", "ok", "pet"],
    additionalProperties: false,
    $defs: { pet: { type: "object", properties: { kind: { const: "cat" } }, required: ["kind"],
                    additionalProperties: false } },
  };
  const response_format = { type: "json_schema", json_schema: { name: "mood", schema, strict: true } };
  for (const seed of [1, 2, 3]) {
    const params = { model: chatModel, messages, max_tokens: 300, seed, temperature: 1, response_format };
    const r = await chat.chat.completions.parse(params);
    assert.equal(r.choices[0].finish_reason, "stop");
    const v = r.choices[0].message.parsed;
    assert.deepEqual(Object.keys(v), ["mood", "ok", "pet"]);
    assert.ok(["happy", "sad"].includes(v.mood));
    assert.equal(typeof v.ok, "boolean");
    assert.ok(v.pet === null || (Object.keys(v.pet).length === 1 && v.pet.kind === "cat"));
    let streamed = "";
    for await (const c of await chat.chat.completions.create({ ...params, stream: true }))
      streamed += c.choices[0]?.delta?.content ?? "";
    assert.equal(streamed, r.choices[0].message.content);
  }
  // Completions take it too (the stories model, a SentencePiece vocabulary).
  const comp = await stories.completions.create({ model: "stories260K", prompt: "Lily said", max_tokens: 300,
    temperature: 1, seed: 5, response_format });
  assert.equal(comp.choices[0].finish_reason, "stop");
  assert.ok(["happy", "sad"].includes(JSON.parse(comp.choices[0].text).mood));
});

await check("chat: a zod schema through the client's zodResponseFormat, its parse() validating", async () => {
  // The SDK's own schema writer: definitions and $refs for a reused object,
  // a nullable as anyOf, enums with a type, a const, a list of types,
  // maxItems, a string's min and max length, numbers' bounds (minimum,
  // maximum, exclusiveMinimum, exclusiveMaximum). (No unbounded strings:
  // random weights would fill them to max_tokens; a bounded number is at
  // most 24 bytes.)
  const Pet = z.object({ kind: z.enum(["cat", "dog"]), indoor: z.boolean() });
  const Reply = z.object({ mood: z.enum(["happy", "sad"]), pets: z.array(Pet).max(2), owner: Pet.nullable(),
                           tag: z.literal("v1"), score: z.union([z.boolean(), z.null()]),
                           note: z.string().min(1).max(6), stars: z.number().int().min(1).max(5),
                           confidence: z.number().gt(0).lt(1) });
  for (const seed of [1, 2, 3]) {
    const r = await chat.chat.completions.parse({ model: chatModel, messages, max_tokens: 400, seed,
      temperature: 1, response_format: zodResponseFormat(Reply, "reply") });
    assert.equal(r.choices[0].finish_reason, "stop");
    const v = r.choices[0].message.parsed;  // (zod has checked it)
    assert.deepEqual(Object.keys(v), ["mood", "pets", "owner", "tag", "score", "note", "stars",
                                      "confidence"]);
    assert.ok(Number.isInteger(v.stars) && v.stars >= 1 && v.stars <= 5, v.stars);
    assert.ok(v.confidence > 0 && v.confidence < 1, v.confidence);
    assert.ok([...v.note].length >= 1 && [...v.note].length <= 6, v.note);
    assert.ok(v.pets.length <= 2);
  }
});

await check("chat: tools: a forced tool_choice returns a call the client reads", async () => {
  // (Enums and booleans: random weights would fill free strings and
  // numbers to max_tokens. This template shows no tools, so "auto" returns
  // the reply as content; tests/server/test_tool_calls.cpp reads calls out
  // of Hermes and Llama 3 replies.)
  const tools = [
    { type: "function", function: { name: "get_weather", description: "Weather in a city",
      parameters: { type: "object", properties: { unit: { enum: ["c", "f"] }, hot: { type: "boolean" } },
                    required: ["unit"], additionalProperties: false } } },
    { type: "function", function: { name: "now" } },
  ];
  const base = { model: chatModel, messages, max_tokens: 300, temperature: 1, tools };
  for (const seed of [1, 2]) {
    const named = await chat.chat.completions.create({ ...base, seed,
      tool_choice: { type: "function", function: { name: "get_weather" } } });
    assert.equal(named.choices[0].finish_reason, "tool_calls");
    assert.equal(named.choices[0].message.content, null);
    const [call] = named.choices[0].message.tool_calls;
    assert.equal(call.type, "function");
    assert.match(call.id, /^call_/);
    assert.equal(call.function.name, "get_weather");
    const args = JSON.parse(call.function.arguments);
    assert.ok(["c", "f"].includes(args.unit));
    const required = await chat.chat.completions.create({ ...base, seed, tool_choice: "required" });
    assert.equal(required.choices[0].finish_reason, "tool_calls");
    assert.ok(["get_weather", "now"].includes(required.choices[0].message.tool_calls[0].function.name));
  }
  // Streamed, through the client's stream helper (it joins the deltas).
  const stream = chat.chat.completions.stream({ ...base, seed: 3, tool_choice: "required" });
  const final = await stream.finalChatCompletion();
  assert.equal(final.choices[0].finish_reason, "tool_calls");
  const streamedCall = final.choices[0].message.tool_calls[0];
  assert.ok(["get_weather", "now"].includes(streamedCall.function.name));
  JSON.parse(streamedCall.function.arguments);
  // The SDK's zodFunction (a strict tool): parse() checks the arguments with zod.
  const Lookup = z.object({ kind: z.enum(["cat", "dog"]), many: z.boolean() });
  const parsed = await chat.chat.completions.parse({ model: chatModel, messages, max_tokens: 300, seed: 4,
    temperature: 1, tools: [zodFunction({ name: "lookup", parameters: Lookup })],
    tool_choice: { type: "function", function: { name: "lookup" } } });
  const pc = parsed.choices[0].message.tool_calls[0];
  assert.equal(pc.function.name, "lookup");
  assert.ok(["cat", "dog"].includes(pc.function.parsed_arguments.kind));
  // The call and its result go back as history; "auto" replies as content here.
  const history = [...messages, { role: "assistant", content: null, tool_calls: [streamedCall] },
                   { role: "tool", tool_call_id: streamedCall.id, content: "{\"temp\": 21}" }];
  const next = await chat.chat.completions.create({ model: chatModel, messages: history, max_tokens: 8,
    tools, seed: 5 });
  assert.ok(["stop", "length"].includes(next.choices[0].finish_reason));
  assert.equal(typeof next.choices[0].message.content, "string");
  await assert.rejects(chat.chat.completions.create({ ...base, tool_choice: { type: "function", function: { name: "nope" } } }),
    (e) => e.status === 400 && e.param === "tool_choice");
});

await check("chat: unsupported fields are 400s naming them", async () => {
  await assert.rejects(chat.chat.completions.create({ model: chatModel, messages, tools: [{ type: "function", function: { name: "a b" } }] }),
    (e) => e.status === 400 && e.param === "tools[0].function.name");
  await assert.rejects(chat.chat.completions.create({ model: chatModel, messages,
    response_format: { type: "json_schema", json_schema: { name: "x", schema: {
      type: "object", properties: { a: { type: "string", pattern: "^(?!a)" } } } } } }),
    (e) => e.status === 400 && /"pattern" has lookaround/.test(e.message) && /\/properties\/a/.test(e.message));
  await assert.rejects(chat.chat.completions.create({ model: chatModel, messages,
    response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "array" } } } }),
    (e) => e.status === 400 && /root must be an object/.test(e.message));
  await assert.rejects(chat.chat.completions.create({ model: chatModel, messages, response_format: "json" }),
    (e) => e.status === 400 && e.param === "response_format");
});

process.exit(failed ? 1 : 0);
