// K-quant quantization (engine/kquant.h: quantize_q4_k_block,
// quantize_q5_k_block, quantize_q6_k_block) against the block formats' own
// error bounds. The GGUF writer's q4_k_m and q5_k_m out types:
// test_gguf_writer_kquant.cpp.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "engine/gguf.h"
#include "engine/kquant.h"
#include "engine/random.h"
#include "kquant_test_util.h"
#include "test_util.h"

using namespace radial;
using namespace radial::test;

namespace {

Block gaussian(Rng& rng, float sigma = 1.f) {
  Block x(kKQuantBlock);
  for (float& v : x) v = sigma * rng.normal();
  return x;
}

constexpr GgmlType kQ4 = GgmlType::kQ4_K, kQ5 = GgmlType::kQ5_K, kQ6 = GgmlType::kQ6_K;
constexpr GgmlType kTypes[] = {kQ4, kQ5, kQ6};

// A block quantized as `type`, dequantized, and per value the step d * scale
// and the offset dmin * m (Q4_K, Q5_K) of its sub-block.
struct Decoded {
  GgmlType type;
  bool with_min;  // Q4_K, Q5_K: 6-bit scales and mins
  std::vector<uint8_t> bytes;
  Block y = Block(256), step = Block(256), offset = Block(256, 0.f);
  Decoded(const Block& x, GgmlType t)
      : type(t), with_min(t != kQ6), bytes(ggml_row_bytes(t, kKQuantBlock)) {
    uint8_t* b = bytes.data();
    if (type == kQ4) quantize_q4_k_block(x.data(), b);
    if (type == kQ5) quantize_q5_k_block(x.data(), b);
    if (type == kQ6) quantize_q6_k_block(x.data(), b);
    ggml_dequantize(type, b, y.data(), kKQuantBlock);
    uint8_t sc[8], m[8];
    if (with_min) kquant_q4k_scales(b + 4, sc, m);
    for (int i = 0; i < 256; ++i) {
      step[i] = with_min ? f16_bytes_to_f32(b) * sc[i / 32]
                         : f16_bytes_to_f32(b + 208) * static_cast<int8_t>(b[192 + i / 16]);
      if (with_min) offset[i] = f16_bytes_to_f32(b + 2) * m[i / 32];
    }
  }
};

// Every value whose quant was not clamped (x within the quant range widened
// by half a step: Q4_K -offset - step/2 .. 15.5 step - offset, Q5_K the
// same to 31.5 steps, Q6_K -32.5 .. 31.5 steps) is within half a step of x:
// round to nearest. A clamped value (the weighted fit may trade an extreme
// for a finer step) is within two steps. Sub-blocks whose scale quantized to
// 0 have no step: skipped. Returns the number of clamped values.
int check_rounding(const Block& x, const Decoded& q) {
  const int lowest = q.with_min ? 0 : -32, highest = q.type == kQ4 ? 15 : 31;
  int clamped = 0, wrong = 0;
  for (int i = 0; i < 256; ++i) {
    if (q.step[i] == 0) continue;
    const double s = std::fabs(q.step[i]), err = std::fabs(x[i] - q.y[i]);
    const double r = (x[i] + q.offset[i]) / q.step[i];
    const bool in_range = r >= lowest - 0.5 && r <= highest + 0.5;
    clamped += !in_range;
    if (err > (in_range ? 0.5 : 2.0) * s + 1e-6 * (std::fabs(x[i]) + q.offset[i]) && ++wrong <= 3)
      UNSCOPED_INFO("value " << i << ": " << x[i] << " -> " << q.y[i] << ", step " << s);
  }
  CHECK(wrong == 0);
  return clamped;
}

// Q4_K (q in 0..15) or Q5_K (q in 0..31) block bytes: d, dmin, scales and
// mins packed as kquant_q4k_scales reads them, quants per kquant.h.
std::vector<uint8_t> pack_q45k(bool q5, float d, float dmin, const int* sc, const int* m,
                               const int* q) {
  std::vector<uint8_t> b(q5 ? kQ5KBlockBytes : kQ4KBlockBytes, 0);
  put_f16(&b[0], d);
  put_f16(&b[2], dmin);
  for (int t = 0; t < 8; ++t) {
    b[4 + (t < 4 ? t : t - 4)] |= static_cast<uint8_t>(t < 4 ? sc[t] : (sc[t] >> 4) << 6);
    b[8 + (t < 4 ? t : t - 4)] |= static_cast<uint8_t>(t < 4 ? m[t] : (m[t] >> 4) << 6);
    if (t >= 4) b[8 + t] = static_cast<uint8_t>((sc[t] & 15) | (m[t] & 15) << 4);
  }
  const int qs = q5 ? 48 : 16;  // Q5_K: qh[32] first
  for (int i = 0; i < 256; ++i) {
    b[qs + 32 * (i / 64) + i % 32] |= static_cast<uint8_t>((q[i] & 15) << (i / 32 % 2 ? 4 : 0));
    if (q5) b[16 + i % 32] |= static_cast<uint8_t>((q[i] >> 4) << (i / 32));
  }
  return b;
}

// Q6_K block bytes: quants l in -32..31 packed per kquant.h, scales, d.
std::vector<uint8_t> pack_q6k(float d, const int* sc, const int* l) {
  std::vector<uint8_t> b(kQ6KBlockBytes, 0);
  for (int i = 0; i < 256; ++i) {
    const int h = i / 128, j = i % 32, k = i % 128 / 32, u = l[i] + 32;
    b[64 * h + j + 32 * (k % 2)] |= static_cast<uint8_t>((u & 15) << (k >= 2 ? 4 : 0));
    b[128 + 32 * h + j] |= static_cast<uint8_t>((u >> 4) << (2 * k));
  }
  for (int t = 0; t < 16; ++t) b[192 + t] = static_cast<uint8_t>(static_cast<int8_t>(sc[t]));
  put_f16(&b[208], d);
  return b;
}

}  // namespace

TEST_CASE("K-quant quantize: gaussian blocks round to nearest, RMS error 7% / 3.6% / 1.8%",
          "[kquant][quant]") {
  // Per type: the bound on one block's RMS error and on their mean, both
  // relative to the block's RMS. Measured: 0.071 (Q4_K), 0.0361 (Q5_K),
  // 0.0178 (Q6_K).
  const struct {
    GgmlType type;
    double block, mean;
  } cases[] = {{kQ4, 0.085, 0.075}, {kQ5, 0.045, 0.038}, {kQ6, 0.022, 0.019}};
  for (const auto& c : cases) {
    INFO(ggml_type_name(c.type));
    Rng rng(11);
    double sum_rel2 = 0;
    int clamped = 0;
    for (int b = 0; b < 64; ++b) {
      const Block x = gaussian(rng, b % 2 ? 0.02f : 3.f);
      const Decoded q(x, c.type);
      clamped += check_rounding(x, q);
      CHECK(rms(x, &q.y) < c.block * rms(x));
      sum_rel2 += std::pow(rms(x, &q.y) / rms(x), 2);
      // The largest scale sets d: Q4_K's and Q5_K's scales and mins top at
      // 63 (d = max / 63), Q6_K's largest scale is -128 (d = -max / 128).
      if (q.with_min) {
        uint8_t sc[8], m[8];
        kquant_q4k_scales(q.bytes.data() + 4, sc, m);
        CHECK((*std::max_element(sc, sc + 8) == 63 && *std::max_element(m, m + 8) == 63));
      } else {
        const auto* sc = reinterpret_cast<const int8_t*>(q.bytes.data() + 192);
        CHECK(*std::min_element(sc, sc + 16) == -128);
      }
    }
    const double rel = std::sqrt(sum_rel2 / 64);
    INFO("RMS error / RMS " << rel << ", clamped " << clamped);
    CHECK(rel < c.mean);
    CHECK(clamped < 64 * 256 / 200);
  }
}

TEST_CASE("K-quant quantize: zero, NaN, constant, outlier and one-signed blocks",
          "[kquant][quant]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Rng rng(13);
  SECTION("zero and NaN blocks give all-zero blocks; a NaN counts as 0") {
    Block x = gaussian(rng), with_nan = x;
    for (int i : {0, 5, 77, 200, 255}) {
      x[i] = 0.f;
      with_nan[i] = nan;
    }
    for (const GgmlType t : kTypes) {
      INFO(ggml_type_name(t));
      const std::vector<uint8_t> zero(ggml_row_bytes(t, kKQuantBlock), 0);
      CHECK(Decoded(Block(256, 0.f), t).bytes == zero);
      CHECK(Decoded(Block(256, nan), t).bytes == zero);
      CHECK(Decoded(with_nan, t).bytes == Decoded(x, t).bytes);
    }
  }
  SECTION("constant blocks: exact but for the fp16 rounding of d or dmin") {
    for (float c : {0.37f, -0.37f, 1234.5f, -2.5f})  // (d >= 2^-14: not an fp16 subnormal)
      for (const GgmlType t : kTypes)
        for (float y : Decoded(Block(256, c), t).y) CHECK(std::fabs(y - c) <= 1e-3f * std::fabs(c));
  }
  SECTION("an outlier sets d: it is kept, and the scales of the others get coarser") {
    Block x = gaussian(rng);
    // The bound on the RMS error of the sub-blocks without the outlier.
    const struct {
      GgmlType type;
      double rest;
    } cases[] = {{kQ4, 0.09}, {kQ5, 0.05}, {kQ6, 0.025}};
    for (const auto& c : cases) {
      INFO(ggml_type_name(c.type));
      const int sub = c.type == kQ6 ? 16 : 32;  // sub-block size
      x[100] = 1000.f;  // 500 sigma: every other sub-block's scale rounds to 0
      const Decoded q(x, c.type);
      CHECK(std::fabs(q.y[100] - 1000.f) <= 0.5f);
      for (int i = 0; i < 256; ++i)
        if (i / sub != 100 / sub) CHECK(q.step[i] == 0);
      x[100] = 30.f;  // 30 sigma: the others keep scales of a few bits
      const Decoded mild(x, c.type);
      check_rounding(x, mild);
      Block rest, rest_y;  // the sub-blocks without the outlier
      for (int i = 0; i < 256; ++i)
        if (i / sub != 100 / sub) rest.push_back(x[i]), rest_y.push_back(mild.y[i]);
      CHECK(rms(rest, &rest_y) < c.rest * rms(rest));
    }
  }
  SECTION("one-signed blocks: Q4_K's and Q5_K's min carries the offset of negative ones") {
    Block pos = gaussian(rng), neg = pos;
    for (int i = 0; i < 256; ++i) neg[i] = -(pos[i] = std::fabs(pos[i]));
    const struct {
      GgmlType type;
      double bound;
    } cases[] = {{kQ4, 0.05}, {kQ5, 0.025}, {kQ6, 0.02}};
    for (const auto& c : cases) {
      INFO(ggml_type_name(c.type));
      if (c.type != kQ6) {
        uint8_t sc[8], m[8];
        kquant_q4k_scales(Decoded(neg, c.type).bytes.data() + 4, sc, m);
        CHECK(*std::min_element(m, m + 8) > 0);
      }
      for (const Block& x : {pos, neg}) {
        const Decoded q(x, c.type);
        check_rounding(x, q);
        CHECK(rms(x, &q.y) < c.bound * rms(x));
      }
    }
  }
}

TEST_CASE("K-quant quantize: a block of representable values quantizes back to itself",
          "[kquant][quant]") {
  // Blocks the quantizers' grids reach exactly: Q4_K (Q5_K) sub-blocks whose
  // quants span 0..15 (0..31; the start grid is [min, max] in that many
  // steps), the largest scale and min 63; Q6_K sub-blocks whose value of
  // largest magnitude has quant -32, the largest scale -128. Requantized,
  // they give the same block.
  Rng rng(14);
  const auto pick = [&](int lo, int hi) {
    return lo + static_cast<int>(rng.uniform() * (hi - lo + 1));
  };
  for (int b = 0; b < 32; ++b) {
    int sc[16], m[8], q[256];
    for (const GgmlType t : {kQ4, kQ5}) {
      INFO(ggml_type_name(t));
      const int top = t == kQ4 ? 15 : 31;
      for (int u = 0; u < 8; ++u) {
        sc[u] = u == b % 8 ? 63 : pick(1, 63);
        m[u] = u == (b + 3) % 8 ? 63 : pick(0, 63);
      }
      for (int i = 0; i < 256; ++i) q[i] = i % 32 == 0 ? 0 : i % 32 == 1 ? top : pick(0, top);
      const float d = 0.01f * static_cast<float>(rng.uniform() + 0.5);
      const float dmin = 0.01f * static_cast<float>(rng.uniform() + 0.5);
      const auto blk = pack_q45k(t == kQ5, d, dmin, sc, m, q);
      Block x(256);
      ggml_dequantize(t, blk.data(), x.data(), kKQuantBlock);
      const Decoded back(x, t);
      CHECK(back.bytes == blk);
      CHECK(back.y == x);
    }

    for (int t = 0; t < 16; ++t) sc[t] = t == b % 16 ? -128 : pick(1, 127) * (pick(0, 1) ? 1 : -1);
    for (int i = 0; i < 256; ++i) q[i] = i % 16 == b % 16 ? -32 : pick(-31, 31);
    const auto blk6 = pack_q6k(0.001f * static_cast<float>(rng.uniform() + 0.5), sc, q);
    Block x(256);
    dequantize_q6_k_block(blk6.data(), x.data());
    const Decoded back6(x, kQ6);
    CHECK(back6.bytes == blk6);
    CHECK(back6.y == x);
  }
}
