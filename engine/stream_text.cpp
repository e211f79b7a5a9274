// Streaming text helpers: StreamDetokenizer (token ids -> whole UTF-8
// characters) and StopMatcher (stop strings across chunk boundaries).
#include <algorithm>
#include <string_view>

#include "engine/error.h"
#include "engine/tokenizer.h"
#include "engine/tokenizer/utf8.h"

namespace radial {

StreamDetokenizer::StreamDetokenizer(const Tokenizer& tok, int prev_token)
    : tok_(tok), prev_(prev_token) {}

std::string StreamDetokenizer::push(int id) {
  pending_ += tok_.piece_bytes(prev_, id);
  prev_ = id;
  std::string out;
  pending_.erase(0, utf8::decode_lossy(pending_, /*final=*/false, &out));
  return out;
}

std::string StreamDetokenizer::flush() {
  std::string out;
  utf8::decode_lossy(pending_, /*final=*/true, &out);
  pending_.clear();
  return out;
}

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  for (const auto& s : stops_) {
    require(!s.empty(), ErrorCode::kInvalidArgument, "stop strings must not be empty");
  }
}

std::string StopMatcher::feed(const std::string& text) {
  if (stopped_) return "";
  held_ += text;
  // The earliest occurrence of any stop string ends the text.
  size_t stop_at = std::string::npos;
  for (const auto& s : stops_) stop_at = std::min(stop_at, held_.find(s));
  if (stop_at != std::string::npos) {
    stopped_ = true;
    std::string out = held_.substr(0, stop_at);
    held_.clear();
    return out;
  }
  // Hold back the longest suffix that is a proper prefix of some stop string.
  // Nothing emitted can be part of a later match: such a match would start at
  // a suffix longer than the one held back.
  size_t hold = 0;
  for (const auto& s : stops_) {
    for (size_t len = std::min(s.size() - 1, held_.size()); len > hold; --len) {
      if (held_.compare(held_.size() - len, len, s, 0, len) == 0) {
        hold = len;
        break;
      }
    }
  }
  std::string out = held_.substr(0, held_.size() - hold);
  held_.erase(0, held_.size() - hold);
  return out;
}

std::string StopMatcher::flush() {
  std::string out;
  if (!stopped_) out.swap(held_);
  held_.clear();
  return out;
}

}  // namespace radial
