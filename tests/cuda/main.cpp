// The `cuda` tests' main: without a usable GPU it prints why and exits with
// 77, which ctest counts as skipped (SKIP_RETURN_CODE), so CPU-only machines
// stay green; with one it runs every test case.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include "kernels/cuda_backend.h"

int main(int argc, char** argv) {
  std::string why;
  if (!radial::cuda_available(&why)) {
    std::printf("SKIP: the cuda tests need a GPU (%s)\n", why.c_str());
    return 77;
  }
  const radial::CudaDeviceInfo info = radial::cuda_device_info();
  std::printf("cuda tests on %s (%d SMs, %.1f GiB)\n", info.name.c_str(), info.sm_count,
              info.total_bytes / double(1 << 30));
  return Catch::Session().run(argc, argv);
}
