// The compute backend a local command runs on: --backend cpu|cuda,
// --dtype f32|bf16|f16 (cuda; the CPU backend is fp32 only),
// --gpu-memory-fraction F or --kv-blocks N (the CUDA KV pool).
#pragma once

#include <memory>
#include <set>
#include <string>

#include "engine/engine.h"
#include "tools/radial/args.h"

namespace radial::cli {

struct BackendChoice {
  std::string kind = "cpu";          // cpu | cuda
  DType dtype = DType::kF32;         // cuda default: bf16
  double gpu_memory_fraction = 0.9;  // cuda: KV pool from this budget ...
  int kv_blocks = 0;                 // ... unless a block count is given
};

// `extra` plus --backend --dtype --gpu-memory-fraction --kv-blocks.
std::set<std::string> with_backend_options(std::set<std::string> extra);
// Throws UsageError on a bad value, or on cuda in a build without it.
BackendChoice backend_choice(const Args& args);
// Whether this build has the CUDA backend.
bool cuda_backend_built();

// An engine on the chosen backend. `opts` is the CPU sizing; on cuda its
// kv_blocks is replaced by the choice's block count or the memory budget.
std::unique_ptr<Engine> make_engine(std::shared_ptr<const ModelWeights> weights,
                                    std::shared_ptr<const RouterWeights> router,
                                    BackendOptions opts, const BackendChoice& choice);

}  // namespace radial::cli
