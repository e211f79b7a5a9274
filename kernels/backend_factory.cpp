#include "kernels/backend_factory.h"

#include "engine/error.h"
#ifdef RADIAL_WITH_CUDA_BACKEND
#include "kernels/cuda_backend.h"
#endif

namespace radial {

DType default_dtype(const std::string& kind) { return kind == "cuda" ? DType::kBF16 : DType::kF32; }

std::optional<DType> parse_dtype(const std::string& name) {
  if (name == "f32") return DType::kF32;
  if (name == "bf16") return DType::kBF16;
  if (name == "f16") return DType::kF16;
  if (name == "q8_0") return DType::kQ8_0;
  return std::nullopt;
}

const char* dtype_option_name(DType t) {
  switch (t) {
    case DType::kF32:
      return "f32";
    case DType::kBF16:
      return "bf16";
    case DType::kF16:
      return "f16";
    case DType::kQ8_0:
      return "q8_0";
    case DType::kQ4_K:  // only ever a file's type (--dtype auto), not an option
      return "q4_k";
    case DType::kQ5_K:
      return "q5_k";
    case DType::kQ6_K:
      return "q6_k";
  }
  return "?";
}

std::optional<DType> load_matrix_dtype(const BackendChoice& choice) {
  if (choice.kind == "cuda") return DType::kF32;
  return choice.dtype;
}

std::string dtype_description(const BackendChoice& choice) {
  if (choice.kind == "cpu" && !choice.dtype) return "auto";
  return dtype_option_name(choice.resolved_dtype());
}

bool cuda_backend_built() {
#ifdef RADIAL_WITH_CUDA_BACKEND
  return true;
#else
  return false;
#endif
}

void check_backend_choice(const BackendChoice& c) {
  if (c.kind != "cpu" && c.kind != "cuda")
    throw Error(ErrorCode::kInvalidArgument, "backend: expected cpu or cuda, got '" + c.kind + "'");
  if (c.kind == "cuda" && !cuda_backend_built())
    throw Error(ErrorCode::kUnsupported,
                "backend cuda: this build has no CUDA backend (configure with -DRADIAL_CUDA=ON)");
  const DType dtype = c.resolved_dtype();
  if (c.kind == "cuda" && dtype != DType::kF32 && dtype != DType::kBF16 && dtype != DType::kF16)
    throw Error(ErrorCode::kInvalidArgument,
                std::string("dtype: the CUDA backend computes in f32, bf16 or f16, not ") +
                    dtype_option_name(dtype));
  if (!(c.gpu_memory_fraction > 0 && c.gpu_memory_fraction <= 1))
    throw Error(ErrorCode::kInvalidArgument, "gpu_memory_fraction: expected a number in (0, 1]");
  if (c.kv_blocks < 0)
    throw Error(ErrorCode::kInvalidArgument, "kv_blocks: expected a count >= 0 (0: automatic)");
}

BackendFactory backend_factory(const BackendChoice& choice) {
  check_backend_choice(choice);
  return [choice](const ModelWeights& weights, const RouterWeights* router,
                  BackendOptions& opts) -> std::unique_ptr<Backend> {
    if (choice.kind == "cpu") {
      if (choice.kv_blocks > 0) opts.kv_blocks = choice.kv_blocks;
      return make_cpu_backend(weights, router, opts);
    }
#ifdef RADIAL_WITH_CUDA_BACKEND
    for (const Tensor* t : weights.matrices())
      if (dtype_is_quantized(t->dtype))
        throw Error(ErrorCode::kInvalidArgument,
                    std::string("the CUDA backend uploads F32, BF16 or F16 weights, not ") +
                        dtype_name(t->dtype) + " (load with load_matrix_dtype)");
    CudaOptions co;
    co.dtype = choice.resolved_dtype();
    co.gpu_memory_fraction = choice.gpu_memory_fraction;
    // The choice's count, else the caller's (a tool sizes its pool from its
    // workload), else (0) as many as the memory budget holds.
    if (choice.kv_blocks > 0) opts.kv_blocks = choice.kv_blocks;
    return make_cuda_backend(weights, router, opts, co);
#else
    throw Error(ErrorCode::kUnsupported, "this build has no CUDA backend");
#endif
  };
}

std::unique_ptr<Engine> make_engine(std::shared_ptr<const ModelWeights> weights,
                                    std::shared_ptr<const RouterWeights> router,
                                    BackendOptions opts, const BackendChoice& choice) {
  auto backend = backend_factory(choice)(*weights, router.get(), opts);
  return std::make_unique<Engine>(std::move(weights), std::move(router), opts, std::move(backend));
}

}  // namespace radial
