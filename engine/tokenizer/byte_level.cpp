#include "engine/tokenizer/byte_level.h"

#include <unordered_map>

#include "engine/tokenizer/utf8.h"

namespace radial::byte_level {

namespace {

struct Tables {
  std::array<char32_t, 256> to_char{};
  std::unordered_map<char32_t, unsigned char> to_byte;
  std::array<std::string, 256> utf8_of;

  Tables() {
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      to_char[b] = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
      to_byte[to_char[b]] = static_cast<unsigned char>(b);
      utf8::append(&utf8_of[b], to_char[b]);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

char32_t char_of(unsigned char b) { return tables().to_char[b]; }

std::string encode(std::string_view bytes) {
  const Tables& t = tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += t.utf8_of[static_cast<unsigned char>(c)];
  return out;
}

bool decode(std::string_view text, std::string* out) {
  const Tables& t = tables();
  out->clear();
  for (size_t i = 0; i < text.size();) {
    const size_t len = utf8::sequence_length(text.substr(i));
    if (len == 0) return false;
    const auto it = t.to_byte.find(utf8::decode(text.data() + i, len));
    if (it == t.to_byte.end()) return false;
    out->push_back(static_cast<char>(it->second));
    i += len;
  }
  return true;
}

}  // namespace radial::byte_level
