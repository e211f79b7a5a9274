#include "engine/chat/jinja_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "engine/error.h"
#include "engine/tokenizer/utf8.h"

namespace radial::jinja {

const Value* Dict::find(std::string_view key) const {
  for (const auto& [k, v] : items)
    if (k == key) return &v;
  return nullptr;
}

void Dict::set(const std::string& key, Value v) {
  for (auto& [k, old] : items)
    if (k == key) {
      old = std::move(v);
      return;
    }
  items.emplace_back(key, std::move(v));
}

Value Value::from_json(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
      return Value(None{});
    case nlohmann::ordered_json::value_t::boolean:
      return Value(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
    case nlohmann::ordered_json::value_t::number_unsigned:
      return Value(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_float:
      return Value(j.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return Value(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      List l;
      for (const auto& e : j) l.push_back(from_json(e));
      return Value(std::move(l));
    }
    case nlohmann::ordered_json::value_t::object: {
      Dict d;
      for (const auto& [k, e] : j.items()) d.set(k, from_json(e));
      return Value(std::move(d));
    }
    default:
      throw Error(ErrorCode::kInvalidArgument, "chat template: unsupported JSON value");
  }
}

double Value::number() const {
  if (is_int()) return static_cast<double>(std::get<int64_t>(v));
  if (is_bool()) return std::get<bool>(v) ? 1.0 : 0.0;
  return std::get<double>(v);
}

int64_t Value::integer() const {
  if (is_bool()) return std::get<bool>(v) ? 1 : 0;
  return std::get<int64_t>(v);
}

std::string Value::type_name() const {
  switch (v.index()) {
    case 0:
      return "undefined";
    case 1:
      return "NoneType";
    case 2:
      return "bool";
    case 3:
      return "int";
    case 4:
      return "float";
    case 5:
      return "str";
    case 6:
      return "list";
    case 7:
      return "tuple";
    case 8:
      return "dict";
    case 9:
      return "Namespace";
    default:
      return "function";
  }
}

bool truthy(const Value& x) {
  if (x.is_undefined() || x.is_none()) return false;
  if (x.is_bool()) return std::get<bool>(x.v);
  if (x.is_int()) return x.integer() != 0;
  if (x.is_float()) return x.number() != 0.0;
  if (x.is_string()) return !x.str().empty();
  if (x.is_sequence()) return !x.list().empty();
  if (x.is_dict()) return !x.dict().items.empty();
  return true;
}

bool equals(const Value& a, const Value& b) {
  if (a.is_undefined() || b.is_undefined()) return a.is_undefined() && b.is_undefined();
  if (a.is_number() && b.is_number()) {
    if ((a.is_int() || a.is_bool()) && (b.is_int() || b.is_bool()))
      return a.integer() == b.integer();
    return a.number() == b.number();
  }
  if (a.is_none() || b.is_none()) return a.is_none() && b.is_none();
  if (a.is_string() && b.is_string()) return a.str() == b.str();
  if ((a.is_list() && b.is_list()) || (a.is_tuple() && b.is_tuple())) {
    const List &x = a.list(), &y = b.list();
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i)
      if (!equals(x[i], y[i])) return false;
    return true;
  }
  if (a.is_dict() && b.is_dict()) {
    const Dict &x = a.dict(), &y = b.dict();
    if (x.items.size() != y.items.size()) return false;
    for (const auto& [k, v] : x.items) {
      const Value* o = y.find(k);
      if (o == nullptr || !equals(v, *o)) return false;
    }
    return true;
  }
  if (a.is_namespace() && b.is_namespace()) return &a.ns() == &b.ns();
  return false;
}

bool less(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if ((a.is_int() || a.is_bool()) && (b.is_int() || b.is_bool()))
      return a.integer() < b.integer();
    return a.number() < b.number();
  }
  if (a.is_string() && b.is_string()) return a.str() < b.str();  // UTF-8 order is code point order
  if ((a.is_list() && b.is_list()) || (a.is_tuple() && b.is_tuple())) {
    const List &x = a.list(), &y = b.list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!equals(x[i], y[i])) return less(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  throw Error(ErrorCode::kInvalidArgument, "chat template: '<' not supported between " +
                                               a.type_name() + " and " + b.type_name());
}

namespace {
[[noreturn]] void overflow() {
  throw Error(ErrorCode::kInvalidArgument, "chat template: integer overflow");
}
}  // namespace

int64_t checked_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) overflow();
  return r;
}
int64_t checked_sub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) overflow();
  return r;
}
int64_t checked_mul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) overflow();
  return r;
}
int64_t float_to_int(double d) {
  const double t = std::trunc(d);
  if (!std::isfinite(t) || t < -9.2233720368547758e18 || t >= 9.2233720368547758e18) overflow();
  return static_cast<int64_t>(t);
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  const std::string sci(buf, r.ptr);  // "-1.2345e+05"
  const size_t e = sci.find('e');
  const int exp = std::stoi(sci.substr(e + 1));
  std::string digits;
  const bool neg = sci[0] == '-';
  for (size_t i = neg ? 1 : 0; i < e; ++i)
    if (sci[i] != '.') digits.push_back(sci[i]);
  std::string out = neg ? "-" : "";
  if (exp < -4 || exp >= 16) {  // Python's repr switches to exponent notation here
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char ebuf[16];
    std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    return out + ebuf;
  }
  if (exp < 0) return out + "0." + std::string(-exp - 1, '0') + digits;
  const size_t int_len = static_cast<size_t>(exp) + 1;
  if (digits.size() <= int_len)
    return out + digits + std::string(int_len - digits.size(), '0') + ".0";
  return out + digits.substr(0, int_len) + "." + digits.substr(int_len);
}

namespace {

bool printable(char32_t c) {
  // Python's str.isprintable: not a control, separator (except space) or
  // unassigned character; a close approximation for the ranges templates meet.
  if (c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD) return false;
  if (c == 0x2028 || c == 0x2029 || (c >= 0x2000 && c <= 0x200F) || c == 0x3000 || c == 0xFEFF)
    return false;
  return true;
}

std::string repr_string(const std::string& s) {
  const bool has_single = s.find('\'') != std::string::npos,
             has_double = s.find('"') != std::string::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (size_t i = 0; i < s.size();) {
    const size_t len = std::max<size_t>(1, utf8::sequence_length(std::string_view(s).substr(i)));
    const char32_t c = utf8::decode(s.data() + i, len);
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (!printable(c)) {
      char buf[16];
      if (c < 0x100)
        std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
      else
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out.append(s, i, len);
    }
    i += len;
  }
  return out + quote;
}

void json_string(const std::string& s, std::string* out) {
  *out += '"';
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '\b':
        *out += "\\b";
        break;
      case '\f':
        *out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          *out += buf;
        } else {
          *out += ch;
        }
    }
  }
  *out += '"';
}

void json_value(const Value& x, int indent, bool sort_keys, int depth, std::string* out) {
  auto newline = [&](int d) {
    if (indent < 0) return;
    *out += '\n';
    out->append(static_cast<size_t>(indent * d), ' ');
  };
  const char* item_sep = indent < 0 ? ", " : ",";
  if (x.is_none()) {
    *out += "null";
  } else if (x.is_bool()) {
    *out += std::get<bool>(x.v) ? "true" : "false";
  } else if (x.is_int()) {
    *out += std::to_string(x.integer());
  } else if (x.is_float()) {
    const double d = x.number();
    *out += std::isnan(d)   ? "NaN"
            : std::isinf(d) ? (d > 0 ? "Infinity" : "-Infinity")
                            : float_repr(d);
  } else if (x.is_string()) {
    json_string(x.str(), out);
  } else if (x.is_sequence()) {
    const List& l = x.list();
    if (l.empty()) {
      *out += "[]";
      return;
    }
    *out += '[';
    for (size_t i = 0; i < l.size(); ++i) {
      if (i > 0) *out += item_sep;
      newline(depth + 1);
      json_value(l[i], indent, sort_keys, depth + 1, out);
    }
    newline(depth);
    *out += ']';
  } else if (x.is_dict() || x.is_namespace()) {
    std::vector<const std::pair<std::string, Value>*> items;
    for (const auto& kv : (x.is_dict() ? x.dict() : x.ns()).items) items.push_back(&kv);
    if (sort_keys)
      std::sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
    if (items.empty()) {
      *out += "{}";
      return;
    }
    *out += '{';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) *out += item_sep;
      newline(depth + 1);
      json_string(items[i]->first, out);
      *out += ": ";
      json_value(items[i]->second, indent, sort_keys, depth + 1, out);
    }
    newline(depth);
    *out += '}';
  } else {
    throw Error(ErrorCode::kInvalidArgument, "chat template: tojson: Object of type " +
                                                 x.type_name() + " is not JSON serializable");
  }
}

}  // namespace

std::string to_string(const Value& x) {
  if (x.is_undefined()) return "";
  if (x.is_string()) return x.str();
  return repr(x);
}

std::string repr(const Value& x) {
  if (x.is_undefined()) return "";
  if (x.is_none()) return "None";
  if (x.is_bool()) return std::get<bool>(x.v) ? "True" : "False";
  if (x.is_int()) return std::to_string(x.integer());
  if (x.is_float()) return float_repr(x.number());
  if (x.is_string()) return repr_string(x.str());
  if (x.is_sequence()) {
    std::string out = x.is_tuple() ? "(" : "[";
    const List& l = x.list();
    for (size_t i = 0; i < l.size(); ++i) out += (i ? ", " : "") + repr(l[i]);
    if (x.is_tuple() && l.size() == 1) out += ",";
    return out + (x.is_tuple() ? ")" : "]");
  }
  if (x.is_dict()) {
    std::string out = "{";
    bool first = true;
    for (const auto& [k, v] : x.dict().items) {
      out += (first ? "" : ", ") + repr_string(k) + ": " + repr(v);
      first = false;
    }
    return out + "}";
  }
  if (x.is_namespace()) return "<Namespace>";
  return "<function " + x.callable().name + ">";
}

std::string to_json(const Value& x, int indent, bool sort_keys) {
  std::string out;
  json_value(x, indent, sort_keys, 0, &out);
  return out;
}

}  // namespace radial::jinja
