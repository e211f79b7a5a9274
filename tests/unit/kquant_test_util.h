// Helpers of the K-quant tests (test_kquant_quantize.cpp,
// test_gguf_writer_kquant.cpp): value blocks, fp16 stores, RMS.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/tensor.h"

namespace radial::test {

using Block = std::vector<float>;

inline void put_f16(uint8_t* p, float v) {
  const uint16_t h = f32_to_f16(v);
  std::memcpy(p, &h, 2);
}

// The RMS of a, or of a - b.
inline double rms(const Block& a, const Block* b = nullptr) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += std::pow(a[i] - (b ? (*b)[i] : 0.f), 2);
  return std::sqrt(s / static_cast<double>(a.size()));
}

}  // namespace radial::test
