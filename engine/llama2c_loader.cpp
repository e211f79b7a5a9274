// llama2.c checkpoints (Karpathy's legacy "version 0" export, as read by run.c):
//   int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
//   (vocab_size < 0: the classifier is not shared with the embedding), then
//   fp32 arrays, every projection [out, in] row-major (run.c's matmul computes
//   xout[i] = sum_j w[i * n + j] * x[j]), stacked over layers:
//   token_embedding [vocab, dim], rms_att [L, dim], wq [L, dim, dim],
//   wk [L, kv_dim, dim], wv [L, kv_dim, dim], wo [L, dim, dim], rms_ffn [L, dim],
//   w1 [L, hidden, dim] (gate), w2 [L, dim, hidden] (down), w3 [L, hidden, dim]
//   (up), rms_final [dim], freq_cis_real and freq_cis_imag
//   [seq_len, head_size / 2] each (unused), wcls [vocab, dim] if not shared.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "engine/error.h"
#include "engine/input_file.h"
#include "engine/model_loader.h"
#include "engine/safetensors.h"

namespace radial {
namespace {

class Llama2cFile {
 public:
  explicit Llama2cFile(const std::string& path) : path_(path) {
    require_regular_file(path, "checkpoint");  // before open(): a FIFO would block it
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    require(fd_ >= 0, ErrorCode::kNotFound, path + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    require(::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode), ErrorCode::kNotFound,
            path + ": not a regular file");
    size_ = static_cast<uint64_t>(st.st_size);
  }
  ~Llama2cFile() { ::close(fd_); }
  Llama2cFile(const Llama2cFile&) = delete;
  Llama2cFile& operator=(const Llama2cFile&) = delete;

  uint64_t size() const { return size_; }

  void read_bytes(uint64_t offset, void* dst, size_t n) const {
    auto* p = static_cast<char*>(dst);
    while (n > 0) {
      ssize_t got =
          ::pread(fd_, p, std::min<size_t>(n, size_t{1} << 30), static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      require(got > 0, ErrorCode::kCorrupt,
              path_ + ": read failed at offset " + std::to_string(offset));
      p += got;
      offset += static_cast<uint64_t>(got);
      n -= static_cast<size_t>(got);
    }
  }

  // Reads numel(shape) fp32 values at byte `offset` as a tensor of `dtype`.
  Tensor read(uint64_t offset, std::vector<int64_t> shape, DType dtype) const {
    Tensor t = Tensor::zeros(dtype, std::move(shape));
    if (dtype == DType::kF32) {
      read_bytes(offset, t.data(), t.nbytes);
    } else {
      std::vector<float> buf(static_cast<size_t>(t.numel()));
      read_bytes(offset, buf.data(), buf.size() * 4);
      convert_elements(buf.data(), DType::kF32, t.data(), dtype, buf.size());
    }
    return t;
  }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace

ModelWeights load_llama2c_model(const std::string& path, const LoadOptions& opts) {
  Llama2cFile file(path);
  constexpr uint64_t kHeader = 7 * 4;
  require(file.size() >= kHeader, ErrorCode::kCorrupt,
          path + ": file is " + std::to_string(file.size()) +
              " bytes, shorter than the 28-byte llama2.c header");
  int32_t h[7];
  file.read_bytes(0, h, sizeof(h));
  const int32_t dim = h[0], hidden = h[1], n_layers = h[2], n_heads = h[3], n_kv_heads = h[4],
                seq_len = h[6];
  const bool shared = h[5] > 0;
  const int64_t vocab = std::llabs(static_cast<int64_t>(h[5]));

  auto check = [&](bool ok, const std::string& what) {
    require(ok, ErrorCode::kCorrupt, path + ": bad llama2.c header: " + what);
  };
  auto range = [&](int64_t v, const char* name, int64_t hi) {
    check(v > 0 && v < hi, std::string(name) + " = " + std::to_string(v) + " is outside [1, " +
                               std::to_string(hi) + ")");
  };
  range(dim, "dim", 1 << 16);
  range(hidden, "hidden_dim", 1 << 18);
  range(n_layers, "n_layers", 1024);
  range(n_heads, "n_heads", 1 << 12);
  range(n_kv_heads, "n_kv_heads", 1 << 12);
  range(vocab, "vocab_size", 1 << 22);
  range(seq_len, "seq_len", 1 << 24);
  check(dim % n_heads == 0,
        "n_heads = " + std::to_string(n_heads) + " does not divide dim = " + std::to_string(dim));
  check(n_heads % n_kv_heads == 0, "n_kv_heads = " + std::to_string(n_kv_heads) +
                                       " does not divide n_heads = " + std::to_string(n_heads));
  const int64_t head_size = dim / n_heads;
  check(head_size % 2 == 0, "head size dim / n_heads = " + std::to_string(head_size) + " is odd");

  const int64_t d = dim, ff = hidden, L = n_layers, kv = head_size * n_kv_heads;
  // Offsets (in floats) of every array, in file order.
  int64_t pos = 0;
  auto take = [&](int64_t n) { return std::exchange(pos, pos + n); };
  const int64_t o_emb = take(vocab * d), o_rms_att = take(L * d), o_wq = take(L * d * d),
                o_wk = take(L * kv * d), o_wv = take(L * kv * d), o_wo = take(L * d * d),
                o_rms_ffn = take(L * d), o_w1 = take(L * ff * d), o_w2 = take(L * d * ff),
                o_w3 = take(L * ff * d), o_rms_final = take(d);
  take(2 * int64_t{seq_len} * head_size / 2);  // freq_cis_real, freq_cis_imag
  const int64_t o_wcls = shared ? o_emb : take(vocab * d);
  const uint64_t expected = kHeader + static_cast<uint64_t>(pos) * 4;
  require(file.size() == expected, ErrorCode::kCorrupt,
          path + ": file is " + std::to_string(file.size()) + " bytes, but its header (dim " +
              std::to_string(dim) + ", hidden_dim " + std::to_string(hidden) + ", n_layers " +
              std::to_string(n_layers) + ", vocab_size " + std::to_string(h[5]) + ", seq_len " +
              std::to_string(seq_len) + ") implies " + std::to_string(expected) +
              (file.size() < expected ? " (truncated)" : " (trailing bytes)"));

  ModelWeights w;
  ModelConfig& c = w.config;
  c.model_type = "llama";
  c.hidden_size = dim;
  c.intermediate_size = hidden;
  c.num_layers = n_layers;
  c.num_heads = n_heads;
  c.num_kv_heads = n_kv_heads;
  c.head_dim = static_cast<int>(head_size);
  c.vocab_size = static_cast<int>(vocab);
  c.max_position_embeddings = seq_len;
  c.rms_norm_eps = 1e-5f;
  c.rope_theta = 10000.f;
  c.rope_layout = RopeLayout::kInterleaved;
  c.tie_word_embeddings = shared;
  c.hidden_act = Activation::kSilu;
  c.bos_token_id = 1;
  c.eos_token_ids = {2};
  c.bos_ends_sequence = true;
  c.validate();

  // The file holds F32: matrices are converted to the dtype asked for.
  const DType dt = matrix_dtype_for(opts, DType::kF32);
  auto at = [&](int64_t float_offset) { return kHeader + static_cast<uint64_t>(float_offset) * 4; };
  auto vec = [&](int64_t float_offset, int64_t n) {
    return file.read(at(float_offset), {n}, DType::kF32);
  };
  auto matrix = [&](int64_t float_offset, int64_t rows, int64_t cols) {
    if (dt != DType::kQ8_0) return file.read(at(float_offset), {rows, cols}, dt);
    return as_matrix_dtype(file.read(at(float_offset), {rows, cols}, DType::kF32), dt);
  };
  w.embed = matrix(o_emb, vocab, d);
  w.layers.resize(n_layers);
  for (int64_t i = 0; i < L; ++i) {
    LayerWeights& l = w.layers[i];
    l.attn_norm = vec(o_rms_att + i * d, d);
    l.wq = matrix(o_wq + i * d * d, d, d);
    l.wk = matrix(o_wk + i * kv * d, kv, d);
    l.wv = matrix(o_wv + i * kv * d, kv, d);
    l.wo = matrix(o_wo + i * d * d, d, d);
    l.mlp_norm = vec(o_rms_ffn + i * d, d);
    l.w_gate = matrix(o_w1 + i * ff * d, ff, d);
    l.w_down = matrix(o_w2 + i * d * ff, d, ff);
    l.w_up = matrix(o_w3 + i * ff * d, ff, d);
  }
  w.final_norm = vec(o_rms_final, d);
  w.lm_head = shared ? w.embed : matrix(o_wcls, vocab, d);
  w.validate();
  return w;
}

}  // namespace radial
