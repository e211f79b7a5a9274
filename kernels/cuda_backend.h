// The CUDA backend: the shared layer pool on one GPU (docs/architecture.md,
// "The CUDA backend"). A plain C++ header: callers need no CUDA headers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/backend.h"
#include "engine/model_weights.h"
#include "engine/router.h"

namespace radial {

struct CudaOptions {
  DType dtype = DType::kBF16;        // weights, activations and KV cache
  double gpu_memory_fraction = 0.9;  // device memory the backend may fill (KV pool sizing)
  int device = 0;
  int head_rows = 256;  // rows whose logits are computed at once
  // Projections of at most this many rows use the GEMV kernel
  // (kernels/gemv.cuh), larger ones cuBLAS; 0: cuBLAS always. The
  // environment variable RADIAL_CUDA_GEMV_ROWS (0..8) overrides it, so a
  // benchmark can compare both paths on one build.
  int gemv_max_rows = 4;
};

// Whether a CUDA device can be used here (driver present, a device visible);
// `why` (optional) gets the reason when not.
bool cuda_available(std::string* why = nullptr);

struct CudaDeviceInfo {
  std::string name;
  int sm_count = 0;
  int64_t total_bytes = 0;
  int64_t free_bytes = 0;
};
CudaDeviceInfo cuda_device_info(int device = 0);

// Uploads the weights (and router) in opts' dtype and preallocates the
// workspace for opts.batch_rows() rows per call and the KV pool: of
// opts.kv_blocks blocks, or, when opts.kv_blocks == 0, as many as fit in
// gpu_memory_fraction of the device (opts.kv_blocks is then set to that
// count, for the Engine's KvBlockManager). Throws radial::Error.
std::unique_ptr<Backend> make_cuda_backend(const ModelWeights& weights, const RouterWeights* router,
                                           BackendOptions& opts, const CudaOptions& cuda);

// Ceilings for benchmark floors, measured on the device: device-to-device
// copy bandwidth (bytes read + written per second) and the cuBLAS GEMM rate
// (FLOP/s) in `dtype` for an m x n x k product.
double measure_copy_bandwidth(int device = 0);
double measure_gemm_rate(DType dtype, int m, int n, int k, int device = 0);

}  // namespace radial
