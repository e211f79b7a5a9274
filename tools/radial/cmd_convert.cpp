// `radial convert`: turns a llama2.c checkpoint (or an HF directory, to
// re-save it) into a Hugging Face directory: config.json + model.safetensors
// (F32, half-split RoPE), plus tokenizer.model when one is given.
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "engine/error.h"
#include "engine/model_loader.h"
#include "tools/radial/args.h"
#include "tools/radial/commands.h"

namespace radial::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUsage =
    "usage: radial convert [--from llama2c|hf] --input PATH --out DIR [--tokenizer FILE]\n"
    "\n"
    "Writes the model at PATH as a Hugging Face directory DIR: config.json and\n"
    "model.safetensors (F32; Q/K rows in the half-split RoPE layout).\n"
    "\n"
    "  --from llama2c|hf   input format (default: hf for a directory, llama2c for a .bin file)\n"
    "  --input PATH        llama2.c checkpoint (.bin) or Hugging Face model directory\n"
    "  --out DIR           output directory (created if needed; files in it are overwritten)\n"
    "  --tokenizer FILE    SentencePiece model copied to DIR/tokenizer.model (default for an\n"
    "                      hf input: its tokenizer.model, if any)\n"
    "  -h, --help          show this help\n";

int usage_error(const std::string& msg) {
  std::cerr << "radial convert: " << msg << "\n" << kUsage;
  return 2;
}

}  // namespace

int cmd_convert(int argc, char** argv) {
  std::optional<std::string> from, input, out, tokenizer;
  try {
    Args args(argc, argv, {"from", "input", "out", "tokenizer"}, {"help"});
    if (args.flag("help")) {
      std::cout << kUsage;
      return 0;
    }
    from = args.get("from");
    input = args.get("input");
    out = args.get("out");
    tokenizer = args.get("tokenizer");
  } catch (const UsageError& e) {
    return usage_error(e.message);
  }
  if (!input || input->empty()) return usage_error("--input is required");
  if (!out || out->empty()) return usage_error("--out is required");
  if (!from) from = fs::is_directory(*input) ? "hf" : "llama2c";
  if (*from != "llama2c" && *from != "hf")
    return usage_error("--from must be llama2c or hf, got \"" + *from + "\"");

  try {
    if (!tokenizer && *from == "hf" && fs::exists(fs::path(*input) / "tokenizer.model"))
      tokenizer = (fs::path(*input) / "tokenizer.model").string();
    if (tokenizer && !fs::is_regular_file(*tokenizer))
      throw Error(ErrorCode::kNotFound, *tokenizer + ": not found");

    ModelWeights w = *from == "hf" ? load_hf_model(*input) : load_llama2c_model(*input);
    save_hf_model(w, *out);
    if (tokenizer) {
      const fs::path dst = fs::path(*out) / "tokenizer.model";
      if (!fs::exists(dst) || !fs::equivalent(*tokenizer, dst))
        fs::copy_file(*tokenizer, dst, fs::copy_options::overwrite_existing);
    }
    const ModelConfig& c = w.config;
    std::cout << "wrote " << *out << ": " << c.model_type << ", " << c.num_layers << " layers, d "
              << c.hidden_size << ", " << c.num_heads << " heads (" << c.num_kv_heads
              << " KV), vocab " << c.vocab_size << ", context " << c.max_position_embeddings
              << (c.tie_word_embeddings ? ", tied embeddings" : "")
              << (tokenizer ? ", tokenizer.model" : "") << "\n";
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
