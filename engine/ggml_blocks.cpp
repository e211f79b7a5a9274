#include "engine/ggml_blocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/tensor.h"

namespace radial {

namespace {

uint32_t le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

void put_f16(uint8_t* p, float v) {
  const uint16_t h = f32_to_f16(v);
  p[0] = static_cast<uint8_t>(h & 0xFF);
  p[1] = static_cast<uint8_t>(h >> 8);
}

// The 32 values of the nibbles qs[16] (low nibbles first) plus `high` (bit j
// of it is value j's fifth bit; 0 for the 4-bit types), as d * (q - offset)
// + m.
void nibbles(const uint8_t* qs, uint32_t high, float d, int offset, float m, float* y) {
  for (int j = 0; j < 16; ++j) {
    const int q0 = (qs[j] & 0xF) | ((high >> j) & 1) << 4;
    const int q1 = (qs[j] >> 4) | ((high >> (j + 16)) & 1) << 4;
    y[j] = static_cast<float>(q0 - offset) * d + m;
    y[j + 16] = static_cast<float>(q1 - offset) * d + m;
  }
}

// The value of largest magnitude (the first such), as llama.cpp picks it.
float signed_absmax(const float* x) {
  float amax = 0, max = 0;
  for (int j = 0; j < 32; ++j)
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  return max;
}

}  // namespace

void dequantize_q4_0_block(const uint8_t* b, float* y) {
  nibbles(b + 2, 0, f16_bytes_to_f32(b), 8, 0.f, y);
}

void dequantize_q4_1_block(const uint8_t* b, float* y) {
  nibbles(b + 4, 0, f16_bytes_to_f32(b), 0, f16_bytes_to_f32(b + 2), y);
}

void dequantize_q5_0_block(const uint8_t* b, float* y) {
  nibbles(b + 6, le32(b + 2), f16_bytes_to_f32(b), 16, 0.f, y);
}

void dequantize_q5_1_block(const uint8_t* b, float* y) {
  nibbles(b + 8, le32(b + 4), f16_bytes_to_f32(b), 0, f16_bytes_to_f32(b + 2), y);
}

void dequantize_iq4_nl_block(const uint8_t* b, float* y) {
  const float d = f16_bytes_to_f32(b);
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>(kIq4nlValues[b[2 + j] & 0xF]);
    y[j + 16] = d * static_cast<float>(kIq4nlValues[b[2 + j] >> 4]);
  }
}

void dequantize_q2_k_block(const uint8_t* b, float* y) {
  const uint8_t* scales = b;
  const uint8_t* qs = b + 16;
  const float d = f16_bytes_to_f32(b + 80), dmin = f16_bytes_to_f32(b + 82);
  int s = 0;
  for (int h = 0; h < 2; ++h, qs += 32)
    for (int shift = 0; shift < 8; shift += 2)
      for (int part = 0; part < 2; ++part, ++s) {
        const float dl = d * static_cast<float>(scales[s] & 0xF);
        const float ml = dmin * static_cast<float>(scales[s] >> 4);
        for (int l = 0; l < 16; ++l)
          *y++ = dl * static_cast<float>((qs[16 * part + l] >> shift) & 3) - ml;
      }
}

void dequantize_q3_k_block(const uint8_t* b, float* y) {
  const uint8_t* hmask = b;
  const uint8_t* qs = b + 32;
  const uint8_t* packed = b + 96;
  const float d = f16_bytes_to_f32(b + 108);
  int scale[16];
  for (int s = 0; s < 16; ++s) {
    const int low = (packed[s % 8] >> (4 * (s / 8))) & 0xF;
    const int high = (packed[8 + s % 4] >> (2 * (s / 4))) & 3;
    scale[s] = (low | high << 4) - 32;
  }
  int s = 0, bit = 0;
  for (int h = 0; h < 2; ++h, qs += 32)
    for (int shift = 0; shift < 8; shift += 2, ++bit)
      for (int part = 0; part < 2; ++part, ++s) {
        const float dl = d * static_cast<float>(scale[s]);
        for (int l = 0; l < 16; ++l) {
          const int q = (qs[16 * part + l] >> shift) & 3;
          const bool hi = (hmask[16 * part + l] >> bit) & 1;
          *y++ = dl * static_cast<float>(q - (hi ? 0 : 4));
        }
      }
}

void dequantize_iq4_xs_block(const uint8_t* b, float* y) {
  const float d = f16_bytes_to_f32(b);
  const unsigned scales_h = b[2] | b[3] << 8;
  const uint8_t* scales_l = b + 4;
  const uint8_t* qs = b + 8;
  for (int ib = 0; ib < 8; ++ib, y += 32, qs += 16) {
    const int ls = ((scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | ((scales_h >> (2 * ib)) & 3) << 4;
    const float dl = d * static_cast<float>(ls - 32);
    for (int j = 0; j < 16; ++j) {
      y[j] = dl * static_cast<float>(kIq4nlValues[qs[j] & 0xF]);
      y[j + 16] = dl * static_cast<float>(kIq4nlValues[qs[j] >> 4]);
    }
  }
}

void quantize_q4_0_block(const float* x, uint8_t* b) {
  const float d = signed_absmax(x) / -8, id = d != 0 ? 1.f / d : 0.f;
  put_f16(b, d);
  for (int j = 0; j < 16; ++j) {
    const int q0 = std::min(15, static_cast<int>(static_cast<int8_t>(x[j] * id + 8.5f)));
    const int q1 = std::min(15, static_cast<int>(static_cast<int8_t>(x[j + 16] * id + 8.5f)));
    b[2 + j] = static_cast<uint8_t>(q0 | q1 << 4);
  }
}

void quantize_q5_0_block(const float* x, uint8_t* b) {
  const float d = signed_absmax(x) / -16, id = d != 0 ? 1.f / d : 0.f;
  put_f16(b, d);
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    const int q0 = std::min(31, static_cast<int>(static_cast<int8_t>(x[j] * id + 16.5f)));
    const int q1 = std::min(31, static_cast<int>(static_cast<int8_t>(x[j + 16] * id + 16.5f)));
    b[6 + j] = static_cast<uint8_t>((q0 & 0xF) | (q1 & 0xF) << 4);
    qh |= static_cast<uint32_t>((q0 >> 4) & 1) << j | static_cast<uint32_t>((q1 >> 4) & 1)
                                                          << (j + 16);
  }
  for (int i = 0; i < 4; ++i) b[2 + i] = static_cast<uint8_t>(qh >> (8 * i));
}

void quantize_q5_1_block(const float* x, uint8_t* b) {
  float min = x[0], max = x[0];
  for (int j = 1; j < 32; ++j) {
    min = std::min(min, x[j]);
    max = std::max(max, x[j]);
  }
  const float d = (max - min) / 31, id = d != 0 ? 1.f / d : 0.f;
  put_f16(b, d);
  put_f16(b + 2, min);
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    const int q0 = static_cast<uint8_t>((x[j] - min) * id + 0.5f);
    const int q1 = static_cast<uint8_t>((x[j + 16] - min) * id + 0.5f);
    b[8 + j] = static_cast<uint8_t>((q0 & 0xF) | (q1 & 0xF) << 4);
    qh |= static_cast<uint32_t>((q0 >> 4) & 1) << j | static_cast<uint32_t>((q1 >> 4) & 1)
                                                          << (j + 16);
  }
  for (int i = 0; i < 4; ++i) b[4 + i] = static_cast<uint8_t>(qh >> (8 * i));
}

}  // namespace radial
