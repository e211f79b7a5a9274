#include "engine/chat/jinja_template.h"

#include <cmath>

#include "engine/chat/jinja_parser.h"
#include "engine/error.h"

namespace radial::jinja {

namespace {

constexpr size_t kMaxOutput = 64u << 20;     // bytes a rendering may produce
constexpr int64_t kMaxIterations = 1000000;  // loop iterations in one rendering
constexpr int kMaxMacroDepth = 64;

[[noreturn]] void fail(int line, const std::string& what) {
  throw Error(ErrorCode::kInvalidArgument,
              "chat template: line " + std::to_string(line) + ": " + what);
}

class Renderer {
 public:
  Renderer(const Dict& context, const Builtins& env) : env_(env) {
    // The globals of transformers' environment are defined variables
    // (`strftime_now is defined`), shadowed by context variables of that name.
    Dict root;
    for (const char* name : {"range", "dict", "namespace", "raise_exception", "strftime_now"}) {
      const Builtins* e = &env_;
      const std::string n = name;
      root.set(n, Value::function(n, [e, n](const Args& a) { return call_global(n, a, *e); }));
    }
    for (const auto& [k, v] : context.items) root.set(k, v);
    scopes_.push_back(std::move(root));
  }

  enum class Flow { kNormal, kBreak, kContinue };

  Flow exec(const Body& body, std::string* out) {
    for (const auto& n : body) {
      const Flow f = exec(*n, out);
      if (f != Flow::kNormal) return f;
      if (out->size() > kMaxOutput)
        fail(n->line, "the rendering exceeds " + std::to_string(kMaxOutput) + " bytes");
    }
    return Flow::kNormal;
  }

 private:
  Flow exec(const Node& n, std::string* out) {
    switch (n.kind) {
      case Node::Kind::kText:
        *out += n.text;
        return Flow::kNormal;
      case Node::Kind::kOutput:
        *out += to_string(eval(*n.expr));
        return Flow::kNormal;
      case Node::Kind::kIf:
        for (const auto& [cond, body] : n.branches)
          if (truthy(eval(*cond))) return exec(body, out);
        return exec(n.else_body, out);
      case Node::Kind::kFor:
        return exec_for(n, out);
      case Node::Kind::kSet: {
        Value v = eval(*n.expr);
        if (!n.target_attr.empty()) {
          const Value ns = lookup(n.targets[0]);
          if (!ns.is_namespace())
            fail(n.line, "cannot assign an attribute of a non-namespace object");
          ns.ns().set(n.target_attr, std::move(v));
        } else {
          assign(n.targets, v, n.line);
        }
        return Flow::kNormal;
      }
      case Node::Kind::kSetBlock: {
        std::string captured;
        exec(n.body, &captured);
        scopes_.back().set(n.targets[0], Value(std::move(captured)));
        return Flow::kNormal;
      }
      case Node::Kind::kMacro:
        scopes_.back().set(n.name, make_macro(n));
        return Flow::kNormal;
      case Node::Kind::kBreak:
        return Flow::kBreak;
      case Node::Kind::kContinue:
        return Flow::kContinue;
    }
    return Flow::kNormal;
  }

  void assign(const std::vector<std::string>& targets, const Value& v, int line) {
    if (targets.size() == 1) {
      scopes_.back().set(targets[0], v);
      return;
    }
    if (!v.is_sequence() && !v.is_string()) fail(line, "cannot unpack a " + v.type_name());
    const List items = iterate(v);
    if (items.size() != targets.size())
      fail(line, "expected " + std::to_string(targets.size()) + " values to unpack, got " +
                     std::to_string(items.size()));
    for (size_t i = 0; i < targets.size(); ++i) scopes_.back().set(targets[i], items[i]);
  }

  Flow exec_for(const Node& n, std::string* out) {
    const Value seq = eval(*n.expr);
    if (!seq.is_undefined() && !seq.is_sequence() && !seq.is_dict() && !seq.is_string())
      fail(n.line, "'" + seq.type_name() + "' object is not iterable");
    List items = iterate(seq);
    if (n.filter) {
      List kept;
      for (const Value& item : items) {
        scopes_.emplace_back();
        assign(n.targets, item, n.line);
        const bool keep = truthy(eval(*n.filter));
        scopes_.pop_back();
        if (keep) kept.push_back(item);
      }
      items = std::move(kept);
    }
    if (items.empty()) return exec(n.else_body, out);
    const auto len = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < len; ++i) {
      if (++iterations_ > kMaxIterations)
        fail(n.line, "more than " + std::to_string(kMaxIterations) + " loop iterations");
      Dict loop;
      loop.set("index", Value(i + 1));
      loop.set("index0", Value(i));
      loop.set("revindex", Value(len - i));
      loop.set("revindex0", Value(len - i - 1));
      loop.set("first", Value(i == 0));
      loop.set("last", Value(i == len - 1));
      loop.set("length", Value(len));
      loop.set("depth", Value(int64_t{1}));
      loop.set("depth0", Value(int64_t{0}));
      loop.set("previtem", i > 0 ? items[i - 1] : Value::undefined("previtem"));
      loop.set("nextitem", i + 1 < len ? items[i + 1] : Value::undefined("nextitem"));
      loop.set("cycle", Value::function("cycle", [i](const Args& a) {
                 if (a.positional.empty())
                   throw Error(ErrorCode::kInvalidArgument,
                               "chat template: loop.cycle needs arguments");
                 return a.positional[static_cast<size_t>(i) % a.positional.size()];
               }));
      scopes_.emplace_back();
      scopes_.back().set("loop", Value(std::move(loop)));
      assign(n.targets, items[i], n.line);
      const Flow f = exec(n.body, out);
      scopes_.pop_back();
      if (f == Flow::kBreak) break;
    }
    return Flow::kNormal;
  }

  Value make_macro(const Node& n) {
    const Node* node = &n;
    return Value::function(n.name, [this, node](const Args& a) {
      if (macro_depth_ >= kMaxMacroDepth) fail(node->line, "macro calls nested too deeply");
      Dict locals;
      for (size_t i = 0; i < node->params.size(); ++i) {
        const auto& [name, def] = node->params[i];
        Value v = i < a.positional.size() ? a.positional[i] : Value::undefined(name);
        for (const auto& [k, kv] : a.keyword)
          if (k == name) v = kv;
        if (v.is_undefined() && def) v = eval(*def);
        locals.set(name, v);
      }
      if (a.positional.size() > node->params.size())
        fail(node->line, "macro '" + node->name + "' takes " + std::to_string(node->params.size()) +
                             " arguments");
      std::vector<Dict> saved;
      saved.swap(scopes_);
      scopes_.push_back(saved.front());
      scopes_.push_back(std::move(locals));
      ++macro_depth_;
      std::string out;
      try {
        exec(node->body, &out);
      } catch (...) {
        --macro_depth_;
        scopes_.swap(saved);
        throw;
      }
      --macro_depth_;
      saved.front() = scopes_.front();
      scopes_.swap(saved);
      return Value(std::move(out));
    });
  }

  Value lookup(const std::string& name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it)
      if (const Value* v = it->find(name)) return *v;
    return Value::undefined(name);
  }

  Args eval_args(const Expr& e, size_t from) {
    Args a;
    for (size_t i = from; i < e.args.size(); ++i) a.positional.push_back(eval(*e.args[i]));
    for (const auto& [k, v] : e.kwargs) a.keyword.emplace_back(k, eval(*v));
    return a;
  }

  Value eval(const Expr& e) {
    try {
      return eval_inner(e);
    } catch (const Error& err) {
      const std::string msg = err.what();
      if (msg.rfind("chat template: line ", 0) == 0 || err.code() != ErrorCode::kInvalidArgument)
        throw;
      // Builtins report without a line: add the expression's.
      throw Error(err.code(), "chat template: line " + std::to_string(e.line) + ": " +
                                  msg.substr(std::string("chat template: ").size()));
    }
  }

  Value eval_inner(const Expr& e) {
    using EK = Expr::Kind;
    switch (e.kind) {
      case EK::kLiteral:
        return e.value;
      case EK::kName:
        return lookup(e.name);
      case EK::kList:
      case EK::kTuple: {
        List l;
        for (const auto& x : e.args) l.push_back(eval(*x));
        return e.kind == EK::kList ? Value(std::move(l)) : Value::tuple(std::move(l));
      }
      case EK::kDict: {
        Dict d;
        for (size_t i = 0; i < e.keys.size(); ++i) {
          const Value k = eval(*e.keys[i]);
          if (!k.is_string()) fail(e.line, "dict keys must be strings");
          d.set(k.str(), eval(*e.args[i]));
        }
        return Value(std::move(d));
      }
      case EK::kAttr:
        return get_attr(eval(*e.args[0]), e.name);
      case EK::kItem:
        return get_item(eval(*e.args[0]), eval(*e.args[1]));
      case EK::kSlice: {
        const Value x = eval(*e.args[0]);
        Value parts[3];
        for (int k = 0; k < 3; ++k)
          if (e.args[k + 1]) parts[k] = eval(*e.args[k + 1]);
        return get_slice(x, e.args[1] ? &parts[0] : nullptr, e.args[2] ? &parts[1] : nullptr,
                         e.args[3] ? &parts[2] : nullptr);
      }
      case EK::kCall: {
        const Value f = lookup(e.name);
        const Args a = eval_args(e, 0);
        if (f.is_callable()) return f.callable().call(a);
        if (!f.is_undefined()) fail(e.line, "'" + e.name + "' is not callable");
        if (is_known_global(e.name)) return call_global(e.name, a, env_);
        fail(e.line, "'" + e.name + "' is undefined");
      }
      case EK::kMethod:
        return call_method(e.name, eval(*e.args[0]), eval_args(e, 1));
      case EK::kFilter:
        return apply_filter(e.name, eval(*e.args[0]), eval_args(e, 1));
      case EK::kTest:
        return Value(apply_test(e.name, eval(*e.args[0]), eval_args(e, 1)) != e.negated);
      case EK::kNeg:
      case EK::kPos: {
        const Value x = eval(*e.args[0]);
        if (!x.is_number())
          fail(e.line, "bad operand type for unary " + std::string(e.kind == EK::kNeg ? "-" : "+") +
                           ": " + x.type_name());
        if (e.kind == EK::kPos) return x.is_bool() ? Value(x.integer()) : x;
        return x.is_float() ? Value(-x.number()) : Value(checked_sub(0, x.integer()));
      }
      case EK::kNot:
        return Value(!truthy(eval(*e.args[0])));
      case EK::kAnd: {
        Value a = eval(*e.args[0]);
        return truthy(a) ? eval(*e.args[1]) : a;
      }
      case EK::kOr: {
        Value a = eval(*e.args[0]);
        return truthy(a) ? a : eval(*e.args[1]);
      }
      case EK::kCondition:
        if (truthy(eval(*e.args[1]))) return eval(*e.args[0]);
        return e.args[2] ? eval(*e.args[2]) : Value::undefined("else");
      case EK::kCompare:
        return compare(e.name, eval(*e.args[0]), eval(*e.args[1]), e.line);
      case EK::kBinary:
        return binary(e.name, eval(*e.args[0]), eval(*e.args[1]), e.line);
    }
    fail(e.line, "unknown expression");
  }

  static Value compare(const std::string& op, const Value& a, const Value& b, int line) {
    if (op == "==") return Value(equals(a, b));
    if (op == "!=") return Value(!equals(a, b));
    if (op == "in" || op == "notin") {
      bool found = false;
      if (b.is_string()) {
        if (!a.is_string()) fail(line, "'in <string>' requires a string, not " + a.type_name());
        found = b.str().find(a.str()) != std::string::npos;
      } else if (b.is_sequence() || b.is_dict()) {
        for (const Value& x : iterate(b)) found = found || equals(x, a);
      } else {
        fail(line, "argument of type '" + b.type_name() + "' is not iterable");
      }
      return Value(op == "in" ? found : !found);
    }
    if (op == "<") return Value(less(a, b));
    if (op == ">") return Value(less(b, a));
    if (op == "<=") return Value(!less(b, a));
    return Value(!less(a, b));  // >=
  }

  static Value binary(const std::string& op, const Value& a, const Value& b, int line) {
    if (op == "~") return Value(to_string(a) + to_string(b));
    auto type_error = [&]() -> Value {
      fail(line,
           "unsupported operand types for " + op + ": " + a.type_name() + " and " + b.type_name());
    };
    if (a.is_number() && b.is_number()) {
      const bool ints = !a.is_float() && !b.is_float();
      if (op == "+")
        return ints ? Value(checked_add(a.integer(), b.integer())) : Value(a.number() + b.number());
      if (op == "-")
        return ints ? Value(checked_sub(a.integer(), b.integer())) : Value(a.number() - b.number());
      if (op == "*")
        return ints ? Value(checked_mul(a.integer(), b.integer())) : Value(a.number() * b.number());
      if (op == "/") {
        if (b.number() == 0) fail(line, "division by zero");
        return Value(a.number() / b.number());
      }
      if (op == "//" || op == "%") {
        if (b.number() == 0) fail(line, "division by zero");
        if (ints) {
          const int64_t x = a.integer(), y = b.integer();
          if (y == -1) return op == "//" ? Value(checked_sub(0, x)) : Value(int64_t{0});
          int64_t q = x / y, r = x % y;
          if (r != 0 && ((r < 0) != (y < 0))) --q, r += y;
          return op == "//" ? Value(q) : Value(r);
        }
        const double q = std::floor(a.number() / b.number());
        return op == "//" ? Value(q) : Value(a.number() - q * b.number());
      }
      if (op == "**") {
        if (ints && b.integer() >= 0)
          return Value(float_to_int(std::round(std::pow(a.number(), b.number()))));
        return Value(std::pow(a.number(), b.number()));
      }
      return type_error();
    }
    if (op == "+" && a.is_string() && b.is_string()) return Value(a.str() + b.str());
    if (op == "+" && ((a.is_list() && b.is_list()) || (a.is_tuple() && b.is_tuple()))) {
      List l = a.list();
      l.insert(l.end(), b.list().begin(), b.list().end());
      return a.is_list() ? Value(std::move(l)) : Value::tuple(std::move(l));
    }
    if (op == "*" && (a.is_string() || a.is_sequence()) && (b.is_int() || b.is_bool())) {
      const int64_t n = std::max<int64_t>(0, b.integer());
      if (a.is_string()) {
        if (static_cast<double>(a.str().size()) * static_cast<double>(n) > kMaxOutput)
          fail(line, "string repetition too long");
        std::string s;
        for (int64_t i = 0; i < n; ++i) s += a.str();
        return Value(std::move(s));
      }
      if (static_cast<double>(a.list().size()) * static_cast<double>(n) > kMaxIterations)
        fail(line, "list repetition too long");
      List l;
      for (int64_t i = 0; i < n; ++i) l.insert(l.end(), a.list().begin(), a.list().end());
      return a.is_list() ? Value(std::move(l)) : Value::tuple(std::move(l));
    }
    if (a.is_undefined() || b.is_undefined())
      fail(line, "'" + std::get<Undefined>((a.is_undefined() ? a : b).v).name + "' is undefined");
    return type_error();
  }

  const Builtins& env_;
  std::vector<Dict> scopes_;
  int64_t iterations_ = 0;
  int macro_depth_ = 0;
};

}  // namespace

Template::Template(std::string_view source) : body_(parse(source)) {}

std::string Template::render(const Dict& context, const Builtins& env) const {
  Renderer r(context, env);
  std::string out;
  r.exec(body_, &out);
  return out;
}

}  // namespace radial::jinja
