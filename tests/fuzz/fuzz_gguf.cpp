// libFuzzer target: a GGUF file through load_gguf_model and
// load_gguf_tokenizer (the header parser, the metadata checks, the
// dequantizers and the embedded SentencePiece vocabulary).
#include <cstddef>
#include <cstdint>

#include "engine/error.h"
#include "engine/gguf_loader.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = radial::fuzz::scratch_dir() + "/model.gguf";
  radial::fuzz::write_bytes(path, data, size);
  try {
    const radial::ModelWeights w = radial::load_gguf_model(path);
    (void)w;
  } catch (const radial::Error&) {
  }
  try {
    const auto tok = radial::load_gguf_tokenizer(path);
    (void)tok->encode("a b");
  } catch (const radial::Error&) {
  }
  return 0;
}
