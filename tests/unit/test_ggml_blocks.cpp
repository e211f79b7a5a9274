// ggml's legacy and other block types (engine/ggml_blocks.h): each block is
// packed here from chosen logical values (quants, scales, mins) per the ggml
// layout, and the expected values come from the format's definition, not
// from the dequantizer; then llama.cpp's reference quantizers for Q4_0,
// Q5_0 and Q5_1, by hand-checked values and their round trip.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "engine/ggml_blocks.h"
#include "engine/gguf.h"
#include "kquant_test_util.h"

using namespace radial;
using namespace radial::test;

namespace {

std::vector<float> dequant(GgmlType t, const std::vector<uint8_t>& block, int n) {
  REQUIRE(block.size() == ggml_row_bytes(t, n));
  std::vector<float> out(n);
  ggml_dequantize(t, block.data(), out.data(), n);
  return out;
}

// Packs 32 quants q[i] (< 16) as ggml's nibbles: value j < 16 in the low
// nibble of byte j, value j + 16 in its high nibble.
void pack_nibbles(const int* q, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>((q[j] & 15) | (q[j + 16] & 15) << 4);
}

// The fifth bits of 32 quants as the little-endian u32 qh (bit i = value i).
void pack_high_bits(const int* q, uint8_t* qh) {
  uint32_t h = 0;
  for (int i = 0; i < 32; ++i) h |= static_cast<uint32_t>((q[i] >> 4) & 1) << i;
  for (int k = 0; k < 4; ++k) qh[k] = static_cast<uint8_t>(h >> (8 * k));
}

int mismatches(const std::vector<float>& got, const std::vector<float>& want) {
  int wrong = 0;
  for (size_t i = 0; i < want.size(); ++i)
    if (got[i] != want[i]) {
      ++wrong;
      UNSCOPED_INFO("i " << i << ": " << got[i] << " != " << want[i]);
    }
  return wrong;
}

}  // namespace

TEST_CASE("Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL: 32-value blocks per their definitions",
          "[gguf][quant]") {
  int q4[32], q5[32];
  for (int i = 0; i < 32; ++i) q4[i] = (i * 5 + 3) % 16, q5[i] = (i * 11 + 7) % 32;
  const float d = 0.375f, m = -1.25f;  // exact in fp16

  std::vector<uint8_t> b(18, 0);
  put_f16(&b[0], d);
  pack_nibbles(q4, &b[2]);
  std::vector<float> want(32);
  for (int i = 0; i < 32; ++i) want[i] = d * static_cast<float>(q4[i] - 8);
  CHECK(mismatches(dequant(GgmlType::kQ4_0, b, 32), want) == 0);
  for (int i = 0; i < 32; ++i) want[i] = d * kIq4nlValues[q4[i]];
  CHECK(mismatches(dequant(GgmlType::kIQ4_NL, b, 32), want) == 0);
  // By hand: value 0 has q 3 -> Q4_0 0.375 * -5, IQ4_NL 0.375 * -65;
  // value 16 has q 83 % 16 = 3 too.
  CHECK(dequant(GgmlType::kQ4_0, b, 32)[16] == -1.875f);
  CHECK(dequant(GgmlType::kIQ4_NL, b, 32)[0] == -24.375f);

  b.assign(20, 0);
  put_f16(&b[0], d);
  put_f16(&b[2], m);
  pack_nibbles(q4, &b[4]);
  for (int i = 0; i < 32; ++i) want[i] = d * static_cast<float>(q4[i]) + m;
  CHECK(mismatches(dequant(GgmlType::kQ4_1, b, 32), want) == 0);

  b.assign(22, 0);
  put_f16(&b[0], d);
  pack_high_bits(q5, &b[2]);
  pack_nibbles(q5, &b[6]);
  for (int i = 0; i < 32; ++i) want[i] = d * static_cast<float>(q5[i] - 16);
  CHECK(mismatches(dequant(GgmlType::kQ5_0, b, 32), want) == 0);
  // By hand: value 1 has q 18 (fifth bit set) -> 0.375 * 2; value 17 has
  // q 194 % 32 = 2 -> 0.375 * -14.
  CHECK(dequant(GgmlType::kQ5_0, b, 32)[1] == 0.75f);
  CHECK(dequant(GgmlType::kQ5_0, b, 32)[17] == -5.25f);

  b.assign(24, 0);
  put_f16(&b[0], d);
  put_f16(&b[2], m);
  pack_high_bits(q5, &b[4]);
  pack_nibbles(q5, &b[8]);
  for (int i = 0; i < 32; ++i) want[i] = d * static_cast<float>(q5[i]) + m;
  CHECK(mismatches(dequant(GgmlType::kQ5_1, b, 32), want) == 0);
  CHECK(ggml_row_bytes(GgmlType::kQ5_1, 64) == 48);
}

TEST_CASE("Q2_K: x = d * (sc & 15) * q - dmin * (sc >> 4) over 16 sub-blocks of 16",
          "[gguf][quant]") {
  // Layout: scales[16], qs[64], d, dmin. Value i = 128h + 32j + 16p + l
  // (half h, shift j, part p, l < 16) is in sub-block s = 8h + 2j + p; its
  // 2-bit quant is bits 2j..2j+1 of qs[32h + 16p + l].
  std::vector<uint8_t> b(84, 0);
  int sc[16], mn[16], q[256];
  for (int s = 0; s < 16; ++s) sc[s] = (s * 7 + 1) % 16, mn[s] = (s * 3 + 2) % 16;
  for (int s = 0; s < 16; ++s) b[s] = static_cast<uint8_t>(sc[s] | mn[s] << 4);
  for (int i = 0; i < 256; ++i) {
    q[i] = (i * 3 + i / 16) % 4;
    const int h = i / 128, j = (i % 128) / 32, p = (i % 32) / 16, l = i % 16;
    b[16 + 32 * h + 16 * p + l] |= static_cast<uint8_t>(q[i] << (2 * j));
  }
  const float d = 0.5f, dmin = 0.25f;
  put_f16(&b[80], d);
  put_f16(&b[82], dmin);
  std::vector<float> want(256);
  for (int i = 0; i < 256; ++i) want[i] = d * sc[i / 16] * q[i] - dmin * mn[i / 16];
  CHECK(mismatches(dequant(GgmlType::kQ2_K, b, 256), want) == 0);
  // By hand: value 255 (s 15: sc 106 % 16 = 10, m 47 % 16 = 15; q =
  // (765 + 15) % 4 = 0) -> -0.25 * 15.
  CHECK(dequant(GgmlType::kQ2_K, b, 256)[255] == -3.75f);
}

TEST_CASE("Q3_K: x = d * (scale - 32) * (q - 4 * !high) with 6-bit packed scales",
          "[gguf][quant]") {
  // Layout: hmask[32], qs[64] (Q2_K's 2-bit quants), scales[12], d. Scale s
  // (6 bits): low 4 bits in byte s % 8 (nibble s / 8), high 2 bits in byte
  // 8 + s % 4 at bits 2(s / 4). Value i = 128h + 32j + 16p + l: its high bit
  // is bit 4h + j of hmask[16p + l].
  std::vector<uint8_t> b(110, 0);
  int scale[16], q[256], hi[256];
  for (int s = 0; s < 16; ++s) scale[s] = (s * 23 + 5) % 64;
  for (int s = 0; s < 16; ++s) {
    b[96 + s % 8] |= static_cast<uint8_t>((scale[s] & 15) << (4 * (s / 8)));
    b[96 + 8 + s % 4] |= static_cast<uint8_t>((scale[s] >> 4) << (2 * (s / 4)));
  }
  for (int i = 0; i < 256; ++i) {
    q[i] = (i * 5 + 1) % 4;
    hi[i] = (i / 3) % 2;
    const int h = i / 128, j = (i % 128) / 32, p = (i % 32) / 16, l = i % 16;
    b[32 + 32 * h + 16 * p + l] |= static_cast<uint8_t>(q[i] << (2 * j));
    b[16 * p + l] |= static_cast<uint8_t>(hi[i] << (4 * h + j));
  }
  put_f16(&b[108], 0.125f);
  std::vector<float> want(256);
  for (int i = 0; i < 256; ++i)
    want[i] = 0.125f * static_cast<float>(scale[i / 16] - 32) *
              static_cast<float>(q[i] - (hi[i] ? 0 : 4));
  CHECK(mismatches(dequant(GgmlType::kQ3_K, b, 256), want) == 0);
  // By hand: value 0: scale 5 -> -27, q 1, high 0 -> 0.125 * -27 * -3.
  CHECK(dequant(GgmlType::kQ3_K, b, 256)[0] == 10.125f);
}

TEST_CASE("IQ4_XS: IQ4_NL sub-blocks of 32 with 6-bit scales", "[gguf][quant]") {
  // Layout: d, u16 scales_h, scales_l[4], qs[128]. Sub-block ib: ls = nibble
  // ib % 2 of scales_l[ib / 2] | bits 2ib..2ib+1 of scales_h << 4, scale
  // d * (ls - 32); its 32 values IQ4_NL's nibbles in qs[16ib ..].
  std::vector<uint8_t> b(136, 0);
  int ls[8], q[256];
  for (int ib = 0; ib < 8; ++ib) ls[ib] = (ib * 19 + 3) % 64;
  unsigned scales_h = 0;
  for (int ib = 0; ib < 8; ++ib) {
    b[4 + ib / 2] |= static_cast<uint8_t>((ls[ib] & 15) << (4 * (ib % 2)));
    scales_h |= static_cast<unsigned>(ls[ib] >> 4) << (2 * ib);
  }
  b[2] = static_cast<uint8_t>(scales_h & 0xFF);
  b[3] = static_cast<uint8_t>(scales_h >> 8);
  for (int i = 0; i < 256; ++i) q[i] = (i * 7 + 2) % 16;
  for (int ib = 0; ib < 8; ++ib) pack_nibbles(q + 32 * ib, &b[8 + 16 * ib]);
  put_f16(&b[0], 0.5f);
  std::vector<float> want(256);
  for (int i = 0; i < 256; ++i)
    want[i] = 0.5f * static_cast<float>(ls[i / 32] - 32) * kIq4nlValues[q[i]];
  CHECK(mismatches(dequant(GgmlType::kIQ4_XS, b, 256), want) == 0);
  // By hand: value 0: ls 3 -> -29, q 2 -> -83: 0.5 * -29 * -83.
  CHECK(dequant(GgmlType::kIQ4_XS, b, 256)[0] == 1203.5f);
}

TEST_CASE("Q4_0, Q5_0, Q5_1 quantization: llama.cpp's reference quantizers", "[gguf][quant]") {
  // x = (i - 16) / 2: the value of largest magnitude is -8 (i = 0), so Q4_0's
  // d = -8 / -8 = 1 and q = trunc(x / 1 + 8.5), clamped to 15: x + 8 rounded
  // half up; Q5_0's d = -8 / -16 = 0.5 and q = trunc(2x + 16.5) (31 at most).
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i) x[i] = 0.5f * static_cast<float>(i - 16);
  std::vector<uint8_t> b(18);
  quantize_row_q4_0(x.data(), b.data(), 32);
  CHECK(f16_to_f32(static_cast<uint16_t>(b[0] | b[1] << 8)) == 1.f);
  const std::vector<float> y4 = dequant(GgmlType::kQ4_0, b, 32);
  for (int i = 0; i < 32; ++i) {
    INFO("i " << i);
    const int q = std::min(15, static_cast<int>(x[i] + 8.5f));
    CHECK(y4[i] == static_cast<float>(q - 8));
  }
  CHECK(y4[31] == 7.f);  // 7.5 -> q 16 -> clamped to 15

  b.assign(22, 0);
  quantize_row_q5_0(x.data(), b.data(), 32);
  CHECK(f16_to_f32(static_cast<uint16_t>(b[0] | b[1] << 8)) == 0.5f);
  const std::vector<float> y5 = dequant(GgmlType::kQ5_0, b, 32);
  for (int i = 0; i < 32; ++i) CHECK(y5[i] == x[i]);  // every x is a multiple of d

  b.assign(24, 0);
  quantize_row_q5_1(x.data(), b.data(), 32);  // d = 15.5 / 31 = 0.5, m = -8
  const std::vector<float> y51 = dequant(GgmlType::kQ5_1, b, 32);
  for (int i = 0; i < 32; ++i) CHECK(y51[i] == x[i]);

  // Sine blocks: every value within half a step of its source (plus d's
  // fp16 rounding), but for Q4_0 / Q5_0 a value opposite in sign to the
  // largest and near it in size, which the clamp to 15 / 31 puts a whole step
  // off; a zero block stays zero.
  std::vector<float> g(64, 0.f);
  for (int i = 0; i < 32; ++i) g[i] = std::sin(1.7f * static_cast<float>(i)) * 3.f;
  for (const GgmlType t : {GgmlType::kQ4_0, GgmlType::kQ5_0, GgmlType::kQ5_1}) {
    INFO(ggml_type_name(t));
    std::vector<uint8_t> q(ggml_row_bytes(t, 64));
    if (t == GgmlType::kQ4_0) quantize_row_q4_0(g.data(), q.data(), 64);
    if (t == GgmlType::kQ5_0) quantize_row_q5_0(g.data(), q.data(), 64);
    if (t == GgmlType::kQ5_1) quantize_row_q5_1(g.data(), q.data(), 64);
    const std::vector<float> y = dequant(t, q, 64);
    const float step = t == GgmlType::kQ4_0 ? 3.f / 8 : t == GgmlType::kQ5_0 ? 3.f / 16 : 6.f / 31;
    const float bound = (t == GgmlType::kQ5_1 ? 0.51f : 1.01f) * step + 1e-2f;
    for (int i = 0; i < 32; ++i) CHECK(std::abs(y[i] - g[i]) <= bound);
    for (int i = 32; i < 64; ++i) CHECK(y[i] == 0.f);
  }
}
