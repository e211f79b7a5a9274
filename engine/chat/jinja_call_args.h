// Helpers the chat-template builtins share (jinja_builtins.cpp,
// jinja_filters.cpp): argument access and checks with jinja2-style errors.
// Internal to the renderer.
#pragma once

#include <cstdint>
#include <string>

#include "engine/chat/jinja_value.h"
#include "engine/error.h"

namespace radial::jinja::detail {

[[noreturn]] inline void fail(const std::string& what) {
  throw Error(ErrorCode::kInvalidArgument, "chat template: " + what);
}

// Argument `i` (or keyword `key`) of a call, or null.
inline const Value* arg(const Args& a, size_t i, const char* key) {
  for (const auto& [k, v] : a.keyword)
    if (k == key) return &v;
  return i < a.positional.size() ? &a.positional[i] : nullptr;
}

inline const std::string& need_string(const Value& x, const std::string& what) {
  if (!x.is_string()) fail(what + " expects a string, got " + x.type_name());
  return x.str();
}

inline int64_t need_int(const Value* x, int64_t fallback, const std::string& what) {
  if (x == nullptr || x->is_none()) return fallback;
  if (!x->is_int() && !x->is_bool()) fail(what + " expects an integer, got " + x->type_name());
  return x->integer();
}

inline List dict_items(const Dict& d) {
  List l;
  for (const auto& [k, v] : d.items) l.push_back(Value::tuple({Value(k), v}));
  return l;
}

}  // namespace radial::jinja::detail
