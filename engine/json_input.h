// JSON from files and requests, parsed with bounded nesting, and short
// descriptions of values for error messages.
//
// nlohmann's parser is iterative, but dump() (and so any message that
// prints a whole value) recurses: a 200 KB array nested 100,000 deep
// overflows the stack. Every JSON input goes through parse_json() (depth
// limited) and error messages use json_brief() (never a whole value).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace radial {

// Deeper than any real config, tokenizer or request (tokenizer.json: 5).
constexpr int kMaxJsonDepth = 64;

// Parses `text`; `what` names the input in errors (a path, "request body").
// Throws Error(kCorrupt) "<what>: not valid JSON (...)" or "<what>: JSON
// nested deeper than 64 levels".
nlohmann::json parse_json(std::string_view text, const std::string& what);

// read_input_file(path, max_bytes) then parse_json(text, path).
nlohmann::json read_json_file(const std::string& path, uint64_t max_bytes = 256ull << 20);

// One short line describing `v` for an error message: scalars as JSON,
// cut at 40 characters; arrays and objects by kind and size ("an array of
// 3 elements"), never dumped.
std::string json_brief(const nlohmann::json& v);

}  // namespace radial
