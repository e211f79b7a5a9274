// Checked CUDA and cuBLAS calls: every runtime call, launch and cuBLAS call
// of the CUDA backend goes through one of these; a failure throws
// radial::Error naming the call, the error and file:line (out of memory:
// kResourceExhausted; anything else: kInternal).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

namespace radial::kernels {

[[noreturn]] void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t s, const char* call, const char* file,
                                     int line);

}  // namespace radial::kernels

#define CUDA_CHECK(call)                                                                \
  do {                                                                                  \
    const cudaError_t radial_cuda_err_ = (call);                                        \
    if (radial_cuda_err_ != cudaSuccess)                                                \
      ::radial::kernels::throw_cuda_error(radial_cuda_err_, #call, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: a bad configuration shows here, not at the launch.
#define CUDA_CHECK_LAUNCH(name) CUDA_CHECK(cudaGetLastError())

#define CUBLAS_CHECK(call)                                                                 \
  do {                                                                                     \
    const cublasStatus_t radial_cublas_st_ = (call);                                       \
    if (radial_cublas_st_ != CUBLAS_STATUS_SUCCESS)                                        \
      ::radial::kernels::throw_cublas_error(radial_cublas_st_, #call, __FILE__, __LINE__); \
  } while (0)
