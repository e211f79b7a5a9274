// `radial convert`: turns a llama2.c checkpoint (or an HF directory, to
// re-save it, a GGUF file, or a config.json, to fill with seeded random
// weights) into a Hugging Face directory: config.json + model.safetensors
// (F32, half-split RoPE), plus the tokenizer files when given; or, with
// --to gguf, into a llama-, qwen2- or qwen3-architecture GGUF v3 file with its
// tokenizer embedded (engine/gguf_writer.h).
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "engine/error.h"
#include "engine/gguf.h"
#include "engine/gguf_loader.h"
#include "engine/gguf_writer.h"
#include "engine/model_config.h"
#include "engine/model_loader.h"
#include "tools/radial/args.h"
#include "tools/radial/commands.h"

namespace radial::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUsage =
    "usage: radial convert [--from llama2c|hf|gguf|random] --input PATH [--to hf|gguf]\n"
    "                      --out DIR|FILE [--out-type f32|bf16|q8_0|q4_0|q4_k_m|q5_k_m]\n"
    "                      [--tokenizer PATH] [--seed N]\n"
    "\n"
    "Writes the model at PATH as a Hugging Face directory DIR (--to hf, the default):\n"
    "config.json and model.safetensors (F32; Q/K rows in the half-split RoPE layout);\n"
    "or as a GGUF v3 file FILE (--to gguf) that llama.cpp and radiald both run: the\n"
    "qwen2 architecture for a Qwen2 model (Q/K/V biases), qwen3 for a Qwen3 model (q/k\n"
    "norms), else llama (llama Q/K rows in llama.cpp's interleaved order); llama.cpp's\n"
    "tensor names, norms F32, Llama 3 RoPE scaling as its rope_freqs.weight, the\n"
    "tokenizer embedded. The file is written under a temporary name and renamed, so a\n"
    "failed convert leaves none.\n"
    "\n"
    "  --from llama2c|hf|gguf|random  input format (default: hf for a directory, gguf for a\n"
    "                      file starting with the GGUF magic, random for a .json file,\n"
    "                      llama2c otherwise); random: PATH is a Hugging Face config.json,\n"
    "                      filled with seeded random weights (for tests and benchmarks at a\n"
    "                      real model's shape and vocabulary)\n"
    "  --input PATH        llama2.c checkpoint (.bin), Hugging Face model directory, GGUF\n"
    "                      file, or config.json\n"
    "  --to hf|gguf        output format (default hf)\n"
    "  --out DIR|FILE      hf: output directory (created if needed; files in it are\n"
    "                      overwritten); gguf: output file (replaced if it exists)\n"
    "  --out-type T        gguf: how matrices are stored: f32 (default), bf16 (rounded to\n"
    "                      nearest even), q8_0 (blocks of 32 with an fp16 scale, as\n"
    "                      llama.cpp quantizes; every matrix's row length must be a\n"
    "                      multiple of 32), q4_0 (llama.cpp's Q4_0: 4-bit blocks of 32,\n"
    "                      output.weight or a tied token_embd.weight Q6_K; rows a\n"
    "                      multiple of 32), q4_k_m or q5_k_m (llama.cpp's Q4_K_M and\n"
    "                      Q5_K_M mixes: Q4_K or Q5_K, with Q6_K for output.weight (or\n"
    "                      tied token_embd.weight) and for attn_v and ffn_down in some\n"
    "                      layers; a matrix whose row length is not a multiple of 256\n"
    "                      falls back, as in llama.cpp, to Q5_0 (from Q4_K), Q5_1 (from\n"
    "                      Q5_K) or Q8_0 (from Q6_K), or F16 when it is not a multiple\n"
    "                      of 32 either); norms stay F32\n"
    "  --tokenizer PATH    a SentencePiece model, or a tokenizer.json or a directory holding\n"
    "                      one; default: the hf input's tokenizer.model, else (gguf only)\n"
    "                      its tokenizer.json; a gguf input's own vocabulary.\n"
    "                      hf: copied to DIR (tokenizer.model, or tokenizer.json with its\n"
    "                      tokenizer_config.json and generation_config.json).\n"
    "                      gguf: embedded, SentencePiece as tokenizer.ggml.model \"llama\",\n"
    "                      a byte-level BPE tokenizer.json (Llama 3, Qwen2) as \"gpt2\";\n"
    "                      none: \"no_vocab\" (llama.cpp runs it from token ids)\n"
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

// The tokenizer metadata for --to gguf: from `tokenizer` (a .model file, a
// .json file, or a directory holding tokenizer.model or tokenizer.json), a
// gguf input's own, or none.
GgufMetadata gguf_tokenizer(const std::optional<std::string>& tokenizer, const std::string& from,
                            const std::string& input, int vocab_size) {
  if (!tokenizer) return from == "gguf" ? gguf_tokenizer_metadata_of(input) : GgufMetadata{};
  fs::path p(*tokenizer);
  if (fs::is_directory(p)) {
    if (fs::exists(p / "tokenizer.model"))
      return gguf_sentencepiece_metadata((p / "tokenizer.model").string(), vocab_size);
    p /= "tokenizer.json";
  }
  if (p.extension() == ".json") return gguf_bpe_metadata(p.string(), vocab_size);
  return gguf_sentencepiece_metadata(p.string(), vocab_size);
}

}  // namespace

int cmd_convert(int argc, char** argv) {
  std::optional<std::string> from, input, out, tokenizer, to, out_type;
  uint64_t seed = 0;
  try {
    Args args(argc, argv, {"from", "input", "to", "out", "out-type", "tokenizer", "seed"},
              {"help"});
    if (args.flag("help")) {
      std::cout << kUsage;
      return 0;
    }
    from = args.get("from");
    input = args.get("input");
    to = args.get("to");
    out = args.get("out");
    out_type = args.get("out-type");
    tokenizer = args.get("tokenizer");
    seed = static_cast<uint64_t>(args.integer("seed").value_or(0));
  } catch (const UsageError& e) {
    return usage_error(e.message);
  }
  if (!input || input->empty()) return usage_error("--input is required");
  if (!out || out->empty()) return usage_error("--out is required");
  if (!to) to = "hf";
  if (*to != "hf" && *to != "gguf")
    return usage_error("--to must be hf or gguf, got \"" + *to + "\"");
  GgufOutType type = GgufOutType::kF32;
  if (out_type) {
    if (*to != "gguf") return usage_error("--out-type needs --to gguf");
    try {
      type = parse_gguf_out_type(*out_type);
    } catch (const Error&) {
      return usage_error("--out-type must be f32, bf16, q8_0, q4_0, q4_k_m or q5_k_m, got \"" +
                         *out_type + "\"");
    }
  }
  if (*to == "gguf" && (out->back() == '/' || fs::is_directory(*out)))
    return usage_error("--out must name a file for --to gguf, got the directory " + *out);
  if (!from)
    from = fs::is_directory(*input)                  ? "hf"
           : GgufFile::has_magic(*input)             ? "gguf"
           : fs::path(*input).extension() == ".json" ? "random"
                                                     : "llama2c";
  if (*from != "llama2c" && *from != "hf" && *from != "gguf" && *from != "random")
    return usage_error("--from must be llama2c, hf, gguf or random, got \"" + *from + "\"");

  try {
    if (!tokenizer && *from == "hf" && fs::exists(fs::path(*input) / "tokenizer.model"))
      tokenizer = (fs::path(*input) / "tokenizer.model").string();
    if (!tokenizer && *from == "hf" && *to == "gguf" &&
        fs::exists(fs::path(*input) / "tokenizer.json"))
      tokenizer = (fs::path(*input) / "tokenizer.json").string();

    if (tokenizer && !fs::exists(*tokenizer))
      throw Error(ErrorCode::kNotFound, *tokenizer + ": not found");
    ModelWeights w = *from == "hf"       ? load_hf_model(*input)
                     : *from == "gguf"   ? load_gguf_model(*input)
                     : *from == "random" ? make_random_model(load_hf_config(*input), seed)
                                         : load_llama2c_model(*input);
    const ModelConfig& c = w.config;
    bool with_tokenizer = tokenizer.has_value();
    if (*to == "gguf") {
      const GgufMetadata vocab = gguf_tokenizer(tokenizer, *from, *input, c.vocab_size);
      with_tokenizer = !vocab.empty();
      const fs::path in(*input);
      // general.name: the input directory's name ("models/m/" too) or file's stem.
      fs::path dir = fs::absolute(in).lexically_normal();
      if (dir.filename().empty()) dir = dir.parent_path();
      const std::string name = (fs::is_directory(in) ? dir.filename() : in.stem()).string();
      save_gguf_model(w, *out, type, name, vocab);
    } else {
      save_hf_model(w, *out);
      if (tokenizer) copy_tokenizer(*tokenizer, *out);
    }
    std::cout << "wrote " << *out << ": "
              << (*to == "gguf" ? std::string("GGUF ") + gguf_out_type_name(type) + ", " : "")
              << c.model_type << ", " << c.num_layers << " layers, d " << c.hidden_size << ", "
              << c.num_heads << " heads (" << c.num_kv_heads << " KV), vocab " << c.vocab_size
              << ", context " << c.max_position_embeddings
              << (c.tie_word_embeddings ? ", tied embeddings" : "")
              << (with_tokenizer ? ", tokenizer" : "") << "\n";
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
