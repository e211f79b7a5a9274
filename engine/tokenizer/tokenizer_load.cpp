// Tokenizer::load: picks the implementation from the path.
#include <filesystem>

#include "engine/error.h"
#include "engine/input_file.h"
#include "engine/tokenizer.h"
#include "engine/tokenizer/hf_tokenizer.h"
#include "engine/tokenizer/sentencepiece_tokenizer.h"

namespace radial {

namespace fs = std::filesystem;

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& path) {
  std::error_code ec;
  auto config_beside = [&](const fs::path& json_path) {
    const fs::path config = json_path.parent_path() / "tokenizer_config.json";
    return fs::is_regular_file(config, ec) ? config.string() : std::string();
  };
  if (fs::is_directory(path, ec)) {
    const fs::path json_path = fs::path(path) / "tokenizer.json";
    // exists(), not is_regular_file(): a FIFO or a directory by that name is
    // an error naming it (from the loader), not a silent fallback.
    if (fs::exists(json_path, ec))
      return load_hf_tokenizer(json_path.string(), config_beside(json_path));
    const fs::path model_path = fs::path(path) / "tokenizer.model";
    if (fs::exists(model_path, ec)) return load_sentencepiece_tokenizer(model_path.string());
    throw Error(ErrorCode::kNotFound, "no tokenizer.json or tokenizer.model in " + path);
  }
  if (fs::path(path).extension() == ".json") {
    require_regular_file(path, "tokenizer");
    return load_hf_tokenizer(path, config_beside(fs::path(path)));
  }
  return load_sentencepiece_tokenizer(path);
}

}  // namespace radial
