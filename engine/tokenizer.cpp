// Tokenizer: a thin wrapper over libsentencepiece plus a per-id table of the
// bytes each token contributes to a stream (llama2.c's decode()).
#include "engine/tokenizer.h"

#include <sentencepiece_processor.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/error.h"

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

}  // namespace

struct Tokenizer::Impl {
  sentencepiece::SentencePieceProcessor sp;
  int vocab = 0;
  int bos = -1;
  int eos = -1;
  // Stream bytes of every id: "▁" -> ' ', <0xNN> -> the raw byte, control /
  // unknown / unused pieces -> "".
  std::vector<std::string> stream_pieces;
  // True when llama2.c strips the leading space after BOS: a text piece (not a
  // byte token) whose stream bytes start with ' '.
  std::vector<bool> strip_after_bos;

  void check_id(int id, const char* what) const {
    require(id >= 0 && id < vocab, ErrorCode::kInvalidArgument,
            std::string(what) + ": token id " + std::to_string(id) +
                " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
  }
};

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& model_path) {
  std::error_code ec;
  require(std::filesystem::is_regular_file(model_path, ec), ErrorCode::kNotFound,
          "tokenizer model not found: " + model_path);
  std::ifstream in(model_path, std::ios::binary);
  require(in.good(), ErrorCode::kNotFound, "cannot open tokenizer model: " + model_path);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  require(!in.bad(), ErrorCode::kNotFound, "cannot read tokenizer model: " + model_path);

  std::unique_ptr<Tokenizer> tok(new Tokenizer());
  Impl& m = *tok->impl_;
  const std::string serialized = bytes.str();
  const auto status = m.sp.LoadFromSerializedProto(serialized);
  require(status.ok(), ErrorCode::kCorrupt,
          model_path + ": not a SentencePiece model (" + status.ToString() + ")");
  m.vocab = m.sp.GetPieceSize();
  require(m.vocab > 0, ErrorCode::kCorrupt, model_path + ": SentencePiece model has no pieces");
  m.bos = m.sp.bos_id();
  m.eos = m.sp.eos_id();

  m.stream_pieces.resize(m.vocab);
  m.strip_after_bos.assign(m.vocab, false);
  for (int id = 0; id < m.vocab; ++id) {
    if (m.sp.IsControl(id) || m.sp.IsUnknown(id) || m.sp.IsUnused(id)) continue;
    const std::string& piece = m.sp.IdToPiece(id);
    const int byte = m.sp.IsByte(id) ? parse_byte_piece(piece) : -1;
    if (byte >= 0) {
      m.stream_pieces[id] = std::string(1, static_cast<char>(byte));
    } else {
      m.stream_pieces[id] = replace_space_marker(piece);
      m.strip_after_bos[id] = !m.stream_pieces[id].empty() && m.stream_pieces[id][0] == ' ';
    }
  }
  return tok;
}

std::vector<int> Tokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int> pieces;
  const auto status = impl_->sp.Encode(text, &pieces);
  require(status.ok(), ErrorCode::kInvalidArgument, "cannot tokenize text: " + status.ToString());
  std::vector<int> ids;
  ids.reserve(pieces.size() + 1);
  if (add_bos && impl_->bos >= 0) ids.push_back(impl_->bos);
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  return ids;
}

std::string Tokenizer::decode(const std::vector<int>& ids) const {
  for (int id : ids) impl_->check_id(id, "decode");
  std::string text;
  const auto status = impl_->sp.Decode(ids, &text);
  require(status.ok(), ErrorCode::kInvalidArgument, "cannot decode ids: " + status.ToString());
  return text;
}

std::string Tokenizer::piece_bytes(int prev, int id) const {
  impl_->check_id(id, "piece_bytes");
  const std::string& bytes = impl_->stream_pieces[id];
  if (prev == impl_->bos && impl_->bos >= 0 && impl_->strip_after_bos[id]) return bytes.substr(1);
  return bytes;
}

int Tokenizer::vocab_size() const { return impl_->vocab; }
int Tokenizer::bos_id() const { return impl_->bos; }
int Tokenizer::eos_id() const { return impl_->eos; }

}  // namespace radial
