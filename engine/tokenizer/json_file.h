// Reads a JSON file for the tokenizer loaders.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace radial {

// Parses the JSON file at `path`.
// Throws Error(kNotFound) when it cannot be read and Error(kCorrupt)
// naming the file and the parser's message when it is not JSON.
nlohmann::json read_json_file(const std::string& path);

}  // namespace radial
