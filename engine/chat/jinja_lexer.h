// The lexer of the chat-template renderer: splits a Jinja template into
// text and the tokens of its tags, with the whitespace rules of Hugging Face
// transformers' environment (jinja2 with trim_blocks and lstrip_blocks, no
// trailing newline kept): `{%-`/`-%}` strip whitespace, `{%+` keeps it, a
// block or comment tag alone on its line loses the indentation before it and
// the newline after it. Comments are dropped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace radial::jinja {

struct Token {
  enum class Kind {
    kText,        // template text between tags
    kBlockBegin,  // {%
    kBlockEnd,    // %}
    kVarBegin,    // {{
    kVarEnd,      // }}
    kName,        // identifier or keyword
    kString,      // string literal, escapes decoded
    kInt,
    kFloat,
    kOperator,  // + - * / // % ** ~ == != < <= > >= = . , : | ( ) [ ] { }
    kEnd,
  };
  Kind kind;
  std::string text;
  int line;
};

// Throws Error(kInvalidArgument) naming the line for malformed tags
// (unterminated tag, comment or string, an unknown character).
std::vector<Token> lex(std::string_view source);

}  // namespace radial::jinja
