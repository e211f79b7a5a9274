// The CPU GEMM dispatch paths this machine can run (engine/cpu/gemm_kernels.h),
// for tests that check every path against the scalar definition.
#pragma once

#include <vector>

#include "engine/cpu/gemm_kernels.h"

namespace radial::test {

inline std::vector<cpu::GemmPath> supported_gemm_paths() {
  std::vector<cpu::GemmPath> out;
  for (cpu::GemmPath p : {cpu::GemmPath::kScalar, cpu::GemmPath::kAvx2, cpu::GemmPath::kAvx512})
    if (cpu::gemm_path_supported(p)) out.push_back(p);
  return out;
}

}  // namespace radial::test
