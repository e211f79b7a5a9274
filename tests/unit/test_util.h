// Helpers shared by the unit tests: paths of the test data shipped in the
// repository, a scratch directory, and a check that a call throws a given
// radial::Error.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <system_error>

#include "engine/error.h"

namespace radial::test {

inline std::string data_path(const std::string& rel) {
  return std::string(RADIAL_TEST_DATA) + "/" + rel;
}
inline std::string default_model_dir() { return std::string(RADIAL_MODELS_DIR) + "/stories260K"; }

// A fresh directory under the system temp dir (unique per process and name),
// removed with everything in it at scope exit.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name)
      : path(std::filesystem::temp_directory_path() /
             ("radial-test-" + name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string str() const { return path.string(); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// Checks that f() throws radial::Error with `code` and a message containing
// every one of `parts`.
template <typename F>
void expect_error(F&& f, ErrorCode code, std::initializer_list<std::string> parts) {
  try {
    f();
    FAIL("expected radial::Error(" << error_code_name(code) << ")");
  } catch (const Error& e) {
    INFO("message: " << e.what());
    CHECK(e.code() == code);
    for (const std::string& p : parts) CHECK_THAT(e.what(), Catch::Contains(p));
  }
}

}  // namespace radial::test
