#include "tools/radial/backend_choice.h"

#include "engine/error.h"
#ifdef RADIAL_WITH_CUDA_BACKEND
#include "kernels/cuda_backend.h"
#endif

namespace radial::cli {

std::set<std::string> with_backend_options(std::set<std::string> extra) {
  extra.insert({"backend", "dtype", "gpu-memory-fraction", "kv-blocks"});
  return extra;
}

bool cuda_backend_built() {
#ifdef RADIAL_WITH_CUDA_BACKEND
  return true;
#else
  return false;
#endif
}

BackendChoice backend_choice(const Args& args) {
  BackendChoice c;
  c.kind = args.str("backend", "cpu");
  if (c.kind != "cpu" && c.kind != "cuda")
    throw UsageError{"--backend expects cpu or cuda, got '" + c.kind + "'"};
  if (c.kind == "cuda" && !cuda_backend_built())
    throw UsageError{
        "--backend cuda: this build has no CUDA backend (configure with RADIAL_CUDA=ON)"};
  c.dtype = c.kind == "cuda" ? DType::kBF16 : DType::kF32;
  if (auto d = args.get("dtype")) {
    if (*d == "f32")
      c.dtype = DType::kF32;
    else if (*d == "bf16")
      c.dtype = DType::kBF16;
    else if (*d == "f16")
      c.dtype = DType::kF16;
    else
      throw UsageError{"--dtype expects f32, bf16 or f16, got '" + *d + "'"};
    if (c.kind == "cpu" && c.dtype != DType::kF32)
      throw UsageError{"--dtype " + *d + ": the CPU backend computes in f32 only"};
  }
  if (auto f = args.number("gpu-memory-fraction")) {
    if (!(*f > 0 && *f <= 1)) throw UsageError{"--gpu-memory-fraction expects a number in (0, 1]"};
    c.gpu_memory_fraction = *f;
  }
  if (auto k = args.integer("kv-blocks")) {
    if (*k < 1 || *k > (1L << 30)) throw UsageError{"--kv-blocks expects a positive count"};
    if (args.has("gpu-memory-fraction"))
      throw UsageError{"give --gpu-memory-fraction or --kv-blocks, not both"};
    c.kv_blocks = static_cast<int>(*k);
  }
  if (c.kind == "cpu" && args.has("gpu-memory-fraction"))
    throw UsageError{"--gpu-memory-fraction applies only with --backend cuda"};
  return c;
}

std::unique_ptr<Engine> make_engine(std::shared_ptr<const ModelWeights> weights,
                                    std::shared_ptr<const RouterWeights> router,
                                    BackendOptions opts, const BackendChoice& choice) {
  if (choice.kind == "cpu") {
    if (choice.kv_blocks > 0) opts.kv_blocks = choice.kv_blocks;
    return std::make_unique<Engine>(weights, router, opts);
  }
#ifdef RADIAL_WITH_CUDA_BACKEND
  CudaOptions co;
  co.dtype = choice.dtype;
  co.gpu_memory_fraction = choice.gpu_memory_fraction;
  opts.kv_blocks = choice.kv_blocks;  // 0: from the budget
  auto backend = make_cuda_backend(*weights, router.get(), opts, co);
  return std::make_unique<Engine>(weights, router, opts, std::move(backend));
#else
  throw Error(ErrorCode::kUnsupported, "this build has no CUDA backend");
#endif
}

}  // namespace radial::cli
