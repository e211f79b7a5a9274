// libFuzzer target: a router's radial.json through load_router, next to the
// real router.safetensors of models/stories260K and against its model
// config (what radiald does with --router DIR).
#include <cstddef>
#include <cstdint>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/model_config.h"
#include "engine/router.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

struct Setup {
  radial::ModelConfig model;
  std::string dir;
  Setup() {
    model = radial::load_hf_config(radial::fuzz::model_dir() + "/config.json");
    dir = radial::fuzz::scratch_dir() + "/router";
    std::filesystem::create_directories(dir);
    std::filesystem::copy_file(radial::fuzz::model_dir() + "/router.safetensors",
                               dir + "/router.safetensors",
                               std::filesystem::copy_options::overwrite_existing);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Setup setup;
  radial::fuzz::write_bytes(setup.dir + "/radial.json", data, size);
  try {
    const radial::RouterWeights r = radial::load_router(setup.dir, setup.model);
    (void)radial::to_json(r.config);
  } catch (const radial::Error&) {
  }
  return 0;
}
