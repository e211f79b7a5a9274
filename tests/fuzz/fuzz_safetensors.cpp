// libFuzzer target: a safetensors file (header and data) through
// SafetensorsFile::open and read() of every tensor the engine can read,
// as the model and router loaders use them.
#include <cstddef>
#include <cstdint>

#include "engine/error.h"
#include "engine/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = radial::fuzz::scratch_dir() + "/model.safetensors";
  radial::fuzz::write_bytes(path, data, size);
  try {
    radial::SafetensorsFile f = radial::SafetensorsFile::open(path);
    for (const std::string& name : f.names()) {
      try {
        radial::Tensor t = f.read(name, radial::DType::kF32);
        (void)t;
      } catch (const radial::Error&) {
        // an unsupported dtype: reported per tensor
      }
    }
  } catch (const radial::Error&) {
  }
  return 0;
}
