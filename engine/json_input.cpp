#include "engine/json_input.h"

#include "engine/error.h"
#include "engine/input_file.h"

namespace radial {

nlohmann::json parse_json(std::string_view text, const std::string& what) {
  using json = nlohmann::json;
  json j;
  try {
    j = json::parse(text, [&](int depth, json::parse_event_t, json&) {
      // Called with the depth of each container start; stop at the first
      // that goes too deep (the exception unwinds the iterative parser).
      if (depth > kMaxJsonDepth) {
        throw Error(ErrorCode::kCorrupt, what + ": JSON nested deeper than " +
                                             std::to_string(kMaxJsonDepth) + " levels");
      }
      return true;
    });
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kCorrupt, what + ": not valid JSON (" + e.what() + ")");
  }
  return j;
}

nlohmann::json read_json_file(const std::string& path, uint64_t max_bytes) {
  return parse_json(read_input_file(path, max_bytes), path);
}

std::string json_brief(const nlohmann::json& v) {
  if (v.is_array()) return "an array of " + std::to_string(v.size()) + " elements";
  if (v.is_object()) return "an object of " + std::to_string(v.size()) + " keys";
  if (v.is_discarded()) return "nothing";
  std::string s = v.dump();  // a scalar: no recursion
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

}  // namespace radial
