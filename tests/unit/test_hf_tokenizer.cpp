// Hugging Face tokenizer.json: exact ids and round trips on real files
// (Llama-3, Llama-3.1, Qwen3, Llama-2 style) against the reference
// implementation's output (tests/npm/gen_tokenizer_fixtures.mjs), streaming
// without half characters, and the errors.
#include <catch2/catch.hpp>

#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "engine/error.h"
#include "engine/tokenizer.h"
#include "engine/tokenizer/utf8.h"
#include "tests/unit/npm_data.h"
#include "tests/unit/test_util.h"

namespace radial {
namespace {

const Tokenizer& npm_tokenizer(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& t = cache[name];
  if (!t) t = Tokenizer::load(test::npm_tokenizer_dir(name));
  return *t;
}

bool valid_utf8(const std::string& s) {
  try {
    utf8::require_valid(s, "s");
    return true;
  } catch (const Error&) {
    return false;
  }
}

void check_against_reference(const std::string& name) {
  const Tokenizer& tok = npm_tokenizer(name);
  CHECK(tok.kind() == "tokenizer.json");
  const auto ref = test::read_json(test::data_path("tokenizers/" + name + ".expected.json"));
  REQUIRE(ref["cases"].size() >= 90);
  for (const auto& c : ref["cases"]) {
    const std::string text = c["text"].get<std::string>();
    INFO(name << ": " << c["text"].dump());
    const auto ids = c["ids"].get<std::vector<int>>();
    const auto plain = c["ids_no_special"].get<std::vector<int>>();
    CHECK(tok.encode(text, true) == ids);
    CHECK(tok.encode(text, false) == plain);
    CHECK(tok.decode(plain, /*skip_special=*/false) == c["decoded"].get<std::string>());
    // Streaming: every push is whole characters, and the pieces join to the
    // decoded text (special tokens left out).
    StreamDetokenizer d(tok, -1);
    std::string streamed;
    for (int id : plain) {
      const std::string piece = d.push(id);
      CHECK(valid_utf8(piece));
      streamed += piece;
    }
    streamed += d.flush();
    CHECK(streamed == tok.decode(plain));
  }
}

}  // namespace

TEST_CASE("hf tokenizer: Llama-3 ids equal the reference", "[hf_tokenizer]") {
  check_against_reference("llama3");
}
TEST_CASE("hf tokenizer: Llama-3.1 ids equal the reference (TemplateProcessing adds BOS)",
          "[hf_tokenizer]") {
  check_against_reference("llama3_1");
}
TEST_CASE("hf tokenizer: Qwen3 ids equal the reference", "[hf_tokenizer]") {
  check_against_reference("qwen3");
}
TEST_CASE("hf tokenizer: Llama-2 style ids equal the reference", "[hf_tokenizer]") {
  check_against_reference("llama2");
}

TEST_CASE("hf tokenizer: byte-level files round-trip every corpus string exactly",
          "[hf_tokenizer]") {
  const auto corpus = test::read_json(test::data_path("tokenizers/corpus.json"));
  for (const char* name : {"llama3", "llama3_1"}) {
    const Tokenizer& tok = npm_tokenizer(name);
    for (const auto& t : corpus) {
      const std::string text = t.get<std::string>();
      INFO(name << ": " << t.dump());
      CHECK(tok.decode(tok.encode(text, false), false) == text);
    }
  }
  // Every one of the 256 bytes has a token: any valid UTF-8 round-trips.
  std::string all;
  for (int c = 0; c < 0x80; ++c) all.push_back(static_cast<char>(c));
  all += "\xC2\x80\xC3\xBF\xE0\xA0\x80\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBF";
  for (const char* name : {"llama3", "qwen3"})
    CHECK(npm_tokenizer(name).decode(npm_tokenizer(name).encode(all, false)) == all);
}

TEST_CASE("hf tokenizer: sizes and special ids of the real files", "[hf_tokenizer]") {
  const Tokenizer& l3 = npm_tokenizer("llama3");
  CHECK(l3.vocab_size() == 128256);
  CHECK(l3.bos_id() == 128000);
  CHECK(l3.eos_id() == 128001);
  CHECK(l3.token_id("<|eot_id|>") == 128009);
  CHECK(l3.is_special(128009));
  CHECK_FALSE(l3.is_special(9906));
  CHECK(l3.encode("Hello", true) == std::vector<int>{9906});  // ByteLevel post-processor: no BOS
  const Tokenizer& l31 = npm_tokenizer("llama3_1");
  CHECK(l31.encode("Hello", true) == std::vector<int>{128000, 9906});
  CHECK(l31.eos_id() == 128009);  // tokenizer_config.json's eos_token <|eot_id|>
  // A rendering that already holds the BOS text gets no second BOS when
  // encoded without special tokens.
  CHECK(l31.encode("<|begin_of_text|>Hello", false) == std::vector<int>{128000, 9906});
  const Tokenizer& q = npm_tokenizer("qwen3");
  CHECK(q.vocab_size() == 151669);
  CHECK(q.bos_id() == -1);
  CHECK(q.eos_id() == q.token_id("<|im_end|>"));
  CHECK(q.encode("12345", false).size() == 5);  // digits one by one
  const Tokenizer& l2 = npm_tokenizer("llama2");
  CHECK(l2.bos_id() == 1);
  CHECK(l2.eos_id() == 2);
}

TEST_CASE("hf tokenizer: streaming never emits half a character", "[hf_tokenizer][detok]") {
  const Tokenizer& tok = npm_tokenizer("llama3");
  // Emoji and CJK split over several byte-level tokens.
  const std::string text =
      "\xF0\x9F\x98\x80\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9 "
      "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E";
  const auto ids = tok.encode(text, false);
  REQUIRE(ids.size() > 3);
  int partial = 0;
  StreamDetokenizer d(tok, -1);
  std::string out;
  for (int id : ids) {
    const std::string raw = tok.piece_bytes(-1, id);
    if (!valid_utf8(raw)) ++partial;
    const std::string piece = d.push(id);
    CHECK(valid_utf8(piece));
    out += piece;
  }
  out += d.flush();
  CHECK(partial > 0);  // some tokens really end inside a character
  CHECK(out == text);
}

TEST_CASE("hf tokenizer: text that is not UTF-8 is rejected", "[hf_tokenizer]") {
  const Tokenizer& tok = npm_tokenizer("llama3");
  test::expect_error([&] { tok.encode("ok \xFF", false); }, ErrorCode::kInvalidArgument,
                     {"not valid UTF-8", "0xFF", "offset 3"});
  test::expect_error([&] { tok.encode("\xC3", false); }, ErrorCode::kInvalidArgument,
                     {"not valid UTF-8"});
  test::expect_error([&] { tok.encode("\xED\xA0\x80", false); }, ErrorCode::kInvalidArgument,
                     {"offset 0"});
  test::expect_error([&] { tok.decode({128256}); }, ErrorCode::kInvalidArgument,
                     {"128256", "outside"});
  test::expect_error([&] { tok.piece_bytes(1, -1); }, ErrorCode::kInvalidArgument, {"outside"});
}

}  // namespace radial

namespace radial {

TEST_CASE("hf tokenizer: Metaspace (prepend_scheme first, split), byte fallback, unk",
          "[hf_tokenizer]") {
  // A small Mistral-style file (the fuzz seed): ids worked out by hand from
  // the tokenizers library's rules.
  const auto tok = Tokenizer::load(std::string(RADIAL_TEST_DATA) +
                                   "/../fuzz/corpus/fuzz_hf_tokenizer/metaspace.json");
  CHECK(tok->encode("a a", true) ==
        std::vector<int>{8, 4, 4});  // "▁a▁a" -> "▁a" "▁a"; BOS from the template
  CHECK(tok->encode("a a", false) == std::vector<int>{4, 4});
  CHECK(tok->encode("<|eot|>a", false) ==
        std::vector<int>{8, 3});                             // not at the start: no "▁" prepended
  CHECK(tok->encode("A", false) == std::vector<int>{2, 1});  // byte fallback <0x41>
  CHECK(tok->encode("\xC3\xA9\xC3\xA9", false) ==
        std::vector<int>{2, 0, 0});     // no <0xC3>: unknown, not fused
  CHECK(tok->decode({4, 4}) == "a a");  // Strip removes the first space only
  CHECK(tok->decode({2, 1}) == "A");
  CHECK(tok->piece_bytes(-1, 4) == "a");
  CHECK(tok->piece_bytes(3, 4) == " a");
  CHECK(tok->bos_id() == 8);
}

TEST_CASE("hf tokenizer: unsupported constructs are load errors naming them", "[hf_tokenizer]") {
  const nlohmann::json base = test::read_json(std::string(RADIAL_TEST_DATA) +
                                              "/../fuzz/corpus/fuzz_hf_tokenizer/tiny.json");
  test::TempDir dir("hf-unsupported");
  auto refused = [&](const std::function<void(nlohmann::json&)>& edit, ErrorCode code,
                     std::initializer_list<std::string> parts) {
    nlohmann::json j = base;
    edit(j);
    std::ofstream(dir.file("tokenizer.json"), std::ios::trunc) << j.dump();
    test::expect_error([&] { Tokenizer::load(dir.file("tokenizer.json")); }, code, parts);
  };
  CHECK_NOTHROW(Tokenizer::load(std::string(RADIAL_TEST_DATA) +
                                "/../fuzz/corpus/fuzz_hf_tokenizer/tiny.json"));
  refused([](auto& j) { j["model"]["type"] = "Unigram"; }, ErrorCode::kUnsupported, {"Unigram"});
  refused(
      [](auto& j) {
        j["normalizer"] = {{"type", "BertNormalizer"}};
      },
      ErrorCode::kUnsupported, {"BertNormalizer"});
  refused(
      [](auto& j) {
        j["pre_tokenizer"] = {{"type", "Whitespace"}};
      },
      ErrorCode::kUnsupported, {"Whitespace"});
  refused(
      [](auto& j) {
        j["decoder"] = {{"type", "WordPiece"}};
      },
      ErrorCode::kUnsupported, {"WordPiece"});
  refused(
      [](auto& j) {
        j["post_processor"] = {{"type", "RobertaProcessing"}};
      },
      ErrorCode::kUnsupported, {"RobertaProcessing"});
  refused([](auto& j) { j["model"]["dropout"] = 0.1; }, ErrorCode::kUnsupported, {"dropout"});
  refused(
      [](auto& j) {
        j["truncation"] = {{"max_length", 8}};
      },
      ErrorCode::kUnsupported, {"truncation"});
  refused([](auto& j) { j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(unclosed"; },
          ErrorCode::kUnsupported, {"regular expression"});
  refused([](auto& j) { j["model"]["merges"].push_back("a zz"); }, ErrorCode::kCorrupt,
          {"merges[2]", "zz"});
  refused([](auto& j) { j["model"]["merges"].push_back("a b c"); }, ErrorCode::kCorrupt,
          {"merges[2]"});
  refused([](auto& j) { j["added_tokens"][0]["id"] = "x"; }, ErrorCode::kCorrupt,
          {"added_tokens[0]"});
  // Fields of another type than expected (found by fuzz_hf_tokenizer: a
  // null sequence id ended the process with nlohmann's type_error).
  refused([](auto& j) { j["model"]["type"] = 7; }, ErrorCode::kCorrupt, {"model.type"});
  refused(
      [](auto& j) {
        j["post_processor"] = {{"type", "TemplateProcessing"},
                               {"single", {{{"Sequence", {{"id", nullptr}}}}}}};
      },
      ErrorCode::kUnsupported, {"single[0]", "sequence A"});
  std::ofstream(dir.file("tokenizer.json"), std::ios::trunc) << "{not json";
  test::expect_error([&] { Tokenizer::load(dir.file("tokenizer.json")); }, ErrorCode::kCorrupt,
                     {"not valid JSON"});
  test::expect_error([&] { Tokenizer::load(dir.file("missing.json")); }, ErrorCode::kNotFound,
                     {"missing.json"});
}

}  // namespace radial

namespace radial {

TEST_CASE("hf tokenizer: concurrent encodes give the single-threaded ids",
          "[hf_tokenizer][threads]") {
  // One tokenizer serves every request thread; its word cache is shared.
  const Tokenizer& tok = npm_tokenizer("qwen3");
  const auto corpus = test::read_json(test::data_path("tokenizers/corpus.json"));
  std::vector<std::string> texts;
  for (const auto& t : corpus)
    texts.push_back(t.get<std::string>() + " threads " + std::to_string(texts.size()));
  std::vector<std::vector<int>> want;
  for (const auto& t : texts) want.push_back(tok.encode(t, false));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&, k] {
      for (int round = 0; round < 3; ++round)
        for (size_t i = 0; i < texts.size(); ++i) {
          const size_t j = (i * 7 + k * 13 + round) % texts.size();
          if (tok.encode(texts[j], false) != want[j]) ++mismatches[k];
        }
    });
  for (auto& t : threads) t.join();
  CHECK(mismatches == std::vector<int>(4, 0));
}

}  // namespace radial
