// JSON mode's host cost per generated token (scheduler/json_constraint.h):
// the time to build the vocabulary index once, then, walking a sample JSON
// object token by token as the tokenizer splits it, the time of each step's
// mask (JsonConstraint::mask on a row of logits: the allowed tokens, cached
// inside strings, then -inf for the others) and how many tokens it allows,
// split by where the step stands (inside a string, where most tokens fit, or
// between values, where few do). Single-threaded; the figure to compare with
// is the model's time per decode step. With --schema, the same in JSON
// Schema mode (scheduler/schema_state.h) under a schema of the sample's shape;
// with --bounds, under that schema with bounds on its numbers
// (scheduler/number_bounds.h), the sample's one exponent written out; with
// --patterns, under that schema with patterns on three of its strings
// (scheduler/string_pattern.h: two anchored, one searched for):
// schema_variant().
// Steps that continue a number are reported apart from the other steps
// between values.
//
// Usage: bench_json_mode --tokenizer DIR|FILE [--vocab N] [--reps R]
//                       [--schema|--bounds|--patterns]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/tokenizer.h"
#include "scheduler/json_constraint.h"
#include "scheduler/schema_state.h"

namespace {

using Clock = std::chrono::steady_clock;

// A reply shaped as JSON-mode replies are: keys, nested values, prose in strings.
constexpr const char* kSample = R"({
  "name": "Lily",
  "age": 7,
  "friends": ["Tom", "Max", "Sue"],
  "story": "Once upon a time, there was a little girl named Lily. She loved to play in the park with her dog.",
  "scores": {"math": 9.5, "reading": 10, "art": -1e-3},
  "happy": true,
  "pet": null
})";

// The sample's shape as OpenAI's strict mode writes it.
constexpr const char* kSchema = R"({
  "type": "object",
  "properties": {
    "name": {"type": "string"},
    "age": {"type": "integer"},
    "friends": {"type": "array", "items": {"type": "string"}},
    "story": {"type": "string"},
    "scores": {"type": "object", "additionalProperties": {"type": "number"}},
    "happy": {"type": "boolean"},
    "pet": {"anyOf": [{"type": "null"}, {"type": "object", "properties": {"kind": {"enum": ["cat", "dog"]}}}]}
  },
  "required": ["name", "age", "friends", "story", "scores", "happy", "pet"],
  "additionalProperties": false
})";

// kSchema with bounds on its numbers (--bounds) or with patterns on the
// name, the friends and the story (--patterns).
std::string schema_variant(bool bounds, bool patterns) {
  nlohmann::ordered_json s = nlohmann::ordered_json::parse(kSchema);
  nlohmann::ordered_json& p = s["properties"];
  if (bounds) {
    p["age"]["minimum"] = 0, p["age"]["maximum"] = 150;
    p["scores"]["additionalProperties"]["minimum"] = -10;
    p["scores"]["additionalProperties"]["maximum"] = 10;
  }
  if (patterns) {
    p["name"]["pattern"] = "^[A-Z][a-z]+$";
    p["friends"]["items"]["pattern"] = "^[A-Z][a-z]*$";
    p["story"]["pattern"] = "upon a";
  }
  return s.dump();
}
constexpr const char* kUsage =
    "usage: bench_json_mode --tokenizer DIR|FILE [--vocab N] [--reps R] "
    "[--schema|--bounds|--patterns]\n";

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  std::string tok_path;
  int vocab = 0, reps = 3;
  bool schema_mode = false, bounds = false, patterns = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--tokenizer") && i + 1 < argc) {
      tok_path = argv[++i];
    } else if (!std::strcmp(argv[i], "--vocab") && i + 1 < argc) {
      vocab = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (!std::strcmp(argv[i], "--schema")) {
      schema_mode = true;
    } else if (!std::strcmp(argv[i], "--bounds")) {
      schema_mode = bounds = true;
    } else if (!std::strcmp(argv[i], "--patterns")) {
      schema_mode = patterns = true;
    } else {
      std::fputs(kUsage, stderr);
      return 2;
    }
  }
  if (tok_path.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  try {
    const auto tok = radial::Tokenizer::load(tok_path);
    if (vocab <= 0) vocab = tok->vocab_size();
    auto t0 = Clock::now();
    auto index = std::make_shared<const radial::JsonVocab>(*tok, vocab);
    const double build_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    std::string sample = kSample;
    if (bounds) sample.replace(sample.find("-1e-3"), 5, "-0.001");  // (no exponent)
    const std::vector<int> ids = tok->encode(sample, /*add_bos=*/false);
    const auto schema = radial::JsonSchema::compile(schema_variant(bounds, patterns));

    std::vector<double> in_string, in_number, between;
    std::vector<size_t> allowed_in_string, allowed_in_number, allowed_between;
    for (int r = 0; r < reps; ++r) {
      std::unique_ptr<radial::TokenConstraint> constraint;
      if (schema_mode) {
        constraint = std::make_unique<radial::SchemaConstraint>(index, schema);
      } else {
        constraint = std::make_unique<radial::JsonConstraint>(index);
      }
      radial::TokenConstraint& c = *constraint;
      radial::JsonState probe;  // where each step stands
      std::vector<float> logits(static_cast<size_t>(vocab));
      for (int id : ids) {
        for (size_t v = 0; v < logits.size(); ++v) logits[v] = static_cast<float>(v % 97) * 0.1f;
        t0 = Clock::now();
        c.mask(logits);
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        const size_t allowed = c.allowed().size();  // (untimed)
        const bool string = probe.mode == radial::JsonState::kString;
        const bool number = probe.mode == radial::JsonState::kNumber;
        (string ? in_string : number ? in_number : between).push_back(ms);
        (string   ? allowed_in_string
         : number ? allowed_in_number
                  : allowed_between)
            .push_back(allowed);
        if (!c.accept(id)) {
          std::fprintf(stderr, "bench_json_mode: the sample's token %d does not fit\n", id);
          return 1;
        }
        for (char b : tok->piece_bytes(ids.front(), id)) probe.feed(static_cast<uint8_t>(b));
      }
    }
    const auto mean = [](const std::vector<size_t>& v) {
      double s = 0;
      for (size_t x : v) s += static_cast<double>(x);
      return v.empty() ? 0.0 : s / static_cast<double>(v.size());
    };
    std::printf("tokenizer %s: vocabulary %d, sample %zu tokens, %d reps, %s\n", tok_path.c_str(),
                vocab, ids.size(), reps,
                bounds        ? "JSON Schema mode, bounded numbers"
                : patterns    ? "JSON Schema mode, patterns"
                : schema_mode ? "JSON Schema mode"
                              : "JSON mode");
    std::printf("index build: %.1f ms (once per tokenizer)\n", build_ms);
    std::printf("%-16s %6s %10s %10s %10s %14s\n", "step", "steps", "p50 ms", "p90 ms", "max ms",
                "tokens allowed");
    std::printf("%-16s %6zu %10.3f %10.3f %10.3f %14.0f\n", "inside a string", in_string.size(),
                percentile(in_string, 0.5), percentile(in_string, 0.9), percentile(in_string, 1.0),
                mean(allowed_in_string));
    std::printf("%-16s %6zu %10.3f %10.3f %10.3f %14.0f\n", "inside a number", in_number.size(),
                percentile(in_number, 0.5), percentile(in_number, 0.9), percentile(in_number, 1.0),
                mean(allowed_in_number));
    std::printf("%-16s %6zu %10.3f %10.3f %10.3f %14.0f\n", "between values", between.size(),
                percentile(between, 0.5), percentile(between, 0.9), percentile(between, 1.0),
                mean(allowed_between));
    return 0;
  } catch (const radial::Error& e) {
    std::fprintf(stderr, "bench_json_mode: %s\n", e.what());
    return 1;
  }
}
