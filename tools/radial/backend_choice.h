// The compute backend a local command runs on, from its flags:
// --backend cpu|cuda, --dtype f32|bf16|f16 (cuda; the CPU backend is fp32
// only), --gpu-memory-fraction F or --kv-blocks N (the KV pool). The choice
// itself and the factory are in kernels/backend_factory.h.
#pragma once

#include <set>
#include <string>

#include "kernels/backend_factory.h"
#include "tools/radial/args.h"

namespace radial::cli {

// `extra` plus --backend --dtype --gpu-memory-fraction --kv-blocks.
std::set<std::string> with_backend_options(std::set<std::string> extra);

// Throws UsageError on a bad value, or on cuda in a build without it.
BackendChoice backend_choice(const Args& args);

}  // namespace radial::cli
