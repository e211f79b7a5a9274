// A parsed Jinja template of the chat-template subset (jinja_parser.h) and
// its renderer, with transformers' semantics: jinja2's scoping (a for loop's
// body is a new scope each iteration; namespaces carry values out), Python
// operators and truthiness, Undefined printing as "".
#pragma once

#include <string>
#include <string_view>

#include "engine/chat/jinja_ast.h"
#include "engine/chat/jinja_builtins.h"

namespace radial::jinja {

class Template {
 public:
  // Throws Error(kInvalidArgument / kUnsupported) naming the line.
  explicit Template(std::string_view source);
  // Renders with `context` as the global variables. Throws
  // Error(kInvalidArgument) for errors the template raises or runs into
  // (raise_exception, undefined attributes, type errors, limits).
  std::string render(const Dict& context, const Builtins& env) const;

 private:
  Body body_;
};

}  // namespace radial::jinja
