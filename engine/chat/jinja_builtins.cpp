#include "engine/chat/jinja_builtins.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "engine/chat/jinja_call_args.h"
#include "engine/chat/jinja_parser.h"
#include "engine/chat/jinja_strings.h"
#include "engine/error.h"

namespace radial::jinja {

using namespace detail;

namespace {

Value string_list(const std::vector<std::string>& parts) {
  List l;
  for (const auto& p : parts) l.emplace_back(p);
  return Value(std::move(l));
}

bool starts_or_ends(const std::string& s, const Value& x, bool start, const std::string& what) {
  std::vector<std::string> candidates;
  if (x.is_tuple())
    for (const Value& e : x.list()) candidates.push_back(need_string(e, what));
  else
    candidates.push_back(need_string(x, what));
  for (const auto& c : candidates) {
    if (c.size() > s.size()) continue;
    if (start ? s.compare(0, c.size(), c) == 0 : s.compare(s.size() - c.size(), c.size(), c) == 0)
      return true;
  }
  return false;
}

}  // namespace

int64_t length_of(const Value& x) {
  if (x.is_string()) return static_cast<int64_t>(str::chars(x.str()).size());
  if (x.is_sequence()) return static_cast<int64_t>(x.list().size());
  if (x.is_dict()) return static_cast<int64_t>(x.dict().items.size());
  if (x.is_undefined()) return 0;
  return -1;
}

List iterate(const Value& x) {
  if (x.is_undefined()) return {};
  if (x.is_sequence()) return x.list();
  if (x.is_dict()) {
    List keys;
    for (const auto& [k, v] : x.dict().items) keys.emplace_back(k);
    return keys;
  }
  if (x.is_string()) {
    List l;
    for (auto ch : str::chars(x.str())) l.emplace_back(std::string(ch));
    return l;
  }
  fail("'" + x.type_name() + "' object is not iterable");
}

Value get_attr(const Value& x, const std::string& name) {
  if (x.is_undefined())
    fail("'" + std::get<Undefined>(x.v).name + "' is undefined (reading ." + name + ")");
  if (x.is_dict()) {
    const Value* v = x.dict().find(name);
    return v ? *v : Value::undefined(name);
  }
  if (x.is_namespace()) {
    const Value* v = x.ns().find(name);
    return v ? *v : Value::undefined(name);
  }
  return Value::undefined(name);
}

Value get_item(const Value& x, const Value& key) {
  if (x.is_undefined())
    fail("'" + std::get<Undefined>(x.v).name + "' is undefined (reading an item)");
  if (x.is_dict() || x.is_namespace()) {
    if (!key.is_string()) return Value::undefined("item");
    return get_attr(x, key.str());
  }
  if ((x.is_sequence() || x.is_string()) && (key.is_int() || key.is_bool())) {
    int64_t i = key.integer();
    if (x.is_string()) {
      const auto cs = str::chars(x.str());
      const auto n = static_cast<int64_t>(cs.size());
      if (i < 0) i += n;
      return i >= 0 && i < n ? Value(std::string(cs[i])) : Value::undefined("item");
    }
    const auto n = static_cast<int64_t>(x.list().size());
    if (i < 0) i += n;
    return i >= 0 && i < n ? x.list()[i] : Value::undefined("item");
  }
  return Value::undefined("item");
}

Value get_slice(const Value& x, const Value* start, const Value* stop, const Value* step_v) {
  if (!x.is_sequence() && !x.is_string()) fail("cannot slice " + x.type_name());
  const int64_t step = need_int(step_v, 1, "slice step");
  if (step == 0) fail("slice step cannot be zero");
  List items = x.is_string() ? iterate(x) : x.list();
  const auto n = static_cast<int64_t>(items.size());
  auto bound = [&](const Value* v, int64_t fallback) {
    if (v == nullptr || v->is_none()) return fallback;
    int64_t i = need_int(v, 0, "slice index");
    if (i < 0) i += n;
    return step > 0 ? std::clamp<int64_t>(i, 0, n) : std::clamp<int64_t>(i, -1, n - 1);
  };
  const int64_t b = bound(start, step > 0 ? 0 : n - 1), e = bound(stop, step > 0 ? n : -1);
  List out;
  for (int64_t i = b; step > 0 ? i < e : i > e;) {
    out.push_back(items[i]);
    if (__builtin_add_overflow(i, step, &i)) break;
  }
  if (x.is_string()) {
    std::string s;
    for (const Value& c : out) s += c.str();
    return Value(std::move(s));
  }
  return x.is_tuple() ? Value::tuple(std::move(out)) : Value(std::move(out));
}

bool apply_test(const std::string& t, const Value& x, const Args& a) {
  const Value* other = arg(a, 0, "value");
  auto need_other = [&]() -> const Value& {
    if (!other) fail("test '" + t + "' needs an argument");
    return *other;
  };
  if (t == "defined") return !x.is_undefined();
  if (t == "undefined") return x.is_undefined();
  if (t == "none") return x.is_none();
  if (t == "string") return x.is_string();
  if (t == "number") return x.is_number();
  if (t == "integer") return x.is_int();
  if (t == "float") return x.is_float();
  if (t == "boolean") return x.is_bool();
  if (t == "true") return x.is_bool() && std::get<bool>(x.v);
  if (t == "false") return x.is_bool() && !std::get<bool>(x.v);
  if (t == "mapping") return x.is_dict();
  if (t == "iterable") return x.is_string() || x.is_sequence() || x.is_dict() || x.is_undefined();
  if (t == "sequence") return x.is_string() || x.is_sequence() || x.is_dict();
  if (t == "callable") return x.is_callable();
  if (t == "odd" || t == "even") {
    if (!x.is_int() && !x.is_bool()) fail("test '" + t + "' expects an integer");
    const bool odd = (x.integer() % 2) != 0;
    return t == "odd" ? odd : !odd;
  }
  if (t == "divisibleby") {
    const int64_t d = need_int(&need_other(), 1, "divisibleby");
    if (d == 0) fail("divisibleby 0");
    return x.integer() % d == 0;
  }
  if (t == "eq" || t == "equalto" || t == "==") return equals(x, need_other());
  if (t == "ne" || t == "!=") return !equals(x, need_other());
  if (t == "lt" || t == "lessthan" || t == "<") return less(x, need_other());
  if (t == "gt" || t == "greaterthan" || t == ">") return less(need_other(), x);
  if (t == "le" || t == "<=") return !less(need_other(), x);
  if (t == "ge" || t == ">=") return !less(x, need_other());
  if (t == "in") {
    const Value& c = need_other();
    if (c.is_string()) return x.is_string() && c.str().find(x.str()) != std::string::npos;
    for (const Value& e : iterate(c))
      if (equals(e, x)) return true;
    return false;
  }
  if (t == "lower" || t == "upper") {
    if (!x.is_string()) return false;
    return t == "lower" ? str::lower(x.str()) == x.str() && str::upper(x.str()) != x.str()
                        : str::upper(x.str()) == x.str() && str::lower(x.str()) != x.str();
  }
  fail("unsupported test '" + t + "'");
}

Value call_method(const std::string& m, const Value& obj, const Args& a) {
  if (obj.is_undefined())
    fail("'" + std::get<Undefined>(obj.v).name + "' is undefined (calling ." + m + "())");
  if (obj.is_dict()) {
    const Dict& d = obj.dict();
    if (const Value* f = d.find(m); f != nullptr && f->is_callable()) return f->callable().call(a);
    if (m == "items") return Value(dict_items(d));
    if (m == "keys") return Value(iterate(obj));
    if (m == "values") {
      List l;
      for (const auto& [k, v] : d.items) l.push_back(v);
      return Value(std::move(l));
    }
    if (m == "get") {
      const Value* key = arg(a, 0, "key");
      if (!key) fail("get needs a key");
      const Value v = get_item(obj, *key);
      const Value* fallback = arg(a, 1, "default");
      return v.is_undefined() ? (fallback ? *fallback : Value(None{})) : v;
    }
  }
  if (obj.is_string()) {
    const std::string& s = obj.str();
    const Value* a0 = arg(a, 0, "");
    auto opt_string = [&](const Value* v) -> const std::string* {
      if (v == nullptr || v->is_none()) return nullptr;
      return &need_string(*v, m);
    };
    if (m == "strip" || m == "lstrip" || m == "rstrip")
      return Value(str::strip(s, opt_string(a0), m != "rstrip", m != "lstrip"));
    if (m == "split" || m == "rsplit") {
      const std::string* sep = opt_string(arg(a, 0, "sep"));
      if (sep && sep->empty()) fail("empty separator");
      const int64_t maxsplit = need_int(arg(a, 1, "maxsplit"), -1, m);
      if (m == "rsplit" && maxsplit >= 0) fail("rsplit with maxsplit is not supported");
      return string_list(str::split(s, sep, maxsplit));
    }
    if (m == "startswith" || m == "endswith") {
      if (!a0) fail(m + " needs an argument");
      return Value(starts_or_ends(s, *a0, m == "startswith", m));
    }
    if (m == "upper") return Value(str::upper(s));
    if (m == "lower") return Value(str::lower(s));
    if (m == "title") return Value(str::title(s));
    if (m == "capitalize") return Value(str::capitalize(s));
    if (m == "replace") {
      if (a.positional.size() < 2) fail("replace needs two arguments");
      return Value(str::replace(s, need_string(a.positional[0], m), need_string(a.positional[1], m),
                                need_int(arg(a, 2, "count"), -1, m)));
    }
    if (m == "find" || m == "rfind" || m == "count") {
      if (!a0) fail(m + " needs an argument");
      const std::string& sub = need_string(*a0, m);
      if (m == "count") {
        if (sub.empty()) return Value(static_cast<int64_t>(str::chars(s).size() + 1));
        int64_t n = 0;
        for (size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size()))
          ++n;
        return Value(n);
      }
      const size_t at = m == "find" ? s.find(sub) : s.rfind(sub);
      if (at == std::string::npos) return Value(int64_t{-1});
      return Value(static_cast<int64_t>(str::chars(std::string_view(s).substr(0, at)).size()));
    }
    if (m == "join") {
      if (!a0) fail("join needs an argument");
      std::string out;
      bool first = true;
      for (const Value& e : iterate(*a0)) {
        if (!first) out += s;
        out += need_string(e, "join");
        first = false;
      }
      return Value(std::move(out));
    }
    if (m == "splitlines") {
      std::vector<std::string> lines;
      size_t prev = 0;
      for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\n' || s[i] == '\r') {
          lines.push_back(s.substr(prev, i - prev));
          if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
          prev = i + 1;
        }
      }
      if (prev < s.size()) lines.push_back(s.substr(prev));
      return string_list(lines);
    }
  }
  fail("'" + obj.type_name() + "' object has no method '" + m + "'");
}

Value call_global(const std::string& name, const Args& a, const Builtins& env) {
  if (name == "range") {
    int64_t start = 0, stop = 0, step = 1;
    if (a.positional.size() == 1) {
      stop = need_int(&a.positional[0], 0, "range");
    } else if (a.positional.size() >= 2) {
      start = need_int(&a.positional[0], 0, "range");
      stop = need_int(&a.positional[1], 0, "range");
      step = need_int(a.positional.size() > 2 ? &a.positional[2] : nullptr, 1, "range");
    } else {
      fail("range needs arguments");
    }
    if (step == 0) fail("range step cannot be zero");
    List out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
      if (out.size() >= 100000) fail("range is too long (more than 100000 items)");
      out.emplace_back(i);
      if (__builtin_add_overflow(i, step, &i)) break;
    }
    return Value(std::move(out));
  }
  if (name == "dict" || name == "namespace") {
    Dict d;
    for (const Value& p : a.positional) {
      if (!p.is_dict()) fail(name + "() takes keyword arguments or a mapping");
      for (const auto& [k, v] : p.dict().items) d.set(k, v);
    }
    for (const auto& [k, v] : a.keyword) d.set(k, v);
    if (name == "dict") return Value(std::move(d));
    Value ns;
    ns.v = Value::Namespace{std::make_shared<Dict>(std::move(d))};
    return ns;
  }
  if (name == "raise_exception") {
    const Value* msg = arg(a, 0, "message");
    throw Error(ErrorCode::kInvalidArgument,
                "chat template: " + (msg ? to_string(*msg) : std::string("error")));
  }
  if (name == "strftime_now") {
    const Value* fmt = arg(a, 0, "format");
    if (!fmt || !fmt->is_string()) fail("strftime_now needs a format string");
    const std::time_t t = env.now != 0 ? env.now : std::time(nullptr);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[512];
    const size_t n = std::strftime(buf, sizeof buf, fmt->str().c_str(), &tm);
    return Value(std::string(buf, n));
  }
  fail("unsupported function '" + name + "'");
}

namespace {
const std::set<std::string>& names(int which) {
  static const std::set<std::string> filters = {
      "trim",       "tojson",     "length",     "count",   "upper",  "lower",    "title",
      "capitalize", "replace",    "default",    "d",       "first",  "last",     "join",
      "int",        "float",      "string",     "list",    "items",  "dictsort", "safe",
      "abs",        "round",      "unique",     "reverse", "sort",   "map",      "select",
      "reject",     "selectattr", "rejectattr", "attr",    "indent", "sum",      "min",
      "max",        "wordcount"};
  static const std::set<std::string> tests = {
      "defined", "undefined", "none",        "string",  "number",   "integer",     "float",
      "boolean", "true",      "false",       "mapping", "iterable", "sequence",    "callable",
      "odd",     "even",      "divisibleby", "eq",      "equalto",  "==",          "ne",
      "!=",      "lt",        "lessthan",    "<",       "gt",       "greaterthan", ">",
      "le",      "<=",        "ge",          ">=",      "in",       "lower",       "upper"};
  static const std::set<std::string> methods = {
      "items",  "keys",       "values",   "get",   "strip",      "lstrip", "rstrip",     "split",
      "rsplit", "startswith", "endswith", "upper", "lower",      "title",  "capitalize", "replace",
      "find",   "rfind",      "count",    "join",  "splitlines", "cycle"};
  static const std::set<std::string> globals = {"range", "dict", "namespace", "raise_exception",
                                                "strftime_now"};
  return which == 0 ? filters : which == 1 ? tests : which == 2 ? methods : globals;
}
}  // namespace

bool is_known_filter(const std::string& n) { return names(0).count(n) > 0; }
bool is_known_test(const std::string& n) { return names(1).count(n) > 0; }
bool is_known_method(const std::string& n) { return names(2).count(n) > 0; }
bool is_known_global(const std::string& n) { return names(3).count(n) > 0; }

}  // namespace radial::jinja
