// Strict argument parsing shared by the bench_* programs: a usage error
// carries its message (the program prints it with its usage and exits 2).
#pragma once

#include <charconv>
#include <cstdio>
#include <string>
#include <system_error>

#include "engine/model_bundle.h"

namespace radial::bench {

struct UsageError {
  std::string message;
};

// A whole decimal integer in [lo, hi], else a usage error naming the flag.
inline int parse_int(const std::string& flag, const std::string& v, int lo, int hi) {
  int x = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || end != v.data() + v.size() || x < lo || x > hi)
    throw UsageError{flag + " expects an integer in [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "], got '" + v + "'"};
  return x;
}

// Walks the `--key value` pairs of argv, calling on(key, value) for each
// (`on` throws UsageError for a key it does not know). `--help` or `-h`
// prints `usage` to stdout and returns false: the program then exits 0. A
// key without a value is a usage error.
template <class OnOption>
bool for_each_option(int argc, char** argv, const char* usage, OnOption&& on) {
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--help" || k == "-h") {
      std::fputs(usage, stdout);
      return false;
    }
    if (i + 1 >= argc) throw UsageError{k + " needs a value"};
    const std::string v = argv[++i];
    on(k, v);
  }
  return true;
}

// --model DIR and --dummy-config CONFIG.json: true when `key` is one of
// them (the value is stored in *src).
inline bool model_option(const std::string& key, const std::string& v, ModelSource* src) {
  if (key == "--model")
    src->model = v;
  else if (key == "--dummy-config")
    src->dummy_config = v;
  else
    return false;
  return true;
}

// After the options: the two exclude each other (a usage error); neither
// means the default model, models/stories260K.
inline void resolve_model_source(ModelSource* src) {
  if (!src->model.empty() && !src->dummy_config.empty())
    throw UsageError{"--model and --dummy-config exclude each other"};
  if (src->model.empty() && src->dummy_config.empty()) src->model = "models/stories260K";
}

}  // namespace radial::bench
