// K-quant blocks (kquant.h): the scale unpacking and dequantization shared by
// the GGUF reader, Tensor::rows_f32 and the K-quant GEMM's tests.
#include "engine/kquant.h"

#include <cstring>

#include "engine/tensor.h"

namespace radial {

void kquant_q4k_scales(const uint8_t* q, uint8_t sc[8], uint8_t m[8]) {
  for (int t = 0; t < 4; ++t) {
    sc[t] = q[t] & 63;
    m[t] = q[t + 4] & 63;
    sc[t + 4] = static_cast<uint8_t>((q[t + 8] & 15) | ((q[t] >> 6) << 4));
    m[t + 4] = static_cast<uint8_t>((q[t + 8] >> 4) | ((q[t + 4] >> 6) << 4));
  }
}

void dequantize_q4_k_block(const uint8_t* b, float* y) {
  const float d = f16_bytes_to_f32(b), dmin = f16_bytes_to_f32(b + 2);
  uint8_t sc[8], m[8];
  kquant_q4k_scales(b + 4, sc, m);
  const uint8_t* qs = b + 16;
  for (int p = 0; p < 4; ++p) {
    const float d0 = d * sc[2 * p], d1 = d * sc[2 * p + 1];
    const float o0 = dmin * m[2 * p], o1 = dmin * m[2 * p + 1];
    for (int l = 0; l < 32; ++l) {
      y[64 * p + l] = d0 * static_cast<float>(qs[32 * p + l] & 0xF) - o0;
      y[64 * p + 32 + l] = d1 * static_cast<float>(qs[32 * p + l] >> 4) - o1;
    }
  }
}

void dequantize_q5_k_block(const uint8_t* b, float* y) {
  const float d = f16_bytes_to_f32(b), dmin = f16_bytes_to_f32(b + 2);
  uint8_t sc[8], m[8];
  kquant_q4k_scales(b + 4, sc, m);
  const uint8_t* qh = b + 16;
  const uint8_t* qs = b + 48;
  for (int p = 0; p < 4; ++p) {
    const int t0 = 2 * p, t1 = 2 * p + 1;
    const float d0 = d * sc[t0], d1 = d * sc[t1];
    const float o0 = dmin * m[t0], o1 = dmin * m[t1];
    for (int l = 0; l < 32; ++l) {
      const int q0 = (qs[32 * p + l] & 0xF) | ((qh[l] >> t0) & 1) << 4;
      const int q1 = (qs[32 * p + l] >> 4) | ((qh[l] >> t1) & 1) << 4;
      y[64 * p + l] = d0 * static_cast<float>(q0) - o0;
      y[64 * p + 32 + l] = d1 * static_cast<float>(q1) - o1;
    }
  }
}

void dequantize_q6_k_block(const uint8_t* b, float* y) {
  const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = f16_bytes_to_f32(b + 208);
  for (int h = 0; h < 2; ++h) {
    const uint8_t* ql = b + 64 * h;
    const uint8_t* qh = b + 128 + 32 * h;
    float* out = y + 128 * h;
    const int8_t* s = sc + 8 * h;
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      out[l] = d * s[is] * q1;
      out[l + 32] = d * s[is + 2] * q2;
      out[l + 64] = d * s[is + 4] * q3;
      out[l + 96] = d * s[is + 6] * q4;
    }
  }
}

}  // namespace radial
