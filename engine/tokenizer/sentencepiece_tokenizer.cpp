// SentencePieceTokenizer: a thin wrapper over libsentencepiece plus a per-id
// table of the bytes each token contributes to a stream (llama2.c's decode()).
#include "engine/tokenizer/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>
#include "engine/input_file.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "engine/error.h"
#include "engine/tokenizer/utf8.h"

namespace radial {

namespace {

// SentencePiece's word-boundary marker, U+2581 LOWER ONE EIGHTH BLOCK.
constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";

std::string replace_space_marker(const std::string& piece) {
  std::string out;
  out.reserve(piece.size());
  for (size_t i = 0; i < piece.size();) {
    if (piece.compare(i, kSpaceMarker.size(), kSpaceMarker) == 0) {
      out.push_back(' ');
      i += kSpaceMarker.size();
    } else {
      out.push_back(piece[i++]);
    }
  }
  return out;
}

// Parses a byte-fallback piece "<0xNN>"; returns -1 when `piece` is not one.
int parse_byte_piece(const std::string& piece) {
  if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>') return -1;
  int value = 0;
  for (int i = 3; i < 5; ++i) {
    const char c = piece[i];
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return -1;
    }
    value = value * 16 + digit;
  }
  return value;
}

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // `serialized`: a ModelProto; `what` names its source in errors.
  SentencePieceTokenizer(const std::string& serialized, const std::string& what);

  std::vector<int> encode(std::string_view text, bool add_bos) const override;
  using Tokenizer::decode;
  std::string decode(const std::vector<int>& ids, bool skip_special) const override;
  std::string piece_bytes(int prev, int id) const override;
  int vocab_size() const override { return vocab_; }
  int bos_id() const override { return bos_; }
  int eos_id() const override { return eos_; }
  int token_id(std::string_view token) const override;
  bool is_special(int id) const override {
    return id >= 0 && id < vocab_ && (sp_.IsControl(id) || sp_.IsUnknown(id));
  }
  std::string_view kind() const override { return "sentencepiece"; }

 private:
  void check_id(int id, const char* what) const {
    require(id >= 0 && id < vocab_, ErrorCode::kInvalidArgument,
            std::string(what) + ": token id " + std::to_string(id) +
                " is outside the vocabulary [0, " + std::to_string(vocab_) + ")");
  }

  sentencepiece::SentencePieceProcessor sp_;
  int vocab_ = 0;
  int bos_ = -1;
  int eos_ = -1;
  // Stream bytes of every id: "▁" -> ' ', <0xNN> -> the raw byte, control /
  // unknown / unused pieces -> "".
  std::vector<std::string> stream_pieces_;
  // True when llama2.c strips the leading space after BOS: a text piece (not a
  // byte token) whose stream bytes start with ' '.
  std::vector<bool> strip_after_bos_;
  // The special pieces (control and unknown: "<s>", "</s>", "<unk>",
  // Mistral's "[INST]"...) by their first byte, longest first: in a text they
  // stand for their ids (encode).
  std::array<std::vector<std::pair<std::string, int>>, 256> specials_;
  bool has_specials_ = false;
};

SentencePieceTokenizer::SentencePieceTokenizer(const std::string& serialized,
                                               const std::string& what) {
  const auto status = sp_.LoadFromSerializedProto(serialized);
  require(status.ok(), ErrorCode::kCorrupt,
          what + ": not a SentencePiece model (" + status.ToString() + ")");
  vocab_ = sp_.GetPieceSize();
  require(vocab_ > 0, ErrorCode::kCorrupt, what + ": SentencePiece model has no pieces");
  bos_ = sp_.bos_id();
  eos_ = sp_.eos_id();

  stream_pieces_.resize(vocab_);
  strip_after_bos_.assign(vocab_, false);
  for (int id = 0; id < vocab_; ++id) {
    if (sp_.IsControl(id) || sp_.IsUnknown(id) || sp_.IsUnused(id)) continue;
    const std::string& piece = sp_.IdToPiece(id);
    const int byte = sp_.IsByte(id) ? parse_byte_piece(piece) : -1;
    if (byte >= 0) {
      stream_pieces_[id] = std::string(1, static_cast<char>(byte));
    } else {
      stream_pieces_[id] = replace_space_marker(piece);
      strip_after_bos_[id] = !stream_pieces_[id].empty() && stream_pieces_[id][0] == ' ';
    }
  }
  for (int id = 0; id < vocab_; ++id) {
    const std::string& piece = sp_.IdToPiece(id);
    if ((sp_.IsControl(id) || sp_.IsUnknown(id)) && !piece.empty() &&
        utf8::lossy(piece) == piece) {  // (matched against valid UTF-8 text)
      specials_[static_cast<uint8_t>(piece[0])].emplace_back(piece, id);
      has_specials_ = true;
    }
  }
  for (auto& bucket : specials_)
    std::stable_sort(bucket.begin(), bucket.end(),
                     [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

// Special pieces written in the text stand for their ids, as Hugging Face's
// tokenizers (added tokens) and llama.cpp (parse_special) read them: the
// leftmost, longest one at each point. The text between them is encoded run
// by run, each with SentencePiece's dummy prefix (Hugging Face's legacy Llama
// behaviour, llama.cpp's space after a special token).
std::vector<int> SentencePieceTokenizer::encode(std::string_view text, bool add_bos) const {
  utf8::require_valid(text, "text");
  std::vector<int> ids;
  if (add_bos && bos_ >= 0) ids.push_back(bos_);
  std::vector<int> pieces;
  const auto encode_run = [&](std::string_view run) {
    if (run.empty()) return;
    const auto status = sp_.Encode(run, &pieces);
    require(status.ok(), ErrorCode::kInvalidArgument, "cannot tokenize text: " + status.ToString());
    ids.insert(ids.end(), pieces.begin(), pieces.end());
  };
  if (!has_specials_) {
    encode_run(text);
    return ids;
  }
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    const auto& bucket = specials_[static_cast<uint8_t>(text[i])];
    const auto it = std::find_if(bucket.begin(), bucket.end(), [&](const auto& s) {
      return text.compare(i, s.first.size(), s.first) == 0;
    });
    if (it == bucket.end()) {
      ++i;
      continue;
    }
    encode_run(text.substr(start, i - start));
    ids.push_back(it->second);
    i += it->first.size();
    start = i;
  }
  encode_run(text.substr(start));
  return ids;
}

std::string SentencePieceTokenizer::decode(const std::vector<int>& ids, bool skip_special) const {
  for (int id : ids) check_id(id, "decode");
  // SentencePiece drops control pieces; without skip_special they are put
  // back between the decoded runs as their piece text ("<s>").
  std::string text;
  std::vector<int> run;
  auto flush_run = [&] {
    std::string part;
    const auto status = sp_.Decode(run, &part);
    require(status.ok(), ErrorCode::kInvalidArgument, "cannot decode ids: " + status.ToString());
    text += part;
    run.clear();
  };
  for (int id : ids) {
    if (!skip_special && sp_.IsControl(id)) {
      flush_run();
      text += sp_.IdToPiece(id);
    } else {
      run.push_back(id);
    }
  }
  flush_run();
  return text;
}

std::string SentencePieceTokenizer::piece_bytes(int prev, int id) const {
  check_id(id, "piece_bytes");
  const std::string& bytes = stream_pieces_[id];
  if ((prev < 0 || (prev == bos_ && bos_ >= 0)) && strip_after_bos_[id]) return bytes.substr(1);
  return bytes;
}

int SentencePieceTokenizer::token_id(std::string_view token) const {
  const int id = sp_.PieceToId(token);
  // PieceToId answers unk for unknown pieces.
  return id == sp_.unk_id() && token != sp_.IdToPiece(id) ? -1 : id;
}

}  // namespace

std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::string& model_path) {
  require_regular_file(model_path, "tokenizer model");
  return std::make_unique<SentencePieceTokenizer>(read_input_file(model_path, 1ull << 30),
                                                  model_path);
}

std::unique_ptr<Tokenizer> sentencepiece_tokenizer_from_proto(const std::string& serialized,
                                                              const std::string& what) {
  return std::make_unique<SentencePieceTokenizer>(serialized, what);
}

}  // namespace radial
