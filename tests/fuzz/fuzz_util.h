// Helpers shared by the libFuzzer targets. Each target feeds outside data
// to one parser exactly as the daemon or the tools reach it (through a file
// when the parser reads files). The contract every target checks: bad input
// throws radial::Error (caught here) and nothing else happens; any other
// exception, crash, leak or sanitizer report is a finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace radial::fuzz {

// A directory private to this process under $TMPDIR (or /tmp), removed at
// exit; the targets write the input there when the parser reads a file.
inline const std::string& scratch_dir() {
  // Leaked, so that it outlives the atexit handler that removes it.
  static const std::string* dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    auto* d = new std::string(std::string(tmp != nullptr ? tmp : "/tmp") + "/radial-fuzz-" +
                              std::to_string(::getpid()));
    std::filesystem::create_directories(*d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return d;
  }();
  return *dir;
}

// Writes `size` bytes to `path` (truncating); aborts if it cannot (that is
// an environment problem, not a finding).
inline void write_bytes(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
}

// models/stories260K in the source tree (set by the build).
inline std::string model_dir() { return std::string(RADIAL_SOURCE_DIR) + "/models/stories260K"; }

}  // namespace radial::fuzz
