// The syntax tree of a parsed chat template (see jinja_parser.h).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/chat/jinja_value.h"

namespace radial::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kLiteral,   // value
    kName,      // name
    kList,      // [args...]
    kTuple,     // (args...)
    kDict,      // {keys[i]: args[i]}
    kAttr,      // args[0].name
    kItem,      // args[0][args[1]]
    kSlice,     // args[0][args[1]:args[2]:args[3]] (null parts: omitted)
    kCall,      // args[0](args[1:], kwargs)
    kMethod,    // args[0].name(args[1:], kwargs)
    kFilter,    // args[0] | name(args[1:], kwargs)
    kTest,      // args[0] is [not] name(args[1:])
    kNeg,       // -args[0]
    kPos,       // +args[0]
    kNot,       // not args[0]
    kBinary,    // args[0] op args[1]: + - * / // % ** ~
    kCompare,   // args[0] op args[1]: == != < <= > >= in notin
    kAnd,       // args[0] and args[1]
    kOr,        // args[0] or args[1]
    kCondition  // args[0] if args[1] else args[2] (args[2] null: undefined)
  };
  Kind kind;
  int line = 0;
  Value value;
  std::string name;  // name, attribute, method, filter, test or operator
  bool negated = false;
  std::vector<ExprPtr> args;
  std::vector<ExprPtr> keys;                            // kDict
  std::vector<std::pair<std::string, ExprPtr>> kwargs;  // keyword arguments
};

struct Node;
using Body = std::vector<std::unique_ptr<Node>>;

struct Node {
  enum class Kind {
    kText,      // text
    kOutput,    // {{ expr }}
    kIf,        // branches: (condition, body)...; else_body
    kFor,       // for targets in expr [if filter]: body; else_body
    kSet,       // set targets = expr  (or target_ns.attr = expr)
    kSetBlock,  // set targets[0]: body
    kMacro,     // macro name(params): body
    kBreak,
    kContinue,
  };
  Kind kind;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr filter;
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body;
  Body else_body;
  std::vector<std::string> targets;
  std::string target_attr;  // kSet on a namespace: targets[0].target_attr
  std::string name;         // kMacro
  std::vector<std::pair<std::string, ExprPtr>> params;  // kMacro: name, default (or null)
};

}  // namespace radial::jinja
