#include "tools/radial/common.h"

#include "kernels/backend_factory.h"
#include "tools/radial/backend_choice.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace radial::cli {

std::set<std::string> with_model_options(std::set<std::string> extra) {
  extra.insert({"model", "tokenizer", "router", "dummy-config", "dummy-seed", "context-length"});
  return extra;
}

ModelSource model_source(const Args& args) {
  ModelSource s;
  s.dummy_config = args.str("dummy-config", "");
  s.model = args.str("model", s.dummy_config.empty() ? "models/stories260K" : "");
  s.tokenizer = args.str("tokenizer", "");
  s.router = args.str("router", "");
  s.no_router = args.flag("no-router");
  s.dummy_seed = static_cast<uint64_t>(args.integer("dummy-seed").value_or(0));
  // The backend the command computes on decides the weights' in-memory dtype
  // (--dtype; CPU default: each matrix keeps its file's type).
  s.matrix_dtype = load_matrix_dtype(backend_choice(args));
  if (auto n = args.integer("context-length")) {
    if (*n < 1 || *n > (1 << 24)) throw UsageError{"--context-length expects 1 .. 16777216"};
    s.context_length = static_cast<int>(*n);
  }
  return s;
}

std::vector<int> parse_id_list(const std::string& s) {
  std::vector<int> ids;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v < 0 || v > (1L << 30))
      throw UsageError{"--prompt-ids expects comma-separated token ids, got '" + s + "'"};
    ids.push_back(static_cast<int>(v));
  }
  return ids;
}

std::vector<LogitBias> parse_logit_biases(const std::vector<std::string>& items) {
  std::vector<LogitBias> out;
  for (const std::string& item : items) {
    const size_t eq = item.find('=');
    const auto bad = [&] {
      return UsageError{"--logit-bias expects ID=BIAS (e.g. 13=-100), got '" + item + "'"};
    };
    if (eq == std::string::npos) throw bad();
    const std::string id = item.substr(0, eq), bias = item.substr(eq + 1);
    char* end = nullptr;
    const long t = std::strtol(id.c_str(), &end, 10);
    if (id.empty() || *end != '\0' || t < 0 || t > (1L << 30)) throw bad();
    const double b = std::strtod(bias.c_str(), &end);
    if (bias.empty() || *end != '\0' || !std::isfinite(b)) throw bad();
    out.push_back({static_cast<int>(t), static_cast<float>(b)});
  }
  return out;
}

void put_logprobs(nlohmann::json& j, const std::string& key, const std::vector<TokenLogprobs>& t) {
  const auto value = [](float x) {
    return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json();
  };
  nlohmann::json own = nlohmann::json::array(), tops = nlohmann::json::array();
  for (const TokenLogprobs& lp : t) {
    own.push_back(lp.logprob ? value(*lp.logprob) : nlohmann::json());
    if (!lp.logprob) {
      tops.push_back(nullptr);
      continue;
    }
    nlohmann::json top = nlohmann::json::array();
    for (const auto& [id, x] : lp.top) top.push_back({id, value(x)});
    tops.push_back(top);
  }
  j[key] = own;
  j["top_" + key] = tops;
}

void check_logprob_options(const Args& args) {
  for (const char* opt : {"logprobs", "prompt-logprobs"})
    if (args.has(opt) && !args.flag("json"))
      throw UsageError{std::string("--") + opt + " needs --json (that is where they are printed)"};
}

std::string json_schema_option(const Args& args) {
  const std::optional<std::string> path = args.get("json-schema");
  if (!path) return "";
  if (args.flag("json-object")) throw UsageError{"give --json-object or --json-schema, not both"};
  std::ifstream in(*path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in || text.str().empty())
    throw UsageError{"cannot read --json-schema " + *path + " (or it is empty)"};
  return text.str();
}

}  // namespace radial::cli
