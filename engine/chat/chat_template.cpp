#include "engine/chat/chat_template.h"

#include "engine/chat/jinja_template.h"
#include "engine/error.h"

namespace radial {

ChatTemplate::ChatTemplate(const std::string& source, ChatSpecialTokens tokens)
    : source_(source),
      template_(std::make_unique<jinja::Template>(source)),
      tokens_(std::move(tokens)) {}

ChatTemplate::~ChatTemplate() = default;

std::string ChatTemplate::render(const nlohmann::ordered_json& messages,
                                 const ChatRenderOptions& o) const {
  require(messages.is_array(), ErrorCode::kInvalidArgument,
          "chat template: messages must be a list");
  using jinja::Value;
  jinja::Dict ctx;
  ctx.set("messages", Value::from_json(messages));
  ctx.set("tools", Value::from_json(o.tools));
  ctx.set("documents", Value(jinja::None{}));
  ctx.set("add_generation_prompt", Value(o.add_generation_prompt));
  // transformers passes the special tokens that are set (special_tokens_map).
  auto token = [&](const char* name, const std::optional<std::string>& t) {
    if (t) ctx.set(name, Value(*t));
  };
  token("bos_token", tokens_.bos_token);
  token("eos_token", tokens_.eos_token);
  token("unk_token", tokens_.unk_token);
  token("pad_token", tokens_.pad_token);
  require(o.extra.is_object(), ErrorCode::kInvalidArgument,
          "chat template: extra variables must be an object");
  for (const auto& [k, v] : o.extra.items()) ctx.set(k, Value::from_json(v));
  jinja::Builtins env;
  env.now = o.now;
  return template_->render(ctx, env);
}

}  // namespace radial
