// libFuzzer target: JSON Schema mode. The input is a schema's text, a NUL
// byte, and a document. The schema goes through JsonSchema::compile (any
// bytes: it refuses with Error, never crashes or recurses without bound);
// a schema it takes is then the automaton's (scheduler/schema_state.h): if
// the automaton takes the whole document and ends complete, the document
// must be a JSON object JSON mode takes (tests/json_reference.h) and valid
// against the schema under the reference validator
// (tests/json_schema_reference.h).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/error.h"
#include "scheduler/json_schema.h"
#include "scheduler/schema_state.h"
#include "tests/json_reference.h"
#include "tests/json_schema_reference.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  if (nul == std::string::npos) return 0;
  const std::string schema_text = in.substr(0, nul), doc = in.substr(nul + 1);
  std::shared_ptr<const radial::JsonSchema> schema;
  try {
    schema = radial::JsonSchema::compile(schema_text);
  } catch (const radial::Error&) {
    return 0;
  }
  radial::SchemaState st(schema.get());
  size_t taken = 0;
  while (taken < doc.size() && st.feed(static_cast<uint8_t>(doc[taken]))) ++taken;
  if (taken < doc.size() || !st.done()) return 0;
  if (!radial::test::json_mode_reference(doc)) std::abort();
  const nlohmann::json s = nlohmann::json::parse(schema_text);
  if (!radial::test::schema_valid(radial::test::parse_completed(doc), s, s)) std::abort();
  return 0;
}
