// Paths of the test data shipped in the repository.
#pragma once

#include <string>

namespace radial::test {

inline std::string data_path(const std::string& rel) { return std::string(RADIAL_TEST_DATA) + "/" + rel; }
inline std::string default_model_dir() { return std::string(RADIAL_MODELS_DIR) + "/stories260K"; }

}  // namespace radial::test
