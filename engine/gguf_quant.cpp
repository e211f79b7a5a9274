// Dequantization of the ggml tensor types a GGUF file may hold, per the ggml
// block layouts, and row quantization to Q8_0, Q4_K, Q5_K, Q6_K, Q4_0, Q5_0
// and Q5_1 (the GGUF writer's --out-type q8_0, q4_0, q4_k_m and q5_k_m, and
// their fallbacks); all little-endian, fp16 = IEEE half:
//   Q8_0  32 values:  fp16 d, int8 q[32];  x = d * q
//   Q4_K, Q5_K, Q6_K  256-value super-blocks: engine/kquant.h
//   Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL (32 values), Q2_K, Q3_K, IQ4_XS (256):
//     engine/ggml_blocks.h
#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/ggml_blocks.h"
#include "engine/gguf.h"
#include "engine/kquant.h"

namespace radial {

namespace {

uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

void dequant_q8_0(const uint8_t* b, float* y) {
  const float d = f16_bytes_to_f32(b);
  for (int i = 0; i < 32; ++i) y[i] = d * static_cast<float>(static_cast<int8_t>(b[2 + i]));
}

}  // namespace

const char* ggml_type_name(GgmlType t) {
  switch (t) {
    case GgmlType::kF32:
      return "F32";
    case GgmlType::kF16:
      return "F16";
    case GgmlType::kBF16:
      return "BF16";
    case GgmlType::kQ8_0:
      return "Q8_0";
    case GgmlType::kQ4_K:
      return "Q4_K";
    case GgmlType::kQ5_K:
      return "Q5_K";
    case GgmlType::kQ6_K:
      return "Q6_K";
    case GgmlType::kQ4_0:
      return "Q4_0";
    case GgmlType::kQ4_1:
      return "Q4_1";
    case GgmlType::kQ5_0:
      return "Q5_0";
    case GgmlType::kQ5_1:
      return "Q5_1";
    case GgmlType::kQ2_K:
      return "Q2_K";
    case GgmlType::kQ3_K:
      return "Q3_K";
    case GgmlType::kIQ4_NL:
      return "IQ4_NL";
    case GgmlType::kIQ4_XS:
      return "IQ4_XS";
  }
  static const char* const others[] = {
      "F32",     "F16",    "Q4_0",    "Q4_1",  "Q4_2",   "Q4_3",  "Q5_0",  "Q5_1",
      "Q8_0",    "Q8_1",   "Q2_K",    "Q3_K",  "Q4_K",   "Q5_K",  "Q6_K",  "Q8_K",
      "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
      "I8",      "I16",    "I32",     "I64",   "F64",    "IQ1_M", "BF16"};
  const auto i = static_cast<uint32_t>(t);
  return i < sizeof(others) / sizeof(others[0]) ? others[i] : "unknown";
}

int64_t ggml_block_size(GgmlType t) {
  switch (t) {
    case GgmlType::kF32:
    case GgmlType::kF16:
    case GgmlType::kBF16:
      return 1;
    case GgmlType::kQ8_0:
    case GgmlType::kQ4_0:
    case GgmlType::kQ4_1:
    case GgmlType::kQ5_0:
    case GgmlType::kQ5_1:
    case GgmlType::kIQ4_NL:
      return 32;
    case GgmlType::kQ4_K:
    case GgmlType::kQ5_K:
    case GgmlType::kQ6_K:
    case GgmlType::kQ2_K:
    case GgmlType::kQ3_K:
    case GgmlType::kIQ4_XS:
      return 256;
  }
  return 0;
}

uint64_t ggml_row_bytes(GgmlType t, int64_t n) {
  const auto blocks = static_cast<uint64_t>(n / ggml_block_size(t));
  switch (t) {
    case GgmlType::kF32:
      return blocks * 4;
    case GgmlType::kF16:
    case GgmlType::kBF16:
      return blocks * 2;
    case GgmlType::kQ8_0:
      return blocks * 34;
    case GgmlType::kQ4_K:
      return blocks * 144;
    case GgmlType::kQ5_K:
      return blocks * 176;
    case GgmlType::kQ6_K:
      return blocks * 210;
    case GgmlType::kQ4_0:
    case GgmlType::kIQ4_NL:
      return blocks * 18;
    case GgmlType::kQ4_1:
      return blocks * 20;
    case GgmlType::kQ5_0:
      return blocks * 22;
    case GgmlType::kQ5_1:
      return blocks * 24;
    case GgmlType::kQ2_K:
      return blocks * 84;
    case GgmlType::kQ3_K:
      return blocks * 110;
    case GgmlType::kIQ4_XS:
      return blocks * 136;
  }
  return 0;
}

namespace {

// The dequantizer of one block of a block type (null for F32, F16, BF16).
using BlockDequantizer = void (*)(const uint8_t*, float*);
BlockDequantizer block_dequantizer(GgmlType t) {
  switch (t) {
    case GgmlType::kF32:
    case GgmlType::kF16:
    case GgmlType::kBF16:
      return nullptr;
    case GgmlType::kQ8_0:
      return dequant_q8_0;
    case GgmlType::kQ4_K:
      return dequantize_q4_k_block;
    case GgmlType::kQ5_K:
      return dequantize_q5_k_block;
    case GgmlType::kQ6_K:
      return dequantize_q6_k_block;
    case GgmlType::kQ4_0:
      return dequantize_q4_0_block;
    case GgmlType::kQ4_1:
      return dequantize_q4_1_block;
    case GgmlType::kQ5_0:
      return dequantize_q5_0_block;
    case GgmlType::kQ5_1:
      return dequantize_q5_1_block;
    case GgmlType::kIQ4_NL:
      return dequantize_iq4_nl_block;
    case GgmlType::kQ2_K:
      return dequantize_q2_k_block;
    case GgmlType::kQ3_K:
      return dequantize_q3_k_block;
    case GgmlType::kIQ4_XS:
      return dequantize_iq4_xs_block;
  }
  return nullptr;
}

}  // namespace

void ggml_dequantize(GgmlType t, const uint8_t* src, float* dst, int64_t n) {
  if (t == GgmlType::kF32) {
    std::memcpy(dst, src, static_cast<size_t>(n) * 4);
  } else if (t == GgmlType::kF16) {
    for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(le16(src + 2 * i));
  } else if (t == GgmlType::kBF16) {
    for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(le16(src + 2 * i));
  } else if (const BlockDequantizer block = block_dequantizer(t)) {
    const int64_t values = ggml_block_size(t);
    const uint64_t bytes = ggml_row_bytes(t, values);
    for (int64_t i = 0; i < n / values; ++i) block(src + bytes * i, dst + values * i);
  }
}

void quantize_row_q8_0(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b, src += 32, dst += 34) {
    const uint16_t h = quantize_q8_0_block(src, 32, reinterpret_cast<int8_t*>(dst + 2));
    dst[0] = static_cast<uint8_t>(h & 0xFF);
    dst[1] = static_cast<uint8_t>(h >> 8);
  }
}

void quantize_row_q4_0(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b) quantize_q4_0_block(src + 32 * b, dst + 18 * b);
}

void quantize_row_q5_0(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b) quantize_q5_0_block(src + 32 * b, dst + 22 * b);
}

void quantize_row_q5_1(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b) quantize_q5_1_block(src + 32 * b, dst + 24 * b);
}

void quantize_row_q4_k(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t b = 0; b < n / kKQuantBlock; ++b)
    quantize_q4_k_block(src + kKQuantBlock * b, dst + kQ4KBlockBytes * b);
}

void quantize_row_q5_k(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t b = 0; b < n / kKQuantBlock; ++b)
    quantize_q5_k_block(src + kKQuantBlock * b, dst + kQ5KBlockBytes * b);
}

void quantize_row_q6_k(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t b = 0; b < n / kKQuantBlock; ++b)
    quantize_q6_k_block(src + kKQuantBlock * b, dst + kQ6KBlockBytes * b);
}

}  // namespace radial
