// Values of the chat-template renderer: the Python objects a Jinja template
// sees in Hugging Face transformers (None, bool, int, float, str, list,
// tuple, dict in insertion order, namespace, callables) plus Jinja's
// Undefined. Lists, tuples and dicts are immutable once built (transformers
// renders in an ImmutableSandboxedEnvironment); namespaces are the only
// mutable objects.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace radial::jinja {

struct Value;
using List = std::vector<Value>;

struct Dict {
  std::vector<std::pair<std::string, Value>> items;  // insertion order, unique keys
  const Value* find(std::string_view key) const;
  void set(const std::string& key, Value v);
};

struct Undefined {
  std::string name;  // what was looked up, for error messages
};
struct None {};

struct Args {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

struct Callable {
  std::string name;
  std::function<Value(const Args&)> call;
};

struct Value {
  struct Tuple {
    std::shared_ptr<const List> items;
  };
  struct Namespace {
    std::shared_ptr<Dict> attrs;
  };
  std::variant<Undefined, None, bool, int64_t, double, std::string, std::shared_ptr<const List>,
               Tuple, std::shared_ptr<const Dict>, Namespace, std::shared_ptr<const Callable>>
      v;

  Value() : v(Undefined{}) {}
  Value(None n) : v(n) {}                                           // NOLINT
  Value(bool b) : v(b) {}                                           // NOLINT
  Value(int64_t i) : v(i) {}                                        // NOLINT
  Value(int i) : v(static_cast<int64_t>(i)) {}                      // NOLINT
  Value(double d) : v(d) {}                                         // NOLINT
  Value(std::string s) : v(std::move(s)) {}                         // NOLINT
  Value(const char* s) : v(std::string(s)) {}                       // NOLINT
  Value(List l) : v(std::make_shared<const List>(std::move(l))) {}  // NOLINT
  Value(Dict d) : v(std::make_shared<const Dict>(std::move(d))) {}  // NOLINT
  static Value undefined(std::string name) {
    Value x;
    x.v = Undefined{std::move(name)};
    return x;
  }
  static Value tuple(List items) {
    Value x;
    x.v = Tuple{std::make_shared<const List>(std::move(items))};
    return x;
  }
  static Value function(std::string name, std::function<Value(const Args&)> fn) {
    Value x;
    x.v = std::make_shared<const Callable>(Callable{std::move(name), std::move(fn)});
    return x;
  }
  static Value from_json(const nlohmann::ordered_json& j);

  bool is_undefined() const { return std::holds_alternative<Undefined>(v); }
  bool is_none() const { return std::holds_alternative<None>(v); }
  bool is_bool() const { return std::holds_alternative<bool>(v); }
  bool is_int() const { return std::holds_alternative<int64_t>(v); }
  bool is_float() const { return std::holds_alternative<double>(v); }
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return std::holds_alternative<std::string>(v); }
  bool is_list() const { return std::holds_alternative<std::shared_ptr<const List>>(v); }
  bool is_tuple() const { return std::holds_alternative<Tuple>(v); }
  bool is_sequence() const { return is_list() || is_tuple(); }
  bool is_dict() const { return std::holds_alternative<std::shared_ptr<const Dict>>(v); }
  bool is_namespace() const { return std::holds_alternative<Namespace>(v); }
  bool is_callable() const { return std::holds_alternative<std::shared_ptr<const Callable>>(v); }

  const std::string& str() const { return std::get<std::string>(v); }
  const List& list() const {  // list or tuple
    return is_tuple() ? *std::get<Tuple>(v).items : *std::get<std::shared_ptr<const List>>(v);
  }
  const Dict& dict() const { return *std::get<std::shared_ptr<const Dict>>(v); }
  Dict& ns() const { return *std::get<Namespace>(v).attrs; }
  const Callable& callable() const { return *std::get<std::shared_ptr<const Callable>>(v); }
  double number() const;    // int, float or bool as a double
  int64_t integer() const;  // int or bool

  // Python's type name ("str", "int", "NoneType", "undefined"...).
  std::string type_name() const;
};

// Python truthiness (Undefined is false).
bool truthy(const Value& x);
// Python ==, with Jinja's Undefined equal only to Undefined.
bool equals(const Value& a, const Value& b);
// Python's <: numbers with numbers, str with str, sequences element-wise.
// Throws Error(kInvalidArgument) for other pairs.
bool less(const Value& a, const Value& b);
// str(x) as Jinja prints it ("" for Undefined, "None", "True", "[1, 'a']").
std::string to_string(const Value& x);
// repr(x).
std::string repr(const Value& x);
// json.dumps(x, ensure_ascii=False, indent=indent, sort_keys=sort_keys) as
// transformers' tojson filter (indent < 0: none).
std::string to_json(const Value& x, int indent = -1, bool sort_keys = false);
// 64-bit integer arithmetic; Python's integers are unbounded, so a result
// outside int64 is an Error(kInvalidArgument) ("integer overflow").
int64_t checked_add(int64_t a, int64_t b);
int64_t checked_sub(int64_t a, int64_t b);
int64_t checked_mul(int64_t a, int64_t b);
// A float truncated to an integer (int()); non-finite or out-of-range
// values are an Error(kInvalidArgument).
int64_t float_to_int(double d);
// Python's float repr (shortest round trip; "1.0", "1e-05", "1e+16").
std::string float_repr(double d);

}  // namespace radial::jinja
