// ggml's other block types, as GGUF files store them (little-endian, fp16 =
// IEEE half): dequantizers for each, and llama.cpp's reference quantizers
// for the 32-value ones. radiald computes with none of them: the loader
// dequantizes them (gguf_loader.h says into what).
//   Q4_0, 18 bytes / 32 values: f16 d, u8 qs[16]; value j < 16 is
//     d * ((qs[j] & 15) - 8), value j + 16 is d * ((qs[j] >> 4) - 8).
//   Q4_1, 20 bytes: f16 d, f16 m, u8 qs[16]; d * q + m with q the nibble
//     as in Q4_0.
//   Q5_0, 22 bytes: f16 d, u8 qh[4], u8 qs[16]; Q4_0's nibbles with a
//     fifth bit, bit j of the little-endian u32 qh for value j (j < 32):
//     d * (q - 16).
//   Q5_1, 24 bytes: f16 d, f16 m, u8 qh[4], u8 qs[16]; d * q + m.
//   IQ4_NL, 18 bytes: f16 d, u8 qs[16]; d * kIq4nlValues[q], q the nibble
//     as in Q4_0.
//   Q2_K, 84 bytes / 256 values: u8 scales[16], u8 qs[64], f16 d, f16 dmin.
//     Sixteen sub-blocks of 16 values; sub-block s has scale scales[s] & 15
//     and min scales[s] >> 4: x = d * sc * q - dmin * m. In half h
//     (values 128h ..) and for j < 4, sub-blocks 8h + 2j and 8h + 2j + 1
//     take bits 2j..2j+1 of qs[32h + l] for l < 16 and l >= 16.
//   Q3_K, 110 bytes: u8 hmask[32], u8 qs[64], u8 scales[12], f16 d. Sixteen
//     6-bit scales packed in scales (the low 4 bits of scale s in byte s % 8,
//     nibble s / 8; the high 2 bits in byte 8 + s % 4, bits 2 * (s / 4)),
//     x = d * (scale - 32) * (q - 4 * !high) with q Q2_K's 2-bit quant and
//     high bit 4h + j of hmask[l] (value 128h + 32j + l).
//   IQ4_XS, 136 bytes: f16 d, u16 scales_h, u8 scales_l[4], u8 qs[128].
//     Eight sub-blocks of 32 values, IQ4_NL's with the scale d * (ls - 32),
//     ls = the nibble ib % 2 of scales_l[ib / 2] | bits 2ib..2ib+1 of
//     scales_h << 4.
#pragma once

#include <cstdint>

namespace radial {

inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

// One block's values (32 or 256 floats) at y.
void dequantize_q4_0_block(const uint8_t* block, float* y);
void dequantize_q4_1_block(const uint8_t* block, float* y);
void dequantize_q5_0_block(const uint8_t* block, float* y);
void dequantize_q5_1_block(const uint8_t* block, float* y);
void dequantize_iq4_nl_block(const uint8_t* block, float* y);
void dequantize_q2_k_block(const uint8_t* block, float* y);
void dequantize_q3_k_block(const uint8_t* block, float* y);
void dequantize_iq4_xs_block(const uint8_t* block, float* y);

// One block from 32 floats, as llama.cpp's quantize_row_q4_0_ref,
// quantize_row_q5_0_ref (d = the value of largest magnitude / -8 or -16,
// q = min(15 or 31, trunc(x / d + 8.5 or 16.5))) and quantize_row_q5_1_ref
// (d = (max - min) / 31, m = min, q = trunc((x - min) / d + 0.5)) do.
void quantize_q4_0_block(const float* x, uint8_t* block);
void quantize_q5_0_block(const float* x, uint8_t* block);
void quantize_q5_1_block(const float* x, uint8_t* block);

}  // namespace radial
