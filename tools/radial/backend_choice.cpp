#include "tools/radial/backend_choice.h"

#include <string>
#include <utility>

#include "engine/error.h"

namespace radial::cli {

std::set<std::string> with_backend_options(std::set<std::string> extra) {
  extra.insert({"backend", "dtype", "gpu-memory-fraction", "kv-blocks"});
  return extra;
}

BackendChoice backend_choice(const Args& args) {
  BackendChoice c;
  c.kind = args.str("backend", "cpu");
  if (auto d = args.get("dtype"); d && *d != "auto") {
    c.dtype = parse_dtype(*d);
    if (!c.dtype)
      throw UsageError{"--dtype expects auto, f32, bf16, f16 or q8_0, got '" + *d + "'"};
  }
  if (auto f = args.number("gpu-memory-fraction")) {
    if (c.kind != "cuda")
      throw UsageError{"--gpu-memory-fraction applies only with --backend cuda"};
    c.gpu_memory_fraction = *f;
  }
  if (auto k = args.integer("kv-blocks")) {
    if (*k < 1 || *k > (1L << 30)) throw UsageError{"--kv-blocks expects a positive count"};
    if (args.has("gpu-memory-fraction"))
      throw UsageError{"give --gpu-memory-fraction or --kv-blocks, not both"};
    c.kv_blocks = static_cast<int>(*k);
  }
  try {
    check_backend_choice(c);
  } catch (const Error& e) {
    std::string msg = e.what();  // "field: ..." with the config file's field names
    for (auto [from, to] : {std::pair{"gpu_memory_fraction", "gpu-memory-fraction"},
                            std::pair{"kv_blocks", "kv-blocks"}})
      if (msg.rfind(from, 0) == 0) msg = to + msg.substr(std::string(from).size());
    throw UsageError{"--" + msg};
  }
  return c;
}

}  // namespace radial::cli
