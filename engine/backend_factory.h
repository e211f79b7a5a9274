// Chooses and makes the compute backend: the CPU reference backend, or the
// CUDA backend (kernels/cuda_backend.h) when this build has it. Its own
// library (radial_backends), since the CUDA backend links the engine; the
// scheduler never links it: front ends pass a BackendFactory down instead.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "engine/backend.h"
#include "engine/engine.h"

namespace radial {

struct BackendChoice {
  std::string kind = "cpu";          // cpu | cuda
  DType dtype = DType::kF32;         // cuda: f32 | bf16 | f16; cpu: f32 only
  double gpu_memory_fraction = 0.9;  // cuda: the KV pool fills this share of the device ...
  int kv_blocks = 0;                 // ... unless a block count is given (> 0)
};

// Makes a backend for `weights` and `router` (both must outlive it). May
// change opts.kv_blocks (the CUDA pool sized from the memory budget); the
// Engine must then be given the updated options.
using BackendFactory = std::function<std::unique_ptr<Backend>(
    const ModelWeights& weights, const RouterWeights* router, BackendOptions& opts)>;

// Whether this build has the CUDA backend.
bool cuda_backend_built();

// Throws Error(kInvalidArgument) naming what is wrong with `choice` (an
// unknown kind or dtype, a dtype the backend lacks, a fraction outside
// (0, 1], a negative block count), or Error(kUnsupported) for cuda in a build
// without it.
void check_backend_choice(const BackendChoice& choice);

// The factory of a (checked) choice.
BackendFactory backend_factory(const BackendChoice& choice);

// An Engine on the chosen backend; `opts` is the CPU sizing (on cuda its
// kv_blocks is the choice's count, or 0 for the memory budget).
std::unique_ptr<Engine> make_engine(std::shared_ptr<const ModelWeights> weights,
                                    std::shared_ptr<const RouterWeights> router,
                                    BackendOptions opts, const BackendChoice& choice);

}  // namespace radial
