// Host tensors: a dtype, a row-major shape and owned bytes (64-byte aligned).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace radial {

// kQ8_0 is a 2-D weight-matrix format (GGUF's Q8_0 quantization, laid out
// for the CPU backend): each row of k values is cut into blocks of 32 (k
// rounded up to a multiple of 32, the padding quantized as 0); a block keeps
// one f16 scale d and 32 int8 quants q, and stands for the values d * q
// (exact in f32: 11 + 8 significant bits). Storage of a [rows, k] tensor:
// the quants int8[rows][kp] (kp = k rounded up to 32) then the scales
// f16[rows][kp / 32]. kQ4_K, kQ5_K and kQ6_K are GGUF's K-quant blocks as the
// file stores them (engine/kquant.h): 2-D weight matrices whose k is a
// multiple of 256, each row k / 256 blocks of 144 (Q4_K), 176 (Q5_K) or 210
// (Q6_K) bytes. The other dtypes are plain element arrays.
enum class DType { kF32, kF16, kBF16, kQ8_0, kQ4_K, kQ5_K, kQ6_K };

const char* dtype_name(DType t);
// Bytes per element; throws kInternal for the quantized dtypes (no
// per-element size: see tensor_bytes).
size_t dtype_size(DType t);
bool dtype_is_quantized(DType t);
// Bytes of one 256-value block of a K-quant dtype (Q4_K, Q5_K, Q6_K), else 0.
int64_t kquant_block_bytes(DType t);
// The storage bytes of a tensor of `dtype` and `shape` (quantized dtypes: the
// rows are all dimensions but the last, which is k; K-quants need k % 256 ==
// 0, else kInvalidArgument).
size_t tensor_bytes(DType dtype, const std::vector<int64_t>& shape);
inline constexpr int64_t kQ8Block = 32;
inline int64_t q8_row_stride(int64_t k) { return (k + kQ8Block - 1) / kQ8Block * kQ8Block; }

// One Q8_0 block of n <= 32 floats (padded with zeros to 32 quants), the
// rule of GGUF's reference quantizer (llama.cpp's quantize_row_q8_0_ref):
// d = max|x| / 127, q = round-half-away(x * (1 / d)) (0 when d == 0; a NaN
// gives 0). Returns d as f16.
uint16_t quantize_q8_0_block(const float* x, int n, int8_t* q);
// One row of k floats to Q8_0 (qs: kp int8, scales: kp / 32 f16).
void quantize_q8_0_row(const float* x, int64_t k, int8_t* qs, uint16_t* scales);

// Scalar conversions (round to nearest even for float -> half types).
float bf16_to_f32(uint16_t v);
float f16_to_f32(uint16_t v);
// The little-endian IEEE half at p (GGUF's block scales), as f32.
inline float f16_bytes_to_f32(const uint8_t* p) {
  return f16_to_f32(static_cast<uint16_t>(p[0] | (p[1] << 8)));
}
uint16_t f32_to_bf16(float v);
uint16_t f32_to_f16(float v);

struct Tensor {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::shared_ptr<std::byte[]> storage;  // aligned to 64 bytes
  size_t nbytes = 0;

  static Tensor zeros(DType dtype, std::vector<int64_t> shape);
  int64_t numel() const;
  bool empty() const { return nbytes == 0; }

  // Typed access; f32() requires dtype == kF32 (throws kInternal otherwise).
  float* f32();
  const float* f32() const;
  std::byte* data() { return storage.get(); }
  const std::byte* data() const { return storage.get(); }

  // A copy converted to `to` (a plain copy when the dtype already matches).
  // To a quantized dtype needs a tensor of at least one dimension (and for
  // K-quants a last dimension that is a multiple of 256).
  Tensor to(DType to) const;

  // kQ8_0 parts (dtype must be kQ8_0): quants [rows][q8_row_stride(k)] and
  // f16 scales [rows][q8_row_stride(k) / 32].
  const int8_t* q8_quants() const;
  const uint16_t* q8_scales() const;
  // K-quant rows: the blocks of row r start at kquant_row(r).
  const uint8_t* kquant_row(int64_t r) const;
  int64_t rows() const;  // numel / the last dimension (1 for a scalar)
  int64_t cols() const;  // the last dimension (1 for a scalar)

  // Rows [row0, row0 + n) of a 2-D tensor as floats into out[n][cols()]
  // (exact for every dtype: the values the tensor stands for).
  void rows_f32(int64_t row0, int64_t n, float* out) const;
};

std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace radial
