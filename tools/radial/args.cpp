#include "tools/radial/args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace radial::cli {

Args::Args(int argc, char** argv, const std::set<std::string>& options,
           const std::set<std::string>& flags) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) throw UsageError{"unexpected argument '" + a + "'"};
    std::string name = a.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (flags.count(name)) {
      if (value) throw UsageError{"--" + name + " takes no value"};
      flags_.insert(name);
    } else if (options.count(name)) {
      if (!value) {
        if (i + 1 >= argc) throw UsageError{"--" + name + " needs a value"};
        value = argv[++i];
      }
      values_[name].push_back(*value);
    } else {
      throw UsageError{"unknown option --" + name};
    }
  }
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Args::all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::string Args::str(const std::string& name, const std::string& fallback) const {
  return get(name).value_or(fallback);
}

std::optional<long> Args::integer(const std::string& name) const {
  auto v = get(name);
  if (!v) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  long r = std::strtol(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || errno == ERANGE)
    throw UsageError{"--" + name + " expects an integer, got '" + *v + "'"};
  return r;
}

std::optional<double> Args::number(const std::string& name) const {
  auto v = get(name);
  if (!v) return std::nullopt;
  char* end = nullptr;
  double r = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0' || !std::isfinite(r))
    throw UsageError{"--" + name + " expects a number, got '" + *v + "'"};
  return r;
}

Range parse_range(const Args& args, const std::string& name, long fallback) {
  auto v = args.get(name);
  if (!v) return {fallback, fallback};
  auto parse = [&](const std::string& s) {
    char* end = nullptr;
    long r = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || r < 1 || r > (1L << 24))
      throw UsageError{"--" + name + " expects N or LO:HI with 1 <= LO <= HI, got '" + *v + "'"};
    return r;
  };
  Range r;
  const auto colon = v->find(':');
  if (colon == std::string::npos) {
    r.lo = r.hi = parse(*v);
  } else {
    r.lo = parse(v->substr(0, colon));
    r.hi = parse(v->substr(colon + 1));
  }
  if (r.lo > r.hi)
    throw UsageError{"--" + name + " expects N or LO:HI with 1 <= LO <= HI, got '" + *v + "'"};
  return r;
}

std::string range_string(const Range& r) {
  return r.lo == r.hi ? std::to_string(r.lo) : std::to_string(r.lo) + ":" + std::to_string(r.hi);
}

}  // namespace radial::cli
