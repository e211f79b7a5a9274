// The parser of the chat-template renderer: the subset of Jinja that chat
// templates use. Statements: if/elif/else, for (tuple targets, `if` filter,
// else, loop.* variables, break/continue), set (names, tuples, namespace
// attributes, block set), macro, generation (transformers' marker, rendered
// as its body). Expressions: literals, lists, tuples, dicts, attribute and
// item access, slices, calls, filters, tests, arithmetic, ~, comparisons,
// in / not in, and / or / not, conditional expressions. Every filter, test,
// method and global function must be one the evaluator implements: anything
// else is an error at parse time, naming it and its line.
#pragma once

#include <string_view>

#include "engine/chat/jinja_ast.h"

namespace radial::jinja {

// Throws Error(kInvalidArgument) for a syntax error and Error(kUnsupported)
// for a construct outside the subset, each naming the line.
Body parse(std::string_view source);

// The names the evaluator implements (the parser checks against them).
bool is_known_filter(const std::string& name);
bool is_known_test(const std::string& name);
bool is_known_method(const std::string& name);
bool is_known_global(const std::string& name);

}  // namespace radial::jinja
