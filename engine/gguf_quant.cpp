// Dequantization of the ggml tensor types a GGUF file may hold, per the ggml
// block layouts, and Q8_0 quantization (the GGUF writer's --out-type q8_0) (all little-endian, fp16
// = IEEE half):
//   Q8_0  32 values:  fp16 d, int8 q[32];                    x = d * q
//   Q4_K 256 values:  fp16 d, fp16 dmin, u8 scales[12], u8 qs[128]. Eight
//         sub-blocks of 32 with 6-bit scale sc_j and min m_j packed in scales;
//         x = d * sc_j * q - dmin * m_j, q the 4-bit quant: sub-blocks 2k and
//         2k+1 take the low and high nibbles of qs[32k .. 32k+31].
//   Q6_K 256 values:  u8 ql[128], u8 qh[64], int8 scales[16], fp16 d. Each
//         quant is 4 low bits from ql and 2 high bits from qh, minus 32;
//         x = d * scales[i / 16] * q.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/gguf.h"

namespace radial {

namespace {

uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
float half(const uint8_t* p) { return f16_to_f32(le16(p)); }

void dequant_q8_0(const uint8_t* b, float* y) {
  const float d = half(b);
  for (int i = 0; i < 32; ++i) y[i] = d * static_cast<float>(static_cast<int8_t>(b[2 + i]));
}

// Scale and min of Q4_K sub-block j (0..7) from the 12 packed bytes.
void q4k_scale_min(int j, const uint8_t* q, int& sc, int& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

void dequant_q4_k(const uint8_t* b, float* y) {
  const float d = half(b), dmin = half(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qs = b + 16;
  for (int k = 0; k < 4; ++k) {
    int sc0, m0, sc1, m1;
    q4k_scale_min(2 * k, scales, sc0, m0);
    q4k_scale_min(2 * k + 1, scales, sc1, m1);
    const float d0 = d * sc0, d1 = d * sc1, o0 = dmin * m0, o1 = dmin * m1;
    for (int l = 0; l < 32; ++l) {
      y[64 * k + l] = d0 * static_cast<float>(qs[32 * k + l] & 0xF) - o0;
      y[64 * k + 32 + l] = d1 * static_cast<float>(qs[32 * k + l] >> 4) - o1;
    }
  }
}

void dequant_q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = half(b + 208);
  for (int n = 0; n < 2; ++n, ql += 64, qh += 32, sc += 8, y += 128) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * sc[is] * q1;
      y[l + 32] = d * sc[is + 2] * q2;
      y[l + 64] = d * sc[is + 4] * q3;
      y[l + 96] = d * sc[is + 6] * q4;
    }
  }
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
    case GgmlType::kQ6_K:
      return "Q6_K";
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
      return 32;
    case GgmlType::kQ4_K:
    case GgmlType::kQ6_K:
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
    case GgmlType::kQ6_K:
      return blocks * 210;
  }
  return 0;
}

void ggml_dequantize(GgmlType t, const uint8_t* src, float* dst, int64_t n) {
  switch (t) {
    case GgmlType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return;
    case GgmlType::kF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(le16(src + 2 * i));
      return;
    case GgmlType::kBF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(le16(src + 2 * i));
      return;
    case GgmlType::kQ8_0:
      for (int64_t i = 0; i < n / 32; ++i) dequant_q8_0(src + 34 * i, dst + 32 * i);
      return;
    case GgmlType::kQ4_K:
      for (int64_t i = 0; i < n / 256; ++i) dequant_q4_k(src + 144 * i, dst + 256 * i);
      return;
    case GgmlType::kQ6_K:
      for (int64_t i = 0; i < n / 256; ++i) dequant_q6_k(src + 210 * i, dst + 256 * i);
      return;
  }
}

void quantize_row_q8_0(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b, src += 32, dst += 34) {
    const uint16_t h = quantize_q8_0_block(src, 32, reinterpret_cast<int8_t*>(dst + 2));
    dst[0] = static_cast<uint8_t>(h & 0xFF);
    dst[1] = static_cast<uint8_t>(h >> 8);
  }
}

}  // namespace radial
