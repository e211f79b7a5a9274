#include "server/config.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <sstream>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/input_file.h"
#include "engine/json_input.h"
#include "engine/kv_sizing.h"
#include "engine/model_config.h"
#include "kernels/backend_factory.h"

namespace radial::server {
namespace {

namespace fs = std::filesystem;
constexpr const char* kDefaultModel = "models/stories260K";
using Value = std::variant<std::string, int64_t, double, bool>;

enum class Kind { kString, kInt, kDouble, kBool };

// One setting: its JSON key (the flag is "--" + key with '_' -> '-'), type,
// range and where it goes.
struct Option {
  const char* key;
  Kind kind;
  const char* help;
  std::function<void(DaemonConfig&, const Value&)> set;
  int64_t min = 0;
  int64_t max = std::numeric_limits<int32_t>::max();
  std::vector<std::string> choices = {};  // kString: allowed values (empty: any)
};

std::string flag_name(const std::string& key) {
  std::string f = key;
  std::replace(f.begin(), f.end(), '_', '-');
  return "--" + f;
}

int as_int(const Value& v) { return static_cast<int>(std::get<int64_t>(v)); }
const std::string& as_str(const Value& v) { return std::get<std::string>(v); }

const std::vector<Option>& options() {
  static const std::vector<Option> opts = {
      {"model", Kind::kString,
       "HF model directory, GGUF file or llama2.c .bin (default models/stories260K)",
       [](DaemonConfig& c, const Value& v) { c.service.model.model = as_str(v); }},
      {"tokenizer", Kind::kString, "tokenizer.model (default: <model dir>/tokenizer.model)",
       [](DaemonConfig& c, const Value& v) { c.service.model.tokenizer = as_str(v); }},
      {"router", Kind::kString, "router directory (default: the model directory if it has one)",
       [](DaemonConfig& c, const Value& v) { c.service.model.router = as_str(v); }},
      {"no_router", Kind::kBool, "ignore any router (full mode only)",
       [](DaemonConfig& c, const Value& v) { c.service.model.no_router = std::get<bool>(v); }},
      {"dummy_config", Kind::kString, "HF config.json: random weights and router (testing)",
       [](DaemonConfig& c, const Value& v) { c.service.model.dummy_config = as_str(v); }},
      {"dummy_seed", Kind::kInt, "seed of the random weights",
       [](DaemonConfig& c, const Value& v) {
         c.service.model.dummy_seed = static_cast<uint64_t>(std::get<int64_t>(v));
       },
       0, std::numeric_limits<int64_t>::max()},
      {"context_length", Kind::kInt,
       "GGUF: the context length instead of the file's llama.context_length",
       [](DaemonConfig& c, const Value& v) { c.service.model.context_length = as_int(v); }, 1,
       1 << 24},
      {"model_name", Kind::kString, "served model name (the `model` metric label)",
       [](DaemonConfig& c, const Value& v) { c.model_name = as_str(v); }},
      {"listen", Kind::kString, "gRPC address (default 127.0.0.1:50051)",
       [](DaemonConfig& c, const Value& v) { c.listen = as_str(v); }},
      {"metrics_listen", Kind::kString,
       "Prometheus address, path /metrics (default 127.0.0.1:9090; \"\" or off: none)",
       [](DaemonConfig& c, const Value& v) {
         c.metrics_listen = as_str(v) == "off" ? std::string() : as_str(v);
       }},
      {"health_listen", Kind::kString,
       "plaintext gRPC health service only, for probes (default \"\": none)",
       [](DaemonConfig& c, const Value& v) { c.health_listen = as_str(v); }},
      {"http_listen", Kind::kString,
       "OpenAI-compatible HTTP API address, e.g. 127.0.0.1:8080 (default \"\": none)",
       [](DaemonConfig& c, const Value& v) { c.http_listen = as_str(v); }},
      {"http_max_body_bytes", Kind::kInt, "HTTP API request body limit (default 4194304)",
       [](DaemonConfig& c, const Value& v) { c.http_max_body_bytes = as_int(v); }, 1024, 1 << 30},
      {"http_io_timeout_s", Kind::kDouble,
       "HTTP API: seconds to read a request or write a response part before the client is "
       "taken as stalled (default 30)",
       [](DaemonConfig& c, const Value& v) { c.http_io_timeout_s = std::get<double>(v); }, 0, 3600},
      {"http_max_connections", Kind::kInt, "HTTP API open connections (default 1024)",
       [](DaemonConfig& c, const Value& v) { c.http_max_connections = as_int(v); }, 1, 1 << 20},
      {"tls_cert_file", Kind::kString,
       "PEM server certificate chain: serve gRPC (and the HTTP API) over TLS",
       [](DaemonConfig& c, const Value& v) { c.tls_cert_file = as_str(v); }},
      {"tls_key_file", Kind::kString, "PEM private key of --tls-cert-file",
       [](DaemonConfig& c, const Value& v) { c.tls_key_file = as_str(v); }},
      {"tls_client_ca_file", Kind::kString,
       "PEM CA bundle: require and verify client certificates (mutual TLS)",
       [](DaemonConfig& c, const Value& v) { c.tls_client_ca_file = as_str(v); }},
      {"auth_token_file", Kind::kString,
       "file holding a shared token; calls must send `authorization: Bearer <token>`",
       [](DaemonConfig& c, const Value& v) { c.auth_token_file = as_str(v); }},
      {"backend",
       Kind::kString,
       "compute backend: cpu | cuda (cuda: builds with the CUDA backend, a GPU)",
       [](DaemonConfig& c, const Value& v) { c.backend = as_str(v); },
       0,
       0,
       {"cpu", "cuda"}},
      {"dtype",
       Kind::kString,
       "cpu: the weight matrices in memory: auto (default: each keeps its file's F32, BF16, "
       "F16 or Q8_0 type) | f32 | bf16 | f16 | q8_0; cuda: weights, activations and KV cache: "
       "f32 | bf16 (default) | f16",
       [](DaemonConfig& c, const Value& v) { c.dtype = as_str(v); },
       0,
       0,
       {"auto", "f32", "bf16", "f16", "q8_0"}},
      {"gpu_memory_fraction", Kind::kDouble,
       "cuda with kv_blocks 0: the KV pool fills this share of the GPU (default 0.9)",
       [](DaemonConfig& c, const Value& v) { c.gpu_memory_fraction = std::get<double>(v); }, 0, 1},
      {"threads", Kind::kInt, "CPU worker threads (0: all cores)",
       [](DaemonConfig& c, const Value& v) { c.service.backend.threads = as_int(v); }, 0, 4096},
      {"kv_blocks", Kind::kInt, "KV pool blocks (0: auto)",
       [](DaemonConfig& c, const Value& v) { c.service.backend.kv_blocks = as_int(v); }},
      {"kv_block_size", Kind::kInt, "entries per KV block (default 16)",
       [](DaemonConfig& c, const Value& v) { c.service.backend.kv_block_size = as_int(v); }, 1,
       4096},
      {"max_slots", Kind::kInt, "hidden-state rows for passes in flight (0: auto)",
       [](DaemonConfig& c, const Value& v) { c.service.backend.max_slots = as_int(v); }},
      {"policy",
       Kind::kString,
       "node policy: ascending | largest",
       [](DaemonConfig& c, const Value& v) { c.service.scheduler.policy = as_str(v); },
       0,
       0,
       {"ascending", "largest"}},
      {"max_wait_steps", Kind::kInt, "largest policy: wait bound in steps (0: 2 * nodes)",
       [](DaemonConfig& c, const Value& v) {
         c.service.scheduler.max_wait_steps = static_cast<uint64_t>(std::get<int64_t>(v));
       },
       0, std::numeric_limits<int64_t>::max()},
      {"max_batch_tokens", Kind::kInt, "passes per scheduler step (default 1024)",
       [](DaemonConfig& c, const Value& v) { c.service.scheduler.max_batch_tokens = as_int(v); },
       1},
      {"prefill_chunk", Kind::kInt, "prompt passes of one sequence in flight (default 512)",
       [](DaemonConfig& c, const Value& v) { c.service.scheduler.prefill_chunk = as_int(v); }, 1},
      {"no_prefix_caching", Kind::kBool,
       "do not share KV blocks between requests with the same token prefix",
       [](DaemonConfig& c, const Value& v) {
         c.service.scheduler.prefix_caching = !std::get<bool>(v);
       }},
      {"max_prompt_tokens", Kind::kInt, "prompt limit (0: the context length)",
       [](DaemonConfig& c, const Value& v) { c.service.limits.max_prompt_tokens = as_int(v); }},
      {"max_tokens", Kind::kInt, "max_tokens limit per request (default 4096)",
       [](DaemonConfig& c, const Value& v) { c.service.limits.max_tokens = as_int(v); }, 1},
      {"max_queued", Kind::kInt, "requests waiting for admission (default 256)",
       [](DaemonConfig& c, const Value& v) { c.service.limits.max_queued = as_int(v); }},
      {"max_stop_strings", Kind::kInt, "stop strings per request (default 8)",
       [](DaemonConfig& c, const Value& v) { c.service.limits.max_stop_strings = as_int(v); }},
      {"max_stop_length", Kind::kInt, "bytes per stop string (default 256)",
       [](DaemonConfig& c, const Value& v) { c.service.limits.max_stop_length = as_int(v); }, 1},
      {"max_message_bytes", Kind::kInt, "gRPC max receive message size (default 1048576)",
       [](DaemonConfig& c, const Value& v) { c.max_message_bytes = as_int(v); }, 1024},
      {"max_streams_per_connection", Kind::kInt,
       "concurrent gRPC streams per client connection (default 256)",
       [](DaemonConfig& c, const Value& v) { c.max_streams_per_connection = as_int(v); }, 1},
      {"grpc_memory_quota_bytes", Kind::kInt,
       "memory gRPC may hold for connections and calls (a ResourceQuota; beyond it connections "
       "are closed, which bounds HTTP/2 header floods) (default 67108864)",
       [](DaemonConfig& c, const Value& v) { c.grpc_memory_quota_bytes = std::get<int64_t>(v); },
       1 << 20, int64_t{1} << 40},
      {"max_connection_age_s", Kind::kDouble,
       "close connections after this many seconds (GOAWAY; clients reconnect and re-resolve, "
       "finding new replicas); 0: never (default)",
       [](DaemonConfig& c, const Value& v) { c.max_connection_age_s = std::get<double>(v); }, 0,
       86400},
      {"max_deadline_s", Kind::kDouble,
       "cap on a generation's duration in seconds (default 600; 0: none)",
       [](DaemonConfig& c, const Value& v) { c.max_deadline_s = std::get<double>(v); }, 0, 86400},
      {"drain_timeout_s", Kind::kDouble, "SIGTERM: seconds to let requests finish (default 30)",
       [](DaemonConfig& c, const Value& v) { c.drain_timeout_s = std::get<double>(v); }, 0, 86400},
      {"log_level",
       Kind::kString,
       "trace|debug|info|warn|error|critical|off (default info)",
       [](DaemonConfig& c, const Value& v) { c.log_level = as_str(v); },
       0,
       0,
       {"trace", "debug", "info", "warn", "error", "critical", "off"}},
  };
  return opts;
}

const Option* find_option(const std::string& key) {
  for (const Option& o : options())
    if (key == o.key) return &o;
  return nullptr;
}

// Range and choice checks shared by the file and the flags; `name` is how
// the user spelled the key.
void check_and_set(const Option& o, const std::string& name, const Value& v, DaemonConfig& cfg) {
  if (o.kind == Kind::kInt) {
    const int64_t x = std::get<int64_t>(v);
    if (x < o.min || x > o.max)
      throw ConfigError(name + ": " + std::to_string(x) + " is outside [" + std::to_string(o.min) +
                        ", " + std::to_string(o.max) + "]");
  } else if (o.kind == Kind::kDouble) {
    const double x = std::get<double>(v);
    if (!std::isfinite(x) || x < static_cast<double>(o.min) || x > static_cast<double>(o.max))
      throw ConfigError(name + ": " + std::to_string(x) + " is outside [" + std::to_string(o.min) +
                        ", " + std::to_string(o.max) + "]");
  } else if (o.kind == Kind::kString && !o.choices.empty()) {
    const std::string& s = std::get<std::string>(v);
    if (std::find(o.choices.begin(), o.choices.end(), s) == o.choices.end()) {
      std::string all;
      for (const auto& c : o.choices) all += (all.empty() ? "" : " | ") + c;
      throw ConfigError(name + ": \"" + s + "\" is not one of " + all);
    }
  }
  o.set(cfg, v);
}

Value parse_flag_value(const Option& o, const std::string& name, const std::string& s) {
  switch (o.kind) {
    case Kind::kString:
      return s;
    case Kind::kBool:
      if (s == "true" || s == "1") return true;
      if (s == "false" || s == "0") return false;
      throw ConfigError(name + ": expected true or false, got \"" + s + "\"");
    case Kind::kInt: {
      errno = 0;
      char* end = nullptr;
      const long long x = std::strtoll(s.c_str(), &end, 10);
      if (s.empty() || *end != '\0' || errno == ERANGE)
        throw ConfigError(name + ": expected an integer, got \"" + s + "\"");
      return static_cast<int64_t>(x);
    }
    case Kind::kDouble: {
      char* end = nullptr;
      const double x = std::strtod(s.c_str(), &end);
      if (s.empty() || *end != '\0')
        throw ConfigError(name + ": expected a number, got \"" + s + "\"");
      return x;
    }
  }
  return s;
}

std::string read_file(const std::string& path) {
  try {
    return radial::read_input_file(path, 16 << 20);  // never blocks on a FIFO
  } catch (const radial::Error& e) {
    throw ConfigError(std::string("--config: ") + e.what());
  }
}

}  // namespace

void apply_config_json(const std::string& text, const std::string& origin, DaemonConfig& cfg) {
  nlohmann::json j;
  try {
    j = radial::parse_json(text, origin);
  } catch (const radial::Error& e) {
    throw ConfigError(e.what());
  }
  if (!j.is_object()) throw ConfigError(origin + ": the top level must be an object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string name = origin + ": key \"" + it.key() + "\"";
    const Option* o = find_option(it.key());
    if (o == nullptr) throw ConfigError(name + " is not a known setting");
    const nlohmann::json& v = it.value();
    switch (o->kind) {
      case Kind::kString:
        if (!v.is_string()) throw ConfigError(name + " must be a string");
        check_and_set(*o, name, v.get<std::string>(), cfg);
        break;
      case Kind::kBool:
        if (!v.is_boolean()) throw ConfigError(name + " must be a boolean");
        check_and_set(*o, name, v.get<bool>(), cfg);
        break;
      case Kind::kInt:
        if (!v.is_number_integer()) throw ConfigError(name + " must be an integer");
        if (v.is_number_unsigned() &&
            v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
          throw ConfigError(name + " is too large");
        check_and_set(*o, name, v.get<int64_t>(), cfg);
        break;
      case Kind::kDouble:
        if (!v.is_number()) throw ConfigError(name + " must be a number");
        check_and_set(*o, name, v.get<double>(), cfg);
        break;
    }
  }
}

namespace {

// The backend choice of `cfg` (checked) into service.backend_factory. On
// cuda, kv_blocks is the user's count or 0 (sized from gpu_memory_fraction
// when the backend is made); the CPU sizing of resolve_backend_defaults then
// applies to the CPU backend only.
void set_backend_factory(DaemonConfig& cfg) {
  radial::BackendChoice choice;
  choice.kind = cfg.backend;
  if (!cfg.dtype.empty() && cfg.dtype != "auto")
    choice.dtype = radial::parse_dtype(cfg.dtype);  // (checked by the option)
  choice.gpu_memory_fraction = cfg.gpu_memory_fraction;
  if (cfg.backend == "cuda") choice.kv_blocks = cfg.service.backend.kv_blocks;
  cfg.service.model.matrix_dtype = radial::load_matrix_dtype(choice);
  try {
    cfg.service.backend_factory = radial::backend_factory(choice);
  } catch (const radial::Error& e) {
    throw ConfigError(e.what());
  }
}

}  // namespace

DaemonConfig parse_daemon_config(int argc, char** argv) {
  DaemonConfig cfg;
  cfg.service.model.model = kDefaultModel;
  cfg.service.backend.kv_blocks = 0;  // auto
  cfg.service.backend.max_slots = 0;  // auto

  // Split "--name=value" / "--name value"; --config is applied first.
  struct Arg {
    std::string name;
    std::optional<std::string> value;
  };
  std::vector<Arg> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      cfg.help = true;
      return cfg;
    }
    if (a.rfind("--", 0) != 0 || a.size() == 2)
      throw ConfigError("unexpected argument \"" + a + "\" (see --help)");
    Arg arg;
    const size_t eq = a.find('=');
    if (eq != std::string::npos) {
      arg.name = a.substr(0, eq);
      arg.value = a.substr(eq + 1);
    } else {
      arg.name = a;
    }
    std::string key = arg.name.substr(2);
    std::replace(key.begin(), key.end(), '-', '_');
    const Option* o = find_option(key);
    const bool takes_value = key == "config" || (o != nullptr && o->kind != Kind::kBool);
    if (key != "config" && o == nullptr)
      throw ConfigError("unknown flag " + arg.name + " (see --help)");
    if (takes_value && !arg.value) {
      if (i + 1 >= argc) throw ConfigError(arg.name + " needs a value");
      arg.value = argv[++i];
    }
    args.push_back(std::move(arg));
  }
  for (const Arg& a : args)
    if (a.name == "--config") apply_config_json(read_file(*a.value), *a.value, cfg);
  bool model_given = cfg.service.model.model != kDefaultModel;
  for (const Arg& a : args) {
    if (a.name == "--config") continue;
    std::string key = a.name.substr(2);
    std::replace(key.begin(), key.end(), '-', '_');
    const Option& o = *find_option(key);
    const Value v =
        o.kind == Kind::kBool && !a.value ? Value(true) : parse_flag_value(o, a.name, *a.value);
    check_and_set(o, a.name, v, cfg);
    if (key == "model") model_given = true;
  }
  // The default model directory is not a source of a tokenizer or router
  // for a dummy model (load_bundle would take them from it).
  if (!cfg.service.model.dummy_config.empty() && !model_given) cfg.service.model.model.clear();
  if (cfg.model_name.empty()) cfg.model_name = derive_model_name(cfg.service.model);
  if (cfg.tls_cert_file.empty() != cfg.tls_key_file.empty())
    throw ConfigError("tls_cert_file and tls_key_file must be given together");
  if (!cfg.tls_client_ca_file.empty() && cfg.tls_cert_file.empty())
    throw ConfigError("tls_client_ca_file needs tls_cert_file and tls_key_file");
  if (!cfg.health_listen.empty() && cfg.health_listen == cfg.listen)
    throw ConfigError("health_listen must differ from listen");
  if (!cfg.http_listen.empty() &&
      (cfg.http_listen == cfg.listen || cfg.http_listen == cfg.health_listen))
    throw ConfigError("http_listen must differ from listen and health_listen");
  if (cfg.http_io_timeout_s < 0.1) throw ConfigError("http_io_timeout_s must be at least 0.1");
  set_backend_factory(cfg);
  return cfg;
}

std::string derive_model_name(const radial::ModelSource& src) {
  fs::path p = src.dummy_config.empty() ? fs::path(src.model) : fs::path(src.dummy_config);
  if (!p.has_filename()) p = p.parent_path();  // "dir/" -> "dir"
  std::string name = p.filename().string();
  if (name == "config.json" && p.has_parent_path()) {
    name = p.parent_path().filename().string();
  } else if (p.extension() == ".bin" || p.extension() == ".json" || p.extension() == ".gguf") {
    name = p.stem().string();
  }
  return name.empty() ? "model" : name;
}

std::string resolve_backend_defaults(DaemonConfig& cfg) {
  radial::BackendOptions& b = cfg.service.backend;
  std::ostringstream note;
  if (b.kv_blocks == 0 && cfg.backend == "cuda") {
    note << "kv_blocks auto: as many as " << cfg.gpu_memory_fraction
         << " of the GPU's memory holds (sized when the backend starts)";
  } else if (b.kv_blocks == 0) {
    const radial::ModelSource& src = cfg.service.model;
    std::string config_path = src.dummy_config;
    if (config_path.empty() && fs::is_directory(src.model))
      config_path = src.model + "/config.json";
    if (!config_path.empty() && fs::exists(config_path)) {
      radial::ModelConfig mc;
      try {
        mc = radial::load_hf_config(config_path);
      } catch (const std::exception&) {
        mc = {};  // the load itself reports the problem
      }
      if (mc.num_layers > 0 && mc.max_position_embeddings > 0) {
        std::string line;
        b.kv_blocks = radial::auto_cpu_kv_blocks(mc, b.kv_block_size, &line);
        note << line;
      }
    }
    if (b.kv_blocks == 0) {
      b.kv_blocks = radial::kFallbackKvBlocks;
      note << "kv_blocks auto: " << radial::kFallbackKvBlocks << " (no config.json to size from)";
    }
  }
  if (b.max_slots == 0) {
    b.max_slots = std::max(
        {1024, cfg.service.scheduler.prefill_chunk, cfg.service.scheduler.max_batch_tokens});
    note << (note.tellp() > 0 ? "; " : "") << "max_slots auto: " << b.max_slots;
  }
  return note.str();
}

std::string usage() {
  std::ostringstream u;
  u << "usage: radiald [--config FILE] [flags]\n\n"
       "Serves a Radial Network over gRPC (radial.v1.Radial) with health checks,\n"
       "reflection and Prometheus metrics. Flags override the JSON config file,\n"
       "whose keys are the flag names with '_' for '-'.\n\n"
       "  --config FILE              JSON settings (strict: unknown keys are errors)\n";
  for (const Option& o : options()) {
    std::string f = flag_name(o.key);
    if (o.kind != Kind::kBool) f += " V";
    u << "  " << f << std::string(f.size() < 27 ? 27 - f.size() : 1, ' ') << o.help << "\n";
  }
  u << "  --help                     this text\n";
  return u.str();
}

}  // namespace radial::server
