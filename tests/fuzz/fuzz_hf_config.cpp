// libFuzzer target: a Hugging Face config.json through load_hf_config (the
// path the model loader and radiald's KV sizing take).
#include <cstddef>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/model_config.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = radial::fuzz::scratch_dir() + "/config.json";
  radial::fuzz::write_bytes(path, data, size);
  try {
    const radial::ModelConfig c = radial::load_hf_config(path);
    (void)c.kv_dim();
    (void)radial::to_hf_config(c);
  } catch (const radial::Error&) {
  }
  return 0;
}
