// GGUF's K-quant blocks (ggml's Q4_K and Q6_K), as llama.cpp's files store
// them: super-blocks of 256 values, all little-endian, fp16 = IEEE half.
//   Q4_K, 144 bytes: f16 d, f16 dmin, u8 scales[12], u8 qs[128]. Eight
//     sub-blocks of 32 values; sub-block t has a 6-bit scale sc_t and a
//     6-bit min m_t packed in scales (kquant_q4k_scales), and stands for
//     x = d * sc_t * q - dmin * m_t with q its 4-bit quants: sub-blocks 2p
//     and 2p + 1 take the low and the high nibbles of qs[32p .. 32p + 31].
//   Q5_K, 176 bytes: f16 d, f16 dmin, u8 scales[12] (packed as Q4_K's), u8
//     qh[32], u8 qs[128]: Q4_K with 5-bit quants, whose low 4 bits are the
//     nibbles of qs as in Q4_K and whose fifth bit, for value l < 32 of
//     sub-block t, is bit t of qh[l].
//   Q6_K, 210 bytes: u8 ql[128], u8 qh[64], int8 scales[16], f16 d. Sixteen
//     sub-blocks of 16 values, x = d * scales[i / 16] * (q - 32) with q the
//     6-bit quant of value i: in half h (values 128h .. 128h + 127) and for
//     l < 32, with L = ql + 64h and H = qh + 32h,
//       value 128h + l       low nibble of L[l]       | bits 0-1 of H[l] << 4
//       value 128h + l + 32  low nibble of L[l + 32]  | bits 2-3 of H[l] << 4
//       value 128h + l + 64  high nibble of L[l]      | bits 4-5 of H[l] << 4
//       value 128h + l + 96  high nibble of L[l + 32] | bits 6-7 of H[l] << 4
// A K-quant weight matrix (DType::kQ4_K / kQ5_K / kQ6_K, engine/tensor.h)
// keeps these blocks row after row, k / 256 blocks a row.
#pragma once

#include <cstdint>

namespace radial {

inline constexpr int64_t kKQuantBlock = 256;
inline constexpr int64_t kQ4KBlockBytes = 144;
inline constexpr int64_t kQ5KBlockBytes = 176;
inline constexpr int64_t kQ6KBlockBytes = 210;

// The eight 6-bit scales sc[0..7] and mins m[0..7] of a Q4_K block, from its
// 12 packed bytes (block + 4): for t < 4, sc_t = q[t] & 63, m_t = q[t + 4] & 63;
// for t >= 4, sc_t = (q[t + 4] & 15) | (q[t - 4] >> 6) << 4 and
// m_t = (q[t + 4] >> 4) | (q[t] >> 6) << 4.
void kquant_q4k_scales(const uint8_t* packed, uint8_t sc[8], uint8_t m[8]);

// The 256 values one block stands for (exact in f32 for Q6_K; for Q4_K and
// Q5_K each value is fl(fl(d * sc_t) * q) - fl(dmin * m_t), as ggml computes
// it).
void dequantize_q4_k_block(const uint8_t* block, float* y);
void dequantize_q5_k_block(const uint8_t* block, float* y);
void dequantize_q6_k_block(const uint8_t* block, float* y);

// One block from 256 floats, as llama.cpp's reference quantizers
// (quantize_row_q4_K_ref, quantize_row_q5_K_ref, quantize_row_q6_K_ref) do: the scales chosen per
// sub-block by a weighted least-squares search, then quantized to 6 or 8
// bits against the super-block's fp16 d (and dmin). NaN inputs count as 0.
void quantize_q4_k_block(const float* x, uint8_t* block);
void quantize_q5_k_block(const float* x, uint8_t* block);
void quantize_q6_k_block(const float* x, uint8_t* block);

}  // namespace radial
