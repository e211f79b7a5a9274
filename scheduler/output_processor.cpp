#include "scheduler/output_processor.h"

#include <algorithm>

#include "engine/flops.h"
#include "scheduler/logprobs.h"

namespace radial {

OutputProcessor::OutputProcessor(const ModelConfig& config, const Tokenizer* tokenizer,
                                 int router_hidden, const GenerateRequest& request)
    : c_(config), req_(request), router_hidden_(router_hidden) {
  if (tokenizer) {
    detok_ = std::make_unique<StreamDetokenizer>(*tokenizer, request.prompt.back());
    stop_ = std::make_unique<StopMatcher>(request.stop);
  }
  result_.usage.prompt_tokens = static_cast<int>(request.prompt.size());
}

OutputProcessor::Verdict OutputProcessor::on_token(int tok, const Pass& p, const float* logits) {
  Verdict v;
  const bool eos =
      std::find(c_.eos_token_ids.begin(), c_.eos_token_ids.end(), tok) != c_.eos_token_ids.end() ||
      (c_.bos_ends_sequence && tok == c_.bos_token_id);
  if (eos && !req_.ignore_eos) {
    v.finish = FinishReason::kStop;
    return v;
  }
  GeneratedToken g;
  g.token = tok;
  g.depth = p.depth();
  g.path = p.path;
  g.compute_fraction = pass_compute_fraction(c_, p, router_hidden_);
  if (req_.logprobs >= 0 && logits != nullptr)
    token_logprobs(std::span<const float>(logits, c_.vocab_size), req_.sampling.temperature, tok,
                   req_.logprobs, &g.logprob, &g.top_logprobs);
  depth_sum_ += g.depth;
  result_.usage.layer_steps_skipped += c_.num_layers - g.depth;
  bool stopped = false;
  if (detok_) {
    g.text = stop_->feed(detok_->push(tok));
    stopped = stop_->stopped();
    result_.text += g.text;
  }
  result_.tokens.push_back(std::move(g));
  v.token = &result_.tokens.back();
  if (stopped) {
    v.finish = FinishReason::kStopString;
  } else if (generated() >= req_.max_tokens || p.position + 1 >= c_.max_position_embeddings) {
    v.finish = FinishReason::kLength;
  }
  return v;
}

void OutputProcessor::record_prompt_position(const Pass& p, const float* logits) {
  const int n = static_cast<int>(req_.prompt.size());
  if (!req_.reports_prompt() || p.position >= n || p.position != prompt_recorded_) return;
  ++prompt_recorded_;
  if (req_.keep_prompt_logits) {
    result_.prompt_logits.emplace_back(logits, logits + c_.vocab_size);
    result_.prompt_depth.push_back(p.depth());
    result_.prompt_path.push_back(p.path);
    result_.prompt_compute_fraction.push_back(pass_compute_fraction(c_, p, router_hidden_));
  }
  if (req_.prompt_logprobs >= 0 && p.position + 1 < n) {
    GeneratedToken g;
    g.token = req_.prompt[p.position + 1];
    g.depth = p.depth();
    g.path = p.path;
    g.compute_fraction = pass_compute_fraction(c_, p, router_hidden_);
    token_logprobs(std::span<const float>(logits, c_.vocab_size), 1.f, g.token,
                   req_.prompt_logprobs, &g.logprob, &g.top_logprobs);
    result_.prompt_token_logprobs.push_back(std::move(g));
  }
}

const SequenceResult& OutputProcessor::finish(FinishReason reason, const std::string& error) {
  if (stop_ && reason != FinishReason::kStopString) {
    const std::string out = stop_->feed(detok_->flush()) + stop_->flush();
    result_.text += out;
    if (!out.empty() && !result_.tokens.empty()) result_.tokens.back().text += out;
  }
  result_.finish = reason;
  result_.error = error;
  Usage& u = result_.usage;
  u.generated_tokens = generated();
  u.mean_depth = u.generated_tokens ? static_cast<double>(depth_sum_) / u.generated_tokens : 0.0;
  return result_;
}

}  // namespace radial
