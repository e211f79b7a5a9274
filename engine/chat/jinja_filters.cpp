// The filters of the chat-template renderer (apply_filter, declared in
// jinja_builtins.h), with jinja2's semantics.
#include "engine/chat/jinja_builtins.h"

#include <algorithm>
#include <cmath>

#include "engine/chat/jinja_call_args.h"
#include "engine/chat/jinja_parser.h"
#include "engine/chat/jinja_strings.h"
#include "engine/error.h"

namespace radial::jinja {

using namespace detail;

namespace {

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

}  // namespace radial::jinja
