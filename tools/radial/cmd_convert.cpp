// `radial convert`: turns a llama2.c checkpoint (or an HF directory, to
// re-save it, or a config.json, to fill with seeded random weights) into a
// Hugging Face directory: config.json + model.safetensors (F32, half-split
// RoPE), plus the tokenizer files when given.
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "engine/error.h"
#include "engine/model_config.h"
#include "engine/model_loader.h"
#include "tools/radial/args.h"
#include "tools/radial/commands.h"

namespace radial::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUsage =
    "usage: radial convert [--from llama2c|hf|random] --input PATH --out DIR [--tokenizer PATH]\n"
    "                      [--seed N]\n"
    "\n"
    "Writes the model at PATH as a Hugging Face directory DIR: config.json and\n"
    "model.safetensors (F32; Q/K rows in the half-split RoPE layout).\n"
    "\n"
    "  --from llama2c|hf|random  input format (default: hf for a directory, random for a .json\n"
    "                      file, llama2c for a .bin file); random: PATH is a Hugging Face\n"
    "                      config.json, filled with seeded random weights (for tests and\n"
    "                      benchmarks at a real model's shape and vocabulary)\n"
    "  --input PATH        llama2.c checkpoint (.bin), Hugging Face model directory, or "
    "config.json\n"
    "  --out DIR           output directory (created if needed; files in it are overwritten)\n"
    "  --tokenizer PATH    a SentencePiece model (copied to DIR/tokenizer.model), or a\n"
    "                      tokenizer.json or a directory holding one (copied with its\n"
    "                      tokenizer_config.json and generation_config.json); default for an\n"
    "                      hf input: its tokenizer.model, if any\n"
    "  --seed N            random: the weights' seed (default 0)\n"
    "  -h, --help          show this help\n";

// Copies a tokenizer into `out`: a SentencePiece model as tokenizer.model;
// a tokenizer.json (or a directory holding one) with the
// tokenizer_config.json and generation_config.json beside it.
void copy_tokenizer(const fs::path& src, const fs::path& out) {
  auto copy = [&](const fs::path& from, const std::string& name) {
    const fs::path dst = out / name;
    if (!fs::exists(dst) || !fs::equivalent(from, dst))
      fs::copy_file(from, dst, fs::copy_options::overwrite_existing);
  };
  const fs::path json = fs::is_directory(src) ? src / "tokenizer.json" : src;
  if (json.extension() != ".json") return copy(src, "tokenizer.model");
  if (!fs::is_regular_file(json)) throw Error(ErrorCode::kNotFound, json.string() + ": not found");
  copy(json, "tokenizer.json");
  for (const char* side : {"tokenizer_config.json", "generation_config.json"})
    if (fs::is_regular_file(json.parent_path() / side)) copy(json.parent_path() / side, side);
}

int usage_error(const std::string& msg) {
  std::cerr << "radial convert: " << msg << "\n" << kUsage;
  return 2;
}

}  // namespace

int cmd_convert(int argc, char** argv) {
  std::optional<std::string> from, input, out, tokenizer;
  uint64_t seed = 0;
  try {
    Args args(argc, argv, {"from", "input", "out", "tokenizer", "seed"}, {"help"});
    if (args.flag("help")) {
      std::cout << kUsage;
      return 0;
    }
    from = args.get("from");
    input = args.get("input");
    out = args.get("out");
    tokenizer = args.get("tokenizer");
    seed = static_cast<uint64_t>(args.integer("seed").value_or(0));
  } catch (const UsageError& e) {
    return usage_error(e.message);
  }
  if (!input || input->empty()) return usage_error("--input is required");
  if (!out || out->empty()) return usage_error("--out is required");
  if (!from)
    from = fs::is_directory(*input)                  ? "hf"
           : fs::path(*input).extension() == ".json" ? "random"
                                                     : "llama2c";
  if (*from != "llama2c" && *from != "hf" && *from != "random")
    return usage_error("--from must be llama2c, hf or random, got \"" + *from + "\"");

  try {
    if (!tokenizer && *from == "hf" && fs::exists(fs::path(*input) / "tokenizer.model"))
      tokenizer = (fs::path(*input) / "tokenizer.model").string();

    if (tokenizer && !fs::exists(*tokenizer))
      throw Error(ErrorCode::kNotFound, *tokenizer + ": not found");
    ModelWeights w = *from == "hf"       ? load_hf_model(*input)
                     : *from == "random" ? make_random_model(load_hf_config(*input), seed)
                                         : load_llama2c_model(*input);
    save_hf_model(w, *out);
    if (tokenizer) copy_tokenizer(*tokenizer, *out);
    const ModelConfig& c = w.config;
    std::cout << "wrote " << *out << ": " << c.model_type << ", " << c.num_layers << " layers, d "
              << c.hidden_size << ", " << c.num_heads << " heads (" << c.num_kv_heads
              << " KV), vocab " << c.vocab_size << ", context " << c.max_position_embeddings
              << (c.tie_word_embeddings ? ", tied embeddings" : "")
              << (tokenizer ? ", tokenizer" : "") << "\n";
    return 0;
  } catch (const Error& e) {
    std::cerr << "radial convert: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {  // e.g. std::filesystem::filesystem_error
    std::cerr << "radial convert: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace radial::cli
