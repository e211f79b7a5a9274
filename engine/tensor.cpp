#include "engine/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <vector>

#include "engine/error.h"
#include "engine/kquant.h"

namespace radial {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kF32:
      return "F32";
    case DType::kF16:
      return "F16";
    case DType::kBF16:
      return "BF16";
    case DType::kQ8_0:
      return "Q8_0";
    case DType::kQ4_K:
      return "Q4_K";
    case DType::kQ5_K:
      return "Q5_K";
    case DType::kQ6_K:
      return "Q6_K";
  }
  return "?";
}

size_t dtype_size(DType t) {
  require(!dtype_is_quantized(t), ErrorCode::kInternal,
          std::string(dtype_name(t)) + " has no per-element size");
  return t == DType::kF32 ? 4 : 2;
}

bool dtype_is_quantized(DType t) { return t == DType::kQ8_0 || kquant_block_bytes(t) > 0; }

int64_t kquant_block_bytes(DType t) {
  return t == DType::kQ4_K   ? kQ4KBlockBytes
         : t == DType::kQ5_K ? kQ5KBlockBytes
         : t == DType::kQ6_K ? kQ6KBlockBytes
                             : 0;
}

size_t tensor_bytes(DType dtype, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  if (!dtype_is_quantized(dtype)) return static_cast<size_t>(n) * dtype_size(dtype);
  const int64_t k = shape.empty() ? 1 : shape.back();
  const int64_t rows = k == 0 ? 0 : n / k;
  if (dtype == DType::kQ8_0) {
    const int64_t kp = q8_row_stride(k);
    return static_cast<size_t>(rows * (kp + kp / kQ8Block * 2));
  }
  require(k % kKQuantBlock == 0, ErrorCode::kInvalidArgument,
          std::string(dtype_name(dtype)) + " rows must be whole blocks of 256 values, got " +
              shape_string(shape));
  return static_cast<size_t>(rows * (k / kKQuantBlock) * kquant_block_bytes(dtype));
}

uint16_t quantize_q8_0_block(const float* x, int n, int8_t* q) {
  float amax = 0.f;
  for (int i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.f;
  const float id = d != 0.f ? 1.f / d : 0.f;
  for (int i = 0; i < static_cast<int>(kQ8Block); ++i) {
    const float v = i < n ? std::roundf(x[i] * id) : 0.f;  // in [-127, 127]
    q[i] = static_cast<int8_t>(std::isnan(v) ? 0.f : v);
  }
  return f32_to_f16(d);
}

void quantize_q8_0_row(const float* x, int64_t k, int8_t* qs, uint16_t* scales) {
  for (int64_t b = 0; b * kQ8Block < k; ++b) {
    const int64_t begin = b * kQ8Block;
    scales[b] =
        quantize_q8_0_block(x + begin, static_cast<int>(std::min(kQ8Block, k - begin)), qs + begin);
  }
}

float bf16_to_f32(uint16_t v) {
  uint32_t bits = static_cast<uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t f32_to_bf16(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  if (std::isnan(v)) return static_cast<uint16_t>((bits >> 16) | 0x40);
  uint32_t rounding = 0x7fff + ((bits >> 16) & 1);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | (exp + 127 - 15) << 23 | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t f32_to_f16(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  uint32_t sign = (bits >> 16) & 0x8000u;
  int32_t exp = static_cast<int32_t>((bits >> 23) & 0xff) - 127 + 15;
  uint32_t mant = bits & 0x7fffff;
  if (((bits >> 23) & 0xff) == 0xff)
    return static_cast<uint16_t>(sign | 0x7c00 | (mant ? 0x200 : 0));
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7c00);
  if (exp <= 0) {
    if (exp < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000;
    uint32_t shift = static_cast<uint32_t>(14 - exp);
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = sign | static_cast<uint32_t>(exp) << 10 | (mant >> 13);
  uint32_t rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) ++half;  // may carry into exponent: correct
  return static_cast<uint16_t>(half);
}

Tensor Tensor::zeros(DType dtype, std::vector<int64_t> shape) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.nbytes = tensor_bytes(dtype, t.shape);
  size_t alloc = (t.nbytes + 63) / 64 * 64;
  if (alloc == 0) alloc = 64;
  auto* p = static_cast<std::byte*>(::operator new[](alloc, std::align_val_t{64}));
  std::memset(p, 0, alloc);
  t.storage = std::shared_ptr<std::byte[]>(
      p, [](std::byte* q) { ::operator delete[](q, std::align_val_t{64}); });
  return t;
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

float* Tensor::f32() {
  require(dtype == DType::kF32, ErrorCode::kInternal, "tensor is not F32");
  return reinterpret_cast<float*>(storage.get());
}

const float* Tensor::f32() const {
  require(dtype == DType::kF32, ErrorCode::kInternal, "tensor is not F32");
  return reinterpret_cast<const float*>(storage.get());
}

int64_t Tensor::cols() const { return shape.empty() ? 1 : shape.back(); }

int64_t Tensor::rows() const {
  const int64_t k = cols();
  return k == 0 ? 0 : numel() / k;
}

const int8_t* Tensor::q8_quants() const {
  require(dtype == DType::kQ8_0, ErrorCode::kInternal, "tensor is not Q8_0");
  return reinterpret_cast<const int8_t*>(storage.get());
}

const uint16_t* Tensor::q8_scales() const {
  require(dtype == DType::kQ8_0, ErrorCode::kInternal, "tensor is not Q8_0");
  return reinterpret_cast<const uint16_t*>(storage.get() + rows() * q8_row_stride(cols()));
}

const uint8_t* Tensor::kquant_row(int64_t r) const {
  const int64_t block = kquant_block_bytes(dtype);
  require(block > 0, ErrorCode::kInternal, "tensor is not a K-quant matrix");
  return reinterpret_cast<const uint8_t*>(storage.get()) + r * (cols() / kKQuantBlock) * block;
}

void Tensor::rows_f32(int64_t row0, int64_t n, float* out) const {
  const int64_t k = cols();
  require(row0 >= 0 && n >= 0 && row0 + n <= rows(), ErrorCode::kInternal,
          "rows_f32: rows out of range");
  const std::byte* p = data();
  switch (dtype) {
    case DType::kF32:
      std::memcpy(out, p + row0 * k * 4, static_cast<size_t>(n * k) * 4);
      return;
    case DType::kF16:
    case DType::kBF16: {
      const bool bf = dtype == DType::kBF16;
      for (int64_t i = 0; i < n * k; ++i) {
        uint16_t h;
        std::memcpy(&h, p + (row0 * k + i) * 2, 2);
        out[i] = bf ? bf16_to_f32(h) : f16_to_f32(h);
      }
      return;
    }
    case DType::kQ8_0: {
      const int64_t kp = q8_row_stride(k);
      for (int64_t r = 0; r < n; ++r) {
        const int8_t* q = q8_quants() + (row0 + r) * kp;
        const uint16_t* sc = q8_scales() + (row0 + r) * (kp / kQ8Block);
        for (int64_t i = 0; i < k; ++i)
          out[r * k + i] = f16_to_f32(sc[i / kQ8Block]) * static_cast<float>(q[i]);
      }
      return;
    }
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K: {
      const int64_t bytes = kquant_block_bytes(dtype);
      void (*dequantize)(const uint8_t*, float*) = dtype == DType::kQ4_K   ? dequantize_q4_k_block
                                                   : dtype == DType::kQ5_K ? dequantize_q5_k_block
                                                                           : dequantize_q6_k_block;
      for (int64_t r = 0; r < n; ++r) {
        const uint8_t* blocks = kquant_row(row0 + r);
        for (int64_t b = 0; b < k / kKQuantBlock; ++b)
          dequantize(blocks + b * bytes, out + r * k + b * kKQuantBlock);
      }
      return;
    }
  }
}

Tensor Tensor::to(DType out) const {
  Tensor r = zeros(out, shape);
  if (out == dtype) {
    std::memcpy(r.data(), data(), nbytes);
    return r;
  }
  const int64_t k = cols(), n_rows = rows();
  std::vector<float> row(static_cast<size_t>(k));
  for (int64_t i = 0; i < n_rows; ++i) {
    rows_f32(i, 1, row.data());
    switch (out) {
      case DType::kF32:
        std::memcpy(r.data() + i * k * 4, row.data(), static_cast<size_t>(k) * 4);
        break;
      case DType::kF16:
      case DType::kBF16:
        for (int64_t j = 0; j < k; ++j) {
          const uint16_t h = out == DType::kBF16 ? f32_to_bf16(row[j]) : f32_to_f16(row[j]);
          std::memcpy(r.data() + (i * k + j) * 2, &h, 2);
        }
        break;
      case DType::kQ8_0: {
        const int64_t kp = q8_row_stride(k);
        quantize_q8_0_row(row.data(), k, reinterpret_cast<int8_t*>(r.data()) + i * kp,
                          const_cast<uint16_t*>(r.q8_scales()) + i * (kp / kQ8Block));
        break;
      }
      case DType::kQ4_K:
      case DType::kQ5_K:
      case DType::kQ6_K: {
        auto* blocks = const_cast<uint8_t*>(r.kquant_row(i));
        const int64_t bytes = kquant_block_bytes(out);
        void (*quantize)(const float*, uint8_t*) = out == DType::kQ4_K   ? quantize_q4_k_block
                                                   : out == DType::kQ5_K ? quantize_q5_k_block
                                                                         : quantize_q6_k_block;
        for (int64_t b = 0; b < k / kKQuantBlock; ++b)
          quantize(row.data() + b * kKQuantBlock, blocks + b * bytes);
        break;
      }
    }
  }
  return r;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace radial
