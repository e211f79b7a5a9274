// A small command-line parser for the radial subcommands: "--name value"
// and "--name=value" options, "--flag" switches, repeated options.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace radial::cli {

class Args {
 public:
  // `options` take a value, `flags` do not. Throws UsageError on an unknown
  // option, a missing value or a stray positional argument.
  Args(int argc, char** argv, const std::set<std::string>& options,
       const std::set<std::string>& flags);

  bool has(const std::string& name) const { return values_.count(name) != 0; }
  bool flag(const std::string& name) const { return flags_.count(name) != 0; }
  std::optional<std::string> get(const std::string& name) const;  // last occurrence
  std::vector<std::string> all(const std::string& name) const;    // every occurrence
  std::string str(const std::string& name, const std::string& fallback) const;
  // Typed getters: throw UsageError naming the option on a malformed number.
  std::optional<long> integer(const std::string& name) const;
  std::optional<double> number(const std::string& name) const;

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::set<std::string> flags_;
};

struct UsageError {
  std::string message;
};

// An inclusive range of counts, given as "N" or "LO:HI" (1 <= LO <= HI <= 2^24).
struct Range {
  long lo = 0, hi = 0;
};
// --name as a Range ({fallback, fallback} when absent); throws UsageError.
Range parse_range(const Args& args, const std::string& name, long fallback);
// "N" or "LO:HI".
std::string range_string(const Range& r);

}  // namespace radial::cli
