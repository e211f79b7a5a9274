// cuBLAS, loaded at run time instead of linked.
//
// Why: libcublasLt (which libcublas needs) has about 94 KB of static TLS.
// Linked into an executable, that TLS is part of every thread's stack, and
// civetweb (prometheus-cpp's HTTP server, radiald's /metrics) creates its
// threads with 100 KB stacks: pthread_create fails, and the metrics endpoint
// cannot start. Loaded with dlopen, cuBLAS's TLS is allocated dynamically,
// so nothing else in the process notices it.
//
// How: this file defines the few cuBLAS entry points the CUDA backend calls,
// with cuBLAS's own names and signatures (so callers use <cublas_v2.h> as
// usual), each forwarding to the real function found by dlsym in the library
// dlopen'ed on first use: $RADIAL_CUBLAS_LIBRARY, else "libcublas.so.13"
// (searched on LD_LIBRARY_PATH and the system paths). If it cannot be
// loaded, the first call returns CUBLAS_STATUS_NOT_INITIALIZED and
// cublas_load_error() says why (CUBLAS_CHECK's message includes it).
#include "kernels/cublas_loader.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include <cublas_v2.h>

namespace radial::kernels {
namespace {

struct CublasLibrary {
  void* handle = nullptr;
  std::string error;  // why loading failed ("" when loaded)
};

const CublasLibrary& library() {
  static CublasLibrary lib;
  static std::once_flag once;
  std::call_once(once, [] {
    const char* env = std::getenv("RADIAL_CUBLAS_LIBRARY");
    const std::string name = env != nullptr && *env != '\0' ? env : "libcublas.so.13";
    lib.handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib.handle == nullptr) {
      const char* why = dlerror();
      lib.error = "cannot load cuBLAS (" + name + "): " + (why ? why : "unknown error") +
                  "; put its directory on LD_LIBRARY_PATH or set RADIAL_CUBLAS_LIBRARY";
    }
  });
  return lib;
}

// The real `name` from the loaded library, or null.
template <typename Fn>
Fn real(const char* name) {
  const CublasLibrary& lib = library();
  if (lib.handle == nullptr) return nullptr;
  return reinterpret_cast<Fn>(dlsym(lib.handle, name));
}

}  // namespace

std::string cublas_load_error() { return library().error; }

}  // namespace radial::kernels

using radial::kernels::real;

// Each shim looks its function up once; a missing library or symbol gives
// CUBLAS_STATUS_NOT_INITIALIZED.
#define RADIAL_CUBLAS_FORWARD(name, params, args)                   \
  extern "C" cublasStatus_t name params {                           \
    using Fn = cublasStatus_t(*) params;                            \
    static const Fn fn = real<Fn>(#name);                           \
    return fn != nullptr ? fn args : CUBLAS_STATUS_NOT_INITIALIZED; \
  }

RADIAL_CUBLAS_FORWARD(cublasCreate_v2, (cublasHandle_t * handle), (handle))
RADIAL_CUBLAS_FORWARD(cublasDestroy_v2, (cublasHandle_t handle), (handle))
RADIAL_CUBLAS_FORWARD(cublasSetStream_v2, (cublasHandle_t handle, cudaStream_t stream),
                      (handle, stream))
RADIAL_CUBLAS_FORWARD(cublasSetMathMode, (cublasHandle_t handle, cublasMath_t mode), (handle, mode))
RADIAL_CUBLAS_FORWARD(cublasSetWorkspace_v2,
                      (cublasHandle_t handle, void* workspace, size_t workspaceSizeInBytes),
                      (handle, workspace, workspaceSizeInBytes))
RADIAL_CUBLAS_FORWARD(cublasGemmEx,
                      (cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                       int m, int n, int k, const void* alpha, const void* A, cudaDataType Atype,
                       int lda, const void* B, cudaDataType Btype, int ldb, const void* beta,
                       void* C, cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
                       cublasGemmAlgo_t algo),
                      (handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta,
                       C, Ctype, ldc, computeType, algo))

extern "C" const char* cublasGetStatusName(cublasStatus_t status) {
  using Fn = const char* (*)(cublasStatus_t);
  static const Fn fn = real<Fn>("cublasGetStatusName");
  return fn != nullptr ? fn(status) : "CUBLAS_STATUS_(library not loaded)";
}

extern "C" const char* cublasGetStatusString(cublasStatus_t status) {
  using Fn = const char* (*)(cublasStatus_t);
  static const Fn fn = real<Fn>("cublasGetStatusString");
  return fn != nullptr ? fn(status) : "cuBLAS is not loaded";
}
