// libFuzzer target: JSON mode's byte automaton (scheduler/json_constraint.h)
// against the reference (tests/json_reference.h: nlohmann's parser and the
// automaton's whitespace and nesting limits). The automaton must take the
// input whole and end complete exactly when the reference accepts it, and
// must never take a byte after it has rejected one (it stops there).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "scheduler/json_constraint.h"
#include "tests/json_reference.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string s(reinterpret_cast<const char*>(data), size);
  radial::JsonState st;
  size_t taken = 0;
  while (taken < size && st.feed(data[taken])) ++taken;
  const bool accepted = taken == size && st.done();
  if (accepted != radial::test::json_mode_reference(s)) std::abort();
  return 0;
}
