// Chat templates: tokenizer_config.json's `chat_template` (Jinja) rendered
// in C++ as Hugging Face transformers' apply_chat_template renders it: the
// same variables (messages, tools, documents, add_generation_prompt, the
// special tokens bos_token / eos_token / unk_token / pad_token, extra
// keyword arguments), raise_exception, strftime_now and a tojson that keeps
// non-ASCII text. A template using a construct outside the supported subset
// (engine/chat/jinja_parser.h) is refused when it is loaded.
#pragma once

#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace radial {

namespace jinja {
class Template;
}

struct ChatRenderOptions {
  bool add_generation_prompt = true;
  nlohmann::ordered_json tools;  // null: None (the template sees tools = None)
  // Further template variables (enable_thinking, date_string, ...).
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
  std::time_t now = 0;  // strftime_now's time (0: the current time)
};

struct ChatSpecialTokens {
  std::optional<std::string> bos_token, eos_token, unk_token, pad_token;
};

class ChatTemplate {
 public:
  // Parses `source`. Throws Error(kUnsupported) naming a construct outside
  // the subset and its line, Error(kInvalidArgument) for a syntax error.
  ChatTemplate(const std::string& source, ChatSpecialTokens tokens);
  ~ChatTemplate();

  // Renders `messages` (a JSON array of {"role", "content", ...}). Throws
  // Error(kInvalidArgument) when the template raises (raise_exception) or
  // fails on the messages (e.g. a missing field it needs).
  std::string render(const nlohmann::ordered_json& messages,
                     const ChatRenderOptions& options = {}) const;

  const std::string& source() const { return source_; }
  const ChatSpecialTokens& special_tokens() const { return tokens_; }

 private:
  std::string source_;
  std::unique_ptr<jinja::Template> template_;
  ChatSpecialTokens tokens_;
};

}  // namespace radial
