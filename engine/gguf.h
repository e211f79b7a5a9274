// Reading GGUF files (llama.cpp / ggml, versions 2 and 3), little-endian:
//   "GGUF" u32 version, u64 tensor_count, u64 metadata_kv_count,
//   metadata: {string key, u32 value_type, value}... (strings are u64 length +
//   bytes; arrays are u32 element type + u64 count + elements),
//   tensor infos: {string name, u32 n_dims, u64 ne[n_dims] (fastest-varying
//   first: ne[0] is the number of columns), u32 ggml_type, u64 offset}...,
//   padding to general.alignment (default 32), then the data section; each
//   tensor's offset is relative to its start and a multiple of the alignment.
//
// GgufFile::open validates the whole header strictly (every count, length,
// dim, type, offset and size against the file) and keeps the descriptor open;
// read_f32() then reads and dequantizes one tensor at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace radial {

enum class GgufValueType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};
const char* gguf_value_type_name(GgufValueType t);

// ggml tensor types this reader dequantizes (others are refused at open).
// engine/kquant.h and engine/ggml_blocks.h give their block layouts.
enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kIQ4_NL = 20,
  kIQ4_XS = 23,
  kBF16 = 30
};
const char* ggml_type_name(GgmlType t);

struct GgufValue {
  GgufValueType type = GgufValueType::kU8;
  GgufValueType elem_type = GgufValueType::kU8;  // arrays
  // Scalars: integers and bools in `i` (u64 values above INT64_MAX are kept
  // as their two's-complement bits), floats in `f`; strings in `s`.
  int64_t i = 0;
  double f = 0;
  std::string s;
  // Arrays: strings in `strs`, numbers (integers exactly up to 2^53) in `nums`.
  std::vector<std::string> strs;
  std::vector<double> nums;

  bool is_integer() const;
  bool is_number() const {
    return is_integer() || type == GgufValueType::kF32 || type == GgufValueType::kF64;
  }
  size_t array_size() const { return strs.size() + nums.size(); }
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> ne;  // as in the file: ne[0] is the fastest-varying dim
  GgmlType type = GgmlType::kF32;
  uint64_t offset = 0;  // absolute, in the file
  uint64_t nbytes = 0;
  // Row-major shape, slowest first (ne reversed): [rows, cols] for a matrix.
  std::vector<int64_t> shape() const { return {ne.rbegin(), ne.rend()}; }
};

// Bytes of `n` elements of `t` (n a multiple of the block size).
uint64_t ggml_row_bytes(GgmlType t, int64_t n);
int64_t ggml_block_size(GgmlType t);
// Dequantizes `n` elements (a multiple of the block size) of type `t`.
void ggml_dequantize(GgmlType t, const uint8_t* src, float* dst, int64_t n);
// Quantizes `n` floats (a multiple of 32) to n / 32 GGUF Q8_0 blocks of 34
// bytes at `dst`, as llama.cpp's quantize_row_q8_0_ref does: per block
// d = amax / 127 (stored as fp16), q[i] = roundf(x[i] * id) with id = 1 / d,
// or 0 when d is 0. ggml_dequantize(kQ8_0, ...) is its inverse up to rounding.
void quantize_row_q8_0(const float* src, uint8_t* dst, int64_t n);
// Quantizes `n` floats (a multiple of 32) to Q4_0, Q5_0 or Q5_1 blocks as
// llama.cpp's reference quantizers do (engine/ggml_blocks.h).
void quantize_row_q4_0(const float* src, uint8_t* dst, int64_t n);
void quantize_row_q5_0(const float* src, uint8_t* dst, int64_t n);
void quantize_row_q5_1(const float* src, uint8_t* dst, int64_t n);
// Quantizes `n` floats (a multiple of 256) to n / 256 GGUF Q4_K blocks of
// 144 bytes, Q5_K blocks of 176 bytes, or Q6_K blocks of 210 bytes, at
// `dst`, as llama.cpp's quantize_row_q4_K_ref / quantize_row_q5_K_ref /
// quantize_row_q6_K_ref do (engine/kquant.h).
void quantize_row_q4_k(const float* src, uint8_t* dst, int64_t n);
void quantize_row_q5_k(const float* src, uint8_t* dst, int64_t n);
void quantize_row_q6_k(const float* src, uint8_t* dst, int64_t n);

class GgufFile {
 public:
  // Throws Error: kNotFound (missing / unreadable), kCorrupt "<path>: <what>"
  // (bad magic, truncation, counts or lengths beyond the file or the bounds,
  // duplicate keys or tensors, dims, offsets or sizes outside the data
  // section), kUnsupported (a version other than 2 or 3, an unknown value
  // type, a tensor type outside GgmlType (the IQ1/IQ2/IQ3 grids, TQ), naming it).
  static GgufFile open(const std::string& path);
  // True when the file at `path` starts with the GGUF magic.
  static bool has_magic(const std::string& path);

  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  ~GgufFile();

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  const std::map<std::string, GgufValue>& metadata() const { return kv_; }
  const GgufValue* find(const std::string& key) const;
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* tensor(const std::string& name) const;  // null when absent

  // The tensor dequantized to F32, shaped shape(). Throws kCorrupt on a short read.
  Tensor read_f32(const GgufTensorInfo& t) const;
  // The tensor as `dtype`, shaped shape(): F16, BF16, Q8_0, Q4_K, Q5_K and Q6_K
  // tensors read as their own dtype keep their bits (Q8_0 blocks repacked
  // into the Tensor layout, engine/tensor.h; K-quant blocks as they are);
  // anything else goes through F32.
  Tensor read_as(const GgufTensorInfo& t, DType dtype) const;

 private:
  GgufFile() = default;
  std::string path_;
  int fd_ = -1;
  uint32_t version_ = 0;
  std::map<std::string, GgufValue> kv_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> by_name_;
  std::vector<uint8_t> read_raw(const GgufTensorInfo& t) const;
  friend class GgufParser;
};

}  // namespace radial
