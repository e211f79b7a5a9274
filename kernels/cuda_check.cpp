#include "kernels/cuda_check.h"

#include <string>

#include "engine/error.h"
#include "kernels/cublas_loader.h"

namespace radial::kernels {

void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line) {
  const ErrorCode code =
      e == cudaErrorMemoryAllocation ? ErrorCode::kResourceExhausted : ErrorCode::kInternal;
  throw Error(code, std::string("CUDA error ") + cudaGetErrorName(e) + " (" +
                        cudaGetErrorString(e) + ") in " + call + " at " + file + ":" +
                        std::to_string(line));
}

void throw_cublas_error(cublasStatus_t s, const char* call, const char* file, int line) {
  const ErrorCode code =
      s == CUBLAS_STATUS_ALLOC_FAILED ? ErrorCode::kResourceExhausted : ErrorCode::kInternal;
  const std::string load_error = cublas_load_error();  // cuBLAS is dlopen'ed (cublas_loader.cpp)
  throw Error(load_error.empty() ? code : ErrorCode::kUnavailable,
              std::string("cuBLAS error ") + cublasGetStatusName(s) + " (" +
                  cublasGetStatusString(s) + ") in " + call + " at " + file + ":" +
                  std::to_string(line) + (load_error.empty() ? "" : ": " + load_error));
}

}  // namespace radial::kernels
