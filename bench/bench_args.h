// Strict argument parsing shared by the bench_* programs: a usage error
// carries its message (the program prints it with its usage and exits 2).
#pragma once

#include <charconv>
#include <string>
#include <system_error>

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

}  // namespace radial::bench
