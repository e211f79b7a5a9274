// Chooses and makes the compute backend: the CPU reference backend, or the
// CUDA backend (kernels/cuda_backend.h) when this build has it. A small
// library of its own (radial_backends), built in every configuration: it
// sits in kernels/ beside the CUDA backend because choosing among compute
// backends is about the kernels a build has (the project's top-level layout
// is fixed, so no new top-level folder), and engine/ must not include the
// GPU code. Front ends and tools link it; the scheduler does not (it takes a
// BackendFactory, engine/backend.h).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "engine/backend.h"
#include "engine/engine.h"

namespace radial {

// The dtype a backend computes in when none is asked for: bf16 on cuda; on
// the CPU, weight matrices keep their file's type ("auto": F32, BF16, F16
// or Q8_0, else F32) and activations are f32. (The one place this rule lives.)
DType default_dtype(const std::string& kind);
// "f32" | "bf16" | "f16" | "q8_0"; nullopt for anything else ("auto" is the
// absence of a dtype). dtype_option_name is the inverse (the spelling of
// flags and config values).
std::optional<DType> parse_dtype(const std::string& name);
const char* dtype_option_name(DType t);

struct BackendChoice {
  std::string kind = "cpu";          // cpu | cuda
  std::optional<DType> dtype;        // cpu: weight matrices (nullopt: auto); cuda: weights,
                                     // activations and KV (nullopt: default_dtype)
  double gpu_memory_fraction = 0.9;  // cuda: the KV pool fills this share of the device ...
  int kv_blocks = 0;                 // ... unless a block count is given (> 0)
  DType resolved_dtype() const { return dtype.value_or(default_dtype(kind)); }
};

// The dtype to load weight matrices in for `choice` (LoadOptions and
// ModelSource::matrix_dtype): the CPU backend computes with the matrices as
// loaded (nullopt: each keeps its file's type); cuda converts them at upload
// from F32.
std::optional<DType> load_matrix_dtype(const BackendChoice& choice);
// The dtype as a flag value ("auto" on the CPU without one).
std::string dtype_description(const BackendChoice& choice);

// Whether this build has the CUDA backend.
bool cuda_backend_built();

// Throws Error(kInvalidArgument) naming what is wrong with `choice` (an
// unknown kind or dtype, a dtype the backend lacks, a fraction outside
// (0, 1], a negative block count), or Error(kUnsupported) for cuda in a build
// without it.
void check_backend_choice(const BackendChoice& choice);

// The factory of a (checked) choice.
BackendFactory backend_factory(const BackendChoice& choice);

// An Engine on the chosen backend, the one way tools and servers make one.
// The pool gets the choice's kv_blocks when given (> 0), else opts.kv_blocks;
// on cuda, 0 there means as many blocks as gpu_memory_fraction holds.
std::unique_ptr<Engine> make_engine(std::shared_ptr<const ModelWeights> weights,
                                    std::shared_ptr<const RouterWeights> router,
                                    BackendOptions opts, const BackendChoice& choice = {});

}  // namespace radial
