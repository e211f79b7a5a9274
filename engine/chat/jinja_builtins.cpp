#include "engine/chat/jinja_builtins.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "engine/chat/jinja_parser.h"
#include "engine/chat/jinja_strings.h"
#include "engine/error.h"

namespace radial::jinja {

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw Error(ErrorCode::kInvalidArgument, "chat template: " + what);
}

// Argument `i` (or keyword `key`) of a call, or null.
const Value* arg(const Args& a, size_t i, const char* key) {
  for (const auto& [k, v] : a.keyword)
    if (k == key) return &v;
  return i < a.positional.size() ? &a.positional[i] : nullptr;
}

const std::string& need_string(const Value& x, const std::string& what) {
  if (!x.is_string()) fail(what + " expects a string, got " + x.type_name());
  return x.str();
}

int64_t need_int(const Value* x, int64_t fallback, const std::string& what) {
  if (x == nullptr || x->is_none()) return fallback;
  if (!x->is_int() && !x->is_bool()) fail(what + " expects an integer, got " + x->type_name());
  return x->integer();
}

Value string_list(const std::vector<std::string>& parts) {
  List l;
  for (const auto& p : parts) l.emplace_back(p);
  return Value(std::move(l));
}

List dict_items(const Dict& d) {
  List l;
  for (const auto& [k, v] : d.items) l.push_back(Value::tuple({Value(k), v}));
  return l;
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

Value sorted(List l, bool reverse) {
  std::stable_sort(l.begin(), l.end(), [&](const Value& a, const Value& b) {
    return reverse ? less(b, a) : less(a, b);
  });
  return Value(std::move(l));
}

// The attribute `path` ("a.b" or an index) of x, as jinja2's attribute= arguments.
Value attribute_of(const Value& x, const Value& path) {
  if (path.is_int()) return get_item(x, path);
  Value cur = x;
  const std::string& p = need_string(path, "attribute");
  const std::string dot = ".";
  for (const auto& part : str::split(p, &dot, -1)) {
    if (!part.empty() && std::all_of(part.begin(), part.end(), ::isdigit))
      cur = get_item(cur, Value(static_cast<int64_t>(std::stoll(part))));
    else
      cur = get_item(cur, Value(part));
  }
  return cur;
}

Args rest_args(const Args& a, size_t from) {
  Args r;
  for (size_t i = from; i < a.positional.size(); ++i) r.positional.push_back(a.positional[i]);
  r.keyword = a.keyword;
  return r;
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

Value apply_filter(const std::string& f, const Value& x, const Args& a) {
  if (f == "trim") {
    const Value* chars = arg(a, 0, "chars");
    const std::string* set = chars && chars->is_string() ? &chars->str() : nullptr;
    return Value(str::strip(to_string(x), set, true, true));
  }
  if (f == "tojson") {
    const Value* indent = arg(a, 0, "indent");
    const Value* sort = arg(a, 99, "sort_keys");
    return Value(to_json(
        x,
        indent && !indent->is_none() ? static_cast<int>(need_int(indent, 0, "tojson indent")) : -1,
        sort && truthy(*sort)));
  }
  if (f == "length" || f == "count") {
    const int64_t n = length_of(x);
    if (n < 0) fail("object of type '" + x.type_name() + "' has no len()");
    return Value(n);
  }
  if (f == "upper") return Value(str::upper(to_string(x)));
  if (f == "lower") return Value(str::lower(to_string(x)));
  if (f == "title") return Value(str::title(to_string(x)));
  if (f == "capitalize") return Value(str::capitalize(to_string(x)));
  if (f == "replace") {
    const Value *from = arg(a, 0, "old"), *to = arg(a, 1, "new");
    if (!from || !to) fail("replace needs two arguments");
    return Value(str::replace(to_string(x), to_string(*from), to_string(*to),
                              need_int(arg(a, 2, "count"), -1, "replace")));
  }
  if (f == "default" || f == "d") {
    const Value* fallback = arg(a, 0, "default_value");
    const Value* boolean = arg(a, 1, "boolean");
    const bool use = x.is_undefined() || (boolean && truthy(*boolean) && !truthy(x));
    return use ? (fallback ? *fallback : Value("")) : x;
  }
  if (f == "first" || f == "last") {
    const List items = iterate(x);
    if (items.empty()) return Value::undefined(f);
    return f == "first" ? items.front() : items.back();
  }
  if (f == "join") {
    const Value* sep = arg(a, 0, "d");
    const Value* attr = arg(a, 1, "attribute");
    std::string out;
    bool first = true;
    for (const Value& e : iterate(x)) {
      if (!first) out += sep ? to_string(*sep) : "";
      out += to_string(attr ? attribute_of(e, *attr) : e);
      first = false;
    }
    return Value(std::move(out));
  }
  if (f == "int") {
    const Value* fallback = arg(a, 0, "default");
    if (x.is_int() || x.is_bool()) return Value(x.integer());
    if (x.is_float()) return Value(float_to_int(x.number()));
    if (x.is_string()) {
      try {
        size_t used = 0;
        const std::string s = str::strip(x.str(), nullptr, true, true);
        const long long v = std::stoll(s, &used, 10);
        if (used == s.size()) return Value(static_cast<int64_t>(v));
        const double d = std::stod(s, &used);
        if (used == s.size()) return Value(float_to_int(d));
      } catch (const std::exception&) {
      }
    }
    return fallback ? *fallback : Value(int64_t{0});
  }
  if (f == "float") {
    const Value* fallback = arg(a, 0, "default");
    if (x.is_number()) return Value(x.number());
    if (x.is_string()) {
      try {
        size_t used = 0;
        const std::string s = str::strip(x.str(), nullptr, true, true);
        const double d = std::stod(s, &used);
        if (used == s.size()) return Value(d);
      } catch (const std::exception&) {
      }
    }
    return fallback ? *fallback : Value(0.0);
  }
  if (f == "string") return Value(to_string(x));
  if (f == "list") return Value(iterate(x));
  if (f == "items") {
    if (x.is_undefined()) return Value(List{});
    if (!x.is_dict()) fail("items expects a mapping, got " + x.type_name());
    return Value(dict_items(x.dict()));
  }
  if (f == "dictsort") {
    if (!x.is_dict()) fail("dictsort expects a mapping, got " + x.type_name());
    List items = dict_items(x.dict());
    std::stable_sort(items.begin(), items.end(), [](const Value& p, const Value& q) {
      return str::lower(p.list()[0].str()) < str::lower(q.list()[0].str());
    });
    return Value(std::move(items));
  }
  if (f == "safe") return x;
  if (f == "abs") {
    if (x.is_int() || x.is_bool())
      return Value(x.integer() < 0 ? checked_sub(0, x.integer()) : x.integer());
    if (x.is_float()) return Value(std::fabs(x.number()));
    fail("bad operand type for abs(): " + x.type_name());
  }
  if (f == "round") {
    if (!x.is_number()) fail("round expects a number");
    const int64_t precision = need_int(arg(a, 0, "precision"), 0, "round");
    const double scale = std::pow(10.0, static_cast<double>(precision));
    return Value(std::nearbyint(x.number() * scale) / scale);  // Python rounds half to even
  }
  if (f == "unique") {
    List out;
    for (const Value& e : iterate(x))
      if (std::none_of(out.begin(), out.end(), [&](const Value& o) { return equals(o, e); }))
        out.push_back(e);
    return Value(std::move(out));
  }
  if (f == "reverse") {
    const Value minus_one(int64_t{-1});
    if (x.is_string()) return get_slice(x, nullptr, nullptr, &minus_one);
    List l = iterate(x);
    std::reverse(l.begin(), l.end());
    return Value(std::move(l));
  }
  if (f == "sort") {
    const Value* reverse = arg(a, 0, "reverse");
    const Value* attr = arg(a, 2, "attribute");
    List l = iterate(x);
    if (!attr) return sorted(std::move(l), reverse && truthy(*reverse));
    std::stable_sort(l.begin(), l.end(), [&](const Value& p, const Value& q) {
      const bool lt = less(attribute_of(p, *attr), attribute_of(q, *attr));
      return reverse && truthy(*reverse) ? less(attribute_of(q, *attr), attribute_of(p, *attr))
                                         : lt;
    });
    return Value(std::move(l));
  }
  if (f == "map") {
    List out;
    const Value* attr = arg(a, 99, "attribute");
    const Value* fallback = arg(a, 99, "default");
    for (const Value& e : iterate(x)) {
      if (attr) {
        Value v = attribute_of(e, *attr);
        out.push_back(v.is_undefined() && fallback ? *fallback : v);
      } else {
        if (a.positional.empty()) fail("map needs a filter name or attribute=");
        const std::string& name = need_string(a.positional[0], "map");
        if (name == "map" || !is_known_filter(name)) fail("map: unsupported filter '" + name + "'");
        out.push_back(apply_filter(name, e, rest_args(a, 1)));
      }
    }
    return Value(std::move(out));
  }
  if (f == "select" || f == "reject" || f == "selectattr" || f == "rejectattr") {
    const bool attr_mode = f == "selectattr" || f == "rejectattr";
    const bool keep_if = f == "select" || f == "selectattr";
    const size_t test_at = attr_mode ? 1 : 0;
    List out;
    for (const Value& e : iterate(x)) {
      const Value subject = attr_mode ? attribute_of(e, a.positional.at(0)) : e;
      bool ok;
      if (a.positional.size() > test_at) {
        const std::string& test = need_string(a.positional[test_at], f);
        if (!is_known_test(test)) fail(f + ": unsupported test '" + test + "'");
        ok = apply_test(test, subject, rest_args(a, test_at + 1));
      } else {
        ok = truthy(subject);
      }
      if (ok == keep_if) out.push_back(e);
    }
    return Value(std::move(out));
  }
  if (f == "attr") return get_attr(x, need_string(a.positional.at(0), "attr"));
  if (f == "indent") {
    const Value* width_v = arg(a, 0, "width");
    const std::string pad =
        width_v && width_v->is_string()
            ? width_v->str()
            : std::string(static_cast<size_t>(need_int(width_v, 4, "indent")), ' ');
    const Value* first = arg(a, 1, "first");
    const Value* blank = arg(a, 2, "blank");
    const std::string s = to_string(x);
    std::string out;
    size_t line_start = 0;
    bool first_line = true;
    while (line_start <= s.size()) {
      const size_t nl = s.find('\n', line_start);
      const std::string line =
          s.substr(line_start, nl == std::string::npos ? std::string::npos : nl - line_start);
      const bool add = (!first_line || (first && truthy(*first))) &&
                       (!line.empty() || (blank && truthy(*blank)));
      out += (add ? pad : "") + line;
      if (nl == std::string::npos) break;
      out += '\n';
      line_start = nl + 1;
      first_line = false;
    }
    return Value(std::move(out));
  }
  if (f == "sum") {
    const Value* attr = arg(a, 0, "attribute");
    Value total = arg(a, 1, "start") ? *arg(a, 1, "start") : Value(int64_t{0});
    for (const Value& e : iterate(x)) {
      const Value v = attr ? attribute_of(e, *attr) : e;
      if (!v.is_number() || !total.is_number()) fail("sum expects numbers");
      total = total.is_float() || v.is_float() ? Value(total.number() + v.number())
                                               : Value(checked_add(total.integer(), v.integer()));
    }
    return total;
  }
  if (f == "min" || f == "max") {
    const List l = iterate(x);
    if (l.empty()) return Value::undefined(f);
    Value best = l[0];
    for (const Value& e : l)
      if (f == "min" ? less(e, best) : less(best, e)) best = e;
    return best;
  }
  if (f == "wordcount")
    return Value(static_cast<int64_t>(str::split(to_string(x), nullptr, -1).size()));
  fail("unsupported filter '" + f + "'");
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
