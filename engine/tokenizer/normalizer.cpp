#include "engine/tokenizer/normalizer.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/ustring.h>

#include <algorithm>

#include "engine/error.h"
#include "engine/tokenizer/regex.h"
#include "engine/tokenizer/utf8.h"

namespace radial {

namespace {

using nlohmann::json;

bool is_ascii(const std::string& s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

class UnicodeForm final : public NormalizerStep {
 public:
  UnicodeForm(const std::string& form, const std::string& where) {
    UErrorCode status = U_ZERO_ERROR;
    if (form == "NFC") norm_ = icu::Normalizer2::getNFCInstance(status);
    if (form == "NFD") norm_ = icu::Normalizer2::getNFDInstance(status);
    if (form == "NFKC") norm_ = icu::Normalizer2::getNFKCInstance(status);
    if (form == "NFKD") norm_ = icu::Normalizer2::getNFKDInstance(status);
    if (norm_ == nullptr || U_FAILURE(status))
      throw Error(ErrorCode::kInternal,
                  where + ": ICU has no " + form + " normalizer (" + u_errorName(status) + ")");
  }
  void apply(std::string* text) const override {
    if (is_ascii(*text)) return;  // ASCII is invariant under every form
    std::string out;
    out.reserve(text->size());
    icu::StringByteSink<std::string> sink(&out);
    UErrorCode status = U_ZERO_ERROR;
    norm_->normalizeUTF8(0, icu::StringPiece(text->data(), static_cast<int32_t>(text->size())),
                         sink, nullptr, status);
    if (U_FAILURE(status))
      throw Error(ErrorCode::kInvalidArgument,
                  std::string("Unicode normalization failed: ") + u_errorName(status));
    text->swap(out);
  }

 private:
  const icu::Normalizer2* norm_ = nullptr;
};

// Rust's char::to_lowercase applied character by character (no context:
// a final sigma stays σ), as the tokenizers library's Lowercase does.
class Lowercase final : public NormalizerStep {
 public:
  void apply(std::string* text) const override {
    std::string out;
    out.reserve(text->size());
    for (size_t i = 0; i < text->size();) {
      const auto c = static_cast<unsigned char>((*text)[i]);
      if (c < 0x80) {
        out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
        ++i;
        continue;
      }
      const size_t len = utf8::sequence_length(std::string_view(*text).substr(i));
      const char32_t cp = utf8::decode(text->data() + i, len);
      UChar src[2], dst[8];
      int32_t src_len = 0;
      U16_APPEND_UNSAFE(src, src_len, cp);
      UErrorCode status = U_ZERO_ERROR;
      const int32_t n = u_strToLower(dst, 8, src, src_len, "", &status);
      if (U_FAILURE(status)) {
        out.append(*text, i, len);
      } else {
        for (int32_t k = 0; k < n;) {
          UChar32 lc;
          U16_NEXT(dst, k, n, lc);
          utf8::append(&out, static_cast<char32_t>(lc));
        }
      }
      i += len;
    }
    text->swap(out);
  }
};

class Strip final : public NormalizerStep {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  void apply(std::string* text) const override {
    size_t start = 0, end = text->size();
    auto space_at = [&](size_t i, size_t* len) {
      *len = std::max<size_t>(1, utf8::sequence_length(std::string_view(*text).substr(i)));
      return u_isUWhiteSpace(static_cast<UChar32>(utf8::decode(text->data() + i, *len)));
    };
    size_t len = 0;
    if (left_)
      while (start < end && space_at(start, &len)) start += len;
    if (right_) {
      while (end > start) {
        size_t b = end - 1;
        while (b > start && (static_cast<unsigned char>((*text)[b]) & 0xC0) == 0x80) --b;
        if (!space_at(b, &len)) break;
        end = b;
      }
    }
    *text = text->substr(start, end - start);
  }

 private:
  bool left_, right_;
};

class Prepend final : public NormalizerStep {
 public:
  explicit Prepend(std::string prefix) : prefix_(std::move(prefix)) {}
  void apply(std::string* text) const override {
    if (!text->empty()) text->insert(0, prefix_);
  }

 private:
  std::string prefix_;
};

class Replace final : public NormalizerStep {
 public:
  Replace(const json& j, const std::string& where, const std::string& file) {
    const json* p = j.contains("pattern") ? &j["pattern"] : nullptr;
    if (p != nullptr && p->is_object() && p->contains("Regex") && (*p)["Regex"].is_string())
      regex_ = std::make_unique<Regex>((*p)["Regex"].get<std::string>(),
                                       file + ": " + where + ".pattern");
    else if (p != nullptr && p->is_object() && p->contains("String") &&
             (*p)["String"].is_string() && !(*p)["String"].get<std::string>().empty())
      literal_ = (*p)["String"].get<std::string>();
    else
      throw Error(ErrorCode::kCorrupt,
                  file + ": " + where +
                      ".pattern must be {\"Regex\": ...} or a non-empty {\"String\": ...}");
    if (!j.contains("content") || !j["content"].is_string())
      throw Error(ErrorCode::kCorrupt, file + ": " + where + ".content must be a string");
    content_ = j["content"].get<std::string>();
  }
  void apply(std::string* text) const override {
    std::string out;
    out.reserve(text->size());
    size_t prev = 0;
    auto on_match = [&](size_t start, size_t end) {
      out.append(*text, prev, start - prev);
      out += content_;
      prev = end;
    };
    if (regex_) {
      regex_->find_all(*text, on_match);
    } else {
      for (size_t at = text->find(literal_); at != std::string::npos;
           at = text->find(literal_, at + literal_.size()))
        on_match(at, at + literal_.size());
    }
    out.append(*text, prev, std::string::npos);
    text->swap(out);
  }

 private:
  std::unique_ptr<Regex> regex_;
  std::string literal_;
  std::string content_;
};

}  // namespace

Normalizer::Normalizer(const json& j, const std::string& file) {
  if (!j.is_null()) add(j, "normalizer", file);
}

Normalizer::~Normalizer() = default;

void Normalizer::apply(std::string* text) const {
  for (const auto& s : steps_) s->apply(text);
}

void Normalizer::add(const json& j, const std::string& where, const std::string& file) {
  if (std::count(where.begin(), where.end(), '[') > 16)
    throw Error(ErrorCode::kUnsupported, file + ": " + where + ": Sequence nested too deeply");
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    throw Error(ErrorCode::kCorrupt, file + ": " + where + " must be an object with a \"type\"");
  const std::string type = j["type"].get<std::string>();
  auto flag = [&](const char* key, bool fallback) {
    if (!j.contains(key)) return fallback;
    if (!j[key].is_boolean())
      throw Error(ErrorCode::kCorrupt, file + ": " + where + "." + key + " must be a boolean");
    return j[key].get<bool>();
  };
  if (type == "Sequence") {
    if (!j.contains("normalizers") || !j["normalizers"].is_array())
      throw Error(ErrorCode::kCorrupt, file + ": " + where + ".normalizers must be an array");
    for (size_t i = 0; i < j["normalizers"].size(); ++i)
      add(j["normalizers"][i], where + ".normalizers[" + std::to_string(i) + "]", file);
  } else if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    steps_.push_back(std::make_unique<UnicodeForm>(type, file + ": " + where));
  } else if (type == "Lowercase") {
    steps_.push_back(std::make_unique<Lowercase>());
  } else if (type == "Strip") {
    steps_.push_back(std::make_unique<Strip>(flag("strip_left", true), flag("strip_right", true)));
  } else if (type == "Prepend") {
    if (!j.contains("prepend") || !j["prepend"].is_string())
      throw Error(ErrorCode::kCorrupt, file + ": " + where + ".prepend must be a string");
    steps_.push_back(std::make_unique<Prepend>(j["prepend"].get<std::string>()));
  } else if (type == "Replace") {
    steps_.push_back(std::make_unique<Replace>(j, where, file));
  } else {
    throw Error(ErrorCode::kUnsupported,
                file + ": " + where + " type \"" + type + "\" is not supported");
  }
}

}  // namespace radial
