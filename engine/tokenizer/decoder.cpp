#include "engine/tokenizer/decoder.h"

#include <algorithm>
#include <climits>

#include "engine/error.h"
#include "engine/json_input.h"
#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/utf8.h"

namespace radial {

namespace {

using nlohmann::json;

void replace_all(std::string* s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  std::string out;
  size_t prev = 0;
  for (size_t at = s->find(from); at != std::string::npos; at = s->find(from, at + from.size())) {
    out.append(*s, prev, at - prev);
    out.append(to);
    prev = at + from.size();
  }
  if (prev == 0) return;
  out.append(*s, prev, std::string::npos);
  s->swap(out);
}

class ByteLevelDecoder final : public DecoderStep {
 public:
  void apply(std::string* token, bool) const override {
    std::string bytes;
    if (byte_level::decode(*token, &bytes)) token->swap(bytes);  // otherwise the token's own bytes
  }
};

class MetaspaceDecoder final : public DecoderStep {
 public:
  MetaspaceDecoder(std::string replacement, bool prepend)
      : replacement_(std::move(replacement)), prepend_(prepend) {}
  void apply(std::string* token, bool first) const override {
    // The tokenizers library drops every replacement character of the first
    // token when it prepends one, and turns the others into spaces.
    replace_all(token, replacement_, first && prepend_ ? "" : " ");
  }

 private:
  std::string replacement_;
  bool prepend_;
};

class ReplaceDecoder final : public DecoderStep {
 public:
  ReplaceDecoder(std::string from, std::string to) : from_(std::move(from)), to_(std::move(to)) {}
  void apply(std::string* token, bool) const override { replace_all(token, from_, to_); }

 private:
  std::string from_, to_;
};

class ByteFallbackDecoder final : public DecoderStep {
 public:
  void apply(std::string* token, bool) const override {
    const std::string& t = *token;
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return;
    int value = 0;
    for (int i = 3; i < 5; ++i) {
      const char c = t[i];
      const int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
      if (d < 0) return;
      value = value * 16 + d;
    }
    *token = std::string(1, static_cast<char>(value));
  }
};

class StripDecoder final : public DecoderStep {
 public:
  StripDecoder(std::string content, size_t start, size_t stop, bool first_only)
      : content_(std::move(content)), start_(start), stop_(stop), first_only_(first_only) {}
  void apply(std::string* token, bool first) const override {
    if (first_only_ && !first) return;
    size_t begin = 0, end = token->size();
    for (size_t i = 0;
         i < start_ && token->compare(begin, content_.size(), content_) == 0 && begin < end; ++i)
      begin += content_.size();
    for (size_t i = 0; i < stop_ && end >= begin + content_.size() &&
                       token->compare(end - content_.size(), content_.size(), content_) == 0;
         ++i)
      end -= content_.size();
    *token = token->substr(begin, end - begin);
  }

 private:
  std::string content_;
  size_t start_, stop_;
  bool first_only_;
};

const json& field(const json& j, const char* key, const std::string& where,
                  const std::string& file) {
  if (!j.contains(key))
    throw Error(ErrorCode::kCorrupt, file + ": " + where + "." + key + " is missing");
  return j[key];
}

std::string one_char(const json& v, const std::string& what) {
  if (!v.is_string() || v.get<std::string>().empty() ||
      utf8::sequence_length(v.get<std::string>()) != v.get<std::string>().size())
    throw Error(ErrorCode::kCorrupt, what + " must be one character");
  return v.get<std::string>();
}

}  // namespace

Decoder::Decoder(const json& j, const std::string& file) {
  if (j.is_null())
    none_ = true;
  else
    add(j, "decoder", file);
}

Decoder::~Decoder() = default;

void Decoder::add(const json& j, const std::string& where, const std::string& file) {
  if (std::count(where.begin(), where.end(), '[') > 16)
    throw Error(ErrorCode::kUnsupported, file + ": " + where + ": Sequence nested too deeply");
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    throw Error(ErrorCode::kCorrupt, file + ": " + where + " must be an object with a \"type\"");
  const std::string type = j["type"].get<std::string>();
  const std::string at = file + ": " + where;
  if (type == "Sequence") {
    const json& list = field(j, "decoders", where, file);
    if (!list.is_array()) throw Error(ErrorCode::kCorrupt, at + ".decoders must be an array");
    for (size_t i = 0; i < list.size(); ++i)
      add(list[i], where + ".decoders[" + std::to_string(i) + "]", file);
  } else if (type == "ByteLevel") {
    steps_.push_back(std::make_unique<ByteLevelDecoder>());
  } else if (type == "Metaspace") {
    std::string replacement = j.contains("replacement")
                                  ? one_char(j["replacement"], at + ".replacement")
                                  : "\xE2\x96\x81";
    bool prepend = !j.contains("add_prefix_space") || j["add_prefix_space"] == true;
    if (j.contains("prepend_scheme")) {
      const json& s = j["prepend_scheme"];
      if (s != "always" && s != "first" && s != "never")
        throw Error(ErrorCode::kUnsupported,
                    at + ".prepend_scheme " + json_brief(s) + " is not supported");
      prepend = s != "never";
    }
    steps_.push_back(std::make_unique<MetaspaceDecoder>(replacement, prepend));
  } else if (type == "Replace") {
    const json& p = field(j, "pattern", where, file);
    if (!p.is_object() || !p.contains("String") || !p["String"].is_string())
      throw Error(ErrorCode::kUnsupported,
                  at + ".pattern: only {\"String\": ...} patterns are supported");
    const json& content = field(j, "content", where, file);
    if (!content.is_string()) throw Error(ErrorCode::kCorrupt, at + ".content must be a string");
    steps_.push_back(std::make_unique<ReplaceDecoder>(p["String"].get<std::string>(),
                                                      content.get<std::string>()));
  } else if (type == "ByteFallback") {
    steps_.push_back(std::make_unique<ByteFallbackDecoder>());
  } else if (type == "Fuse") {
    fused_ = true;
  } else if (type == "Strip") {
    const std::string content = one_char(field(j, "content", where, file), at + ".content");
    const json& start = field(j, "start", where, file);
    const json& stop = field(j, "stop", where, file);
    if (!start.is_number_unsigned() || !stop.is_number_unsigned())
      throw Error(ErrorCode::kCorrupt, at + ".start and .stop must be non-negative integers");
    // After Fuse the text is one token: stripping its end would need the
    // whole text, which a stream does not have.
    if (fused_ && stop.get<size_t>() > 0)
      throw Error(ErrorCode::kUnsupported,
                  at + ": Strip with stop > 0 after Fuse is not supported");
    steps_.push_back(
        std::make_unique<StripDecoder>(content, start.get<size_t>(), stop.get<size_t>(), fused_));
  } else {
    throw Error(ErrorCode::kUnsupported, at + " type \"" + type + "\" is not supported");
  }
}

std::string Decoder::token_bytes(std::string_view token, bool first) const {
  std::string t(token);
  if (none_) return first ? t : " " + t;
  for (const auto& s : steps_) s->apply(&t, first);
  return t;
}

namespace {

void add_post_processor(const json& j, const std::string& where, const std::string& file,
                        PostProcessor* pp) {
  if (std::count(where.begin(), where.end(), '[') > 16)
    throw Error(ErrorCode::kUnsupported, file + ": " + where + ": Sequence nested too deeply");
  const std::string at = file + ": " + where;
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    throw Error(ErrorCode::kCorrupt, at + " must be an object with a \"type\"");
  const std::string type = j["type"].get<std::string>();
  if (type == "Sequence") {
    const json& list = field(j, "processors", where, file);
    if (!list.is_array()) throw Error(ErrorCode::kCorrupt, at + ".processors must be an array");
    for (size_t i = 0; i < list.size(); ++i)
      add_post_processor(list[i], where + ".processors[" + std::to_string(i) + "]", file, pp);
  } else if (type == "ByteLevel") {
    // Adjusts offsets only.
  } else if (type == "TemplateProcessing") {
    if (!pp->prefix.empty() || !pp->suffix.empty())
      throw Error(ErrorCode::kUnsupported,
                  at + ": more than one TemplateProcessing is not supported");
    const json& single = field(j, "single", where, file);
    const json& specials = j.contains("special_tokens") ? j["special_tokens"] : json::object();
    if (!single.is_array() || !specials.is_object())
      throw Error(ErrorCode::kCorrupt,
                  at + ".single must be an array and .special_tokens an object");
    bool seen_sequence = false;
    for (size_t i = 0; i < single.size(); ++i) {
      const json& item = single[i];
      const std::string iat = at + ".single[" + std::to_string(i) + "]";
      if (item.is_object() && item.contains("Sequence")) {
        const json& seq = item["Sequence"];
        if (!seq.is_object() || !seq.contains("id") || seq["id"] != "A" || seen_sequence)
          throw Error(ErrorCode::kUnsupported,
                      iat + ": a single template must hold sequence A once");
        seen_sequence = true;
      } else if (item.is_object() && item.contains("SpecialToken") &&
                 item["SpecialToken"].is_object() && item["SpecialToken"].contains("id") &&
                 item["SpecialToken"]["id"].is_string()) {
        const std::string name = item["SpecialToken"]["id"].get<std::string>();
        if (!specials.contains(name) || !specials[name].is_object() ||
            !specials[name].contains("ids") || !specials[name]["ids"].is_array())
          throw Error(ErrorCode::kCorrupt,
                      iat + ": special token \"" + name + "\" is not in special_tokens");
        for (const json& id : specials[name]["ids"]) {
          if (!id.is_number_unsigned() || id.get<uint64_t>() > INT_MAX)
            throw Error(ErrorCode::kCorrupt,
                        at + ".special_tokens[\"" + name + "\"].ids must be ids");
          (seen_sequence ? pp->suffix : pp->prefix).push_back(id.get<int>());
        }
      } else {
        throw Error(ErrorCode::kCorrupt,
                    iat + " must be {\"Sequence\": ...} or {\"SpecialToken\": ...}");
      }
    }
    if (!seen_sequence) throw Error(ErrorCode::kCorrupt, at + ".single has no sequence A");
  } else {
    throw Error(ErrorCode::kUnsupported, at + " type \"" + type + "\" is not supported");
  }
}

}  // namespace

PostProcessor parse_post_processor(const json& j, const std::string& file) {
  PostProcessor pp;
  if (!j.is_null()) add_post_processor(j, "post_processor", file, &pp);
  return pp;
}

}  // namespace radial
