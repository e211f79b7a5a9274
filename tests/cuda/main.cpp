// The `cuda` tests' main: without a usable GPU it prints why and exits with
// 77, which ctest counts as skipped (SKIP_RETURN_CODE), so CPU-only machines
// stay green; with one it runs every test case. Listing the test cases
// (--list-test-names-only, --list-tests) and a dry run of the model-level
// tests (RADIAL_CUDA_TESTS_DRY_RUN=1, see model_test_util.h) need no GPU.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <string>

#include "kernels/cuda_backend.h"
#include "model_test_util.h"

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--list-", 7) == 0 || std::strcmp(argv[i], "-l") == 0)
      return Catch::Session().run(argc, argv);
  if (radial::test::dry_run()) {
    std::printf("DRY RUN: the CPU backend stands in for CUDA (tests of the tests only)\n");
    return Catch::Session().run(argc, argv);
  }
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
