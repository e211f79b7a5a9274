// Shared by the JSON mode and JSON Schema mode tests: stories260K's
// SentencePiece vocabulary, and the check that a constraint's vocabulary
// walk (ByteConstraint::allowed, cached or not) allows exactly the tokens
// whose bytes it accepts one by one.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "engine/tokenizer.h"
#include "tests/unit/test_util.h"

namespace radial::test {

inline const Tokenizer& tok512() {
  static const std::unique_ptr<Tokenizer> t =
      Tokenizer::load(data_path("stories260K/tok512.model"));
  return *t;
}

// Feeds `prefix` to `c` through tok512's byte-fallback tokens (id 3 + byte,
// SentencePiece's <0xNN>), then checks allowed() against a copy of `c`
// accepting each of the 512 ids, `rounds` times (the later ones may come
// from the cache). Returns the allowed ids, sorted.
template <class Constraint>
std::vector<int> check_allowed_is_accepted(Constraint& c, const std::string& prefix,
                                           int rounds = 1) {
  INFO("prefix " << prefix);
  for (unsigned char b : prefix) REQUIRE(c.accept(3 + b));
  std::vector<int> allowed;
  for (int round = 0; round < rounds; ++round) {
    allowed = c.allowed();
    std::sort(allowed.begin(), allowed.end());
    std::vector<int> brute;
    for (int id = 0; id < 512; ++id) {
      Constraint probe = c;
      if (probe.accept(id)) brute.push_back(id);
    }
    CHECK(allowed == brute);
  }
  return allowed;
}

}  // namespace radial::test
