// Streaming text helpers: StreamDetokenizer (token ids -> whole UTF-8
// characters) and StopMatcher (stop strings across chunk boundaries).
#include <algorithm>
#include <string_view>

#include "engine/error.h"
#include "engine/tokenizer.h"

namespace radial {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Moves the longest decodable prefix of `in` to `out`, replacing ill-formed
// bytes with U+FFFD (one per maximal subpart, as the Unicode standard
// recommends). Returns the number of bytes consumed. When `final` is false a
// trailing sequence that is a valid but incomplete prefix (at most 3 bytes)
// is left unconsumed; when `final` is true it becomes U+FFFD too.
size_t decode_utf8(std::string_view in, bool final, std::string* out) {
  size_t i = 0;
  const size_t n = in.size();
  while (i < n) {
    const auto lead = static_cast<unsigned char>(in[i]);
    if (lead < 0x80) {
      out->push_back(static_cast<char>(lead));
      ++i;
      continue;
    }
    // Sequence length and the allowed range of the second byte (Unicode
    // Table 3-7: excludes overlongs, surrogates and values above U+10FFFF).
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      len = 2;
    } else if (lead == 0xE0) {
      len = 3, lo = 0xA0;
    } else if (lead == 0xED) {
      len = 3, hi = 0x9F;
    } else if (lead >= 0xE1 && lead <= 0xEF) {
      len = 3;
    } else if (lead == 0xF0) {
      len = 4, lo = 0x90;
    } else if (lead == 0xF4) {
      len = 4, hi = 0x8F;
    } else if (lead >= 0xF1 && lead <= 0xF3) {
      len = 4;
    } else {  // a stray continuation byte, C0/C1, or F5..FF
      out->append(kReplacement);
      ++i;
      continue;
    }
    size_t k = 1;
    for (; k < len && i + k < n; ++k) {
      const auto c = static_cast<unsigned char>(in[i + k]);
      const bool ok = k == 1 ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xBF);
      if (!ok) break;
    }
    if (k == len) {
      out->append(in.substr(i, len));
      i += len;
    } else if (i + k == n && !final) {
      return i;  // valid so far, waiting for more bytes
    } else {
      out->append(kReplacement);  // ill-formed (or truncated at the end)
      i += k;
    }
  }
  return i;
}

}  // namespace

StreamDetokenizer::StreamDetokenizer(const Tokenizer& tok, int prev_token)
    : tok_(tok), prev_(prev_token) {}

std::string StreamDetokenizer::push(int id) {
  pending_ += tok_.piece_bytes(prev_, id);
  prev_ = id;
  std::string out;
  pending_.erase(0, decode_utf8(pending_, /*final=*/false, &out));
  return out;
}

std::string StreamDetokenizer::flush() {
  std::string out;
  decode_utf8(pending_, /*final=*/true, &out);
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
