// Dequantization of ggml blocks (Q8_0, Q4_K, Q6_K), each block built here
// from chosen logical values (quants, scales, mins) by packing them per the
// ggml block layout; the expected values come from the format's definition
// (x = d * scale * q - dmin * min, ...), not from the dequantizer.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <vector>

#include "engine/gguf.h"

using namespace radial;

namespace {

void put_half(std::vector<uint8_t>& b, size_t at, float v) {
  const uint16_t h = f32_to_f16(v);
  b[at] = static_cast<uint8_t>(h & 0xFF);
  b[at + 1] = static_cast<uint8_t>(h >> 8);
}

std::vector<float> dequant(GgmlType t, const std::vector<uint8_t>& block, int n) {
  std::vector<float> out(n);
  ggml_dequantize(t, block.data(), out.data(), n);
  return out;
}

}  // namespace

TEST_CASE("Q8_0: x = d * q", "[gguf][quant]") {
  // Two blocks: d = 0.5 with q = i - 16, d = -2 with q = 127, -128, 3, 0...
  std::vector<uint8_t> b(68, 0);
  put_half(b, 0, 0.5f);
  for (int i = 0; i < 32; ++i) b[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(i - 16));
  put_half(b, 34, -2.f);
  b[36] = 127;
  b[37] = 0x80;  // -128
  b[38] = 3;
  const auto x = dequant(GgmlType::kQ8_0, b, 64);
  for (int i = 0; i < 32; ++i) CHECK(x[i] == 0.5f * (i - 16));
  CHECK(x[32] == -254.f);
  CHECK(x[33] == 256.f);
  CHECK(x[34] == -6.f);
  for (int i = 35; i < 64; ++i) CHECK(x[i] == 0.f);
}

TEST_CASE("Q4_K: x = d * sc[j] * q - dmin * m[j] over 8 sub-blocks of 32", "[gguf][quant]") {
  // Layout: d (fp16), dmin (fp16), 12 bytes of 6-bit scales and mins, 128
  // bytes of 4-bit quants. Sub-block j < 4: scale = bytes[j] & 63, min =
  // bytes[j+4] & 63; j >= 4: scale = (bytes[j+4] & 15) | (bytes[j-4] >> 6) << 4,
  // min = (bytes[j+4] >> 4) | (bytes[j] >> 6) << 4. Value i is in sub-block
  // j = i / 32, its quant the low nibble of qs[32 * (j / 2) + i % 32] for even
  // j, the high nibble for odd j.
  const int sc[8] = {1, 63, 17, 40, 5, 33, 62, 48};
  const int mn[8] = {0, 2, 63, 31, 16, 47, 1, 60};
  std::vector<uint8_t> b(144, 0);
  const float d = 0.25f, dmin = 0.125f;
  put_half(b, 0, d);
  put_half(b, 2, dmin);
  uint8_t* s = &b[4];
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<uint8_t>(sc[j] & 63);
    s[j + 4] = static_cast<uint8_t>(mn[j] & 63);
  }
  for (int j = 4; j < 8; ++j) {
    s[j + 4] = static_cast<uint8_t>((sc[j] & 15) | ((mn[j] & 15) << 4));
    s[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
    s[j] |= static_cast<uint8_t>((mn[j] >> 4) << 6);
  }
  int q[256];
  for (int i = 0; i < 256; ++i) q[i] = (i * 7 + i / 32) % 16;
  for (int i = 0; i < 256; ++i) {
    const int j = i / 32;
    uint8_t& byte = b[16 + 32 * (j / 2) + i % 32];
    byte |= static_cast<uint8_t>(j % 2 == 0 ? q[i] : q[i] << 4);
  }
  const auto x = dequant(GgmlType::kQ4_K, b, 256);
  int wrong = 0;
  for (int i = 0; i < 256; ++i) {
    const int j = i / 32;
    const float want = d * sc[j] * q[i] - dmin * mn[j];
    if (x[i] != want) {
      ++wrong;
      UNSCOPED_INFO("i " << i << ": " << x[i] << " != " << want);
    }
  }
  CHECK(wrong == 0);
  // Spot values by hand: i = 0 (j 0: sc 1, m 0, q 0) -> 0; i = 33 (j 1: sc
  // 63, m 2, q = (231 + 1) % 16 = 8) -> 0.25*63*8 - 0.125*2 = 125.75; i = 255
  // (j 7: sc 48, m 60, q = 1792 % 16 = 0) -> -0.125*60.
  CHECK(x[0] == 0.f);
  CHECK(x[33] == 125.75f);
  CHECK(x[255] == -7.5f);
}

TEST_CASE("Q6_K: x = d * scales[i / 16] * (q - 32)", "[gguf][quant]") {
  // Layout: ql[128], qh[64], int8 scales[16], d (fp16). Each half n of 128
  // values uses ql[64n .. 64n+63] and qh[32n .. 32n+31]: value r = 32g + l of
  // the half (g 0..3, l 0..31) has its low 4 bits in ql[64n + 32(g % 2) + l]
  // (low nibble for g < 2, high for g >= 2) and its high 2 bits in bits
  // 2g, 2g+1 of qh[32n + l].
  std::vector<uint8_t> b(210, 0);
  int q[256];
  for (int i = 0; i < 256; ++i) q[i] = (i * 13 + 5) % 64;
  for (int i = 0; i < 256; ++i) {
    const int n = i / 128, g = (i % 128) / 32, l = i % 32;
    uint8_t& lo = b[64 * n + 32 * (g % 2) + l];
    lo |= static_cast<uint8_t>(g < 2 ? (q[i] & 15) : (q[i] & 15) << 4);
    b[128 + 32 * n + l] |= static_cast<uint8_t>((q[i] >> 4) << (2 * g));
  }
  const int8_t scales[16] = {1, -1, 127, -128, 2, 3, -7, 9, 0, 5, -3, 64, 11, -20, 33, 1};
  std::memcpy(&b[192], scales, 16);
  put_half(b, 208, 0.5f);
  const auto x = dequant(GgmlType::kQ6_K, b, 256);
  int wrong = 0;
  for (int i = 0; i < 256; ++i) {
    const float want = 0.5f * scales[i / 16] * (q[i] - 32);
    if (x[i] != want) {
      ++wrong;
      UNSCOPED_INFO("i " << i << ": " << x[i] << " != " << want);
    }
  }
  CHECK(wrong == 0);
  // By hand: i = 0: q 5, scale 1 -> 0.5 * (5 - 32); i = 255: q = (255*13+5) % 64
  // = 3320 % 64 = 56, scale 1 -> 0.5 * 24.
  CHECK(x[0] == -13.5f);
  CHECK(x[255] == 12.f);
}

TEST_CASE("F16 and BF16 tensors widen exactly", "[gguf][quant]") {
  const std::vector<uint8_t> h = {0x00, 0x3C, 0x00, 0xC0};  // fp16 1.0, -2.0
  CHECK(dequant(GgmlType::kF16, h, 2) == std::vector<float>{1.f, -2.f});
  const std::vector<uint8_t> bf = {0x80, 0x3F, 0x40, 0xC0};  // bf16 1.0, -3.0
  CHECK(dequant(GgmlType::kBF16, bf, 2) == std::vector<float>{1.f, -3.f});
  CHECK(ggml_row_bytes(GgmlType::kQ8_0, 64) == 68);
  CHECK(ggml_row_bytes(GgmlType::kQ4_K, 512) == 288);
  CHECK(ggml_row_bytes(GgmlType::kQ6_K, 256) == 210);
}

TEST_CASE("Q8_0 quantization: llama.cpp's quantize_row_q8_0_ref", "[gguf][quant]") {
  // Block 0: amax 63.5 -> d = 0.5, q = round(x / 0.5) with halves away from
  // zero; block 1: all zero -> d = 0, q = 0; block 2: amax 1 -> d = 1/127.
  std::vector<float> x(96, 0.f);
  for (int i = 0; i < 32; ++i) x[i] = 0.25f * static_cast<float>(i - 16);  // .25 -> .5 steps
  x[31] = 63.5f;
  for (int i = 0; i < 32; ++i) x[64 + i] = std::sin(static_cast<float>(i));
  x[64 + 5] = -1.f;
  std::vector<uint8_t> b(3 * 34);
  quantize_row_q8_0(x.data(), b.data(), 96);
  auto half_at = [&](size_t at) {
    return f16_to_f32(static_cast<uint16_t>(b[at] | b[at + 1] << 8));
  };
  auto q = [&](int block, int i) { return static_cast<int8_t>(b[34 * block + 2 + i]); };
  CHECK(half_at(0) == 0.5f);
  for (int i = 0; i < 31; ++i) CHECK(q(0, i) == static_cast<int>(std::round(0.5 * (i - 16))));
  CHECK(q(0, 1) == -8);  // -7.5 rounds away from zero
  CHECK(q(0, 31) == 127);
  CHECK(half_at(34) == 0.f);
  for (int i = 0; i < 32; ++i) CHECK(q(1, i) == 0);
  const float d = 1.f / 127.f;
  CHECK(half_at(68) == f16_to_f32(f32_to_f16(d)));
  CHECK(q(2, 5) == -127);
  for (int i = 0; i < 32; ++i)
    CHECK(q(2, i) == static_cast<int>(std::roundf(x[64 + i] * (1.f / d))));
  // Dequantized, every value is within half a step of the original (plus the
  // fp16 rounding of d, 127 * 2^-11 * d at most).
  std::vector<float> y(96);
  ggml_dequantize(GgmlType::kQ8_0, b.data(), y.data(), 96);
  for (int i = 0; i < 96; ++i) CHECK(std::abs(y[i] - x[i]) <= (i < 32 ? 0.25f : 0.6f * d));
}
