// Options shared by the subcommands that load a model.
#pragma once

#include <set>
#include <string>
#include <vector>

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

}  // namespace radial::cli
