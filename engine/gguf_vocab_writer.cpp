// The tokenizer.* metadata of a GGUF file written by save_gguf_model, from
// a SentencePiece tokenizer.model ("llama"), a byte-level BPE tokenizer.json
// ("gpt2"), or another GGUF file. What is written is what load_gguf_tokenizer
// (gguf_loader.cpp, gguf_tokenizer.cpp) turns back into the same tokenizer,
// and what llama.cpp's converter writes for the same files.
#include <sentencepiece_processor.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/gguf_loader.h"
#include "engine/gguf_writer.h"
#include "engine/input_file.h"
#include "engine/json_input.h"

namespace radial {

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr uint64_t kMaxTokenizerBytes = 512ull << 20;

// Just enough of the protobuf wire format to walk a SentencePiece
// ModelProto: each field of a message in order.
class ProtoReader {
 public:
  ProtoReader(const std::string& bytes, const std::string& what)
      : p_(bytes.data()), end_(bytes.data() + bytes.size()), what_(what) {}
  bool done() const { return p_ == end_; }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      check(p_ < end_);
      const auto b = static_cast<uint8_t>(*p_++);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    check(false);
    return 0;
  }
  // The next field: its number and wire type; the value is read by the
  // caller (varint() or bytes()) or skipped with skip(wire).
  std::pair<uint64_t, int> field() {
    const uint64_t key = varint();
    return {key >> 3, static_cast<int>(key & 7)};
  }
  std::string bytes() {
    const uint64_t n = varint();
    check(n <= static_cast<uint64_t>(end_ - p_));
    std::string s(p_, n);
    p_ += n;
    return s;
  }
  void skip(int wire) {
    if (wire == 0) {
      varint();
    } else if (wire == 2) {
      bytes();
    } else {
      const int64_t n = wire == 1 ? 8 : wire == 5 ? 4 : -1;
      check(n > 0 && n <= end_ - p_);
      p_ += n;
    }
  }

 private:
  void check(bool ok) const {
    require(ok, ErrorCode::kCorrupt, what_ + ": not a SentencePiece model (bad protobuf)");
  }
  const char* p_;
  const char* end_;
  std::string what_;
};

// tokenizer.chat_template from the tokenizer_config.json in `dir`, if any.
void add_chat_template(const fs::path& dir, GgufMetadata& kv) {
  const fs::path cfg = dir / "tokenizer_config.json";
  if (!fs::is_regular_file(cfg)) return;
  const json j = read_json_file(cfg.string(), 64 << 20);
  if (j.is_object() && j.contains("chat_template") && j["chat_template"].is_string())
    kv.emplace_back("tokenizer.chat_template", gguf_string(j["chat_template"].get<std::string>()));
}

// The template processor of a tokenizer.json post_processor, or null.
const json* template_processor(const json& post) {
  if (!post.is_object()) return nullptr;
  if (post.value("type", "") == "TemplateProcessing") return &post;
  if (post.value("type", "") == "Sequence" && post.contains("processors"))
    for (const json& p : post["processors"])
      if (const json* t = template_processor(p)) return t;
  return nullptr;
}

// The Split regex of a pre_tokenizer (alone or in a Sequence), or "".
std::string split_regex(const json& pre) {
  if (!pre.is_object()) return "";
  if (pre.value("type", "") == "Split" && pre.contains("pattern") &&
      pre["pattern"].contains("Regex"))
    return pre["pattern"]["Regex"].get<std::string>();
  if (pre.value("type", "") == "Sequence" && pre.contains("pretokenizers"))
    for (const json& p : pre["pretokenizers"])
      if (std::string r = split_regex(p); !r.empty()) return r;
  return "";
}

}  // namespace

GgufMetadata gguf_sentencepiece_metadata(const std::string& path, int vocab_size) {
  const std::string bytes = read_input_file(path, kMaxTokenizerBytes);
  sentencepiece::SentencePieceProcessor sp;
  require(sp.LoadFromSerializedProto(bytes).ok(), ErrorCode::kCorrupt,
          path + ": not a SentencePiece model");
  const int n = sp.GetPieceSize();
  require(n <= vocab_size, ErrorCode::kInvalidArgument,
          path + ": " + std::to_string(n) + " pieces, more than the model's vocabulary of " +
              std::to_string(vocab_size));
  // Piece types (SentencePiece numbers them as GGUF does) and the
  // normalizer's add_dummy_prefix (default true) from the proto itself.
  std::vector<double> types;
  bool dummy_prefix = true;
  ProtoReader model(bytes, path);
  while (!model.done()) {
    const auto [num, wire] = model.field();
    if ((num != 1 && num != 3) || wire != 2) {
      model.skip(wire);
      continue;
    }
    const std::string sub = model.bytes();
    ProtoReader r(sub, path);
    double type = 1;  // NORMAL
    while (!r.done()) {
      const auto [f, w] = r.field();
      if (num == 1 && f == 3 && w == 0) {
        type = static_cast<double>(r.varint());
      } else if (num == 3 && f == 3 && w == 0) {
        dummy_prefix = r.varint() != 0;
      } else {
        r.skip(w);
      }
    }
    if (num == 1) types.push_back(type);
  }
  require(types.size() == static_cast<size_t>(n), ErrorCode::kCorrupt,
          path + ": the pieces do not match what libsentencepiece reads");
  std::vector<std::string> tokens;
  std::vector<double> scores;
  for (int id = 0; id < n; ++id) {
    tokens.push_back(sp.IdToPiece(id));
    scores.push_back(sp.GetScore(id));
  }
  for (int id = n; id < vocab_size; ++id) {  // as llama.cpp pads a larger embedding
    tokens.push_back("[PAD" + std::to_string(id) + "]");
    scores.push_back(-1000.0);
    types.push_back(5);  // UNUSED
  }
  GgufMetadata kv = {
      {"tokenizer.ggml.model", gguf_string("llama")},
      {"tokenizer.ggml.pre", gguf_string("default")},
      {"tokenizer.ggml.tokens", gguf_strings(std::move(tokens))},
      {"tokenizer.ggml.scores", gguf_numbers(GgufValueType::kF32, std::move(scores))},
      {"tokenizer.ggml.token_type", gguf_numbers(GgufValueType::kI32, std::move(types))},
      {"tokenizer.ggml.unknown_token_id", gguf_u32(static_cast<uint32_t>(sp.unk_id()))},
  };
  if (sp.pad_id() >= 0) kv.emplace_back("tokenizer.ggml.padding_token_id", gguf_u32(sp.pad_id()));
  kv.emplace_back("tokenizer.ggml.add_bos_token", gguf_bool(true));
  kv.emplace_back("tokenizer.ggml.add_eos_token", gguf_bool(false));
  kv.emplace_back("tokenizer.ggml.add_space_prefix", gguf_bool(dummy_prefix));
  add_chat_template(fs::path(path).parent_path(), kv);
  return kv;
}

namespace {

// gguf_bpe_metadata without its guard against JSON type errors.
GgufMetadata bpe_metadata(const std::string& path, int vocab_size) {
  const json j = read_json_file(path, kMaxTokenizerBytes);
  const auto fail = [&](ErrorCode code, const std::string& what) {
    throw Error(code, path + ": " + what);
  };
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object())
    fail(ErrorCode::kCorrupt, "not a tokenizer.json");
  const json& model = j["model"];
  if (model.value("type", "") != "BPE" || !model.contains("vocab") || !model["vocab"].is_object())
    fail(ErrorCode::kUnsupported, "the model is not BPE (only byte-level BPE becomes \"gpt2\")");
  // The pre-tokenizer: the one load_gguf_tokenizer rebuilds for a name.
  std::string pre;
  const std::string regex = split_regex(j.value("pre_tokenizer", json()));
  for (const char* name : {"llama-bpe", "qwen2"}) {
    GgufBpeVocab probe;
    probe.pre = name;
    const json rebuilt = gguf_bpe_tokenizer_json(probe, path);
    if (!regex.empty() && regex == split_regex(rebuilt["pre_tokenizer"]) &&
        j.value("normalizer", json()) == rebuilt["normalizer"])
      pre = name;
  }
  if (pre.empty())
    fail(ErrorCode::kUnsupported,
         "its pre-tokenizer and normalizer are neither Llama 3's nor Qwen2's (GGUF "
         "tokenizer.ggml.pre llama-bpe and qwen2, the byte-level BPE ones radiald reads)");

  std::vector<std::string> tokens(vocab_size);
  std::vector<double> types(vocab_size, 0);
  const auto set = [&](int64_t id, const std::string& text, double type) {
    if (id < 0 || id >= vocab_size)
      fail(ErrorCode::kInvalidArgument, "token id " + std::to_string(id) + " (\"" + text +
                                            "\") is outside the model's vocabulary of " +
                                            std::to_string(vocab_size));
    tokens[id] = text;
    types[id] = type;
  };
  for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it)
    set(it.value().get<int64_t>(), it.key(), 1);
  for (const json& a : j.value("added_tokens", json::array()))
    set(a.at("id").get<int64_t>(), a.at("content").get<std::string>(),
        a.value("special", false) ? 3 : 4);  // control / user defined
  for (int id = 0; id < vocab_size; ++id)
    if (types[id] == 0) set(id, "[PAD" + std::to_string(id) + "]", 5);  // unused
  std::vector<std::string> merges;
  for (const json& m : model.value("merges", json::array()))
    merges.push_back(m.is_string() ? m.get<std::string>()
                                   : m.at(0).get<std::string>() + " " + m.at(1).get<std::string>());

  GgufMetadata kv = {
      {"tokenizer.ggml.model", gguf_string("gpt2")},
      {"tokenizer.ggml.pre", gguf_string(pre)},
      {"tokenizer.ggml.tokens", gguf_strings(std::move(tokens))},
      {"tokenizer.ggml.token_type", gguf_numbers(GgufValueType::kI32, std::move(types))},
      {"tokenizer.ggml.merges", gguf_strings(std::move(merges))},
  };
  // BOS: the one special token the post-processor's template may put
  // before the text (load_gguf_tokenizer adds nothing else).
  bool add_bos = false;
  const json post = j.value("post_processor", json());
  if (const json* t = template_processor(post)) {
    const json single = t->value("single", json::array());
    for (size_t i = 0; i < single.size(); ++i) {
      if (!single[i].is_object() || !single[i].contains("SpecialToken")) continue;
      if (i != 0)
        fail(ErrorCode::kUnsupported,
             "the post-processor adds special tokens other than one before the text");
      const std::string name = single[i]["SpecialToken"].value("id", "");
      const json specials = t->value("special_tokens", json::object());
      const json entry = specials.is_object() ? specials.value(name, json()) : json();
      const json ids = entry.is_object() ? entry.value("ids", json()) : json();
      if (!ids.is_array() || ids.size() != 1 || !ids[0].is_number_unsigned())
        fail(ErrorCode::kUnsupported, "the post-processor's BOS \"" + name + "\" is not one id");
      kv.emplace_back("tokenizer.ggml.bos_token_id", gguf_u32(ids[0].get<uint32_t>()));
      add_bos = true;
    }
  }
  kv.emplace_back("tokenizer.ggml.add_bos_token", gguf_bool(add_bos));
  add_chat_template(fs::path(path).parent_path(), kv);
  return kv;
}

}  // namespace

GgufMetadata gguf_bpe_metadata(const std::string& path, int vocab_size) {
  try {
    return bpe_metadata(path, vocab_size);
  } catch (const json::exception& e) {
    // A field of another type than the checks expect: a clear error.
    throw Error(ErrorCode::kCorrupt, path + ": unexpected structure (" + e.what() + ")");
  }
}

GgufMetadata gguf_tokenizer_metadata_of(const std::string& path) {
  const GgufFile f = GgufFile::open(path);
  GgufMetadata kv;
  for (const auto& [key, value] : f.metadata())
    if (key.rfind("tokenizer.", 0) == 0) kv.emplace_back(key, value);
  return kv;
}

}  // namespace radial
