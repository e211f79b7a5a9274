#include "server/convert.h"

#include <algorithm>
#include <limits>

#include "engine/error.h"
#include "engine/router.h"
#include "radial/v1/radial.pb.h"

namespace radial::server {
namespace {

namespace pb = radial::v1;

int clamp_to_int(uint32_t v) {
  return static_cast<int>(std::min<uint32_t>(v, std::numeric_limits<int>::max()));
}

pb::RoutingMode mode_to_proto(const std::string& name) {
  if (name == "full") return pb::ROUTING_MODE_FULL;
  if (name == "forward") return pb::ROUTING_MODE_FORWARD;
  if (name == "radial") return pb::ROUTING_MODE_RADIAL;
  return pb::ROUTING_MODE_DEFAULT;
}

pb::FinishReason finish_to_proto(radial::FinishReason r) {
  switch (r) {
    case radial::FinishReason::kLength:
      return pb::FINISH_REASON_LENGTH;
    case radial::FinishReason::kStop:
      return pb::FINISH_REASON_STOP;
    case radial::FinishReason::kStopString:
      return pb::FINISH_REASON_STOP_STRING;
    case radial::FinishReason::kCancelled:
      return pb::FINISH_REASON_CANCELLED;
    case radial::FinishReason::kError:
      return pb::FINISH_REASON_ERROR;
  }
  return pb::FINISH_REASON_UNSPECIFIED;
}

}  // namespace

void check_request_id(const std::string& request_id) {
  constexpr size_t kMaxRequestIdBytes = 128;
  radial::require(request_id.size() <= kMaxRequestIdBytes, radial::ErrorCode::kInvalidArgument,
                  "request_id is longer than 128 bytes");
  for (unsigned char c : request_id)
    radial::require(c >= 0x21 && c <= 0x7e, radial::ErrorCode::kInvalidArgument,
                    "request_id must be printable ASCII without spaces");
}

radial::GenerateRequest to_engine_request(const pb::GenerateRequest& in,
                                          const radial::EngineService& service,
                                          const std::function<bool()>& cancelled) {
  radial::GenerateRequest req;
  switch (in.prompt_case()) {
    case pb::GenerateRequest::kText:
      req.prompt = service.tokenize(in.text(), /*add_bos=*/true, cancelled);
      break;
    case pb::GenerateRequest::kTokenIds: {
      // (Checked against the vocabulary by the serving core's validator.)
      const auto& ids = in.token_ids().ids();
      for (int id : ids) req.prompt.push_back(id);
      break;
    }
    case pb::GenerateRequest::PROMPT_NOT_SET:
      break;  // empty prompt: BOS alone
  }
  req.max_tokens = in.max_tokens() == 0 ? 16 : clamp_to_int(in.max_tokens());
  req.sampling.temperature = in.temperature();
  req.sampling.top_k = clamp_to_int(in.top_k());
  req.sampling.top_p = in.has_top_p() ? in.top_p() : 1.f;
  req.sampling.repetition_penalty = in.has_repetition_penalty() ? in.repetition_penalty() : 1.f;
  req.sampling.presence_penalty = in.presence_penalty();
  req.sampling.frequency_penalty = in.frequency_penalty();
  // (In the map's order: the biases add to distinct tokens, so order is moot.)
  for (const auto& [token, bias] : in.logit_bias())
    req.sampling.logit_bias.push_back({token, bias});
  req.sampling.seed = in.seed();
  req.stop.assign(in.stop_strings().begin(), in.stop_strings().end());
  switch (in.routing_mode()) {
    case pb::ROUTING_MODE_DEFAULT:
      break;
    case pb::ROUTING_MODE_FULL:
      req.mode = radial::RouteMode::kFull;
      break;
    case pb::ROUTING_MODE_FORWARD:
      req.mode = radial::RouteMode::kForward;
      break;
    case pb::ROUTING_MODE_RADIAL:
      req.mode = radial::RouteMode::kRadial;
      break;
    default:
      throw radial::Error(radial::ErrorCode::kInvalidArgument,
                          "routing_mode " + std::to_string(in.routing_mode()) + " is unknown");
  }
  if (in.has_threshold()) req.threshold = in.threshold();
  req.ignore_eos = in.ignore_eos();
  // (Ranges are the serving core's validator's: 0 to 20.)
  if (in.has_logprobs()) req.logprobs = clamp_to_int(in.logprobs());
  if (in.has_prompt_logprobs()) req.prompt_logprobs = clamp_to_int(in.prompt_logprobs());
  req.json_object = in.json_object();
  req.json_schema = in.json_schema();
  return req;
}

void fill_token_info(const radial::GeneratedToken& t, pb::TokenInfo* out, bool logprobs) {
  out->set_id(t.token);
  out->set_depth(static_cast<uint32_t>(std::max(0, t.depth)));
  for (int layer : t.path) out->add_path(static_cast<uint32_t>(layer));
  out->set_compute_fraction(static_cast<float>(t.compute_fraction));
  if (!logprobs) return;
  out->set_logprob(t.logprob);
  for (const radial::TokenLogprob& lp : t.top_logprobs) {
    pb::TokenLogprob* top = out->add_top_logprobs();
    top->set_id(lp.token);
    top->set_logprob(lp.logprob);
  }
}

void fill_final(const radial::SequenceResult& r, pb::GenerateResponse* out) {
  out->set_finish_reason(finish_to_proto(r.finish));
  pb::Usage* u = out->mutable_usage();
  u->set_prompt_tokens(static_cast<uint32_t>(std::max(0, r.usage.prompt_tokens)));
  u->set_generated_tokens(static_cast<uint32_t>(std::max(0, r.usage.generated_tokens)));
  u->set_mean_depth(static_cast<float>(r.usage.mean_depth));
  u->set_layer_steps_skipped(static_cast<uint64_t>(std::max(0L, r.usage.layer_steps_skipped)));
  u->set_cached_prompt_tokens(static_cast<uint32_t>(std::max(0, r.usage.cached_prompt_tokens)));
  double compute = 0;
  for (const auto& t : r.tokens) compute += t.compute_fraction;
  u->set_compute_fraction(r.tokens.empty() ? 0.f : static_cast<float>(compute / r.tokens.size()));
  for (const auto& t : r.prompt_token_logprobs)
    fill_token_info(t, out->add_prompt_tokens(), /*logprobs=*/true);
}

void fill_model_info(const radial::ModelInfo& info, const radial::ServingLimits& limits,
                     const std::string& served_name, pb::ModelInfoResponse* out) {
  out->set_name(served_name);
  out->set_model_type(info.model_type);
  out->set_num_layers(static_cast<uint32_t>(info.num_layers));
  out->set_hidden_size(static_cast<uint32_t>(info.hidden_size));
  out->set_context_length(static_cast<uint32_t>(info.context_length));
  out->set_vocab_size(static_cast<uint32_t>(info.vocab_size));
  out->set_routing_mode(mode_to_proto(info.routing_mode));
  for (const auto& m : info.routing_modes) out->add_routing_modes(mode_to_proto(m));
  out->set_kv_policy(info.kv_policy);
  out->set_threshold(info.threshold);
  out->set_max_steps(static_cast<uint32_t>(std::max(0, info.max_steps)));
  out->set_has_tokenizer(info.has_tokenizer);
  out->set_max_prompt_tokens(static_cast<uint32_t>(std::max(0, limits.max_prompt_tokens)));
  out->set_max_tokens(static_cast<uint32_t>(std::max(0, limits.max_tokens)));
  out->set_max_stop_strings(static_cast<uint32_t>(std::max(0, limits.max_stop_strings)));
  out->set_bos_token_id(static_cast<uint32_t>(std::max(0, info.bos_token_id)));
  for (int id : info.eos_token_ids) out->add_eos_token_ids(static_cast<uint32_t>(std::max(0, id)));
}

}  // namespace radial::server
