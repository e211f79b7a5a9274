// Filters, tests, methods and global functions of the chat-template
// renderer, with the semantics of jinja2 and Python's str / dict methods.
#pragma once

#include <ctime>
#include <functional>
#include <string>

#include "engine/chat/jinja_value.h"

namespace radial::jinja {

// Calls a filter or test by name (map/select and friends apply them to items).
struct Builtins {
  std::time_t now = 0;  // strftime_now's clock (0: the real time)
};

Value apply_filter(const std::string& name, const Value& x, const Args& args);
bool apply_test(const std::string& name, const Value& x, const Args& args);
Value call_method(const std::string& name, const Value& obj, const Args& args);
// range, dict, namespace, raise_exception, strftime_now.
Value call_global(const std::string& name, const Args& args, const Builtins& env);

// Attribute access x.name and item access x[key] as jinja2's sandbox does
// them; Undefined when missing (an error when x itself is undefined).
Value get_attr(const Value& x, const std::string& name);
Value get_item(const Value& x, const Value& key);
// x[start:stop:step] on a string, list or tuple (null parts: omitted).
Value get_slice(const Value& x, const Value* start, const Value* stop, const Value* step);
// Python's len() in code points for strings; -1 when x has no length.
int64_t length_of(const Value& x);
// The items a for loop visits: a list's elements, a dict's keys, a
// string's characters; Undefined gives none.
List iterate(const Value& x);

}  // namespace radial::jinja
