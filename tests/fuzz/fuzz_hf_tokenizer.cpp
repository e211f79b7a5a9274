// libFuzzer target: a Hugging Face tokenizer.json as radiald reads it from
// a model directory (Tokenizer::load of the file), then, when it loads, a
// few texts through encode, decode and the streaming detokenizer; and the
// same file as `radial convert` reads it for a GGUF vocabulary
// (gguf_bpe_metadata).
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/error.h"
#include "engine/gguf_writer.h"
#include "engine/tokenizer.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = radial::fuzz::scratch_dir() + "/tokenizer.json";
  radial::fuzz::write_bytes(path, data, size);
  try {
    const auto tok = radial::Tokenizer::load(path);
    for (const char* text :
         {"Hello world, it's 2024!\n", "  <|eot_id|> caf\xC3\xA9 \xF0\x9F\x98\x80", ""}) {
      const auto ids = tok->encode(text, true);
      (void)tok->decode(ids, false);
      radial::StreamDetokenizer detok(*tok, -1);
      for (int id : ids) (void)detok.push(id);
      (void)detok.flush();
    }
  } catch (const radial::Error&) {
  }
  try {
    (void)radial::gguf_bpe_metadata(path, 1 << 20);
  } catch (const radial::Error&) {
  }
  return 0;
}
