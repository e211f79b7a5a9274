#include "engine/tokenizer/tokenizer_config.h"

#include "engine/error.h"
#include "engine/json_input.h"

namespace radial {

namespace {

using json = nlohmann::json;

std::optional<std::string> special_token(const json& cfg, const char* key,
                                         const std::string& path) {
  if (!cfg.contains(key) || cfg[key].is_null()) return std::nullopt;
  const json& v = cfg[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  throw Error(ErrorCode::kCorrupt, path + ": " + key + " must be a string or {\"content\": ...}");
}

}  // namespace

TokenizerConfig load_tokenizer_config(const std::string& path) {
  const json cfg = read_json_file(path);
  require(cfg.is_object(), ErrorCode::kCorrupt, path + ": must be a JSON object");
  TokenizerConfig c;
  c.bos_token = special_token(cfg, "bos_token", path);
  c.eos_token = special_token(cfg, "eos_token", path);
  c.unk_token = special_token(cfg, "unk_token", path);
  c.pad_token = special_token(cfg, "pad_token", path);
  if (cfg.contains("chat_template") && !cfg["chat_template"].is_null()) {
    const json& t = cfg["chat_template"];
    if (t.is_string()) {
      c.chat_template = t.get<std::string>();
    } else if (t.is_array()) {
      bool found = false;
      for (const json& e : t) {
        if (!e.is_object() || !e.contains("name") || !e.contains("template") ||
            !e["template"].is_string())
          throw Error(ErrorCode::kCorrupt,
                      path + ": chat_template entries must be {\"name\", \"template\"}");
        if (e["name"] == "default")
          c.chat_template = e["template"].get<std::string>(), found = true;
      }
      require(found, ErrorCode::kUnsupported, path + ": chat_template has no \"default\" entry");
    } else {
      throw Error(ErrorCode::kCorrupt,
                  path + ": chat_template must be a string or a list of named templates");
    }
  }
  return c;
}

std::vector<int> load_generation_eos_ids(const std::string& path) {
  const json cfg = read_json_file(path);
  require(cfg.is_object(), ErrorCode::kCorrupt, path + ": must be a JSON object");
  std::vector<int> ids;
  if (!cfg.contains("eos_token_id") || cfg["eos_token_id"].is_null()) return ids;
  const json& v = cfg["eos_token_id"];
  auto add = [&](const json& id) {
    require(id.is_number_unsigned() && id.get<uint64_t>() < (1u << 30), ErrorCode::kCorrupt,
            path + ": eos_token_id must be a token id or a list of them");
    ids.push_back(id.get<int>());
  };
  if (v.is_array()) {
    for (const json& id : v) add(id);
  } else {
    add(v);
  }
  return ids;
}

}  // namespace radial
