#include "scheduler/request_validator.h"

#include <algorithm>
#include <string>

#include "engine/error.h"

namespace radial {

RequestValidator::RequestValidator(const Engine& engine, const Tokenizer* tokenizer,
                                   const ServingLimits& limits)
    : engine_(engine), tokenizer_(tokenizer), limits_(limits) {
  require(limits_.max_tokens >= 0, ErrorCode::kInvalidArgument, "limits.max_tokens must be >= 0");
  require(limits_.max_stop_strings >= 0 && limits_.max_stop_length >= 0,
          ErrorCode::kInvalidArgument, "limits on stop strings must be >= 0");
  require(limits_.max_queued >= 0, ErrorCode::kInvalidArgument, "limits.max_queued must be >= 0");
}

ValidatedRequest RequestValidator::validate(GenerateRequest req) const {
  const ModelConfig& c = engine_.config();
  if (req.prompt.empty()) req.prompt.push_back(c.bos_token_id);
  const int n = static_cast<int>(req.prompt.size());
  // The server's limits first, then the model's.
  require(limits_.max_prompt_tokens <= 0 || n <= limits_.max_prompt_tokens,
          ErrorCode::kInvalidArgument,
          "prompt of " + std::to_string(n) + " tokens exceeds the limit of " +
              std::to_string(limits_.max_prompt_tokens));
  require(limits_.max_tokens <= 0 || req.max_tokens <= limits_.max_tokens,
          ErrorCode::kInvalidArgument,
          "max_tokens " + std::to_string(req.max_tokens) + " exceeds the limit of " +
              std::to_string(limits_.max_tokens));
  require(limits_.max_stop_strings <= 0 ||
              static_cast<int>(req.stop.size()) <= limits_.max_stop_strings,
          ErrorCode::kInvalidArgument,
          std::to_string(req.stop.size()) + " stop strings exceed the limit of " +
              std::to_string(limits_.max_stop_strings));
  for (const auto& s : req.stop)
    require(limits_.max_stop_length <= 0 || static_cast<int>(s.size()) <= limits_.max_stop_length,
            ErrorCode::kInvalidArgument,
            "a stop string of " + std::to_string(s.size()) + " bytes exceeds the limit of " +
                std::to_string(limits_.max_stop_length));

  for (size_t i = 0; i < req.prompt.size(); ++i) {
    const int t = req.prompt[i];
    require(t >= 0 && t < c.vocab_size, ErrorCode::kInvalidArgument,
            "prompt token id " + std::to_string(t) + " (position " + std::to_string(i) +
                ") is outside the vocabulary [0, " + std::to_string(c.vocab_size) + ")");
  }
  require(n <= c.max_position_embeddings, ErrorCode::kInvalidArgument,
          "prompt of " + std::to_string(n) + " tokens is longer than the context (" +
              std::to_string(c.max_position_embeddings) + ")");
  require(req.max_tokens >= 1, ErrorCode::kInvalidArgument,
          "max_tokens must be at least 1, got " + std::to_string(req.max_tokens));
  req.sampling.validate();
  for (const LogitBias& b : req.sampling.logit_bias)
    require(b.token < c.vocab_size, ErrorCode::kInvalidArgument,
            "logit_bias token id " + std::to_string(b.token) + " is outside the vocabulary [0, " +
                std::to_string(c.vocab_size) + ")");
  require(req.logprobs >= -1 && req.logprobs <= 20, ErrorCode::kInvalidArgument,
          "logprobs must be in [0, 20] (or off), got " + std::to_string(req.logprobs));
  require(
      req.prompt_logprobs >= -1 && req.prompt_logprobs <= 20, ErrorCode::kInvalidArgument,
      "prompt_logprobs must be in [0, 20] (or off), got " + std::to_string(req.prompt_logprobs));
  require(req.stop.empty() || tokenizer_ != nullptr, ErrorCode::kInvalidArgument,
          "stop strings need a tokenizer");
  require(!req.json_object || tokenizer_ != nullptr, ErrorCode::kInvalidArgument,
          "JSON mode (response_format json_object) needs a tokenizer");
  require(req.json_schema.empty() || tokenizer_ != nullptr, ErrorCode::kInvalidArgument,
          "JSON Schema mode (response_format json_schema) needs a tokenizer");
  require(!req.json_object || req.json_schema.empty(), ErrorCode::kInvalidArgument,
          "JSON mode and JSON Schema mode exclude each other");
  for (const auto& s : req.stop)
    require(!s.empty(), ErrorCode::kInvalidArgument, "stop strings must not be empty");

  // Worst case: every position up to the last one fed back, at every layer.
  const KvBlockManager& kv = engine_.kv();
  const int entries = std::min(n + req.max_tokens - 1, c.max_position_embeddings);
  const int worst = kv.blocks_for(entries, c.num_layers);
  require(worst <= kv.num_blocks(), ErrorCode::kInvalidArgument,
          "request needs up to " + std::to_string(worst) + " KV blocks; the whole pool has " +
              std::to_string(kv.num_blocks()) + " (lower max_tokens or the prompt length)");
  const RoutingParams routing =
      engine_.resolve_routing(req.mode, req.threshold);  // a bad mode or threshold throws
  std::shared_ptr<const JsonSchema> schema;
  if (!req.json_schema.empty())
    schema = JsonSchema::compile(req.json_schema, req.json_schema_relaxed);  // or throws
  ValidatedRequest out(std::move(req), routing);
  out.schema_ = std::move(schema);
  return out;
}

}  // namespace radial
