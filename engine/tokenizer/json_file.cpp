#include "engine/tokenizer/json_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/error.h"

namespace radial {

nlohmann::json read_json_file(const std::string& path) {
  std::error_code ec;
  require(std::filesystem::is_regular_file(path, ec), ErrorCode::kNotFound, "not found: " + path);
  std::ifstream in(path, std::ios::binary);
  require(in.good(), ErrorCode::kNotFound, "cannot open " + path);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  require(!in.bad(), ErrorCode::kNotFound, "cannot read " + path);
  try {
    return nlohmann::json::parse(bytes.str());
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kCorrupt, path + ": not valid JSON (" + e.what() + ")");
  }
}

}  // namespace radial
