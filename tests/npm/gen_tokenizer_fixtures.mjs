// Writes tests/data/tokenizers/<name>.expected.json: the ids that Hugging
// Face's reference implementation (@huggingface/tokenizers, pinned in
// package.json) gives for every string of tests/data/tokenizers/corpus.json,
// with and without special tokens, and its decoding of them. The unit tests
// (tests/unit/test_hf_tokenizer.cpp) compare radiald's tokenizer with these.
//   node tests/npm/gen_tokenizer_fixtures.mjs      (after scripts/install-npm-deps.sh)
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "@huggingface/tokenizers";
import { TOKENIZERS } from "./tokenizers.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const dataDir = join(here, "..", "data", "tokenizers");
const corpus = JSON.parse(readFileSync(join(dataDir, "corpus.json"), "utf8"));
const refVersion = JSON.parse(readFileSync(join(here, "node_modules/@huggingface/tokenizers/package.json"), "utf8")).version;

for (const t of TOKENIZERS) {
  const dir = join(here, "node_modules", t.package, "models");
  const json = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
  const config = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
  const tok = new Tokenizer(json, config);
  const cases = corpus.map((text) => {
    const ids = tok.encode(text, { add_special_tokens: true }).ids;
    const plain = tok.encode(text, { add_special_tokens: false }).ids;
    return {
      text,
      ids,
      ids_no_special: plain,
      decoded: plain.length ? tok.decode(plain, { skip_special_tokens: false, clean_up_tokenization_spaces: false }) : "",
    };
  });
  const out = { tokenizer: `${t.package}/models/tokenizer.json`, reference: `@huggingface/tokenizers ${refVersion}`, cases };
  writeFileSync(join(dataDir, `${t.name}.expected.json`), JSON.stringify(out) + "\n");
  console.log(`${t.name}: ${cases.length} cases`);
}
