// libFuzzer target: request text through the stories260K tokenizer, as a
// text prompt and stop strings reach it: encode (with and without BOS),
// decode, streaming detokenization of the ids and stop-string matching of
// the streamed text. The first byte splits the input into a stop string and
// the text.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "engine/error.h"
#include "engine/tokenizer.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::unique_ptr<radial::Tokenizer> tok =
      radial::Tokenizer::load(radial::fuzz::model_dir() + "/tokenizer.model");
  if (size == 0) return 0;
  const size_t split = std::min<size_t>(data[0], size - 1);
  const std::string stop(reinterpret_cast<const char*>(data) + 1, split);
  const std::string_view text(reinterpret_cast<const char*>(data) + 1 + split, size - 1 - split);
  try {
    const std::vector<int> ids = tok->encode(text, /*add_bos=*/true);
    const std::vector<int> raw = tok->encode(text, /*add_bos=*/false);
    (void)tok->decode(ids);
    radial::StreamDetokenizer detok(*tok, ids.front());
    std::unique_ptr<radial::StopMatcher> matcher;
    if (!stop.empty())
      matcher = std::make_unique<radial::StopMatcher>(std::vector<std::string>{stop});
    int prev = ids.front();
    for (int id : raw) {
      (void)tok->piece_bytes(prev, id);
      prev = id;
      const std::string piece = detok.push(id);
      if (matcher) {
        (void)matcher->feed(piece);
        if (matcher->stopped()) break;
      }
    }
    (void)detok.flush();
  } catch (const radial::Error&) {
  }
  return 0;
}
