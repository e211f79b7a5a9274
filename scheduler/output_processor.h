// Text output of one sequence, the same for every front end: each sampled
// token becomes a GeneratedToken (its text through the streaming
// detokenizer, held back while it could begin a stop string), and the
// sequence's end is decided here: EOS, a stop string, max_tokens or the
// context's end. It keeps the SequenceResult (tokens, text, usage, prompt
// logits) that the final callback delivers. No engine, no threads: the
// scheduler's apply step calls it on the engine loop thread.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "engine/model_config.h"
#include "engine/pass.h"
#include "engine/tokenizer.h"
#include "scheduler/request.h"

namespace radial {

class OutputProcessor {
 public:
  // `tokenizer` may be null (then tokens carry no text; the request has no
  // stop strings, the validator saw to it). `router_hidden`: 0 without a
  // router (for compute fractions). All must outlive the processor.
  OutputProcessor(const ModelConfig& config, const Tokenizer* tokenizer, int router_hidden,
                  const GenerateRequest& request);

  // What happens to the sequence after a token.
  struct Verdict {
    // Set when the sequence ends with this token: kStop (EOS: the token is
    // not emitted), kStopString, or kLength.
    std::optional<FinishReason> finish;
    // The token that was emitted (null for EOS).
    const GeneratedToken* token = nullptr;
  };
  // `tok` was sampled from the pass `p` at position p.position (the newest
  // position of the sequence); `logits` (may be null) are the ones it was
  // drawn from, for the request's log-probabilities.
  Verdict on_token(int tok, const Pass& p, const float* logits = nullptr);

  // What the request reports of its prompt positions (keep_prompt_logits:
  // the logits; prompt_logprobs: the next prompt token's log-probabilities):
  // records position p.position's if it is the next prompt position not yet
  // recorded (a recompute after preemption records nothing twice).
  void record_prompt_position(const Pass& p, const float* logits);
  // Prompt positions recorded so far (0 when the request reports none).
  int prompt_positions_recorded() const { return prompt_recorded_; }
  // The prompt tokens served from the prefix cache (usage).
  void set_cached_prompt_tokens(int n) { result_.usage.cached_prompt_tokens = n; }

  // The final result: flushes held-back text (unless a stop string ended
  // it) and fills in the finish reason, the error and the usage. Call once.
  const SequenceResult& finish(FinishReason reason, const std::string& error = "");

  const SequenceResult& result() const { return result_; }
  int generated() const { return static_cast<int>(result_.tokens.size()); }

 private:
  const ModelConfig& c_;
  const GenerateRequest& req_;
  int router_hidden_;
  std::unique_ptr<StreamDetokenizer> detok_;
  std::unique_ptr<StopMatcher> stop_;
  SequenceResult result_;
  long depth_sum_ = 0;
  int prompt_recorded_ = 0;
};

}  // namespace radial
