// libFuzzer target: a chat template (tokenizer_config.json's chat_template)
// parsed as radiald parses it at load, then rendered over a short
// conversation, as a chat request renders it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/chat/chat_template.h"
#include "engine/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string source(reinterpret_cast<const char*>(data), size);
  static const auto messages = nlohmann::ordered_json::parse(
      R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi \u00e9"},
          {"role": "assistant", "content": "<think>x</think>Hello"}, {"role": "user", "content": ""}])");
  try {
    const radial::ChatTemplate t(
        source, {std::string("<s>"), std::string("</s>"), std::nullopt, std::nullopt});
    radial::ChatRenderOptions o;
    o.now = 1796385600;
    (void)t.render(messages, o);
  } catch (const radial::Error&) {
  }
  return 0;
}
