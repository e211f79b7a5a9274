// Cross-checks tests/data/chat_templates/expected.json (Python jinja2 with
// transformers' settings) against @huggingface/jinja (pinned in
// package.json): renders every template x conversation and every snippet
// and reports the cases where the two references disagree. Exit status 1
// when one disagrees outside KNOWN_DIFFERENCES (ctest runs it: chat.jinja_crosscheck).
//   node tests/npm/check_chat_templates.mjs
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Template } from "@huggingface/jinja";


const here = dirname(fileURLToPath(import.meta.url));
const dataDir = join(here, "..", "data", "chat_templates");
const read = (p) => JSON.parse(readFileSync(p, "utf8"));
const templates = read(join(dataDir, "templates.json"));
const { now, conversations } = read(join(dataDir, "conversations.json"));
const snippets = read(join(dataDir, "snippets.json"));
const expected = read(join(dataDir, "expected.json"));

// Where @huggingface/jinja itself departs from Python (it is a second
// opinion; the C++ renderer follows jinja2, whose output transformers uses).
const KNOWN_DIFFERENCES = new Set(JSON.parse(readFileSync(join(here, "jinja_known_differences.json"), "utf8")));

const source = (spec) =>
  spec.npm ? read(join(here, "node_modules", spec.npm, "models", "tokenizer_config.json")).chat_template
           : readFileSync(join(dataDir, spec.file), "utf8");

// @huggingface/jinja brings its own strftime_now (the real clock), so the
// renderings that print today's date differ from the frozen fixtures.
const render = (src, vars) => new Template(src).render(vars);

let agree = 0, differ = 0, unexpected = 0;
function compare(key, want, fn) {
  let got;
  try { got = { text: fn() }; } catch (e) { got = { error: String(e.message || e) }; }
  const same = want.text !== undefined ? got.text === want.text : got.error !== undefined;
  if (same) { agree++; return; }
  differ++;
  if (!KNOWN_DIFFERENCES.has(key)) {
    unexpected++;
    console.log(`DIFFERS ${key}\n  jinja2: ${JSON.stringify(want).slice(0, 300)}\n  @huggingface/jinja: ${JSON.stringify(got).slice(0, 300)}`);
  }
}
for (const [name, spec] of Object.entries(templates)) {
  const src = source(spec);
  for (const conv of conversations) {
    compare(`${name}/${conv.name}`, expected.renderings[name][conv.name], () =>
      render(src, { messages: conv.messages, tools: conv.tools ?? null, documents: null,
                    add_generation_prompt: conv.add_generation_prompt ?? true, ...spec.tokens, ...(conv.extra ?? {}) }));
  }
}
for (const s of snippets) compare(`snippet/${s.name}`, expected.snippets[s.name], () => render(s.template, s.vars));
console.log(`@huggingface/jinja agrees with jinja2 on ${agree} of ${agree + differ} renderings (${differ - unexpected} known differences)`);
process.exit(unexpected ? 1 : 0);
