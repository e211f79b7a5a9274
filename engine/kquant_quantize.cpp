// K-quant quantization (kquant.h): one Q4_K, Q5_K or Q6_K block from 256
// floats, by the algorithm of llama.cpp's reference quantizers
// (ggml-quants.c: quantize_row_q4_K_ref and quantize_row_q5_K_ref with
// make_qkx2_quants, quantize_row_q6_K_ref with make_qx_quants). Each step
// computes in f32, in the same order as theirs, so that the blocks come out
// as llama.cpp's quantize tool writes them.
//
// All go in three steps: (1) per sub-block, a scale (and for Q4_K and Q5_K
// a min) fitted to its values by a weighted least-squares search over a few
// candidate grids; (2) those scales quantized against one fp16 super-block
// scale (6 bits for Q4_K and Q5_K, int8 for Q6_K); (3) every value
// requantized with the scale the block will actually hold. Q4_K and Q5_K
// differ only in the largest quant (15, 31) and the grids searched.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/kquant.h"
#include "engine/tensor.h"

namespace radial {

namespace {

// Scales below this magnitude count as zero (ggml's GROUP_MAX_EPS).
constexpr float kZeroScale = 1e-15f;

// Round to nearest, ties to even (ggml's nearest_int). The values rounded
// here are small quant indices; non-finite ones (only from non-finite
// inputs) give 0 and huge ones saturate, so nothing is undefined.
int nearest_int(float v) {
  if (!std::isfinite(v)) return 0;
  return static_cast<int>(std::nearbyint(std::clamp(v, -4194304.f, 4194304.f)));
}

void write_f16(uint8_t* p, float v) {
  const uint16_t h = f32_to_f16(v);
  p[0] = static_cast<uint8_t>(h & 0xFF);
  p[1] = static_cast<uint8_t>(h >> 8);
}

// The block's 256 values with NaN read as 0.
void without_nan(const float* x, float* out) {
  for (int64_t i = 0; i < kKQuantBlock; ++i) out[i] = std::isnan(x[i]) ? 0.f : x[i];
}

// ---- Q4_K and Q5_K: 6-bit scales and mins, 4- or 5-bit quants

constexpr int kMinSub = 32;     // values per sub-block
constexpr int kScaleMax = 63;   // largest 6-bit scale / min
constexpr int kMinHeader = 16;  // d, dmin, the 12 bytes of packed scales and mins

// The search make_qkx2_quants does for Q4_K or Q5_K: quants 0..nmax, and
// grids of nmax + first + 0.1 s steps across the values' range tried for
// s = 0..steps (its rmin = first, rdelta = 0.1, nstep = steps).
struct MinGrid {
  int nmax;
  float first;
  int steps;
};
constexpr MinGrid kQ4Grid = {15, -1.f, 20};   // quantize_row_q4_K_ref
constexpr MinGrid kQ5Grid = {31, -0.5f, 15};  // quantize_row_q5_K_ref

// Fits the 32 values x of one sub-block as x ~ scale * q - min, q in
// 0..g.nmax, min >= 0, minimizing sum w * (scale * q - min - x)^2
// (make_qkx2_quants with rdelta 0.1). The start is the grid spanning
// [min(x, 0), max(x)] in g.nmax steps; then, for the grid densities
// (g.nmax + g.first + 0.1 s) / (max - min) steps per unit, s = 0..g.steps,
// the values are rounded onto the grid and scale and min refitted to those
// quants by weighted least squares; the fit with the least weighted error
// wins. As in llama.cpp, the grid's origin follows the best min found so
// far. Returns the scale, sets `min` (>= 0) and the quants q.
float fit_min_sub_block(const float* x, const float* w, const MinGrid& g, float& min, uint8_t* q) {
  float lo = x[0], hi = x[0];
  float sum_w = w[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < kMinSub; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (lo > 0) lo = 0;  // the min only ever subtracts: a positive block keeps min 0
  if (hi == lo) {      // constant (or zero) sub-block: all of it in the min
    std::fill(q, q + kMinSub, 0);
    min = -lo;
    return 0.f;
  }
  // The weighted squared error of x ~ scale * l + offset (offset = -min).
  const auto error = [&](const uint8_t* l, float scale, float offset) {
    float e = 0;
    for (int i = 0; i < kMinSub; ++i) {
      const float diff = scale * l[i] + offset - x[i];
      e += w[i] * (diff * diff);
    }
    return e;
  };
  float iscale = g.nmax / (hi - lo);
  float scale = 1 / iscale;
  for (int i = 0; i < kMinSub; ++i)
    q[i] = static_cast<uint8_t>(std::clamp(nearest_int(iscale * (x[i] - lo)), 0, g.nmax));
  float best = error(q, scale, lo);

  uint8_t cand[kMinSub];
  for (int step = 0; step <= g.steps; ++step) {
    iscale = (g.first + 0.1f * step + g.nmax) / (hi - lo);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < kMinSub; ++i) {
      const int l = std::clamp(nearest_int(iscale * (x[i] - lo)), 0, g.nmax);
      cand[i] = static_cast<uint8_t>(l);
      sum_l += w[i] * l;
      sum_l2 += w[i] * l * l;
      sum_xl += w[i] * l * x[i];
    }
    // Weighted least squares of x = scale * l + offset over these quants.
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (!(det > 0)) continue;  // all quants equal: no fit
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
    float this_offset = (sum_l2 * sum_x - sum_l * sum_xl) / det;
    if (this_offset > 0) {  // a positive offset is not expressible: fit the scale alone
      this_offset = 0;
      this_scale = sum_xl / sum_l2;
    }
    const float e = error(cand, this_scale, this_offset);
    if (e < best) {
      std::copy(cand, cand + kMinSub, q);
      best = e;
      scale = this_scale;
      lo = this_offset;
    }
  }
  min = -lo;
  return scale;
}

// The part Q4_K and Q5_K share: writes the block's first 16 bytes (d, dmin,
// the packed scales and mins) and sets q[0..255] to the quants in
// 0..g.nmax, against the scales as stored.
void quantize_min_block(const float* input, const MinGrid& g, uint8_t* block, uint8_t* q) {
  float x[kKQuantBlock];
  without_nan(input, x);
  float scales[8], mins[8];
  float max_scale = 0, max_min = 0;
  // (1) Each sub-block's scale and min, values weighted by rms + |x|.
  for (int t = 0; t < 8; ++t) {
    const float* xs = x + kMinSub * t;
    float sum_x2 = 0;
    for (int l = 0; l < kMinSub; ++l) sum_x2 += xs[l] * xs[l];
    const float rms = std::sqrt(sum_x2 / kMinSub);
    float w[kMinSub];
    for (int l = 0; l < kMinSub; ++l) w[l] = rms + std::fabs(xs[l]);
    scales[t] = fit_min_sub_block(xs, w, g, mins[t], q + kMinSub * t);
    max_scale = std::max(max_scale, scales[t]);
    max_min = std::max(max_min, mins[t]);
  }

  // (2) Scales and mins to 6 bits against d = max_scale / 63 and
  // dmin = max_min / 63, packed as kquant_q4k_scales reads them.
  std::memset(block, 0, kMinHeader);
  const float inv_scale = max_scale > 0 ? kScaleMax / max_scale : 0.f;
  const float inv_min = max_min > 0 ? kScaleMax / max_min : 0.f;
  uint8_t* packed = block + 4;
  for (int t = 0; t < 8; ++t) {
    const auto sc = static_cast<uint8_t>(std::clamp(nearest_int(inv_scale * scales[t]), 0, 63));
    const auto m = static_cast<uint8_t>(std::clamp(nearest_int(inv_min * mins[t]), 0, 63));
    if (t < 4) {
      packed[t] = sc;
      packed[t + 4] = m;
    } else {  // low 4 bits in byte t + 4, the top 2 in the top bits of bytes t - 4 and t
      packed[t + 4] = static_cast<uint8_t>((sc & 15) | ((m & 15) << 4));
      packed[t - 4] |= static_cast<uint8_t>((sc >> 4) << 6);
      packed[t] |= static_cast<uint8_t>((m >> 4) << 6);
    }
  }
  write_f16(block, max_scale / kScaleMax);
  write_f16(block + 2, max_min / kScaleMax);

  // (3) The quants again, against the stored scales: q = round((x + dmin *
  // m) / (d * sc)) in 0..nmax. A sub-block whose scale quantized to 0 keeps
  // the quants of its fit (they are multiplied by 0), as in llama.cpp.
  const float d = f16_bytes_to_f32(block), dmin = f16_bytes_to_f32(block + 2);
  uint8_t sc[8], m[8];
  kquant_q4k_scales(packed, sc, m);
  for (int t = 0; t < 8; ++t) {
    const float step = d * sc[t];
    if (step == 0) continue;
    const float offset = dmin * m[t];
    for (int l = 0; l < kMinSub; ++l) {
      const int i = kMinSub * t + l;
      q[i] = static_cast<uint8_t>(std::clamp(nearest_int((x[i] + offset) / step), 0, g.nmax));
    }
  }
}

}  // namespace

void quantize_q4_k_block(const float* input, uint8_t* block) {
  uint8_t q[kKQuantBlock];
  quantize_min_block(input, kQ4Grid, block, q);
  // Sub-blocks 2p and 2p + 1 share qs[32p .. 32p + 31]: low and high nibbles.
  uint8_t* qs = block + kMinHeader;
  for (int p = 0; p < 4; ++p)
    for (int l = 0; l < 32; ++l)
      qs[32 * p + l] = static_cast<uint8_t>(q[64 * p + l] | (q[64 * p + 32 + l] << 4));
}

void quantize_q5_k_block(const float* input, uint8_t* block) {
  uint8_t q[kKQuantBlock];
  quantize_min_block(input, kQ5Grid, block, q);
  // The low 4 bits as Q4_K's nibbles (sub-blocks 2p and 2p + 1 in the low
  // and high nibbles of qs[32p + l]); the fifth bit of value l of sub-block
  // t is bit t of qh[l].
  uint8_t* qh = block + kMinHeader;
  uint8_t* qs = qh + 32;
  std::memset(qh, 0, 32);
  for (int p = 0; p < 4; ++p)
    for (int l = 0; l < 32; ++l) {
      const uint8_t q0 = q[64 * p + l], q1 = q[64 * p + 32 + l];
      qs[32 * p + l] = static_cast<uint8_t>((q0 & 15) | ((q1 & 15) << 4));
      qh[l] |= static_cast<uint8_t>(((q0 >> 4) << (2 * p)) | ((q1 >> 4) << (2 * p + 1)));
    }
}

// ---- Q6_K

namespace {

constexpr int kQ6Sub = 16;   // values per sub-block
constexpr int kQ6Half = 32;  // quants are l + 32 with l in -32..31

// Fits the 16 values x of one sub-block as x ~ scale * l, l in -32..31,
// minimizing sum x^2 * (scale * l - x)^2 (make_qx_quants with nmax 32 and
// weights x^2). The value of largest magnitude, v, sets the grid: l =
// round(-(32 + 0.1 s) * x / v) for s = -9..9, so that v lands on -32 (the
// end with the extra level) or near it; each grid's least-squares scale
// sum w x l / sum w l^2 is kept when it explains more of x (larger
// (sum w x l)^2 / sum w l^2). Returns the scale (0 for an all-zero
// sub-block; its sign opposite v's) and sets the quants q = l + 32.
float fit_q6_sub_block(const float* x, uint8_t* q) {
  float amax = 0, vmax = 0;
  for (int i = 0; i < kQ6Sub; ++i)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      vmax = x[i];
    }
  if (amax < kZeroScale) {
    std::fill(q, q + kQ6Sub, 0);
    return 0.f;
  }
  const auto quant = [&](float iscale, int i) {
    return std::clamp(nearest_int(iscale * x[i]), -kQ6Half, kQ6Half - 1);
  };
  // Sums of x^2-weighted x * l and l^2 on the grid iscale.
  const auto sums = [&](float iscale, float& sum_lx, float& sum_l2) {
    sum_lx = sum_l2 = 0;
    for (int i = 0; i < kQ6Sub; ++i) {
      const int l = quant(iscale, i);
      const float w = x[i] * x[i];
      sum_lx += w * x[i] * l;
      sum_l2 += w * l * l;
    }
  };
  const auto keep = [&](float iscale) {
    for (int i = 0; i < kQ6Sub; ++i) q[i] = static_cast<uint8_t>(quant(iscale, i) + kQ6Half);
  };
  float iscale = -kQ6Half / vmax;
  float sum_lx, sum_l2;
  sums(iscale, sum_lx, sum_l2);
  keep(iscale);
  float scale = sum_l2 != 0 ? sum_lx / sum_l2 : 0.f;
  float best = scale * sum_lx;  // the part of sum w x^2 this fit explains
  for (int s = -9; s <= 9; ++s) {
    if (s == 0) continue;
    iscale = -(kQ6Half + 0.1f * s) / vmax;
    sums(iscale, sum_lx, sum_l2);
    if (sum_l2 > 0 && sum_lx * sum_lx > best * sum_l2) {
      keep(iscale);
      scale = sum_lx / sum_l2;
      best = scale * sum_lx;
    }
  }
  return scale;
}

}  // namespace

void quantize_q6_k_block(const float* input, uint8_t* block) {
  float x[kKQuantBlock];
  without_nan(input, x);
  uint8_t q[kKQuantBlock];
  float scales[16];
  // (1) Each sub-block's scale; the one of largest magnitude sets d.
  float max_scale = 0, max_abs_scale = 0;
  for (int t = 0; t < 16; ++t) {
    scales[t] = fit_q6_sub_block(x + kQ6Sub * t, q + kQ6Sub * t);
    if (std::fabs(scales[t]) > max_abs_scale) {
      max_abs_scale = std::fabs(scales[t]);
      max_scale = scales[t];
    }
  }
  std::memset(block, 0, kQ6KBlockBytes);
  if (max_abs_scale < kZeroScale) return;  // all zero: d = 0, every byte 0

  // (2) Scales to int8 against d = -max_scale / 128: the largest scale is
  // -128, the int8 end with the extra level (others are clamped at 127).
  const float iscale = -128.f / max_scale;
  auto* sc = reinterpret_cast<int8_t*>(block + 192);
  for (int t = 0; t < 16; ++t)
    sc[t] = static_cast<int8_t>(std::clamp(nearest_int(iscale * scales[t]), -128, 127));
  write_f16(block + 208, 1 / iscale);

  // (3) The quants again, against the stored scales: l = round(x / (d *
  // sc)) in -32..31 (a sub-block whose scale quantized to 0 keeps its fit's).
  const float d = f16_bytes_to_f32(block + 208);
  for (int t = 0; t < 16; ++t) {
    const float step = d * sc[t];
    if (step == 0) continue;
    for (int l = 0; l < kQ6Sub; ++l) {
      const int i = kQ6Sub * t + l;
      q[i] = static_cast<uint8_t>(std::clamp(nearest_int(x[i] / step), -kQ6Half, kQ6Half - 1) +
                                  kQ6Half);
    }
  }
  // Pack per kquant.h: in half h, value 128h + l + 32k (k = 0..3) has its
  // low nibble in ql[64h + l + 32 (k & 1)] (high nibble there for k >= 2)
  // and its top 2 bits at bits 2k of qh[32h + l].
  for (int h = 0; h < 2; ++h) {
    uint8_t* ql = block + 64 * h;
    uint8_t* qh = block + 128 + 32 * h;
    const uint8_t* v = q + 128 * h;
    for (int l = 0; l < 32; ++l) {
      ql[l] = static_cast<uint8_t>((v[l] & 15) | ((v[l + 64] & 15) << 4));
      ql[l + 32] = static_cast<uint8_t>((v[l + 32] & 15) | ((v[l + 96] & 15) << 4));
      qh[l] = static_cast<uint8_t>((v[l] >> 4) | ((v[l + 32] >> 4) << 2) | ((v[l + 64] >> 4) << 4) |
                                   ((v[l + 96] >> 4) << 6));
    }
  }
}

}  // namespace radial
