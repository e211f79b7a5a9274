// `radial generate --server HOST:PORT`: generation on a running radiald, with
// the output of local generation (streamed text + summary line, or --json).
#include <cstdio>
#include <iostream>
#include <limits>

#include <nlohmann/json.hpp>

#include "tools/radial/common.h"
#include "tools/radial/remote.h"

namespace radial::cli {

#ifndef RADIAL_WITH_CLIENT

int generate_remote(const Args&) {
  std::fprintf(stderr,
               "radial generate: --server needs radial built with the gRPC client "
               "(RADIAL_BUILD_SERVER=ON)\n");
  return 1;
}

#else

namespace {

// A request-level error found before sending (the local path reports these
// from the scheduler with exit code 1).
struct RequestError {
  std::string message;
};

uint32_t to_u32(long v, const char* field, long min) {
  if (v < min || v > static_cast<long>(std::numeric_limits<uint32_t>::max()))
    throw RequestError{std::string(field) + " must be at least " + std::to_string(min)};
  return static_cast<uint32_t>(v);
}

client::GenerateRequest build_request(const Args& args) {
  client::GenerateRequest req;
  if (auto text = args.get("prompt")) {
    req.text = *text;
  } else {
    const std::vector<int> ids = parse_id_list(*args.get("prompt-ids"));
    req.token_ids = std::vector<int32_t>(ids.begin(), ids.end());
  }
  // The local defaults, sent explicitly (max_tokens 0 would mean 16 on the wire).
  req.max_tokens = to_u32(args.integer("max-tokens").value_or(256), "max_tokens", 1);
  req.temperature = static_cast<float>(args.number("temperature").value_or(0.0));
  req.top_k = to_u32(args.integer("top-k").value_or(0), "top_k", 0);
  if (auto p = args.number("top-p")) req.top_p = static_cast<float>(*p);
  if (auto r = args.number("repetition-penalty")) req.repetition_penalty = static_cast<float>(*r);
  req.presence_penalty = static_cast<float>(args.number("presence-penalty").value_or(0.0));
  req.frequency_penalty = static_cast<float>(args.number("frequency-penalty").value_or(0.0));
  for (const LogitBias& b : parse_logit_biases(args.all("logit-bias")))
    req.logit_bias.emplace_back(b.token, b.bias);
  req.seed = static_cast<uint64_t>(args.integer("seed").value_or(0));
  req.stop_strings = args.all("stop");
  req.ignore_eos = args.flag("ignore-eos");
  if (auto m = args.get("mode")) {
    auto mode = client::parse_routing_mode(*m);
    if (!mode || *mode == client::RoutingMode::kDefault)
      throw RequestError{"unknown routing mode '" + *m + "' (expected full, forward or radial)"};
    req.routing_mode = *mode;
  }
  if (auto t = args.number("threshold")) req.threshold = static_cast<float>(*t);
  if (auto n = args.integer("logprobs")) req.logprobs = to_u32(*n, "logprobs", 0);
  if (auto n = args.integer("prompt-logprobs"))
    req.prompt_logprobs = to_u32(*n, "prompt_logprobs", 0);
  req.json_object = args.flag("json-object");
  req.json_schema = json_schema_option(args);
  return req;
}

int fail(const client::Status& s) {
  std::fprintf(stderr, "radial generate: %s\n", s.to_string().c_str());
  return 1;
}

}  // namespace

int generate_remote(const Args& args) {
  for (const char* opt : {"model", "tokenizer", "router", "dummy-config", "dummy-seed", "threads",
                          "backend", "dtype", "gpu-memory-fraction", "kv-blocks"}) {
    if (args.has(opt))
      throw UsageError{std::string("--") + opt +
                       " does not apply with --server (the server's model is used)"};
  }
  if (args.flag("no-router"))
    throw UsageError{"--no-router does not apply with --server (the server's model is used)"};
  client::CallOptions call;
  call.timeout = seconds_option(args, "timeout", std::nullopt);
  client::Client client(server_channel(args));
  client::GenerateRequest req;
  try {
    req = build_request(args);
  } catch (const RequestError& e) {
    std::fprintf(stderr, "radial generate: %s\n", e.message.c_str());
    return 1;
  }
  const bool json_out = args.flag("json");
  const bool show_depth = args.flag("show-depth");

  // What the server runs: layers, default routing, whether it has a tokenizer.
  const client::Result<client::ModelInfo> info = client.model_info(call);
  if (!info.ok()) return fail(info.status);
  const client::ModelInfo& model = info.value;

  // The prompt's ids for --json (the server tokenizes text prompts with BOS).
  std::vector<int> prompt_ids;
  if (req.token_ids) {
    prompt_ids.assign(req.token_ids->begin(), req.token_ids->end());
    if (prompt_ids.empty()) prompt_ids.push_back(static_cast<int>(model.bos_token_id));
  } else if (json_out) {
    const auto tok = client.tokenize(req.text, /*add_bos=*/true, call);
    if (!tok.ok()) return fail(tok.status);
    prompt_ids.assign(tok.value.ids.begin(), tok.value.ids.end());
  }

  // The prompt (as given) is shown when the first message arrives, so that a
  // rejected request prints nothing on stdout.
  bool printed = false;
  auto on_chunk = [&](const client::GenerateChunk& c) {
    if (json_out) return;
    if (!printed && model.has_tokenizer && !req.token_ids)
      std::fwrite(req.text.data(), 1, req.text.size(), stdout);
    printed = true;
    if (model.has_tokenizer && show_depth) {
      // Each token's depth after its text (a multi-byte character may span
      // tokens, so the text arrives with the last of them).
      std::fwrite(c.text.data(), 1, c.text.size(), stdout);
      for (const auto& t : c.tokens) std::printf("[%u]", t.depth);
    } else if (model.has_tokenizer) {
      std::fwrite(c.text.data(), 1, c.text.size(), stdout);
    } else {
      for (const auto& t : c.tokens) std::printf("%d ", t.id);
    }
    std::fflush(stdout);
  };
  const client::GenerateResult r = client.generate(req, on_chunk, call);
  if (!r.status.ok()) {
    if (printed) std::printf("\n");
    return fail(r.status);
  }

  const int n = static_cast<int>(r.tokens.size());
  double depth_sum = 0, compute_sum = 0;
  for (const auto& t : r.tokens) {
    depth_sum += t.depth;
    compute_sum += t.compute_fraction;
  }
  const double mean_depth = n ? depth_sum / n : 0;
  const double compute = n ? compute_sum / n : 0;
  const client::RoutingMode mode =
      req.routing_mode != client::RoutingMode::kDefault ? req.routing_mode : model.routing_mode;
  const double secs = r.seconds;
  // Decode rate: the tokens after the first over the time after it (the
  // first token's latency, prompt included, is TTFT).
  const double decode_secs = r.first_token_seconds >= 0 ? secs - r.first_token_seconds : 0.0;
  const double decode_tps = decode_secs > 0 && n > 1 ? (n - 1) / decode_secs : 0.0;
  if (json_out) {
    nlohmann::json j;
    j["prompt_tokens"] = prompt_ids;
    nlohmann::json ids = nlohmann::json::array(), depth = nlohmann::json::array(),
                   path = nlohmann::json::array();
    for (const auto& t : r.tokens) {
      ids.push_back(t.id);
      depth.push_back(t.depth);
      path.push_back(t.path);
    }
    j["tokens"] = ids;
    j["text"] = r.text;
    j["depth"] = depth;
    j["path"] = path;
    j["finish_reason"] = client::finish_reason_name(r.finish_reason);
    j["mode"] = client::routing_mode_name(mode);
    if (mode != client::RoutingMode::kFull) {
      j["threshold"] = req.threshold.value_or(model.threshold);
      j["kv_policy"] = model.kv_policy;
    }
    j["num_layers"] = model.num_layers;
    j["mean_depth"] = mean_depth;
    j["compute_fraction"] = compute;
    j["seconds"] = secs;
    j["decode_tokens_per_second"] = decode_tps;
    j["ttft_seconds"] = r.first_token_seconds >= 0 ? nlohmann::json(r.first_token_seconds)
                                                   : nlohmann::json(nullptr);
    j["cached_prompt_tokens"] = r.usage ? r.usage->cached_prompt_tokens : 0;
    j["request_id"] = r.request_id;
    j["server"] = client.options().target;
    const auto logprobs_of = [](const client::TokenInfo& t) {
      TokenLogprobs lp{t.logprob, {}};
      for (const auto& [id, x] : t.top_logprobs) lp.top.emplace_back(id, x);
      return lp;
    };
    if (req.logprobs) {
      std::vector<TokenLogprobs> lps;
      for (const auto& t : r.tokens) lps.push_back(logprobs_of(t));
      put_logprobs(j, "logprobs", lps);
    }
    if (req.prompt_logprobs) {
      std::vector<TokenLogprobs> lps(1);  // the first prompt token has none
      for (const auto& t : r.prompt_tokens) lps.push_back(logprobs_of(t));
      put_logprobs(j, "prompt_logprobs", lps);
    }
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    if (!printed && model.has_tokenizer && !req.token_ids)
      std::fwrite(req.text.data(), 1, req.text.size(), stdout);
    std::printf("\n");
    std::fflush(stdout);
    std::fprintf(stderr,
                 "[%d tokens in %.2f s: TTFT %.1f ms, decode %.1f tok/s, mean depth %.2f of %u "
                 "layers, compute %.0f%% of full depth, mode %s, finish %s, server %s]\n",
                 n, secs, r.first_token_seconds >= 0 ? 1000 * r.first_token_seconds : 0.0,
                 decode_tps, mean_depth, model.num_layers, 100 * compute,
                 client::routing_mode_name(mode), client::finish_reason_name(r.finish_reason),
                 client.options().target.c_str());
  }
  return 0;
}

#endif  // RADIAL_WITH_CLIENT

}  // namespace radial::cli
