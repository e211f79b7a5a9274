#include "engine/router.h"

#include <climits>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/json_input.h"
#include "engine/safetensors.h"

namespace radial {

namespace fs = std::filesystem;
using nlohmann::json;

const char* route_mode_name(RouteMode m) {
  switch (m) {
    case RouteMode::kFull:
      return "full";
    case RouteMode::kForward:
      return "forward";
    case RouteMode::kRadial:
      return "radial";
  }
  return "?";
}

const char* kv_policy_name(KvPolicy p) {
  return p == KvPolicy::kPropagate ? "propagate" : "sparse";
}

RouteMode parse_route_mode(const std::string& s) {
  if (s == "full") return RouteMode::kFull;
  if (s == "forward") return RouteMode::kForward;
  if (s == "radial") return RouteMode::kRadial;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown routing mode '" + s + "' (expected full, forward or radial)");
}

KvPolicy parse_kv_policy(const std::string& s) {
  if (s == "propagate") return KvPolicy::kPropagate;
  if (s == "sparse") return KvPolicy::kSparse;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown kv_policy '" + s + "' (expected propagate or sparse)");
}

bool RouterConfig::is_pinned(int layer) const {
  for (int p : pinned_layers)
    if (p == layer) return true;
  return false;
}

void RouterConfig::validate(const ModelConfig& model) const {
  auto bad = [](const std::string& m) {
    throw Error(ErrorCode::kInvalidArgument, "radial.json: " + m);
  };
  if (num_layers != model.num_layers)
    bad("num_layers " + std::to_string(num_layers) + " does not match the model's " +
        std::to_string(model.num_layers));
  if (hidden_size != model.hidden_size)
    bad("hidden_size " + std::to_string(hidden_size) + " does not match the model's " +
        std::to_string(model.hidden_size));
  if (router_hidden < 1 || router_hidden > (1 << 16))
    bad("router_hidden must be in [1, 65536], got " + std::to_string(router_hidden));
  if (!(norm_eps > 0.f) || !std::isfinite(norm_eps)) bad("norm_eps must be > 0");
  if (mode == RouteMode::kFull) bad("mode must be forward or radial");
  if (!(threshold >= 0.f && threshold <= 1.f))
    bad("threshold must be in [0, 1], got " + std::to_string(threshold));
  if (max_steps < 1 || max_steps > 8 * num_layers)
    bad("max_steps must be in [1, " + std::to_string(8 * num_layers) + "], got " +
        std::to_string(max_steps));
  std::set<int> seen;
  for (int p : pinned_layers) {
    if (p < 0 || p >= num_layers)
      bad("pinned layer " + std::to_string(p) + " is outside [0, " + std::to_string(num_layers) +
          ")");
    if (!seen.insert(p).second) bad("pinned layer " + std::to_string(p) + " is listed twice");
  }
  if (mode == RouteMode::kRadial && kv_policy != KvPolicy::kSparse)
    bad("radial mode requires kv_policy \"sparse\"");
}

namespace {

// An integer that fits in 32 bits; anything else (2^32 + 5 would wrap to 5
// through get<int>) is an error naming `what`.
int checked_int(const json& v, const std::string& what) {
  const bool fits = v.is_number_unsigned() ? v.get<uint64_t>() <= INT_MAX
                    : v.is_number_integer()
                        ? v.get<int64_t>() >= INT_MIN && v.get<int64_t>() <= INT_MAX
                        : false;
  if (!fits)
    throw Error(ErrorCode::kInvalidArgument,
                "radial.json: " + what + " must be a 32-bit integer, got " + json_brief(v));
  return v.get<int>();
}

template <typename T>
T get_field(const json& j, const char* key) {
  if (!j.contains(key))
    throw Error(ErrorCode::kInvalidArgument, std::string("radial.json: missing \"") + key + "\"");
  const json& v = j.at(key);
  if constexpr (std::is_same_v<T, int>) {
    return checked_int(v, std::string("\"") + key + "\"");
  } else {
    bool ok = false;
    if constexpr (std::is_same_v<T, std::string>)
      ok = v.is_string();
    else if constexpr (std::is_same_v<T, float>)
      ok = v.is_number() && std::isfinite(v.get<double>()) && std::fabs(v.get<double>()) <= 3.0e38;
    if (!ok)
      throw Error(ErrorCode::kInvalidArgument, std::string("radial.json: \"") + key +
                                                   "\" has the wrong type or range, got " +
                                                   json_brief(v));
    return v.get<T>();
  }
}

}  // namespace

RouterConfig parse_router_config(const json& j, const ModelConfig& model) {
  require(j.is_object(), ErrorCode::kInvalidArgument, "radial.json: not a JSON object");
  static const std::set<std::string> kKeys = {
      "format", "num_layers", "hidden_size", "router_hidden", "activation", "norm_eps",
      "mode",   "threshold",  "max_steps",   "pinned_layers", "kv_policy"};
  for (const auto& [k, v] : j.items())
    require(kKeys.count(k) > 0, ErrorCode::kInvalidArgument,
            "radial.json: unknown key \"" + k + "\"");
  std::string format = get_field<std::string>(j, "format");
  require(format == "radial-router/1", ErrorCode::kUnsupported,
          "radial.json: unsupported format \"" + format + "\" (expected radial-router/1)");
  RouterConfig c;
  c.num_layers = get_field<int>(j, "num_layers");
  c.hidden_size = get_field<int>(j, "hidden_size");
  c.router_hidden = get_field<int>(j, "router_hidden");
  std::string act = get_field<std::string>(j, "activation");
  if (act == "silu")
    c.activation = Activation::kSilu;
  else if (act == "gelu")
    c.activation = Activation::kGelu;
  else if (act == "relu")
    c.activation = Activation::kRelu;
  else
    throw Error(ErrorCode::kInvalidArgument,
                "radial.json: activation must be silu, gelu or relu, got \"" + act + "\"");
  c.norm_eps = get_field<float>(j, "norm_eps");
  std::string mode = get_field<std::string>(j, "mode");
  if (mode == "forward")
    c.mode = RouteMode::kForward;
  else if (mode == "radial")
    c.mode = RouteMode::kRadial;
  else
    throw Error(ErrorCode::kInvalidArgument,
                "radial.json: mode must be forward or radial, got \"" + mode + "\"");
  c.threshold = get_field<float>(j, "threshold");
  c.max_steps = get_field<int>(j, "max_steps");
  require(j.contains("pinned_layers") && j["pinned_layers"].is_array(), ErrorCode::kInvalidArgument,
          "radial.json: \"pinned_layers\" must be an array of layer ids");
  for (const json& p : j["pinned_layers"]) {
    c.pinned_layers.push_back(checked_int(p, "pinned_layers entry"));
  }
  std::string kv = get_field<std::string>(j, "kv_policy");
  try {
    c.kv_policy = parse_kv_policy(kv);
  } catch (const Error& e) {
    throw Error(ErrorCode::kInvalidArgument, std::string("radial.json: ") + e.what());
  }
  c.validate(model);
  return c;
}

json to_json(const RouterConfig& c) {
  const char* act = c.activation == Activation::kSilu   ? "silu"
                    : c.activation == Activation::kGelu ? "gelu"
                                                        : "relu";
  return json{{"format", "radial-router/1"},
              {"num_layers", c.num_layers},
              {"hidden_size", c.hidden_size},
              {"router_hidden", c.router_hidden},
              {"activation", act},
              {"norm_eps", c.norm_eps},
              {"mode", route_mode_name(c.mode)},
              {"threshold", c.threshold},
              {"max_steps", c.max_steps},
              {"pinned_layers", c.pinned_layers},
              {"kv_policy", kv_policy_name(c.kv_policy)}};
}

void RouterWeights::validate() const {
  const int d = config.hidden_size, r = config.router_hidden, g = config.num_layers + 1;
  auto check = [](const char* name, const Tensor& t, std::vector<int64_t> want) {
    require(t.shape == want, ErrorCode::kCorrupt,
            std::string("router.safetensors: ") + name + ": expected " + shape_string(want) +
                ", got " + shape_string(t.shape));
  };
  check("router.norm.weight", norm, {d});
  check("router.fc1.weight", fc1_w, {r, d});
  check("router.fc1.bias", fc1_b, {r});
  check("router.fc2.weight", fc2_w, {g, r});
  check("router.fc2.bias", fc2_b, {g});
}

bool has_router(const std::string& dir) { return fs::exists(fs::path(dir) / "radial.json"); }

RouterWeights load_router(const std::string& dir, const ModelConfig& model, DType dtype) {
  fs::path cfg_path = fs::path(dir) / "radial.json";
  const json j = read_json_file(cfg_path.string(), 1 << 20);
  RouterWeights r;
  r.config = parse_router_config(j, model);
  fs::path st_path = fs::path(dir) / "router.safetensors";
  require(fs::exists(st_path), ErrorCode::kNotFound,
          "router weights not found: " + st_path.string());
  SafetensorsFile f = SafetensorsFile::open(st_path.string());
  auto read = [&](const char* name) {
    require(f.contains(name), ErrorCode::kNotFound, st_path.string() + ": missing tensor " + name);
    return f.read(name, dtype);
  };
  r.norm = read("router.norm.weight");
  r.fc1_w = read("router.fc1.weight");
  r.fc1_b = read("router.fc1.bias");
  r.fc2_w = read("router.fc2.weight");
  r.fc2_b = read("router.fc2.bias");
  r.validate();
  return r;
}

void save_router(const RouterWeights& r, const std::string& dir) {
  fs::create_directories(dir);
  {
    std::ofstream out(fs::path(dir) / "radial.json");
    out << to_json(r.config).dump(2) << "\n";
    require(out.good(), ErrorCode::kInternal, "cannot write " + dir + "/radial.json");
  }
  Tensor norm = r.norm.to(DType::kF32), w1 = r.fc1_w.to(DType::kF32), b1 = r.fc1_b.to(DType::kF32),
         w2 = r.fc2_w.to(DType::kF32), b2 = r.fc2_b.to(DType::kF32);
  write_safetensors((fs::path(dir) / "router.safetensors").string(), {{"router.norm.weight", &norm},
                                                                      {"router.fc1.weight", &w1},
                                                                      {"router.fc1.bias", &b1},
                                                                      {"router.fc2.weight", &w2},
                                                                      {"router.fc2.bias", &b2}});
}

float sigmoid(float x) { return 1.f / (1.f + std::exp(-x)); }

int route_next(const RouterConfig& rc, const RoutingParams& p, int last, const float* gates) {
  const int L = rc.num_layers;
  if (p.mode == RouteMode::kForward) {
    for (int j = last + 1; j < L; ++j)
      if (rc.is_pinned(j) || sigmoid(gates[j]) >= p.threshold) return j;
    return L;
  }
  if (p.mode == RouteMode::kRadial) {
    int best = -1;
    for (int j = 0; j <= L; ++j) {
      if (j == last) continue;  // no immediate repeat
      if (best < 0 || gates[j] > gates[best]) best = j;
    }
    return best;  // == L: exit
  }
  throw Error(ErrorCode::kInternal, "route_next called in full mode");
}

}  // namespace radial
