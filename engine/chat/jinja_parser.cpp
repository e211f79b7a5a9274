#include "engine/chat/jinja_parser.h"

#include <set>

#include "engine/chat/jinja_lexer.h"
#include "engine/error.h"

namespace radial::jinja {

namespace {

using K = Token::Kind;

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  Body run() {
    Body body = parse_body({});
    if (peek().kind != K::kEnd) fail("unexpected '" + peek_tag_name() + "'");
    for (const auto& [name, line] : calls_)
      if (!is_known_global(name) && macros_.count(name) == 0)
        throw Error(ErrorCode::kUnsupported, "chat template: line " + std::to_string(line) +
                                                 ": unsupported function '" + name + "'");
    return body;
  }

 private:
  const Token& peek(size_t ahead = 0) const { return t_[std::min(i_ + ahead, t_.size() - 1)]; }
  const Token& next() { return t_[std::min(i_++, t_.size() - 1)]; }
  [[noreturn]] void fail(const std::string& what,
                         ErrorCode code = ErrorCode::kInvalidArgument) const {
    throw Error(code, "chat template: line " + std::to_string(peek().line) + ": " + what);
  }
  bool is_op(const char* op, size_t ahead = 0) const {
    return peek(ahead).kind == K::kOperator && peek(ahead).text == op;
  }
  bool is_name(const char* name, size_t ahead = 0) const {
    return peek(ahead).kind == K::kName && peek(ahead).text == name;
  }
  void expect_op(const char* op) {
    if (!is_op(op)) fail(std::string("expected '") + op + "'");
    ++i_;
  }
  std::string expect_name() {
    if (peek().kind != K::kName) fail("expected a name");
    return next().text;
  }
  void expect_block_end() {
    if (peek().kind != K::kBlockEnd) fail("expected end of block tag");
    ++i_;
  }
  std::string peek_tag_name() const {
    return peek().kind == K::kBlockBegin && peek(1).kind == K::kName ? peek(1).text : peek().text;
  }

  // Parses nodes until a block tag named in `ends` (left unconsumed).
  Body parse_body(const std::set<std::string>& ends) {
    Body body;
    while (true) {
      const Token& tok = peek();
      if (tok.kind == K::kEnd) {
        if (!ends.empty()) fail("unexpected end of template, expected '" + *ends.rbegin() + "'");
        return body;
      }
      if (tok.kind == K::kText) {
        auto n = std::make_unique<Node>();
        n->kind = Node::Kind::kText;
        n->line = tok.line;
        n->text = next().text;
        body.push_back(std::move(n));
      } else if (tok.kind == K::kVarBegin) {
        ++i_;
        auto n = std::make_unique<Node>();
        n->kind = Node::Kind::kOutput;
        n->line = tok.line;
        n->expr = parse_tuple_or_expression();
        if (peek().kind != K::kVarEnd) fail("expected end of print statement");
        ++i_;
        body.push_back(std::move(n));
      } else if (tok.kind == K::kBlockBegin) {
        if (peek(1).kind != K::kName) fail("expected a tag name");
        const std::string name = peek(1).text;
        if (ends.count(name)) return body;
        i_ += 2;
        body.push_back(parse_statement(name, tok.line));
      } else {
        fail("unexpected token");
      }
    }
  }

  std::unique_ptr<Node> parse_statement(const std::string& name, int line) {
    DepthGuard guard(this);
    auto n = std::make_unique<Node>();
    n->line = line;
    if (name == "if") {
      n->kind = Node::Kind::kIf;
      ExprPtr cond = parse_expression();
      expect_block_end();
      while (true) {
        Body body = parse_body({"elif", "else", "endif"});
        n->branches.emplace_back(std::move(cond), std::move(body));
        i_ += 1;
        const std::string tag = next().text;
        if (tag == "elif") {
          cond = parse_expression();
          expect_block_end();
          continue;
        }
        expect_block_end();
        if (tag == "else") {
          n->else_body = parse_body({"endif"});
          i_ += 2;
          expect_block_end();
        }
        break;
      }
    } else if (name == "for") {
      n->kind = Node::Kind::kFor;
      n->targets = parse_targets();
      if (!is_name("in")) fail("expected 'in'");
      ++i_;
      n->expr = parse_expression(/*with_condition=*/false);
      if (is_name("if")) {
        ++i_;
        n->filter = parse_expression();
      }
      if (is_name("recursive")) fail("recursive loops are not supported", ErrorCode::kUnsupported);
      expect_block_end();
      ++loop_depth_;
      n->body = parse_body({"else", "endfor"});
      --loop_depth_;
      i_ += 1;
      if (next().text == "else") {
        expect_block_end();
        n->else_body = parse_body({"endfor"});
        i_ += 2;
      }
      expect_block_end();
    } else if (name == "set") {
      if (peek(1).kind == K::kOperator && peek(1).text == "." && peek().kind == K::kName) {
        n->kind = Node::Kind::kSet;
        n->targets = {next().text};
        ++i_;
        n->target_attr = expect_name();
        expect_op("=");
        n->expr = parse_tuple_or_expression();
        expect_block_end();
      } else {
        n->targets = parse_targets();
        if (is_op("=")) {
          ++i_;
          n->kind = Node::Kind::kSet;
          n->expr = parse_tuple_or_expression();
          expect_block_end();
        } else {
          n->kind = Node::Kind::kSetBlock;
          if (n->targets.size() != 1) fail("a block set takes one name");
          expect_block_end();
          n->body = parse_body({"endset"});
          i_ += 2;
          expect_block_end();
        }
      }
    } else if (name == "macro") {
      n->kind = Node::Kind::kMacro;
      n->name = expect_name();
      macros_.insert(n->name);
      expect_op("(");
      while (!is_op(")")) {
        std::string param = expect_name();
        ExprPtr def;
        if (is_op("=")) {
          ++i_;
          def = parse_expression();
        }
        n->params.emplace_back(std::move(param), std::move(def));
        if (!is_op(")")) expect_op(",");
      }
      ++i_;
      expect_block_end();
      n->body = parse_body({"endmacro"});
      i_ += 2;
      expect_block_end();
    } else if (name == "break" || name == "continue") {
      if (loop_depth_ == 0) fail("'" + name + "' outside a loop");
      n->kind = name == "break" ? Node::Kind::kBreak : Node::Kind::kContinue;
      expect_block_end();
    } else if (name == "generation") {
      // transformers' AssistantTracker marker: renders its body unchanged.
      n->kind = Node::Kind::kIf;
      expect_block_end();
      auto yes = std::make_unique<Expr>();
      yes->kind = Expr::Kind::kLiteral;
      yes->value = Value(true);
      n->branches.emplace_back(std::move(yes), parse_body({"endgeneration"}));
      i_ += 2;
      expect_block_end();
    } else if (name == "elif" || name == "else" || name.rfind("end", 0) == 0) {
      --i_;
      fail("unexpected '" + name + "'");
    } else {
      --i_;
      fail("unsupported tag '" + name + "'", ErrorCode::kUnsupported);
    }
    return n;
  }

  std::vector<std::string> parse_targets() {
    std::vector<std::string> names;
    const bool paren = is_op("(");
    if (paren) ++i_;
    names.push_back(expect_name());
    while (is_op(",")) {
      ++i_;
      names.push_back(expect_name());
    }
    if (paren) expect_op(")");
    return names;
  }

  ExprPtr make(Expr::Kind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }

  // expression (, expression)* : a tuple when there is a comma.
  ExprPtr parse_tuple_or_expression() {
    const int line = peek().line;
    ExprPtr first = parse_expression();
    if (!is_op(",")) return first;
    auto t = make(Expr::Kind::kTuple, line);
    t->args.push_back(std::move(first));
    while (is_op(",")) {
      ++i_;
      if (peek().kind == K::kVarEnd || peek().kind == K::kBlockEnd) break;
      t->args.push_back(parse_expression());
    }
    return t;
  }

  ExprPtr parse_expression(bool with_condition = true) {
    DepthGuard guard(this);
    ExprPtr e = parse_or();
    if (!with_condition) return e;
    while (is_name("if")) {
      const int line = next().line;
      auto c = make(Expr::Kind::kCondition, line);
      c->args.push_back(std::move(e));
      c->args.push_back(parse_or());
      if (is_name("else")) {
        ++i_;
        c->args.push_back(parse_expression());
      } else {
        c->args.push_back(nullptr);
      }
      e = std::move(c);
    }
    return e;
  }

  ExprPtr binary(Expr::Kind kind, const std::string& op, ExprPtr a, ExprPtr b, int line) {
    auto e = make(kind, line);
    e->name = op;
    e->args.push_back(std::move(a));
    e->args.push_back(std::move(b));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (is_name("or")) {
      const int line = next().line;
      e = binary(Expr::Kind::kOr, "or", std::move(e), parse_and(), line);
    }
    return e;
  }
  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (is_name("and")) {
      const int line = next().line;
      e = binary(Expr::Kind::kAnd, "and", std::move(e), parse_not(), line);
    }
    return e;
  }
  ExprPtr parse_not() {
    DepthGuard guard(this);
    if (is_name("not")) {
      auto e = make(Expr::Kind::kNot, next().line);
      e->args.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }
  ExprPtr parse_compare() {
    ExprPtr e = parse_math1();
    while (true) {
      const int line = peek().line;
      std::string op;
      if (peek().kind == K::kOperator &&
          (peek().text == "==" || peek().text == "!=" || peek().text == "<" ||
           peek().text == "<=" || peek().text == ">" || peek().text == ">=")) {
        op = next().text;
      } else if (is_name("in")) {
        ++i_;
        op = "in";
      } else if (is_name("not") && is_name("in", 1)) {
        i_ += 2;
        op = "notin";
      } else {
        return e;
      }
      e = binary(Expr::Kind::kCompare, op, std::move(e), parse_math1(), line);
    }
  }
  ExprPtr parse_math1() {
    ExprPtr e = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& op = next();
      e = binary(Expr::Kind::kBinary, op.text, std::move(e), parse_concat(), op.line);
    }
    return e;
  }
  ExprPtr parse_concat() {
    ExprPtr e = parse_math2();
    while (is_op("~")) {
      const int line = next().line;
      e = binary(Expr::Kind::kBinary, "~", std::move(e), parse_math2(), line);
    }
    return e;
  }
  ExprPtr parse_math2() {
    ExprPtr e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& op = next();
      e = binary(Expr::Kind::kBinary, op.text, std::move(e), parse_pow(), op.line);
    }
    return e;
  }
  ExprPtr parse_pow() {
    ExprPtr e = parse_unary();
    while (is_op("**")) {
      const int line = next().line;
      e = binary(Expr::Kind::kBinary, "**", std::move(e), parse_unary(), line);
    }
    return e;
  }
  ExprPtr parse_unary(bool with_filter = true) {
    DepthGuard guard(this);
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      const Token& op = next();
      e = make(op.text == "-" ? Expr::Kind::kNeg : Expr::Kind::kPos, op.line);
      e->args.push_back(parse_unary(false));
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprPtr parse_primary() {
    const Token& tok = peek();
    if (tok.kind == K::kName) {
      ++i_;
      const std::string& n = tok.text;
      auto lit = [&](Value v) {
        auto e = make(Expr::Kind::kLiteral, tok.line);
        e->value = std::move(v);
        return e;
      };
      if (n == "true" || n == "True") return lit(Value(true));
      if (n == "false" || n == "False") return lit(Value(false));
      if (n == "none" || n == "None") return lit(Value(None{}));
      auto e = make(Expr::Kind::kName, tok.line);
      e->name = n;
      return e;
    }
    if (tok.kind == K::kString) {
      std::string s;
      while (peek().kind == K::kString) s += next().text;  // adjacent literals concatenate
      auto e = make(Expr::Kind::kLiteral, tok.line);
      e->value = Value(std::move(s));
      return e;
    }
    if (tok.kind == K::kInt || tok.kind == K::kFloat) {
      ++i_;
      auto e = make(Expr::Kind::kLiteral, tok.line);
      try {
        e->value = tok.kind == K::kInt ? Value(static_cast<int64_t>(std::stoll(tok.text)))
                                       : Value(std::stod(tok.text));
      } catch (const std::exception&) {
        fail("number out of range: " + tok.text);
      }
      return e;
    }
    if (is_op("(")) {
      ++i_;
      if (is_op(")")) {
        ++i_;
        return make(Expr::Kind::kTuple, tok.line);
      }
      ExprPtr first = parse_expression();
      if (is_op(")")) {
        ++i_;
        return first;
      }
      auto t = make(Expr::Kind::kTuple, tok.line);
      t->args.push_back(std::move(first));
      while (is_op(",")) {
        ++i_;
        if (is_op(")")) break;
        t->args.push_back(parse_expression());
      }
      expect_op(")");
      return t;
    }
    if (is_op("[")) {
      ++i_;
      auto l = make(Expr::Kind::kList, tok.line);
      while (!is_op("]")) {
        l->args.push_back(parse_expression());
        if (!is_op("]")) expect_op(",");
      }
      ++i_;
      return l;
    }
    if (is_op("{")) {
      ++i_;
      auto d = make(Expr::Kind::kDict, tok.line);
      while (!is_op("}")) {
        d->keys.push_back(parse_expression());
        expect_op(":");
        d->args.push_back(parse_expression());
        if (!is_op("}")) expect_op(",");
      }
      ++i_;
      return d;
    }
    fail("unexpected '" + (tok.text.empty() ? std::string("end of tag") : tok.text) + "'");
  }

  void parse_call_args(Expr* e) {
    expect_op("(");
    while (!is_op(")")) {
      if (is_op("*") || is_op("**"))
        fail("*args and **kwargs are not supported", ErrorCode::kUnsupported);
      if (peek().kind == K::kName && is_op("=", 1)) {
        std::string key = next().text;
        ++i_;
        e->kwargs.emplace_back(std::move(key), parse_expression());
      } else {
        e->args.push_back(parse_expression());
      }
      if (!is_op(")")) expect_op(",");
    }
    ++i_;
  }

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      const int line = peek().line;
      if (is_op(".")) {
        ++i_;
        if (peek().kind == K::kInt) {  // x.0: an item
          auto it = make(Expr::Kind::kItem, line);
          auto idx = make(Expr::Kind::kLiteral, line);
          try {
            idx->value = Value(static_cast<int64_t>(std::stoll(peek().text)));
          } catch (const std::exception&) {
            fail("number out of range: " + peek().text);
          }
          ++i_;
          it->args.push_back(std::move(e));
          it->args.push_back(std::move(idx));
          e = std::move(it);
          continue;
        }
        const std::string attr = expect_name();
        if (is_op("(")) {
          if (!is_known_method(attr)) {
            --i_;
            fail("unsupported method '" + attr + "'", ErrorCode::kUnsupported);
          }
          auto m = make(Expr::Kind::kMethod, line);
          m->name = attr;
          m->args.push_back(std::move(e));
          parse_call_args(m.get());
          e = std::move(m);
        } else {
          auto a = make(Expr::Kind::kAttr, line);
          a->name = attr;
          a->args.push_back(std::move(e));
          e = std::move(a);
        }
      } else if (is_op("[")) {
        ++i_;
        ExprPtr parts[3];
        bool slice = false;
        for (int k = 0; k < 3; ++k) {
          if (!is_op(":") && !is_op("]")) parts[k] = parse_expression();
          if (k < 2 && is_op(":")) {
            ++i_;
            slice = true;
          } else {
            break;
          }
        }
        expect_op("]");
        auto s = make(slice ? Expr::Kind::kSlice : Expr::Kind::kItem, line);
        s->args.push_back(std::move(e));
        if (!slice && !parts[0]) fail("expected an index");
        for (int k = 0; k < (slice ? 3 : 1); ++k) s->args.push_back(std::move(parts[k]));
        e = std::move(s);
      } else if (is_op("(")) {
        if (e->kind != Expr::Kind::kName)
          fail("only named functions can be called", ErrorCode::kUnsupported);
        calls_.emplace_back(e->name, line);
        auto c = make(Expr::Kind::kCall, line);
        c->name = e->name;
        parse_call_args(c.get());
        e = std::move(c);
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_filter_expr(ExprPtr e) {
    while (true) {
      const int line = peek().line;
      if (is_op("|")) {
        ++i_;
        std::string name = expect_name();
        if (!is_known_filter(name)) {
          --i_;
          fail("unsupported filter '" + name + "'", ErrorCode::kUnsupported);
        }
        auto f = make(Expr::Kind::kFilter, line);
        f->name = name;
        f->args.push_back(std::move(e));
        if (is_op("(")) parse_call_args(f.get());
        e = std::move(f);
      } else if (is_name("is")) {
        ++i_;
        auto t = make(Expr::Kind::kTest, line);
        if (is_name("not")) {
          ++i_;
          t->negated = true;
        }
        if (peek().kind == K::kName) {
          t->name = next().text;
        } else if (peek().kind == K::kOperator &&
                   (peek().text == "==" || peek().text == "!=" || peek().text == "<" ||
                    peek().text == ">" || peek().text == "<=" || peek().text == ">=")) {
          t->name = next().text;
        } else {
          fail("expected a test name");
        }
        if (!is_known_test(t->name)) {
          --i_;
          fail("unsupported test '" + t->name + "'", ErrorCode::kUnsupported);
        }
        t->args.push_back(std::move(e));
        if (is_op("(")) {
          parse_call_args(t.get());
        } else if ((peek().kind == K::kName && !is_name("else") && !is_name("or") &&
                    !is_name("and")) ||
                   peek().kind == K::kString || peek().kind == K::kInt ||
                   peek().kind == K::kFloat || is_op("[") || is_op("{")) {
          ExprPtr arg = parse_primary();
          t->args.push_back(parse_postfix(std::move(arg)));
        }
        e = std::move(t);
      } else if (is_op("(")) {
        fail("only named functions can be called", ErrorCode::kUnsupported);
      } else {
        return e;
      }
    }
  }

  // Bounds the recursion of nested expressions and blocks (the stack).
  struct DepthGuard {
    Parser* p;
    explicit DepthGuard(Parser* parser) : p(parser) {
      if (++p->depth_ > kMaxDepth)
        p->fail("nested too deeply (more than " + std::to_string(kMaxDepth) + " levels)");
    }
    ~DepthGuard() { --p->depth_; }
  };
  static constexpr int kMaxDepth = 200;

  std::vector<Token> t_;
  size_t i_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
  std::set<std::string> macros_;
  std::vector<std::pair<std::string, int>> calls_;
};

}  // namespace

Body parse(std::string_view source) { return Parser(lex(source)).run(); }

}  // namespace radial::jinja
