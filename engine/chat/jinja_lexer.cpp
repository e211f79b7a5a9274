#include "engine/chat/jinja_lexer.h"

#include <cstring>

#include "engine/error.h"
#include "engine/tokenizer/utf8.h"

namespace radial::jinja {

namespace {

[[noreturn]] void fail(int line, const std::string& what) {
  throw Error(ErrorCode::kInvalidArgument,
              "chat template: line " + std::to_string(line) + ": " + what);
}

// Python's str.isspace for the characters templates contain.
size_t space_length(std::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  if (c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1C && c <= 0x1F)) return 1;
  if (c < 0x80) return 0;
  const size_t len = utf8::sequence_length(s.substr(i));
  if (len == 0) return 0;
  const char32_t cp = utf8::decode(s.data() + i, len);
  const bool space = cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
                     cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
  return space ? len : 0;
}

// `s` without trailing whitespace (Python's str.rstrip()).
std::string_view rstrip(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t b = end - 1;
    while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
    if (space_length(s, b) != end - b) break;
    end = b;
  }
  return s.substr(0, end);
}

bool all_space(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size();) {
    const size_t n = space_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

size_t skip_space(std::string_view s, size_t i) {
  while (i < s.size()) {
    const size_t n = space_length(s, i);
    if (n == 0) break;
    i += n;
  }
  return i;
}

// Normalizes newlines to "\n" and drops one trailing newline (jinja2's
// keep_trailing_newline=False).
std::string normalize_source(std::string_view src) {
  std::string out;
  out.reserve(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
    } else {
      out.push_back(src[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes the escapes of a string literal's body as Python's unicode-escape.
std::string unescape(std::string_view body, int line) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 == body.size()) {
      out.push_back(body[i]);
      continue;
    }
    const char e = body[++i];
    switch (e) {
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '\'':
        out.push_back('\'');
        break;
      case '"':
        out.push_back('"');
        break;
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case '\n':
        break;  // line continuation
      case 'x':
      case 'u':
      case 'U': {
        const size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        char32_t cp = 0;
        for (size_t k = 1; k <= digits; ++k) {
          const int h = i + k < body.size() ? hex_value(body[i + k]) : -1;
          if (h < 0) fail(line, "truncated \\" + std::string(1, e) + " escape");
          cp = cp * 16 + static_cast<char32_t>(h);
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) fail(line, "invalid escape");
        utf8::append(&out, cp);
        i += digits;
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          int v = e - '0';
          for (int k = 0; k < 2 && i + 1 < body.size() && body[i + 1] >= '0' && body[i + 1] <= '7';
               ++k)
            v = v * 8 + (body[++i] - '0');
          utf8::append(&out, static_cast<char32_t>(v));
        } else {
          out.push_back('\\');  // unknown escapes stay as written
          out.push_back(e);
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string src) : s_(std::move(src)) {}

  std::vector<Token> run() {
    size_t pos = 0;
    bool line_starting = true;
    while (pos < s_.size()) {
      const size_t start = s_.find('{', pos);
      size_t tag = std::string::npos;
      for (size_t at = start; at != std::string::npos && at + 1 < s_.size();
           at = s_.find('{', at + 1)) {
        const char c = s_[at + 1];
        if (c == '{' || c == '%' || c == '#') {
          tag = at;
          break;
        }
      }
      if (tag == std::string::npos) {
        add_text(std::string_view(s_).substr(pos));
        break;
      }
      std::string_view text = std::string_view(s_).substr(pos, tag - pos);
      const char type = s_[tag + 1];
      const char sign =
          tag + 2 < s_.size() && (s_[tag + 2] == '-' || s_[tag + 2] == '+') ? s_[tag + 2] : 0;
      if (sign == '-') {
        text = rstrip(text);
      } else if (sign != '+' && type != '{') {  // lstrip_blocks
        const size_t nl = text.rfind('\n');
        const size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
        if ((l_pos > 0 || line_starting) && all_space(text.substr(l_pos)))
          text = text.substr(0, l_pos);
      }
      add_text(text);
      pos = tag + 2 + (sign ? 1 : 0);
      if (type == '#')
        pos = comment(pos, &line_starting);
      else
        pos = tag_body(type == '%', pos, &line_starting);
    }
    tokens_.push_back({Token::Kind::kEnd, "", line_of(s_.size())});
    return std::move(tokens_);
  }

 private:
  int line_of(size_t pos) {
    while (line_pos_ < pos && line_pos_ < s_.size()) {
      if (s_[line_pos_] == '\n') ++line_;
      ++line_pos_;
    }
    return line_;
  }

  void add_text(std::string_view text) {
    if (!text.empty())
      tokens_.push_back({Token::Kind::kText, std::string(text), line_of(text.data() - s_.data())});
  }

  // After `{#`: skips to the comment's end; returns the position after it.
  size_t comment(size_t pos, bool* line_starting) {
    for (size_t at = s_.find("#}", pos); at != std::string::npos; at = s_.find("#}", at + 1)) {
      size_t end = at + 2;
      if (at > pos && s_[at - 1] == '-') {
        end = skip_space(s_, end);
      } else if (!(at > pos && s_[at - 1] == '+') && end < s_.size() && s_[end] == '\n') {
        ++end;  // trim_blocks
      }
      *line_starting = s_[end - 1] == '\n';
      return end;
    }
    fail(line_of(pos), "missing end of comment tag");
  }

  // After `{%` or `{{` (and its sign): the tokens up to the matching end.
  size_t tag_body(bool block, size_t pos, bool* line_starting) {
    tokens_.push_back(
        {block ? Token::Kind::kBlockBegin : Token::Kind::kVarBegin, "", line_of(pos)});
    int depth = 0;  // open brackets: end tags are not recognized inside them
    const char* end_tag = block ? "%}" : "}}";
    while (true) {
      pos = skip_space(s_, pos);
      if (pos >= s_.size())
        fail(line_of(pos),
             std::string("missing end of ") + (block ? "block" : "variable") + " tag");
      if (depth == 0) {
        size_t end = std::string::npos;
        if (block && s_.compare(pos, 3, "+%}") == 0) {
          end = pos + 3;
        } else if (s_[pos] == '-' && s_.compare(pos + 1, 2, end_tag) == 0) {
          end = skip_space(s_, pos + 3);
        } else if (s_.compare(pos, 2, end_tag) == 0) {
          end = pos + 2;
          if (block && end < s_.size() && s_[end] == '\n') ++end;  // trim_blocks
        }
        if (end != std::string::npos) {
          tokens_.push_back(
              {block ? Token::Kind::kBlockEnd : Token::Kind::kVarEnd, "", line_of(pos)});
          *line_starting = s_[end - 1] == '\n';
          return end;
        }
      }
      pos = token(pos, &depth);
    }
  }

  size_t token(size_t pos, int* depth) {
    const int line = line_of(pos);
    const char c = s_[pos];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t end = pos;
      while (end < s_.size() &&
             (std::isalnum(static_cast<unsigned char>(s_[end])) || s_[end] == '_'))
        ++end;
      tokens_.push_back({Token::Kind::kName, s_.substr(pos, end - pos), line});
      return end;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t end = pos;
      auto digits = [&] {
        while (end < s_.size() &&
               (std::isdigit(static_cast<unsigned char>(s_[end])) || s_[end] == '_'))
          ++end;
      };
      digits();
      bool is_float = false;
      if (end + 1 < s_.size() && s_[end] == '.' &&
          std::isdigit(static_cast<unsigned char>(s_[end + 1]))) {
        ++end;
        digits();
        is_float = true;
      }
      if (end < s_.size() && (s_[end] == 'e' || s_[end] == 'E')) {
        size_t e = end + 1;
        if (e < s_.size() && (s_[e] == '+' || s_[e] == '-')) ++e;
        if (e < s_.size() && std::isdigit(static_cast<unsigned char>(s_[e]))) {
          end = e;
          digits();
          is_float = true;
        }
      }
      std::string text;
      for (size_t i = pos; i < end; ++i)
        if (s_[i] != '_') text.push_back(s_[i]);
      tokens_.push_back({is_float ? Token::Kind::kFloat : Token::Kind::kInt, text, line});
      return end;
    }
    if (c == '\'' || c == '"') {
      size_t end = pos + 1;
      while (end < s_.size() && s_[end] != c) end += s_[end] == '\\' ? 2 : 1;
      if (end >= s_.size()) fail(line, "unterminated string");
      tokens_.push_back({Token::Kind::kString,
                         unescape(std::string_view(s_).substr(pos + 1, end - pos - 1), line),
                         line});
      return end + 1;
    }
    static const char* const kOps[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/",
                                       "*",  "%",  "~",  "[",  "]",  "(",  ")", "{", "}",
                                       ">",  "<",  "=",  ".",  ":",  "|",  ",", ";"};
    for (const char* op : kOps) {
      const size_t n = std::strlen(op);
      if (s_.compare(pos, n, op) == 0) {
        if (n == 1 && (c == '(' || c == '[' || c == '{')) ++*depth;
        if (n == 1 && (c == ')' || c == ']' || c == '}')) {
          if (*depth == 0) fail(line, std::string("unexpected '") + c + "'");
          --*depth;
        }
        tokens_.push_back({Token::Kind::kOperator, op, line});
        return pos + n;
      }
    }
    fail(line, std::string("unexpected character '") + c + "'");
  }

  std::string s_;
  std::vector<Token> tokens_;
  size_t line_pos_ = 0;
  int line_ = 1;
};

}  // namespace

std::vector<Token> lex(std::string_view source) { return Lexer(normalize_source(source)).run(); }

}  // namespace radial::jinja
