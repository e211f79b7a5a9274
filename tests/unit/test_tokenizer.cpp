// Tokenizer (against the stories260K reference), StreamDetokenizer and
// StopMatcher.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>

#include "engine/error.h"
#include "engine/tokenizer.h"
#include "tests/unit/test_util.h"

namespace radial {
namespace {

const Tokenizer& tok512() {
  static const std::unique_ptr<Tokenizer> tok =
      Tokenizer::load(test::data_path("stories260K/tok512.model"));
  return *tok;
}

nlohmann::json reference() {
  std::ifstream in(test::data_path("stories260K/reference.json"));
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

// Id of the byte-fallback token <0xNN>; the 512 vocabulary puts them at 3..258.
int byte_token(unsigned char b) { return 3 + b; }

ErrorCode code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  FAIL("no radial::Error thrown");
  return ErrorCode::kInternal;
}

}  // namespace

TEST_CASE("tokenizer: vocabulary and special ids", "[tokenizer]") {
  const Tokenizer& tok = tok512();
  CHECK(tok.vocab_size() == 512);
  CHECK(tok.bos_id() == 1);
  CHECK(tok.eos_id() == 2);
  // The model directory's tokenizer is the same vocabulary.
  auto other = Tokenizer::load(test::default_model_dir() + "/tokenizer.model");
  CHECK(other->vocab_size() == 512);
  CHECK(other->encode("Once upon a time") == tok.encode("Once upon a time"));
}

TEST_CASE("tokenizer: encode matches reference prompt_tokens", "[tokenizer]") {
  const Tokenizer& tok = tok512();
  const auto ref = reference();
  REQUIRE(ref["cases"].size() >= 4);
  for (const auto& c : ref["cases"]) {
    const std::string prompt = c["prompt"];
    INFO("prompt: '" << prompt << "'");
    CHECK(tok.encode(prompt) == c["prompt_tokens"].get<std::vector<int>>());
  }
  CHECK(tok.encode("Once upon a time") == std::vector<int>{1, 403, 407, 261, 378});
  CHECK(tok.encode("") == std::vector<int>{1});
  CHECK(tok.encode("", /*add_bos=*/false).empty());
  CHECK(tok.encode("Once upon a time", false) == std::vector<int>{403, 407, 261, 378});
}

TEST_CASE("tokenizer: piece_bytes reproduce the reference text", "[tokenizer]") {
  const Tokenizer& tok = tok512();
  const auto ref = reference();
  for (const auto& c : ref["cases"]) {
    const auto prompt_tokens = c["prompt_tokens"].get<std::vector<int>>();
    const auto tokens = c["tokens"].get<std::vector<int>>();
    INFO("prompt: '" << c["prompt"].get<std::string>() << "'");
    int prev = prompt_tokens.back();
    std::string text;
    for (int id : tokens) {
      text += tok.piece_bytes(prev, id);
      prev = id;
    }
    CHECK(text == c["text"].get<std::string>());
  }
}

TEST_CASE("tokenizer: piece_bytes rules", "[tokenizer]") {
  const Tokenizer& tok = tok512();
  const int bos = tok.bos_id();
  CHECK(tok.piece_bytes(bos, 403) == "Once");  // "▁Once" right after BOS
  CHECK(tok.piece_bytes(403, 407) == " upon");
  CHECK(tok.piece_bytes(bos, bos).empty());
  CHECK(tok.piece_bytes(5, tok.eos_id()).empty());
  CHECK(tok.piece_bytes(5, 0).empty());  // <unk>
  CHECK(tok.piece_bytes(5, byte_token('\n')) == "\n");
  // A byte token for ' ' is not stripped after BOS (llama2.c checks the piece text).
  CHECK(tok.piece_bytes(bos, byte_token(' ')) == " ");
  CHECK(tok.piece_bytes(5, byte_token(0xE2)) == "\xE2");
  CHECK(tok.piece_bytes(5, 410) == " ");  // the bare "▁" piece
}

TEST_CASE("tokenizer: decode", "[tokenizer]") {
  const Tokenizer& tok = tok512();
  CHECK(tok.decode({1, 403, 407, 261, 378}) == "Once upon a time");
  CHECK(tok.decode({1, 403, 407, 261, 378, 2}) == "Once upon a time");
  CHECK(tok.decode({}).empty());
  CHECK(tok.decode({byte_token(0xE2), byte_token(0x82), byte_token(0xAC)}) == "\xE2\x82\xAC");
  const std::string text = "Lily and Tom went to the park.\nThey saw a dog.";
  CHECK(tok.decode(tok.encode(text)) == text);
}

TEST_CASE("tokenizer: special pieces written in the text are their ids", "[tokenizer]") {
  // As Hugging Face's tokenizers and llama.cpp (parse_special) read them: a
  // chat template renders "<s>" and "</s>" as text. The runs between them
  // are encoded each with SentencePiece's dummy prefix ("Once" alone is
  // 403, "\u2581Once").
  const Tokenizer& tok = tok512();
  CHECK(tok.encode("<s>Once</s>", false) == std::vector<int>{1, 403, 2});
  CHECK(tok.encode("<s>Once</s>", true) == std::vector<int>{1, 1, 403, 2});
  CHECK(tok.encode("<s><s></s>", false) == std::vector<int>{1, 1, 2});
  std::vector<int> joined = tok.encode("Once upon", false);
  joined.push_back(2);
  for (int id : tok.encode(" a time", false)) joined.push_back(id);
  CHECK(tok.encode("Once upon</s> a time", false) == joined);
  CHECK(tok.encode("<unk>", false) == std::vector<int>{0});
  // Not quite special pieces: text, no BOS or EOS id.
  for (const char* text : {"<s Once", "</ s><s", "<S>", "< /s>"}) {
    INFO(text);
    const std::vector<int> ids = tok.encode(text, false);
    CHECK(std::count(ids.begin(), ids.end(), 1) + std::count(ids.begin(), ids.end(), 2) == 0);
    CHECK(tok.decode(ids) == text);
  }
  // decode puts them back as text, so the round trip holds.
  const std::string chat = "<s>Lily said hi.</s><s>Tom said bye.</s>";
  CHECK(tok.decode(tok.encode(chat, false), /*skip_special=*/false) == chat);
}

TEST_CASE("tokenizer: errors", "[tokenizer]") {
  const Tokenizer& tok = tok512();
  CHECK(code_of([&] { tok.decode({1, 512}); }) == ErrorCode::kInvalidArgument);
  CHECK(code_of([&] { tok.decode({-1}); }) == ErrorCode::kInvalidArgument);
  CHECK(code_of([&] { tok.piece_bytes(1, 512); }) == ErrorCode::kInvalidArgument);
  CHECK(code_of([&] { tok.piece_bytes(1, -3); }) == ErrorCode::kInvalidArgument);
  CHECK(code_of([] { Tokenizer::load("/nonexistent/tok.model"); }) == ErrorCode::kNotFound);
  CHECK(code_of([] { Tokenizer::load(test::data_path("stories260K")); }) == ErrorCode::kNotFound);
  // A file that is not a SentencePiece model.
  const auto bad = std::filesystem::temp_directory_path() / "radial_test_bad_tokenizer.model";
  {
    std::ofstream out(bad, std::ios::binary);
    out << "this is not a protobuf \xff\xff\xff\xff";
  }
  CHECK(code_of([&] { Tokenizer::load(bad.string()); }) == ErrorCode::kCorrupt);
  std::filesystem::remove(bad);
  // tok512.bin is llama2.c's format, not SentencePiece.
  CHECK(code_of([] { Tokenizer::load(test::data_path("stories260K/tok512.bin")); }) ==
        ErrorCode::kCorrupt);
}

TEST_CASE("detok: a 3-byte character split over byte tokens", "[detok]") {
  const Tokenizer& tok = tok512();
  StreamDetokenizer d(tok, 5);
  CHECK(d.push(byte_token(0xE2)).empty());
  CHECK(d.push(byte_token(0x82)).empty());
  CHECK(d.push(byte_token(0xAC)) == "\xE2\x82\xAC");  // €
  CHECK(d.flush().empty());
}

TEST_CASE("detok: whole pieces and the reference stream", "[detok]") {
  const Tokenizer& tok = tok512();
  const auto ref = reference();
  for (const auto& c : ref["cases"]) {
    StreamDetokenizer d(tok, c["prompt_tokens"].get<std::vector<int>>().back());
    std::string text;
    for (int id : c["tokens"].get<std::vector<int>>()) text += d.push(id);
    text += d.flush();
    CHECK(text == c["text"].get<std::string>());
  }
  StreamDetokenizer d(tok, tok.bos_id());
  CHECK(d.push(403) == "Once");
  CHECK(d.push(407) == " upon");
  CHECK(d.push(503) == "\xE2\x82\xAC");  // "€" is a whole piece too
}

TEST_CASE("detok: mixed text and byte tokens, 4-byte character", "[detok]") {
  const Tokenizer& tok = tok512();
  StreamDetokenizer d(tok, 5);
  CHECK(d.push(407) == " upon");
  // U+1F600 = F0 9F 98 80
  CHECK(d.push(byte_token(0xF0)).empty());
  CHECK(d.push(byte_token(0x9F)).empty());
  CHECK(d.push(byte_token(0x98)).empty());
  CHECK(d.push(byte_token(0x80)) == "\xF0\x9F\x98\x80");
  CHECK(d.push(byte_token(0xE2)).empty());
  CHECK(d.push(407) == "\xEF\xBF\xBD upon");  // interrupted sequence -> U+FFFD
}

TEST_CASE("detok: invalid bytes become U+FFFD", "[detok]") {
  const Tokenizer& tok = tok512();
  const std::string fffd = "\xEF\xBF\xBD";
  StreamDetokenizer d(tok, 5);
  CHECK(d.push(byte_token(0x80)) == fffd);  // stray continuation
  CHECK(d.push(byte_token(0xFF)) == fffd);  // never valid
  CHECK(d.push(byte_token(0xC0)) == fffd);  // overlong lead
  CHECK(d.push(byte_token(0xE0)).empty());
  CHECK(d.push(byte_token(0x80)) == fffd + fffd);  // E0 80: overlong; 80 stray
  CHECK(d.push(byte_token(0xED)).empty());
  CHECK(d.push(byte_token(0xA0)) == fffd + fffd);  // surrogate
  CHECK(d.push(byte_token(0xF4)).empty());
  CHECK(d.push(byte_token(0x90)) == fffd + fffd);  // above U+10FFFF
  CHECK(d.push(byte_token('a')) == "a");
  // flush turns an incomplete tail into one U+FFFD
  CHECK(d.push(byte_token(0xE2)).empty());
  CHECK(d.push(byte_token(0x82)).empty());
  CHECK(d.flush() == fffd);
  CHECK(d.flush().empty());
}

TEST_CASE("stop: no stops passes everything through", "[stop]") {
  StopMatcher m({});
  CHECK(m.feed("hello") == "hello");
  CHECK(m.feed(" world") == " world");
  CHECK_FALSE(m.stopped());
  CHECK(m.flush().empty());
}

TEST_CASE("stop: stop string split across feeds", "[stop]") {
  StopMatcher m({"\nUser:"});
  CHECK(m.feed("Hi there") == "Hi there");
  CHECK(m.feed("!\nUs") == "!");
  CHECK_FALSE(m.stopped());
  CHECK(m.feed("er") == "");
  CHECK(m.feed(": more text") == "");
  CHECK(m.stopped());
  CHECK(m.feed("after") == "");
  CHECK(m.flush().empty());
}

TEST_CASE("stop: held prefix that turns out not to be a stop is released", "[stop]") {
  StopMatcher m({"END"});
  CHECK(m.feed("the EN") == "the ");
  CHECK(m.feed("D") == "");
  CHECK(m.stopped());

  StopMatcher n({"END"});
  CHECK(n.feed("the EN") == "the ");
  CHECK(n.feed("ding") == "ENding");
  CHECK(n.feed(" E") == " ");
  CHECK(n.flush() == "E");  // generation ended for another reason
  CHECK_FALSE(n.stopped());
}

TEST_CASE("stop: overlapping stops and partial matches", "[stop]") {
  StopMatcher m({"abc"});
  CHECK(m.feed("aab") == "a");  // "ab" may start "abc"
  CHECK(m.feed("ab") == "ab");  // "abab": only the last "ab" can still match
  CHECK(m.feed("c!") == "");
  CHECK(m.stopped());

  StopMatcher n({"aaa"});
  CHECK(n.feed("xaa") == "x");
  CHECK(n.feed("aa") == "");  // "aaaa": stop at its first 'a'
  CHECK(n.stopped());
}

TEST_CASE("stop: multiple stops, the earliest occurrence wins", "[stop]") {
  StopMatcher m({"world", "lo w", "xyz"});
  CHECK(m.feed("hello world") == "hel");
  CHECK(m.stopped());

  StopMatcher n({"longer stop", "ng"});
  CHECK(n.feed("a lo") == "a ");
  CHECK(n.feed("nger stop") == "");  // "longer stop" at 0 beats "ng" at 2
  CHECK(n.stopped());

  StopMatcher k({"bc", "abcd"});
  CHECK(k.feed("xabcd") == "x");  // "abcd" at 1 beats "bc" at 2
  CHECK(k.stopped());

  StopMatcher s({"X", "Y"});
  CHECK(s.feed("12") == "12");
  CHECK(s.feed("3Y4X") == "3");
  CHECK(s.stopped());
}

TEST_CASE("stop: stop at the very start and empty stop rejected", "[stop]") {
  StopMatcher m({"<|end|>"});
  CHECK(m.feed("<|end|>tail") == "");
  CHECK(m.stopped());
  CHECK(code_of([] { StopMatcher bad({"ok", ""}); }) == ErrorCode::kInvalidArgument);
}

}  // namespace radial
