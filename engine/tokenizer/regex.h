// A compiled PCRE2 regular expression with Unicode semantics (UTF + UCP:
// \s, \w, \d and \p{...} follow Unicode, as the Oniguruma engine Hugging
// Face's tokenizers uses), JIT-compiled when the platform allows. Immutable
// after construction; find_all is safe from several threads.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace radial {

class Regex {
 public:
  // Throws Error(kUnsupported) naming `what` and PCRE2's message when the
  // pattern does not compile.
  Regex(const std::string& pattern, const std::string& what);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Calls on_match(start, end) for every non-overlapping match of `subject`
  // (valid UTF-8), left to right; after an empty match the search resumes one
  // character later. Throws Error(kInvalidArgument) when matching hits
  // PCRE2's resource limits.
  template <typename F>
  void find_all(std::string_view subject, F&& on_match) const {
    size_t pos = 0, start = 0, end = 0;
    while (pos <= subject.size() && next(subject, pos, &start, &end)) {
      on_match(start, end);
      pos = end > start ? end : end + char_length(subject, end);
    }
  }

 private:
  bool next(std::string_view subject, size_t from, size_t* start, size_t* end) const;
  static size_t char_length(std::string_view s, size_t at);

  void* code_ = nullptr;  // pcre2_code_8
  std::string what_;
};

}  // namespace radial
