#include "scheduler/json_schema.h"

#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "scheduler/schema_disjoint.h"

namespace radial {

namespace {

using Json = nlohmann::ordered_json;

// Assertions radiald cannot hold a text to.
const std::set<std::string> kRefused = {
    "multipleOf",
    "not",
    "if",
    "then",
    "else",
    "uniqueItems",
    "prefixItems",
    "contains",
    "minContains",
    "maxContains",
    "minProperties",
    "maxProperties",
    "patternProperties",
    "propertyNames",
    "dependentRequired",
    "dependentSchemas",
    "dependencies",
    "unevaluatedItems",
    "unevaluatedProperties",
    "additionalItems",
    "$dynamicRef",
    "$recursiveRef",
};
// Keywords that say nothing about which values are valid.
const std::set<std::string> kAnnotations = {
    "title",           "description", "default",  "examples",  "format",
    "$schema",         "$id",         "$comment", "$anchor",   "$defs",
    "definitions",     "deprecated",  "readOnly", "writeOnly", "contentMediaType",
    "contentEncoding", "$vocabulary",
    "discriminator",  // (OpenAPI's, beside oneOf: which property tells the members apart)
};
const std::set<std::string> kObjectWords = {"properties", "required", "additionalProperties"};
const std::set<std::string> kArrayWords = {"items", "minItems", "maxItems"};

std::string pointer_token(const std::string& name) {  // RFC 6901
  std::string out;
  for (char c : name) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw Error(ErrorCode::kInvalidArgument,
              "json_schema: " + what + " (at " + (where.empty() ? "the root" : where) + ")");
}

uint8_t kind_of(const std::string& name, const std::string& where) {
  if (name == "object") return SchemaNode::kObject;
  if (name == "array") return SchemaNode::kArray;
  if (name == "string") return SchemaNode::kString;
  if (name == "number") return SchemaNode::kNumber;
  if (name == "integer") return SchemaNode::kInteger;
  if (name == "boolean") return SchemaNode::kBoolean;
  if (name == "null") return SchemaNode::kNull;
  fail(where, "type \"" + name + "\" is not a JSON Schema type");
}

// Whether a value of kinds `k` may be `v`.
bool kind_takes(uint8_t k, const Json& v) {
  if (v.is_object()) return k & SchemaNode::kObject;
  if (v.is_array()) return k & SchemaNode::kArray;
  if (v.is_string()) return k & SchemaNode::kString;
  if (v.is_boolean()) return k & SchemaNode::kBoolean;
  if (v.is_null()) return k & SchemaNode::kNull;
  if (v.is_number_integer() || v.is_number_unsigned())
    return k & (SchemaNode::kNumber | SchemaNode::kInteger);
  return k & SchemaNode::kNumber;
}

int count(const Json& v, const char* key, const std::string& where) {
  const Json& n = v.at(key);
  if (!n.is_number_unsigned() && !(n.is_number_integer() && n.get<int64_t>() >= 0))
    fail(where, std::string("\"") + key + "\" must be a non-negative integer");
  return static_cast<int>(std::min<uint64_t>(n.get<uint64_t>(), 1u << 30));
}

}  // namespace

class SchemaCompiler {
 public:
  SchemaCompiler(const Json& doc, bool relaxed) : doc_(doc), relaxed_(relaxed) {}

  std::shared_ptr<const JsonSchema> run() {
    auto s = std::make_shared<JsonSchema>();
    out_ = s.get();
    SchemaNode any;
    any.any = true;
    out_->nodes_.push_back(any);  // JsonSchema::kAnyNode
    out_->root_ = compile(doc_, "");
    flatten_unions();
    drop_impossible_properties();
    check_one_of();
    if (!takes_object(out_->root_)) fail("", "the root must be an object (\"type\": \"object\")");
    return s;
  }

 private:
  SchemaNode& node(int id) { return out_->nodes_[static_cast<size_t>(id)]; }

  int add(const std::string& where) {
    if (out_->size() >= JsonSchema::kMaxNodes)
      fail(where, "more than " + std::to_string(JsonSchema::kMaxNodes) + " schemas");
    out_->nodes_.emplace_back();
    const int id = out_->size() - 1;
    ids_[where] = id;
    return id;
  }

  int compile(const Json& v, const std::string& where) {
    // Nesting counted through $refs too (a chain of refs recurses here).
    struct Nest {
      int& d;
      explicit Nest(int& depth) : d(depth) { ++d; }
      ~Nest() { --d; }
    } nest(depth_);
    if (depth_ > kMaxNesting)
      fail(where,
           "schemas nested deeper than " + std::to_string(kMaxNesting) + " (counting $refs)");
    if (v.is_boolean()) {
      if (v.get<bool>()) return JsonSchema::kAnyNode;
      return add(where);  // takes nothing
    }
    if (!v.is_object()) fail(where, "a schema must be an object or a boolean");
    std::vector<std::string> assertions;  // the keywords that constrain values
    for (const auto& [key, value] : v.items()) {
      if (relaxed_ && key == "allOf" && !(value.is_array() && value.size() == 1))
        continue;  // (relaxed: several schemas are not held to)
      if (kRefused.count(key) != 0) {
        if (relaxed_) continue;  // (not held to: the text may break it)
        fail(where, "\"" + key + "\" is not supported (radiald cannot hold the text to it)");
      }
      if (kAnnotations.count(key) == 0) assertions.push_back(key);
    }
    const auto has = [&](const char* k) { return v.contains(k); };
    const auto assertion = [&](const char* k) {
      return std::find(assertions.begin(), assertions.end(), k) != assertions.end();
    };
    const auto only = [&](const char* keyword) {
      if (relaxed_) return;  // (the others are not held to)
      for (const std::string& k : assertions)
        if (k != keyword)
          fail(where, std::string("\"") + keyword + "\" beside \"" + k + "\" is not supported");
    };
    if (has("$ref")) {
      only("$ref");
      if (!v["$ref"].is_string()) fail(where, "\"$ref\" must be a string");
      return ref(v["$ref"].get<std::string>(), where);
    }
    if (assertion("allOf")) {  // one schema: that schema (relaxed, more are skipped)
      const Json& list = v["allOf"];
      if (!list.is_array() || list.empty()) fail(where, "\"allOf\" must be a non-empty array");
      if (list.size() == 1) {
        only("allOf");
        return compile(list[0], where + "/allOf/0");
      }
      fail(where,
           "\"allOf\" of more than one schema is not supported (radiald cannot hold the "
           "text to them)");
    }
    const int id = add(where);
    const char* union_key = has("anyOf") ? "anyOf" : has("oneOf") ? "oneOf" : nullptr;
    if (union_key != nullptr) {
      only(union_key);
      const Json& list = v[union_key];
      if (!list.is_array() || list.empty())
        fail(where, std::string("\"") + union_key + "\" must be a non-empty array");
      for (size_t i = 0; i < list.size(); ++i) {
        const int m = compile(list[i], where + "/" + union_key + "/" + std::to_string(i));
        node(id).members.push_back(m);
      }
      // oneOf: read as anyOf once its members are known to exclude each
      // other (check_one_of); relaxed, as anyOf whatever they are.
      if (union_key[0] == 'o' && !relaxed_) one_ofs_.push_back({id, node(id).members, where});
      return id;
    }
    uint8_t kinds = 0x7F;
    if (has("type")) {
      const Json& t = v["type"];
      if (t.is_string()) {
        kinds = kind_of(t.get<std::string>(), where);
      } else if (t.is_array() && !t.empty()) {
        kinds = 0;
        for (const Json& name : t) {
          if (!name.is_string()) fail(where, "\"type\" must be a string or an array of strings");
          kinds |= kind_of(name.get<std::string>(), where);
        }
      } else {
        fail(where, "\"type\" must be a string or a non-empty array of strings");
      }
    }
    if (kinds & SchemaNode::kNumber) kinds &= static_cast<uint8_t>(~SchemaNode::kInteger);
    const std::shared_ptr<const NumberBounds> bounds = number_bounds(v, kinds, where);
    if (has("enum") || has("const")) {
      if (has("enum") && has("const")) fail(where, "\"enum\" beside \"const\" is not supported");
      for (const std::string& k : assertions)
        if (kObjectWords.count(k) != 0 || kArrayWords.count(k) != 0)
          fail(where, "\"" + k + "\" beside \"enum\" or \"const\" is not supported");
      std::vector<Json> values;
      if (has("const")) {
        values.push_back(v["const"]);
      } else {
        const Json& e = v["enum"];
        if (!e.is_array() || e.empty()) fail(where, "\"enum\" must be a non-empty array");
        if (e.size() > JsonSchema::kMaxLiterals)
          fail(where,
               "\"enum\" has more than " + std::to_string(JsonSchema::kMaxLiterals) + " values");
        values.assign(e.begin(), e.end());
      }
      const auto [min_len, max_len] = lengths(v, where);
      const std::shared_ptr<const StringPattern> pattern =
          string_pattern(v, kinds, min_len, max_len, where);
      SchemaNode& n = node(id);
      n.literal = true;
      for (const Json& value : values)
        if (kind_takes(kinds, value) &&
            (!value.is_string() || (characters(value.get<std::string>()) >= min_len &&
                                    characters(value.get<std::string>()) <= max_len)) &&
            (!value.is_string() || !pattern || pattern->matches(value.get<std::string>())) &&
            (!value.is_number() || bounds == nullptr || bounds->holds_value(value.get<double>())))
          n.literals.push_back(value.dump());
      if (n.literals.empty())
        fail(where,
             "no value of \"enum\" or \"const\" has the \"type\" (and lengths, bounds, "
             "pattern)");
      std::sort(n.literals.begin(), n.literals.end());
      n.literals.erase(std::unique(n.literals.begin(), n.literals.end()), n.literals.end());
      return id;
    }
    if (assertions.empty()) {  // {} or annotations only: any value
      node(id).any = true;
      return id;
    }
    node(id).kinds = kinds;
    const auto [min_len, max_len] = lengths(v, where);
    node(id).min_length = min_len;
    node(id).max_length = max_len;
    node(id).bounds = bounds;
    node(id).pattern = string_pattern(v, kinds, min_len, max_len, where);
    if (kinds & SchemaNode::kObject) object(v, id, where);
    if (kinds & SchemaNode::kArray) array(v, id, where);
    return id;
  }

  // minLength / maxLength (characters, as JSON Schema counts them: code points).
  std::pair<uint32_t, uint32_t> lengths(const Json& v, const std::string& where) {
    uint32_t lo = 0, hi = SchemaNode::kNoMaxLength;
    if (v.contains("minLength")) lo = static_cast<uint32_t>(count(v, "minLength", where));
    if (v.contains("maxLength"))
      hi = std::min<uint32_t>(static_cast<uint32_t>(count(v, "maxLength", where)),
                              SchemaNode::kNoMaxLength - 1);
    if (lo > hi) fail(where, "\"minLength\" is above \"maxLength\"");
    return {lo, hi};
  }
  // minimum / maximum / exclusiveMinimum / exclusiveMaximum, for values of
  // `kinds` that are numbers (null: none, or no numbers).
  static std::shared_ptr<const NumberBounds> number_bounds(const Json& v, uint8_t kinds,
                                                           const std::string& where) {
    using Bound = NumberBounds::Bound;
    // Each side: the tighter of the inclusive and the exclusive keyword
    // (draft 4: a boolean exclusiveMinimum makes minimum exclusive).
    const auto side = [&](const char* inclusive, const char* exclusive,
                          bool lower) -> std::optional<Bound> {
      std::optional<Bound> b;
      const auto number = [&](const char* key) {
        if (!v[key].is_number()) fail(where, std::string("\"") + key + "\" must be a number");
        return v[key].get<double>();
      };
      const bool draft4 = v.contains(exclusive) && v[exclusive].is_boolean();
      if (v.contains(inclusive)) b = Bound{number(inclusive), draft4 && v[exclusive].get<bool>()};
      if (v.contains(exclusive) && !draft4) {
        const Bound e{number(exclusive), true};
        if (!b || (lower ? e.value >= b->value : e.value <= b->value)) b = e;
      }
      return b;
    };
    const std::optional<Bound> min = side("minimum", "exclusiveMinimum", true);
    const std::optional<Bound> max = side("maximum", "exclusiveMaximum", false);
    if ((!min && !max) || !(kinds & (SchemaNode::kNumber | SchemaNode::kInteger))) return nullptr;
    auto b = std::make_shared<NumberBounds>(min, max, !(kinds & SchemaNode::kNumber));
    if (!b->reachable(""))
      fail(where, std::string("no ") + (b->integer() ? "integer" : "number") + " of at most " +
                      std::to_string(NumberBounds::kMaxText) +
                      " characters is within its \"minimum\" and \"maximum\"");
    return b;
  }

  // "pattern", for values of `kinds` that are strings (null: none, or no
  // strings). Relaxed, one radiald cannot hold is skipped. Without one, a
  // "format" radiald knows (format_pattern) is held as its pattern where it
  // can be. Beside it, minLength or maxLength (not both: StringPattern
  // tracks one).
  std::shared_ptr<const StringPattern> string_pattern(const Json& v, uint8_t kinds,
                                                      uint32_t min_len, uint32_t max_len,
                                                      const std::string& where) const {
    const bool both = min_len != 0 && max_len != SchemaNode::kNoMaxLength;
    const PatternLeft room{min_len, max_len};
    if (!v.contains("pattern")) {
      const char* known = v.contains("format") && v["format"].is_string()
                              ? format_pattern(v["format"].get<std::string>())
                              : nullptr;
      if (known == nullptr || both || !(kinds & SchemaNode::kString)) return nullptr;
      std::string error;
      auto p = StringPattern::compile(known, &error);  // (each compiles: a unit test checks)
      return p != nullptr && p->fits_start(room) ? p : nullptr;
    }
    if (!v["pattern"].is_string()) fail(where, "\"pattern\" must be a string");
    if (!(kinds & SchemaNode::kString)) return nullptr;
    if (both) {
      if (relaxed_) return nullptr;
      fail(where,
           "\"pattern\" beside both \"minLength\" and \"maxLength\" is not supported (one "
           "of them is)");
    }
    std::string error;
    auto p = StringPattern::compile(v["pattern"].get<std::string>(), &error);
    if (p != nullptr && !p->fits_start(room)) {
      p = nullptr;
      error = "matches no string of the length \"minLength\" or \"maxLength\" asks for";
    }
    if (p == nullptr && !relaxed_) fail(where, "\"pattern\" " + error);
    return p;
  }

  static uint32_t characters(const std::string& utf8) {
    uint32_t n = 0;
    for (unsigned char c : utf8) n += (c & 0xC0) != 0x80;
    return n;
  }

  void object(const Json& v, int id, const std::string& where) {
    std::vector<SchemaNode::Property> props;
    if (v.contains("properties")) {
      const Json& p = v["properties"];
      if (!p.is_object()) fail(where, "\"properties\" must be an object");
      if (p.size() > JsonSchema::kMaxProperties)
        fail(where, "more than " + std::to_string(JsonSchema::kMaxProperties) + " properties");
      for (const auto& [name, sub] : p.items()) {
        SchemaNode::Property prop;
        prop.key = Json(name).dump();
        prop.node = compile(sub, where + "/properties/" + pointer_token(name));
        props.push_back(std::move(prop));
      }
    }
    if (v.contains("required")) {
      const Json& r = v["required"];
      if (!r.is_array()) fail(where, "\"required\" must be an array of strings");
      for (const Json& name : r) {
        if (!name.is_string()) fail(where, "\"required\" must be an array of strings");
        const std::string key = name.dump();
        auto it = std::find_if(props.begin(), props.end(),
                               [&](const SchemaNode::Property& p) { return p.key == key; });
        if (it == props.end())
          fail(where, "\"required\" names " + key + ", which is not in \"properties\"");
        it->required = true;
      }
    }
    int additional = -1;
    if (props.empty()) {
      if (!v.contains("additionalProperties")) {
        additional = JsonSchema::kAnyNode;
      } else {
        const Json& a = v["additionalProperties"];
        if (!(a.is_boolean() && !a.get<bool>()))
          additional = compile(a, where + "/additionalProperties");
      }
    }
    SchemaNode& n = node(id);  // (compile() may have moved the nodes)
    n.properties = std::move(props);
    n.additional = additional;  // (next_required: drop_impossible_properties())
  }

  void array(const Json& v, int id, const std::string& where) {
    int items = JsonSchema::kAnyNode;
    if (v.contains("items")) {
      if (v["items"].is_array()) {
        if (!relaxed_) fail(where, "\"items\" as an array (a tuple) is not supported");
      } else {
        items = compile(v["items"], where + "/items");
      }
    }
    SchemaNode& n = node(id);
    n.items = items;
    if (v.contains("minItems")) n.min_items = count(v, "minItems", where);
    if (v.contains("maxItems")) n.max_items = count(v, "maxItems", where);
    if (n.max_items >= 0 && n.min_items > n.max_items)
      fail(where, "\"minItems\" is above \"maxItems\"");
  }

  int ref(const std::string& target, const std::string& where) {
    if (target.empty() || target[0] != '#')
      fail(where, "\"$ref\" " + target + " is not in this document (only \"#...\" refs)");
    const std::string ptr = target.substr(1);
    if (auto it = ids_.find(ptr); it != ids_.end()) {
      if (it->second < 0) fail(where, "\"$ref\" " + target + " refers to itself");
      return it->second;
    }
    const Json* sub = nullptr;
    try {
      sub = &doc_.at(Json::json_pointer(ptr));
    } catch (const nlohmann::json::exception&) {
      fail(where, "\"$ref\" " + target + " names nothing in the schema");
    }
    ids_[ptr] = -1;  // resolving: a chain of refs that comes back is a cycle
    const int id = compile(*sub, ptr);
    ids_[ptr] = id;
    return id;
  }

  // A property whose schema takes no value (false) cannot be written: an
  // optional one is left out, a required one makes the schema impossible.
  // (After compiling: a node is only complete once every $ref is.)
  void drop_impossible_properties() {
    const auto never = [&](int id) {
      const SchemaNode& n = node(id);
      return !n.any && n.kinds == 0 && !n.literal && n.members.empty();
    };
    for (int id = 0; id < out_->size(); ++id) {
      SchemaNode& n = node(id);
      std::vector<SchemaNode::Property> kept;
      for (SchemaNode::Property& p : n.properties) {
        if (!never(p.node)) {
          kept.push_back(std::move(p));
        } else if (p.required) {
          fail("", "the required property " + p.key + " takes no value (its schema is false)");
        }
      }
      n.properties = std::move(kept);
      const int np = static_cast<int>(n.properties.size());
      n.next_required.assign(static_cast<size_t>(np) + 1, np);
      for (int i = np - 1; i >= 0; --i)
        n.next_required[i] = n.properties[i].required ? i : n.next_required[i + 1];
      if (n.min_items > 0 && (n.kinds & SchemaNode::kArray) && never(n.items))
        fail("", "\"minItems\" asks for items whose schema is false");
    }
  }

  // Each union's members become the schemas that are not unions it reaches
  // through unions, each once, so that a value's start never recurses (a
  // union of unions of unions ... would multiply). A union that reaches
  // itself that way would be expanded without end, and one of more than
  // kMaxAlternatives is refused.
  void flatten_unions() {
    const int n = out_->size();
    std::vector<int> seen(static_cast<size_t>(n), -1);  // the union whose walk saw it
    for (int id = 0; id < n; ++id) {
      if (node(id).members.empty()) continue;
      std::vector<int> stack = node(id).members, leaves;
      while (!stack.empty()) {
        const int m = stack.back();
        stack.pop_back();
        if (m == id) fail("", "\"anyOf\" takes itself as a member");
        if (seen[static_cast<size_t>(m)] == id) continue;
        seen[static_cast<size_t>(m)] = id;
        const std::vector<int>& inner = node(m).members;
        if (inner.empty()) {
          leaves.push_back(m);
        } else {
          stack.insert(stack.end(), inner.rbegin(), inner.rend());
        }
      }
      if (leaves.size() > JsonSchema::kMaxAlternatives)
        fail("", "a union (\"anyOf\") of more than " +
                     std::to_string(JsonSchema::kMaxAlternatives) + " schemas");
      node(id).members = std::move(leaves);
    }
  }

  // A oneOf is written as one member at a time, like anyOf; that is valid
  // against the oneOf only when no other member takes what a member
  // writes, which schema_excludes() must show for every pair.
  void check_one_of() {
    SchemaDisjoint disjoint(*out_);
    for (const OneOf& u : one_ofs_)
      for (size_t i = 0; i < u.members.size(); ++i)
        for (size_t j = i + 1; j < u.members.size(); ++j)
          if (!disjoint.excludes(u.members[i], u.members[j]) ||
              !disjoint.excludes(u.members[j], u.members[i]))
            fail(u.where + "/oneOf", "members " + std::to_string(i) + " and " + std::to_string(j) +
                                         " may both take a value, which \"oneOf\" forbids; "
                                         "radiald holds \"oneOf\" only when its members "
                                         "exclude each other by type, by enum or const "
                                         "values, or by a required property's (use "
                                         "\"anyOf\" if either may be taken)");
  }

  bool takes_object(int id) {
    const SchemaNode& n = node(id);
    if (n.any) return true;
    if (!n.members.empty())  // (flattened: no member is a union)
      return std::any_of(n.members.begin(), n.members.end(),
                         [&](int m) { return takes_object(m); });
    if (n.literal)
      return std::any_of(n.literals.begin(), n.literals.end(),
                         [](const std::string& l) { return l[0] == '{'; });
    return n.kinds & SchemaNode::kObject;
  }

  static constexpr int kMaxNesting = 256;
  const Json& doc_;
  const bool relaxed_;
  JsonSchema* out_ = nullptr;
  int depth_ = 0;
  std::map<std::string, int> ids_;  // a JSON pointer's node; -1 while its $ref resolves
  struct OneOf {
    int id;
    std::vector<int> members;  // as written (before the unions are flattened)
    std::string where;
  };
  std::vector<OneOf> one_ofs_;
};

const char* format_pattern(std::string_view format) {
  // RFC 3339's full-date, full-time and date-time (the day not checked
  // against its month), RFC 4122's UUID text, dotted-quad IPv4, and an
  // e-mail address's common shape (local part of atext and dots, a domain
  // of labels).
#define RADIAL_DATE "\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])"
#define RADIAL_TIME \
  "([01]\\d|2[0-3]):[0-5]\\d:([0-5]\\d|60)(\\.\\d+)?([Zz]|[+-]([01]\\d|2[0-3]):[0-5]\\d)"
#define RADIAL_OCTET "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)"
  if (format == "date") return "^" RADIAL_DATE "$";
  if (format == "time") return "^" RADIAL_TIME "$";
  if (format == "date-time") return "^" RADIAL_DATE "[Tt]" RADIAL_TIME "$";
  if (format == "uuid")
    return "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
  if (format == "ipv4") return "^(" RADIAL_OCTET "\\.){3}" RADIAL_OCTET "$";
  if (format == "email")
    return "^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@"
           "[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$";
#undef RADIAL_DATE
#undef RADIAL_TIME
#undef RADIAL_OCTET
  return nullptr;
}

std::shared_ptr<const JsonSchema> JsonSchema::compile(std::string_view text, bool relaxed) {
  constexpr int kMaxDepth = 64;  // (dump() and the compiler recurse)
  Json doc;
  try {
    doc = Json::parse(text, [](int depth, Json::parse_event_t, Json&) {
      if (depth > kMaxDepth)
        throw Error(ErrorCode::kInvalidArgument,
                    "json_schema nests deeper than " + std::to_string(kMaxDepth));
      return true;
    });
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kInvalidArgument, std::string("json_schema is not JSON: ") + e.what());
  }
  return SchemaCompiler(doc, relaxed).run();
}

}  // namespace radial
