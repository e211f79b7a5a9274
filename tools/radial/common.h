// Options shared by the subcommands that load a model.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "engine/model_bundle.h"
#include "engine/sampler.h"
#include "tools/radial/args.h"

namespace radial::cli {

// `extra` plus the model options: --model --tokenizer --router
// --dummy-config --dummy-seed (and the --no-router flag, which callers list).
std::set<std::string> with_model_options(std::set<std::string> extra);

// The model named by the options; --model defaults to models/stories260K.
ModelSource model_source(const Args& args);

// "1,2,3" -> {1, 2, 3}; throws UsageError on anything else.
std::vector<int> parse_id_list(const std::string& s);

// --logit-bias values, each "ID=BIAS" (e.g. "13=-100"), in order; throws
// UsageError on anything else (ranges and repeated ids are the server's or
// the sampler's check).
std::vector<LogitBias> parse_logit_biases(const std::vector<std::string>& items);

// One token's log-probability for --json: its own (nullopt: none, as for the
// first prompt token) and the likeliest tokens' (id, logprob), best first.
struct TokenLogprobs {
  std::optional<float> logprob;
  std::vector<std::pair<int, float>> top;
};
// Sets j[key] to the tokens' log-probabilities (null where none) and
// j["top_" + key] to their likeliest tokens' [[id, logprob], ...] (null where
// none); -inf (a -inf logit) is written as null too, JSON having no
// infinity.
void put_logprobs(nlohmann::json& j, const std::string& key, const std::vector<TokenLogprobs>& t);

// --logprobs / --prompt-logprobs: only with --json (there is nowhere else to
// show them); throws UsageError otherwise.
void check_logprob_options(const Args& args);

// --json-schema FILE: the file's text ("" without the option); throws
// UsageError when it cannot be read or comes with --json-object. (The
// schema itself is checked where the request is: locally or by the server.)
std::string json_schema_option(const Args& args);

}  // namespace radial::cli
