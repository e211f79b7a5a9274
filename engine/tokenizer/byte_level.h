// GPT-2's byte-level alphabet (Hugging Face's ByteLevel pre-tokenizer and
// decoder): every byte value maps to one printable Unicode character, so any
// byte string is a string of "characters" a BPE vocabulary can hold. Printable
// Latin-1 bytes map to themselves; the other 68 map to U+0100.. in order.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace radial::byte_level {

// The character (as a code point) that byte `b` maps to.
char32_t char_of(unsigned char b);

// UTF-8 of the characters of `bytes` ("hello world" -> "helloĠworld").
std::string encode(std::string_view bytes);

// The bytes that the byte-level string `text` stands for; false (and `out`
// unspecified) when some character of `text` is not in the alphabet.
bool decode(std::string_view text, std::string* out);

}  // namespace radial::byte_level
