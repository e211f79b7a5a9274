// What a client asks the scheduler for, and what it gets back.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/router.h"
#include "engine/sampler.h"

namespace radial {

struct GenerateRequest {
  std::vector<int> prompt;  // token ids, BOS included (an empty prompt is [BOS])
  int max_tokens = 16;      // >= 1
  SamplingParams sampling;
  std::optional<RouteMode> mode;   // default: the router's mode, or full
  std::optional<float> threshold;  // forward mode: overrides the router file's
  std::vector<std::string> stop;   // stop strings (need a tokenizer)
  bool ignore_eos = false;
  bool keep_prompt_logits = false;  // report logits of every prompt position (tests, eval)
  // Log-probabilities of generated tokens (scheduler/logprobs.h): -1 off; 0
  // the sampled token's; N > 0 also the N likeliest tokens' (at most 20).
  int logprobs = -1;
  // Log-probabilities of the prompt's own tokens (scoring a text, OpenAI's
  // `echo` with `logprobs`): -1 off; N >= 0: for each prompt position i >= 1,
  // prompt[i]'s log-probability given prompt[0, i) and the N likeliest
  // tokens there (at most 20), under the model's own distribution
  // (temperature 1, no bias or penalty). Those positions' passes run the head.
  int prompt_logprobs = -1;
  // JSON mode (OpenAI's response_format json_object): the generated text is
  // held to one JSON object (scheduler/json_constraint.h) and the sequence
  // finishes (kStop) when the object closes. Needs a tokenizer.
  bool json_object = false;
  // JSON Schema mode (OpenAI's response_format json_schema): the schema's
  // JSON text; the generated text is held to one JSON object valid against
  // it (scheduler/json_schema.h says which keywords hold) and the sequence
  // finishes (kStop) when the object closes. Needs a tokenizer; "" off.
  std::string json_schema;
  // JsonSchema::compile's `relaxed` (tool calls' arguments): the assertions
  // it cannot hold to are skipped instead of refused.
  bool json_schema_relaxed = false;
  bool constrained() const { return json_object || !json_schema.empty(); }

  // Whether the request reports something of its prompt positions (their
  // logits or the prompt tokens' log-probabilities): those passes need logits.
  bool reports_prompt() const { return keep_prompt_logits || prompt_logprobs >= 0; }
};

enum class FinishReason { kLength, kStop, kStopString, kCancelled, kError };
const char* finish_reason_name(FinishReason r);

struct TokenLogprob {
  int token = 0;
  float logprob = 0;
};

struct GeneratedToken {
  int token = 0;
  int depth = 0;          // layers executed fully by the pass that produced it
  std::vector<int> path;  // those layers, in order
  double compute_fraction = 1.0;
  std::string text;  // complete UTF-8 text this token makes available (may be "")
  // With GenerateRequest::logprobs >= 0: this token's log-probability, and
  // the likeliest tokens' (best first), under the distribution it was drawn from.
  float logprob = 0;
  std::vector<TokenLogprob> top_logprobs;
};

struct Usage {
  int prompt_tokens = 0;
  int generated_tokens = 0;
  double mean_depth = 0;         // over generated tokens
  long layer_steps_skipped = 0;  // sum over generated tokens of (L - depth)
  // Prompt tokens whose KV came from the prefix cache at admission (their
  // passes did not run).
  int cached_prompt_tokens = 0;
};

struct SequenceResult {
  FinishReason finish = FinishReason::kLength;
  std::string error;  // with kError
  std::vector<GeneratedToken> tokens;
  std::string text;  // all emitted text
  Usage usage;
  std::vector<std::vector<float>> prompt_logits;  // with keep_prompt_logits
  // With prompt_logprobs >= 0: entry i - 1 for prompt position i >= 1: token
  // prompt[i], its logprob and top_logprobs, and the depth, path and compute
  // fraction of the pass (at position i - 1) whose logits gave them; no text.
  std::vector<GeneratedToken> prompt_token_logprobs;
  // With keep_prompt_logits, per prompt position (next to prompt_logits):
  // the depth, path and compute fraction (engine/flops.h) of that position's pass.
  std::vector<int> prompt_depth;
  std::vector<std::vector<int>> prompt_path;
  std::vector<double> prompt_compute_fraction;
};

// Called on the thread that runs Scheduler::step().
struct SequenceCallbacks {
  std::function<void(const GeneratedToken&)> on_token;
  std::function<void(const SequenceResult&)> on_finish;
};

}  // namespace radial
