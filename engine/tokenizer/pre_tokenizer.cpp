#include "engine/tokenizer/pre_tokenizer.h"

#include <algorithm>

#include "engine/error.h"
#include "engine/tokenizer/regex.h"
#include "engine/tokenizer/utf8.h"

namespace radial {

namespace {

using nlohmann::json;

// GPT-2's pattern, the ByteLevel pre-tokenizer's use_regex.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Hugging Face's SplitDelimiterBehavior.
enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// A part of a piece: [start, end) and whether the pattern matched it.
struct Segment {
  size_t start, end;
  bool match;
};

// Applies `behavior` to segments that cover a piece in order (the
// tokenizers library's NormalizedString::split) and passes the non-empty
// results to `out`.
void emit_split(std::string_view piece, bool at_origin, const std::vector<Segment>& segs,
                Behavior behavior, PieceSink out) {
  std::vector<std::pair<size_t, size_t>> parts;
  parts.reserve(segs.size());
  bool previous_match = false;
  switch (behavior) {
    case Behavior::kRemoved:
      for (const Segment& s : segs)
        if (!s.match) parts.emplace_back(s.start, s.end);
      break;
    case Behavior::kIsolated:
      for (const Segment& s : segs) parts.emplace_back(s.start, s.end);
      break;
    case Behavior::kMergedWithPrevious:
      for (const Segment& s : segs) {
        if (s.match && !previous_match && !parts.empty())
          parts.back().second = s.end;
        else
          parts.emplace_back(s.start, s.end);
        previous_match = s.match;
      }
      break;
    case Behavior::kMergedWithNext:
      for (auto it = segs.rbegin(); it != segs.rend(); ++it) {
        if (it->match && !previous_match && !parts.empty())
          parts.back().first = it->start;
        else
          parts.emplace_back(it->start, it->end);
        previous_match = it->match;
      }
      std::reverse(parts.begin(), parts.end());
      break;
    case Behavior::kContiguous:
      for (size_t i = 0; i < segs.size(); ++i) {
        if (i > 0 && segs[i].match == previous_match)
          parts.back().second = segs[i].end;
        else
          parts.emplace_back(segs[i].start, segs[i].end);
        previous_match = segs[i].match;
      }
      break;
  }
  for (const auto& [start, end] : parts)
    if (end > start) out(piece.substr(start, end - start), at_origin && start == 0);
}

// Segments of `piece` from matches [start, end) given in order.
class SegmentBuilder {
 public:
  SegmentBuilder(size_t size, bool invert) : size_(size), invert_(invert) {}
  void match(size_t start, size_t end) {
    if (start > prev_) segs_.push_back({prev_, start, invert_});
    segs_.push_back({start, end, !invert_});
    prev_ = end;
  }
  std::vector<Segment>& finish() {
    if (prev_ < size_) segs_.push_back({prev_, size_, invert_});
    return segs_;
  }

 private:
  size_t size_, prev_ = 0;
  bool invert_;
  std::vector<Segment> segs_;
};

Behavior parse_behavior(const json& j, const std::string& where, const std::string& file) {
  if (!j.is_string())
    throw Error(ErrorCode::kCorrupt, file + ": " + where + ".behavior must be a string");
  const std::string b = j.get<std::string>();
  if (b == "Removed") return Behavior::kRemoved;
  if (b == "Isolated") return Behavior::kIsolated;
  if (b == "MergedWithPrevious") return Behavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return Behavior::kMergedWithNext;
  if (b == "Contiguous") return Behavior::kContiguous;
  throw Error(ErrorCode::kUnsupported,
              file + ": " + where + ".behavior \"" + b + "\" is not supported");
}

class SplitStep final : public PreTokenizerStep {
 public:
  SplitStep(const json& j, const std::string& where, const std::string& file) {
    const json* p = j.contains("pattern") ? &j["pattern"] : nullptr;
    if (p != nullptr && p->is_object() && p->contains("Regex") && (*p)["Regex"].is_string()) {
      regex_ = std::make_unique<Regex>((*p)["Regex"].get<std::string>(),
                                       file + ": " + where + ".pattern");
    } else if (p != nullptr && p->is_object() && p->contains("String") &&
               (*p)["String"].is_string() && !(*p)["String"].get<std::string>().empty()) {
      literal_ = (*p)["String"].get<std::string>();
    } else {
      throw Error(ErrorCode::kCorrupt,
                  file + ": " + where +
                      ".pattern must be {\"Regex\": ...} or a non-empty {\"String\": ...}");
    }
    behavior_ = parse_behavior(j.value("behavior", json()), where, file);
    if (j.contains("invert")) {
      if (!j["invert"].is_boolean())
        throw Error(ErrorCode::kCorrupt, file + ": " + where + ".invert must be a boolean");
      invert_ = j["invert"].get<bool>();
    }
  }

  void split(std::string_view piece, bool at_origin, PieceSink out) const override {
    if (behavior_ == Behavior::kIsolated && !invert_ && regex_) {  // the common case, streamed
      size_t prev = 0;
      regex_->find_all(piece, [&](size_t start, size_t end) {
        if (start > prev) out(piece.substr(prev, start - prev), at_origin && prev == 0);
        if (end > start) out(piece.substr(start, end - start), at_origin && start == 0);
        prev = end;
      });
      if (prev < piece.size()) out(piece.substr(prev), at_origin && prev == 0);
      return;
    }
    SegmentBuilder b(piece.size(), invert_);
    if (regex_) {
      regex_->find_all(piece, [&](size_t start, size_t end) { b.match(start, end); });
    } else {
      for (size_t at = piece.find(literal_); at != std::string_view::npos;
           at = piece.find(literal_, at + literal_.size()))
        b.match(at, at + literal_.size());
    }
    emit_split(piece, at_origin, b.finish(), behavior_, out);
  }

 private:
  std::unique_ptr<Regex> regex_;
  std::string literal_;
  Behavior behavior_ = Behavior::kIsolated;
  bool invert_ = false;
};

// Every character for which `pred` holds is its own match (the tokenizers
// library's char-predicate pattern).
template <typename Pred>
std::vector<Segment>& char_segments(std::string_view piece, Pred pred, SegmentBuilder* b) {
  for (size_t i = 0; i < piece.size();) {
    const size_t len = std::max<size_t>(1, utf8::sequence_length(piece.substr(i)));
    if (pred(piece.substr(i, len))) b->match(i, i + len);
    i += len;
  }
  return b->finish();
}

class DigitsStep final : public PreTokenizerStep {
 public:
  explicit DigitsStep(bool individual) : individual_(individual) {}
  void split(std::string_view piece, bool at_origin, PieceSink out) const override {
    SegmentBuilder b(piece.size(), false);
    const auto& segs = char_segments(
        piece, [](std::string_view c) { return c.size() == 1 && c[0] >= '0' && c[0] <= '9'; }, &b);
    emit_split(piece, at_origin, segs, individual_ ? Behavior::kIsolated : Behavior::kContiguous,
               out);
  }

 private:
  bool individual_;
};

class MetaspaceStep final : public PreTokenizerStep {
 public:
  enum class Prepend { kAlways, kFirst, kNever };
  MetaspaceStep(std::string replacement, Prepend prepend, bool split)
      : replacement_(std::move(replacement)), prepend_(prepend), split_(split) {}

  void split(std::string_view piece, bool at_origin, PieceSink out) const override {
    std::string text;
    text.reserve(piece.size() + replacement_.size());
    for (char c : piece) {
      if (c == ' ')
        text += replacement_;
      else
        text.push_back(c);
    }
    const bool starts = text.compare(0, replacement_.size(), replacement_) == 0;
    if (!starts && (prepend_ == Prepend::kAlways || (prepend_ == Prepend::kFirst && at_origin)))
      text.insert(0, replacement_);
    if (!split_) return out(text, at_origin);
    SegmentBuilder b(text.size(), false);
    const auto& segs = char_segments(
        text, [&](std::string_view c) { return c == replacement_; }, &b);
    emit_split(text, at_origin, segs, Behavior::kMergedWithNext, out);
  }

 private:
  std::string replacement_;
  Prepend prepend_;
  bool split_;
};

class ByteLevelStep final : public PreTokenizerStep {
 public:
  ByteLevelStep(bool add_prefix_space, bool use_regex) : add_prefix_space_(add_prefix_space) {
    if (use_regex) regex_ = std::make_unique<Regex>(kGpt2Pattern, "ByteLevel pre-tokenizer");
  }
  void split(std::string_view piece, bool at_origin, PieceSink out) const override {
    std::string prefixed;
    if (add_prefix_space_ && (piece.empty() || piece[0] != ' ')) {
      prefixed.reserve(piece.size() + 1);
      prefixed.push_back(' ');
      prefixed.append(piece);
      piece = prefixed;
    }
    if (!regex_) return out(piece, at_origin);
    size_t prev = 0;
    regex_->find_all(piece, [&](size_t start, size_t end) {
      if (start > prev) out(piece.substr(prev, start - prev), at_origin && prev == 0);
      if (end > start) out(piece.substr(start, end - start), at_origin && start == 0);
      prev = end;
    });
    if (prev < piece.size()) out(piece.substr(prev), at_origin && prev == 0);
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> regex_;
};

bool bool_field(const json& j, const char* key, bool fallback, const std::string& where,
                const std::string& file) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_boolean())
    throw Error(ErrorCode::kCorrupt, file + ": " + where + "." + key + " must be a boolean");
  return j[key].get<bool>();
}

}  // namespace

PreTokenizer::PreTokenizer(const json& j, const std::string& file) {
  if (!j.is_null()) add(j, "pre_tokenizer", file);
  for (size_t i = 0; i + 1 < steps_.size(); ++i)
    if (dynamic_cast<const ByteLevelStep*>(steps_[i].get()) != nullptr)
      throw Error(
          ErrorCode::kUnsupported,
          file + ": pre_tokenizer: a ByteLevel step followed by other steps is not supported");
  byte_level_ =
      !steps_.empty() && dynamic_cast<const ByteLevelStep*>(steps_.back().get()) != nullptr;
}

PreTokenizer::~PreTokenizer() = default;

void PreTokenizer::add(const json& j, const std::string& where, const std::string& file) {
  if (std::count(where.begin(), where.end(), '[') > 16)
    throw Error(ErrorCode::kUnsupported, file + ": " + where + ": Sequence nested too deeply");
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    throw Error(ErrorCode::kCorrupt, file + ": " + where + " must be an object with a \"type\"");
  const std::string type = j["type"].get<std::string>();
  if (type == "Sequence") {
    if (!j.contains("pretokenizers") || !j["pretokenizers"].is_array())
      throw Error(ErrorCode::kCorrupt, file + ": " + where + ".pretokenizers must be an array");
    for (size_t i = 0; i < j["pretokenizers"].size(); ++i)
      add(j["pretokenizers"][i], where + ".pretokenizers[" + std::to_string(i) + "]", file);
  } else if (type == "Split") {
    steps_.push_back(std::make_unique<SplitStep>(j, where, file));
  } else if (type == "ByteLevel") {
    steps_.push_back(
        std::make_unique<ByteLevelStep>(bool_field(j, "add_prefix_space", true, where, file),
                                        bool_field(j, "use_regex", true, where, file)));
  } else if (type == "Digits") {
    steps_.push_back(
        std::make_unique<DigitsStep>(bool_field(j, "individual_digits", false, where, file)));
  } else if (type == "Metaspace") {
    std::string replacement = "\xE2\x96\x81";  // ▁
    if (j.contains("replacement")) {
      if (!j["replacement"].is_string() ||
          utf8::sequence_length(j["replacement"].get<std::string>()) !=
              j["replacement"].get<std::string>().size())
        throw Error(ErrorCode::kCorrupt,
                    file + ": " + where + ".replacement must be one character");
      replacement = j["replacement"].get<std::string>();
    }
    MetaspaceStep::Prepend prepend = bool_field(j, "add_prefix_space", true, where, file)
                                         ? MetaspaceStep::Prepend::kAlways
                                         : MetaspaceStep::Prepend::kNever;
    if (j.contains("prepend_scheme")) {
      const std::string s =
          j["prepend_scheme"].is_string() ? j["prepend_scheme"].get<std::string>() : "";
      if (s == "always")
        prepend = MetaspaceStep::Prepend::kAlways;
      else if (s == "first")
        prepend = MetaspaceStep::Prepend::kFirst;
      else if (s == "never")
        prepend = MetaspaceStep::Prepend::kNever;
      else
        throw Error(ErrorCode::kUnsupported,
                    file + ": " + where + ".prepend_scheme \"" + s + "\" is not supported");
    }
    steps_.push_back(std::make_unique<MetaspaceStep>(replacement, prepend,
                                                     bool_field(j, "split", true, where, file)));
  } else {
    throw Error(ErrorCode::kUnsupported,
                file + ": " + where + " type \"" + type + "\" is not supported");
  }
}

void PreTokenizer::apply(size_t step, std::string_view piece, bool at_origin, PieceSink out) const {
  if (step == steps_.size()) return out(piece, at_origin);
  steps_[step]->split(piece, at_origin, [&](std::string_view sub, bool origin) {
    apply(step + 1, sub, origin, out);
  });
}

}  // namespace radial
