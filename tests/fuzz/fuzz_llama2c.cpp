// libFuzzer target: a llama2.c checkpoint (.bin: the 7-int32 header, then
// the weights) through load_llama2c_model.
#include <cstddef>
#include <cstdint>

#include "engine/error.h"
#include "engine/model_loader.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = radial::fuzz::scratch_dir() + "/model.bin";
  radial::fuzz::write_bytes(path, data, size);
  try {
    const radial::ModelWeights w = radial::load_llama2c_model(path);
    (void)w;
  } catch (const radial::Error&) {
  }
  return 0;
}
