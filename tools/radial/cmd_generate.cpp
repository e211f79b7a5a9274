// `radial generate`: generate text from a prompt, locally (on the CPU backend,
// or the CUDA one with --backend cuda) or on a running radiald (--server).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/kv_sizing.h"
#include "engine/model_bundle.h"
#include "scheduler/scheduler.h"
#include "tools/radial/args.h"
#include "tools/radial/backend_choice.h"
#include "tools/radial/commands.h"
#include "tools/radial/common.h"
#include "tools/radial/remote.h"

namespace radial::cli {
namespace {

const char* kUsage =
    "usage: radial generate [--model PATH] [--tokenizer FILE] [--router DIR | --no-router]\n"
    "                       [--context-length N]\n"
    "                       [--dummy-config CONFIG.json [--dummy-seed N]]\n"
    "                       (--prompt TEXT | --prompt-ids 1,2,3) [--max-tokens N]\n"
    "                       [--temperature T] [--top-k K] [--top-p P] [--repetition-penalty R]\n"
    "                       [--presence-penalty P] [--frequency-penalty F] [--logit-bias "
    "ID=BIAS]...\n"
    "                       [--seed S] [--stop STRING]... [--ignore-eos]\n"
    "                       [--logprobs N] [--prompt-logprobs N]\n"
    "                       [--json-object | --json-schema SCHEMA.json]\n"
    "                       [--mode full|forward|radial] [--threshold X] [--threads N] [--json] "
    "[--show-depth]\n"
    "                       [--dump FILE]\n"
    "                       [--backend cpu|cuda] [--dtype auto|f32|bf16|f16|q8_0]\n"
    "                       [--gpu-memory-fraction F | --kv-blocks N]\n"
    "       radial generate --server HOST:PORT [--timeout SECONDS] (--prompt TEXT | --prompt-ids "
    "IDS)\n"
    "                       [--tls-ca FILE [--tls-cert FILE --tls-key FILE]] [--token-file FILE]\n"
    "                       [the sampling, stop, routing and --json options above]\n"
    "\n"
    "Generates text on the CPU backend (or --backend cuda: the GPU, bf16 unless\n"
    "--dtype says otherwise). On the CPU, --dtype is the weight matrices' type in\n"
    "memory (auto, the default: each keeps its file's F32, BF16, F16, Q8_0, Q4_K, Q5_K\n"
    "or Q6_K type, other GGUF types become Q8_0; q8_0 quantizes; activations are f32).\n"
    "--model takes a Hugging Face directory (config.json + safetensors, tokenizer.json\n"
    "or tokenizer.model, and radial.json + router.safetensors when it has a router), a\n"
    "llama2.c .bin (with --tokenizer) or a GGUF file of the llama, qwen2 or qwen3\n"
    "architecture (its embedded tokenizer; --context-length N overrides its\n"
    "<arch>.context_length).\n"
    "The default model is models/stories260K. Without --json it streams the text and\n"
    "ends with a summary line on stderr; with --json it prints one JSON object.\n"
    "\n"
    "--dump FILE writes, for comparison with another implementation (tools/radial_torch),\n"
    "one JSON object: per prompt position its pass's path and full logits, and per\n"
    "generated token its id, the path of the pass that produced it, its log-probability\n"
    "and the 20 likeliest tokens' (docs/torch-reference.md).\n"
    "\n"
    "--presence-penalty and --frequency-penalty are OpenAI's (in [-2, 2], over the\n"
    "generated tokens); --logit-bias ID=BIAS (repeatable, BIAS in [-100, 100]) adds\n"
    "BIAS to token ID's logit before sampling.\n"
    "\n"
    "--logprobs N (0 to 20, with --json) adds each generated token's log-probability\n"
    "under the distribution it was drawn from and the N likeliest tokens' (\"logprobs\",\n"
    "\"top_logprobs\": [[id, logprob], ...]); --prompt-logprobs N each prompt token's\n"
    "given the tokens before it, under the model's own distribution (\"prompt_logprobs\",\n"
    "\"top_prompt_logprobs\"; null for the first token): scoring a text.\n"
    "\n"
    "--json-object is JSON mode (OpenAI's response_format json_object): the generated\n"
    "text is held to one JSON object, and generation stops when it closes.\n"
    "--json-schema SCHEMA.json holds it to one JSON object valid against the schema in\n"
    "the file (OpenAI's response_format json_schema; docs/api.md lists the keywords).\n"
    "\n"
    "With --server it generates on a running radiald instead (the server's model; the\n"
    "model options do not apply), streaming the text as it arrives; the summary line\n"
    "adds the time to the first token. gRPC errors print 'radial generate: CODE: message'\n"
    "and exit 1.\n";

// --dump FILE: what tools/radial_torch compares (docs/torch-reference.md).
void write_dump(const std::string& path, const std::vector<int>& prompt,
                const RoutingParams& routing, const SequenceResult& result) {
  nlohmann::json j;
  j["mode"] = route_mode_name(routing.mode);
  j["threshold"] = routing.threshold;
  j["kv_policy"] = kv_policy_name(routing.kv_policy);
  j["prompt_tokens"] = prompt;
  nlohmann::json positions = nlohmann::json::array();
  for (size_t i = 0; i < result.prompt_logits.size(); ++i)
    positions.push_back({{"path", result.prompt_path[i]}, {"logits", result.prompt_logits[i]}});
  j["prompt"] = positions;
  nlohmann::json tokens = nlohmann::json::array();
  for (const GeneratedToken& t : result.tokens) {
    nlohmann::json top = nlohmann::json::array();
    for (const TokenLogprob& lp : t.top_logprobs) top.push_back({lp.token, lp.logprob});
    tokens.push_back(
        {{"id", t.token}, {"path", t.path}, {"logprob", t.logprob}, {"top_logprobs", top}});
  }
  j["tokens"] = tokens;
  j["finish_reason"] = finish_reason_name(result.finish);
  std::ofstream out(path);
  out << j.dump() << "\n";
  require(out.good(), ErrorCode::kInvalidArgument, "--dump: cannot write " + path);
}

}  // namespace

int cmd_generate(int argc, char** argv) {
  try {
    Args args(argc, argv,
              with_connection_options(with_backend_options(with_model_options({"prompt",
                                                                               "prompt-ids",
                                                                               "max-tokens",
                                                                               "temperature",
                                                                               "top-k",
                                                                               "top-p",
                                                                               "repetition-penalty",
                                                                               "presence-penalty",
                                                                               "frequency-penalty",
                                                                               "logit-bias",
                                                                               "seed",
                                                                               "stop",
                                                                               "mode",
                                                                               "threshold",
                                                                               "threads",
                                                                               "server",
                                                                               "timeout",
                                                                               "dump",
                                                                               "logprobs",
                                                                               "prompt-logprobs",
                                                                               "json-schema"}))),
              {"json", "json-object", "ignore-eos", "no-router", "show-depth", "help"});
    if (args.flag("help")) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (args.has("prompt") == args.has("prompt-ids"))
      throw UsageError{"give exactly one of --prompt or --prompt-ids"};
    if (args.has("server") && args.has("dump"))
      throw UsageError{"--dump applies only to local runs (not with --server)"};
    check_logprob_options(args);
    if (args.has("server")) return generate_remote(args);
    if (args.has("timeout")) throw UsageError{"--timeout applies only with --server"};
    for (const char* opt : {"tls-ca", "tls-cert", "tls-key", "tls-server-name", "token-file"})
      if (args.has(opt)) throw UsageError{std::string("--") + opt + " applies only with --server"};

    const BackendChoice backend = backend_choice(args);
    GenerateRequest req;
    req.max_tokens = static_cast<int>(args.integer("max-tokens").value_or(256));
    req.sampling.temperature = static_cast<float>(args.number("temperature").value_or(0.0));
    req.sampling.top_k = static_cast<int>(args.integer("top-k").value_or(0));
    req.sampling.top_p = static_cast<float>(args.number("top-p").value_or(1.0));
    req.sampling.repetition_penalty =
        static_cast<float>(args.number("repetition-penalty").value_or(1.0));
    req.sampling.presence_penalty =
        static_cast<float>(args.number("presence-penalty").value_or(0.0));
    req.sampling.frequency_penalty =
        static_cast<float>(args.number("frequency-penalty").value_or(0.0));
    req.sampling.logit_bias = parse_logit_biases(args.all("logit-bias"));
    req.sampling.seed = static_cast<uint64_t>(args.integer("seed").value_or(0));
    req.stop = args.all("stop");
    req.ignore_eos = args.flag("ignore-eos");
    req.json_object = args.flag("json-object");
    req.json_schema = json_schema_option(args);
    if (auto m = args.get("mode")) req.mode = parse_route_mode(*m);
    if (auto t = args.number("threshold")) req.threshold = static_cast<float>(*t);
    if (auto n = args.integer("logprobs")) req.logprobs = static_cast<int>(*n);
    if (auto n = args.integer("prompt-logprobs")) req.prompt_logprobs = static_cast<int>(*n);
    const std::optional<std::string> dump_path = args.get("dump");
    if (dump_path) {  // the prompt positions' logits and paths, the tokens' log-probabilities
      if (args.has("logprobs"))
        throw UsageError{"--dump records the 20 likeliest tokens itself; drop --logprobs"};
      req.keep_prompt_logits = true;
      req.logprobs = 20;
    }

    ModelBundle bundle = load_bundle(model_source(args));
    const bool json_out = args.flag("json");
    const bool show_depth = args.flag("show-depth");
    if (auto text = args.get("prompt")) {
      require(bundle.tokenizer != nullptr, ErrorCode::kInvalidArgument,
              "--prompt needs a tokenizer (--tokenizer FILE); use --prompt-ids without one");
      req.prompt = bundle.tokenizer->encode(*text);
    } else {
      req.prompt = parse_id_list(*args.get("prompt-ids"));
    }
    const std::vector<int> prompt =
        req.prompt.empty() ? std::vector<int>{bundle.weights->config.bos_token_id} : req.prompt;
    const int threads = static_cast<int>(args.integer("threads").value_or(0));
    auto engine =
        make_engine(bundle.weights, bundle.router,
                    backend_options_for(bundle.weights->config, static_cast<int>(prompt.size()),
                                        req.max_tokens, 1, threads),
                    backend);
    Scheduler scheduler(*engine, bundle.tokenizer.get());

    if (!json_out && bundle.tokenizer) {
      std::string shown = bundle.tokenizer->decode(prompt);
      std::fwrite(shown.data(), 1, shown.size(), stdout);
      std::fflush(stdout);
    }
    // Prefill: from submitting to the first generated token (the prompt's
    // passes and the first token's sampling). Decode: the tokens after it
    // over the time after it.
    using Clock = std::chrono::steady_clock;
    Clock::time_point t_first{};
    SequenceResult result;
    SequenceCallbacks cb;
    cb.on_token = [&](const GeneratedToken& t) {
      if (t_first == Clock::time_point{}) t_first = Clock::now();
      if (json_out) return;
      if (bundle.tokenizer) {
        std::fwrite(t.text.data(), 1, t.text.size(), stdout);
        if (show_depth) std::printf("[%d]", t.depth);
      } else {
        std::printf("%d ", t.token);
      }
      std::fflush(stdout);
    };
    cb.on_finish = [&](const SequenceResult& r) { result = r; };
    const auto t0 = Clock::now();
    scheduler.submit(req, cb);
    scheduler.run_until_idle();
    const auto t_end = Clock::now();
    const double secs = std::chrono::duration<double>(t_end - t0).count();
    if (t_first == Clock::time_point{}) t_first = t_end;
    const double prefill_secs = std::chrono::duration<double>(t_first - t0).count();
    const double decode_secs = std::chrono::duration<double>(t_end - t_first).count();
    if (result.finish == FinishReason::kError) throw Error(ErrorCode::kInternal, result.error);

    const int n = result.usage.generated_tokens;
    const int L = bundle.weights->config.num_layers;
    double compute = 0;
    for (const auto& t : result.tokens) compute += t.compute_fraction;
    compute = n ? compute / n : 0;
    const RoutingParams routing = engine->resolve_routing(req.mode, req.threshold);
    if (dump_path) write_dump(*dump_path, prompt, routing, result);
    if (json_out) {
      nlohmann::json j;
      j["prompt_tokens"] = prompt;
      nlohmann::json ids = nlohmann::json::array(), depth = nlohmann::json::array(),
                     path = nlohmann::json::array();
      for (const auto& t : result.tokens) {
        ids.push_back(t.token);
        depth.push_back(t.depth);
        path.push_back(t.path);
      }
      j["tokens"] = ids;
      j["text"] = result.text;
      j["depth"] = depth;
      j["path"] = path;
      j["finish_reason"] = finish_reason_name(result.finish);
      j["mode"] = route_mode_name(routing.mode);
      if (routing.mode != RouteMode::kFull) {
        j["threshold"] = routing.threshold;
        j["kv_policy"] = kv_policy_name(routing.kv_policy);
      }
      j["num_layers"] = L;
      j["mean_depth"] = result.usage.mean_depth;
      j["compute_fraction"] = compute;
      j["seconds"] = secs;
      j["prefill_seconds"] = prefill_secs;
      j["prefill_tokens_per_second"] =
          prefill_secs > 0 ? static_cast<double>(prompt.size()) / prefill_secs : 0.0;
      j["decode_tokens_per_second"] = decode_secs > 0 && n > 1 ? (n - 1) / decode_secs : 0.0;
      const auto logprobs_of = [](const GeneratedToken& t) {
        TokenLogprobs lp{t.logprob, {}};
        for (const TokenLogprob& x : t.top_logprobs) lp.top.emplace_back(x.token, x.logprob);
        return lp;
      };
      if (req.logprobs >= 0) {
        std::vector<TokenLogprobs> lps;
        for (const auto& t : result.tokens) lps.push_back(logprobs_of(t));
        put_logprobs(j, "logprobs", lps);
      }
      if (req.prompt_logprobs >= 0) {
        std::vector<TokenLogprobs> lps(1);  // the first prompt token has none
        for (const auto& t : result.prompt_token_logprobs) lps.push_back(logprobs_of(t));
        put_logprobs(j, "prompt_logprobs", lps);
      }
      std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else {
      std::printf("\n");
      std::fprintf(stderr,
                   "[%d tokens in %.2f s: prefill %zu tokens in %.3f s (%.1f tok/s), decode %.1f "
                   "tok/s; mean depth %.2f of %d layers, compute %.0f%% of full depth, mode %s, "
                   "finish %s]\n",
                   n, secs, prompt.size(), prefill_secs,
                   prefill_secs > 0 ? prompt.size() / prefill_secs : 0.0,
                   decode_secs > 0 && n > 1 ? (n - 1) / decode_secs : 0.0, result.usage.mean_depth,
                   L, 100 * compute, route_mode_name(routing.mode),
                   finish_reason_name(result.finish));
    }
    return 0;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "radial generate: %s\n%s", e.message.c_str(), kUsage);
    return 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "radial generate: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "radial generate: %s\n", e.what());
    return 1;
  }
}

}  // namespace radial::cli
