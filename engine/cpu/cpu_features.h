// CPU feature checks that __builtin_cpu_supports cannot make everywhere.
// clang 14 (the fuzz and sanitizer builds) rejects "f16c" as a feature
// string, so F16C is read from CPUID leaf 1 (ECX bit 29) directly.
#pragma once

#include <cpuid.h>

namespace radial::cpu {

// True when the CPU has the F16C half <-> float conversion instructions.
inline bool cpu_has_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  return (ecx & bit_F16C) != 0;
}

}  // namespace radial::cpu
