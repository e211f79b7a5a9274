// `radial bench`: load-tests a running radiald with streamed Generate calls,
// closed loop (a fixed number of requests in flight) or open loop (Poisson
// arrivals), and reports throughput, TTFT / inter-token / end-to-end latency
// percentiles and the routed depth (the report: tools/radial/bench_report.h).
#ifdef RADIAL_WITH_CLIENT

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <deque>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "engine/random.h"
#include "server/client/openai_client.h"
#include "tools/radial/args.h"
#include "tools/radial/bench_report.h"
#include "tools/radial/commands.h"
#include "tools/radial/remote.h"

namespace radial::cli {
namespace {

const char* kUsage =
    "usage: radial bench --server HOST:PORT [--api grpc|openai]\n"
    "                    [--concurrency N | --rate R [--max-inflight M]]\n"
    "                    [--requests N] [--duration S] [--prompt-len N|LO:HI] [--shared-prefix N]\n"
    "                    [--max-tokens N|LO:HI] [--mode full|forward|radial] [--threshold X]\n"
    "                    [--temperature T] [--seed S] [--timeout S] [--json FILE|-]\n"
    "                    [--tls-ca FILE [--tls-cert FILE --tls-key FILE]] [--token-file FILE]\n"
    "\n"
    "Sends streamed Generate requests to a running radiald (--api openai: streamed\n"
    "POST /v1/completions to its http_listen address, plaintext; errors are counted\n"
    "under the gRPC code of their HTTP status) and reports requests ok/failed\n"
    "(by gRPC status), throughput (requests/s, output and total tokens/s), TTFT,\n"
    "inter-token (ITL) and end-to-end latency (mean, p50, p90, p99, of the successful\n"
    "requests), and the mean depth and compute fraction per output token.\n"
    "\n"
    "Load: --concurrency N keeps N requests in flight (closed loop; default 1);\n"
    "--rate R sends R requests/s with Poisson arrivals (open loop), at most\n"
    "--max-inflight M (default 256) at once; latencies count from the actual send.\n"
    "Length: --requests N (default 100 unless --duration is given) and --duration S,\n"
    "after which no new request is sent (default and cap: 600 s). Requests in flight\n"
    "then finish, each bounded by --timeout (default 60 s), so the bench always ends.\n"
    "Ctrl-C cancels the requests in flight and reports what finished.\n"
    "\n"
    "Requests: prompts of --prompt-len tokens (default 64; LO:HI draws uniformly), BOS\n"
    "then random ids from the model's vocabulary (from ModelInfo); --max-tokens output\n"
    "tokens (default 128, or a range) with ignore_eos, so output lengths are exact;\n"
    "greedy unless --temperature. Request i uses seed S+i; everything is determined by\n"
    "--seed (default 0). --shared-prefix N: every prompt starts with the same N tokens\n"
    "(BOS included; as a common system prompt would), the rest still per request; the\n"
    "report then shows how many prompt tokens the server's prefix cache served.\n"
    "\n"
    "Output: the report on stdout (on stderr with --json -); --json FILE writes the same\n"
    "as one JSON object (\"-\": stdout). Progress goes to stderr: a bar on a terminal, a\n"
    "line every 5 s otherwise. Exit 0 when every request succeeded, 1 when any failed or\n"
    "the server could not be reached, 2 on a usage error.\n";

using Clock = std::chrono::steady_clock;

// splitmix64 of x (the first value of radial::Rng seeded with x).
uint64_t splitmix64(uint64_t x) { return Rng(x).next(); }

// Request i: a function of the config, the model and i only.
client::GenerateRequest make_request(const BenchConfig& cfg, const client::ModelInfo& model,
                                     long i) {
  std::mt19937_64 rng(splitmix64(cfg.seed ^ splitmix64(static_cast<uint64_t>(i))));
  auto draw = [&](const Range& r) { return std::uniform_int_distribution<long>(r.lo, r.hi)(rng); };
  const long plen = draw(cfg.prompt_len);
  const long out = draw(cfg.max_tokens);
  std::vector<int32_t> ids;
  ids.reserve(plen);
  ids.push_back(static_cast<int32_t>(model.bos_token_id));
  auto special = [&](uint32_t id) {
    return id == model.bos_token_id ||
           std::find(model.eos_token_ids.begin(), model.eos_token_ids.end(), id) !=
               model.eos_token_ids.end();
  };
  std::uniform_int_distribution<uint32_t> id_dist(0, model.vocab_size - 1);
  auto fill = [&](std::mt19937_64& g, long len) {
    while (static_cast<long>(ids.size()) < len) {
      const uint32_t id = id_dist(g);
      if (!special(id) || model.vocab_size <= 1 + model.eos_token_ids.size())
        ids.push_back(static_cast<int32_t>(id));
    }
  };
  std::mt19937_64 shared(splitmix64(cfg.seed ^ 0x5ea7ed5ea7ed5ea7ull));  // the same for every i
  fill(shared, std::min(plen, cfg.shared_prefix));
  fill(rng, plen);
  client::GenerateRequest req;
  req.token_ids = std::move(ids);
  req.max_tokens = static_cast<uint32_t>(out);
  req.ignore_eos = true;
  req.temperature = cfg.temperature;
  req.seed = cfg.seed + static_cast<uint64_t>(i);
  req.routing_mode = cfg.mode;
  req.threshold = cfg.threshold;
  req.request_id = "bench-" + std::to_string(i);
  return req;
}

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_sigint(int) { g_interrupted = 1; }

// Runs the load and collects the samples.
class Runner {
 public:
  using Generate = std::function<client::GenerateResult(const client::GenerateRequest&,
                                                        const client::CallOptions&)>;
  Runner(const BenchConfig& cfg, const client::ModelInfo& model, Generate generate)
      : cfg_(cfg), model_(model), generate_(std::move(generate)) {}

  void run() {
    start_ = Clock::now();
    issue_end_ = start_ + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(cfg_.duration));
    std::thread progress([this] { progress_loop(); });
    if (cfg_.open_loop) {
      run_open_loop();
    } else {
      std::vector<std::thread> workers;
      for (int w = 0; w < cfg_.concurrency; ++w) workers.emplace_back([this] { closed_worker(); });
      for (auto& t : workers) t.join();
    }
    end_ = Clock::now();
    {
      std::lock_guard<std::mutex> lock(mu_);
      finished_ = true;
    }
    cv_.notify_all();
    progress.join();
  }

  const std::vector<BenchSample>& samples() const { return samples_; }
  double wall_seconds() const { return std::chrono::duration<double>(end_ - start_).count(); }
  long sent() const { return sent_.load(); }
  bool interrupted() const { return stop_.load(); }

 private:
  // Claims the next request index; -1 when the bench should send no more.
  long claim() {
    if (stop_.load() || Clock::now() >= issue_end_) return -1;
    const long i = next_.fetch_add(1);
    if (cfg_.requests > 0 && i >= cfg_.requests) return -1;
    return i;
  }

  void execute(long i) {
    const client::GenerateRequest req = make_request(cfg_, model_, i);
    client::CallOptions call;
    call.timeout = cfg_.timeout;
    call.cancel = cancel_;
    sent_.fetch_add(1);
    const client::GenerateResult r = generate_(req, call);
    BenchSample s;
    s.code = r.status.code;
    s.message = r.status.message;
    s.prompt_tokens =
        r.usage ? r.usage->prompt_tokens : static_cast<uint32_t>(req.token_ids->size());
    s.cached_prompt_tokens = r.usage ? r.usage->cached_prompt_tokens : 0;
    s.output_tokens = static_cast<uint32_t>(r.tokens.size());
    s.ttft = r.first_token_seconds;
    s.e2e = r.seconds;
    for (size_t k = 1; k < r.token_seconds.size(); ++k)
      s.itl.push_back(r.token_seconds[k] - r.token_seconds[k - 1]);
    for (const auto& t : r.tokens) {
      s.depth_sum += t.depth;
      s.compute_sum += t.compute_fraction;
    }
    (s.code == client::StatusCode::kOk ? ok_ : failed_).fetch_add(1);
    if (s.code == client::StatusCode::kOk) output_tokens_.fetch_add(s.output_tokens);
    std::lock_guard<std::mutex> lock(mu_);
    samples_.push_back(std::move(s));
  }

  void closed_worker() {
    for (long i; (i = claim()) >= 0;) execute(i);
  }

  // Poisson arrivals from this thread; a pool of workers (grown on demand up
  // to max_inflight) sends them.
  void run_open_loop() {
    std::mt19937_64 rng(splitmix64(cfg_.seed ^ 0x5eed));
    std::exponential_distribution<double> gap(cfg_.rate);
    std::vector<std::thread> workers;
    std::deque<long> queue;
    int idle = 0;
    bool closing = false;
    auto worker = [&] {
      std::unique_lock<std::mutex> lock(mu_);
      for (;;) {
        ++idle;
        cv_.wait(lock, [&] { return !queue.empty() || closing; });
        --idle;
        if (queue.empty()) return;
        const long i = queue.front();
        queue.pop_front();
        lock.unlock();
        execute(i);
        lock.lock();
      }
    };
    double t = 0;
    for (;;) {
      t += gap(rng);
      const auto due =
          start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(t));
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_until(lock, std::min(due, issue_end_), [&] { return stop_.load(); });
      }
      if (Clock::now() < due) break;  // stopped, or the duration ended first
      const long i = claim();
      if (i < 0) break;
      std::lock_guard<std::mutex> lock(mu_);
      queue.push_back(i);
      // Too few idle workers for the queue: add one (up to max_inflight).
      if (idle < static_cast<int>(queue.size()) &&
          static_cast<int>(workers.size()) < cfg_.max_inflight) {
        workers.emplace_back(worker);
      }
      cv_.notify_all();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      closing = true;
    }
    cv_.notify_all();
    for (auto& w : workers) w.join();
  }

  // Progress on stderr; also turns Ctrl-C into a stop that cancels the
  // requests in flight.
  void progress_loop() {
    const bool tty = isatty(fileno(stderr));
    // A bar redrawn every 200 ms on a terminal, else a line every 5 s.
    const auto period = tty ? std::chrono::milliseconds(200) : std::chrono::milliseconds(5000);
    auto last = Clock::now();
    std::unique_lock<std::mutex> lock(mu_);
    while (!finished_) {
      cv_.wait_for(lock, std::chrono::milliseconds(100));
      if (g_interrupted && !stop_.load()) {
        stop_.store(true);
        cancel_.cancel();
        cv_.notify_all();
      }
      if (finished_ || Clock::now() - last < period) continue;
      last = Clock::now();
      if (tty) {
        std::fprintf(stderr, "\r\033[K%s", status_text(true).c_str());
      } else {
        std::fprintf(stderr, "radial bench: %s\n", status_text(false).c_str());
      }
    }
    if (tty) std::fprintf(stderr, "\r\033[K%s\n", status_text(true).c_str());
  }

  // "[####......] 12/100 done (0 failed), 4 in flight, 3.1 s, 3.9 req/s, 500 tok/s"
  // (without the bar when `bar` is false).
  std::string status_text(bool bar) const {
    const double el = std::chrono::duration<double>(Clock::now() - start_).count();
    const long done = ok_.load() + failed_.load();
    double frac = std::min(1.0, el / cfg_.duration);
    if (cfg_.requests > 0) frac = std::max(frac, static_cast<double>(done) / cfg_.requests);
    constexpr int kWidth = 30;
    const int fill = std::clamp(static_cast<int>(frac * kWidth), 0, kWidth);
    char bar_text[kWidth + 4] = "";
    if (bar) {
      bar_text[0] = '[';
      for (int k = 0; k < kWidth; ++k) bar_text[1 + k] = k < fill ? '#' : '.';
      bar_text[kWidth + 1] = ']';
      bar_text[kWidth + 2] = ' ';
      bar_text[kWidth + 3] = '\0';
    }
    char total[32] = "";
    if (cfg_.requests > 0) std::snprintf(total, sizeof total, "/%ld", cfg_.requests);
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "%s%ld%s done (%ld failed), %ld in flight, %.1f s, %.1f req/s, %.0f tok/s",
                  bar_text, done, total, failed_.load(), sent_.load() - done, el,
                  el > 0 ? ok_.load() / el : 0.0, el > 0 ? output_tokens_.load() / el : 0.0);
    return buf;
  }

  const BenchConfig& cfg_;
  const client::ModelInfo& model_;
  Generate generate_;
  client::CancelHandle cancel_;
  Clock::time_point start_, issue_end_, end_;
  std::atomic<long> next_{0}, sent_{0}, ok_{0}, failed_{0}, output_tokens_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool finished_ = false;
  std::vector<BenchSample> samples_;
};

BenchConfig parse_config(const Args& args) {
  BenchConfig cfg;
  cfg.channel = server_channel(args);
  cfg.api = args.str("api", "grpc");
  if (cfg.api != "grpc" && cfg.api != "openai")
    throw UsageError{"--api expects grpc or openai, got '" + cfg.api + "'"};
  if (cfg.api == "openai" && cfg.channel.tls)
    throw UsageError{"--api openai is plaintext here; the TLS options apply to --api grpc"};
  if (args.has("rate") && args.has("concurrency"))
    throw UsageError{"give --concurrency (closed loop) or --rate (open loop), not both"};
  if (auto r = args.number("rate")) {
    if (!(*r > 0)) throw UsageError{"--rate expects requests per second > 0"};
    cfg.open_loop = true;
    cfg.rate = *r;
  }
  if (auto m = args.integer("max-inflight")) {
    if (!cfg.open_loop) throw UsageError{"--max-inflight applies only with --rate"};
    if (*m < 1 || *m > 4096) throw UsageError{"--max-inflight expects 1..4096"};
    cfg.max_inflight = static_cast<int>(*m);
  }
  if (auto c = args.integer("concurrency")) {
    if (*c < 1 || *c > 4096) throw UsageError{"--concurrency expects 1..4096"};
    cfg.concurrency = static_cast<int>(*c);
  }
  if (auto n = args.integer("requests")) {
    if (*n < 1) throw UsageError{"--requests expects at least 1"};
    cfg.requests = *n;
  } else if (!args.has("duration")) {
    cfg.requests = 100;
  }
  if (auto d = args.number("duration")) {
    if (!(*d > 0) || *d > kMaxBenchDurationSeconds)
      throw UsageError{"--duration expects seconds in (0, 600]"};
    cfg.duration = *d;
  }
  cfg.prompt_len = parse_range(args, "prompt-len", 64);
  cfg.max_tokens = parse_range(args, "max-tokens", 128);
  if (auto n = args.integer("shared-prefix")) {
    if (*n < 0 || *n > cfg.prompt_len.lo)
      throw UsageError{"--shared-prefix expects 0.." + std::to_string(cfg.prompt_len.lo) +
                       " (at most the shortest --prompt-len), got " + std::to_string(*n)};
    cfg.shared_prefix = *n;
  }
  if (auto m = args.get("mode")) {
    auto mode = client::parse_routing_mode(*m);
    if (!mode || *mode == client::RoutingMode::kDefault)
      throw UsageError{"unknown routing mode '" + *m + "' (expected full, forward or radial)"};
    cfg.mode = *mode;
  }
  if (auto t = args.number("threshold")) cfg.threshold = static_cast<float>(*t);
  cfg.temperature = static_cast<float>(args.number("temperature").value_or(0.0));
  cfg.seed = static_cast<uint64_t>(args.integer("seed").value_or(0));
  cfg.timeout = *seconds_option(args, "timeout", 60.0);
  cfg.json_path = args.get("json");
  return cfg;
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  try {
    Args args(
        argc, argv,
        with_connection_options({"server", "api", "concurrency", "rate", "max-inflight", "requests",
                                 "duration", "prompt-len", "shared-prefix", "max-tokens", "mode",
                                 "threshold", "temperature", "seed", "timeout", "json"}),
        {"help"});
    if (args.flag("help")) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    const BenchConfig cfg = parse_config(args);
    client::Client client(cfg.channel);
    client::OpenAiClient openai(cfg.channel.target, cfg.channel.bearer_token);
    const bool http = cfg.api == "openai";

    client::CallOptions info_call;
    info_call.timeout = std::chrono::milliseconds(10000);
    const auto info = http ? openai.model_info(info_call) : client.model_info(info_call);
    if (!info.ok()) {
      std::fprintf(stderr, "radial bench: %s\n", info.status.to_string().c_str());
      return 1;
    }
    const client::ModelInfo& model = info.value;
    if (model.vocab_size == 0) {
      std::fprintf(stderr, "radial bench: the server reports vocab_size 0\n");
      return 1;
    }
    if (model.max_prompt_tokens > 0 &&
        cfg.prompt_len.hi > static_cast<long>(model.max_prompt_tokens))
      throw UsageError{"--prompt-len " + range_string(cfg.prompt_len) +
                       " exceeds the server's limit of " + std::to_string(model.max_prompt_tokens) +
                       " prompt tokens"};
    if (model.max_tokens > 0 && cfg.max_tokens.hi > static_cast<long>(model.max_tokens))
      throw UsageError{"--max-tokens " + range_string(cfg.max_tokens) +
                       " exceeds the server's limit of " + std::to_string(model.max_tokens)};
    if (model.context_length > 0 &&
        cfg.prompt_len.hi + cfg.max_tokens.hi > static_cast<long>(model.context_length))
      throw UsageError{"--prompt-len " + range_string(cfg.prompt_len) + " plus --max-tokens " +
                       range_string(cfg.max_tokens) + " exceed the model's context length of " +
                       std::to_string(model.context_length)};

    g_interrupted = 0;
    struct sigaction sa = {}, old_sa = {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_sa);
    Runner runner(cfg, model,
                  [&](const client::GenerateRequest& req, const client::CallOptions& call) {
                    return http ? openai.generate(req, call) : client.generate(req, {}, call);
                  });
    runner.run();
    sigaction(SIGINT, &old_sa, nullptr);

    const BenchReport report = bench_report(
        cfg, model, runner.samples(), {runner.sent(), runner.interrupted(), runner.wall_seconds()});
    const std::string json_text =
        report.json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    if (cfg.json_path && *cfg.json_path == "-") {
      std::fputs(report.text.c_str(), stderr);
      std::fputs(json_text.c_str(), stdout);
    } else {
      std::fputs(report.text.c_str(), stdout);
      if (cfg.json_path) {
        std::ofstream f(*cfg.json_path);
        f << json_text;
        if (!f) {
          std::fprintf(stderr, "radial bench: cannot write %s\n", cfg.json_path->c_str());
          return 1;
        }
      }
    }
    std::fflush(stdout);
    return report.failed == 0 && report.ok > 0 ? 0 : 1;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "radial bench: %s\n%s", e.message.c_str(), kUsage);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "radial bench: %s\n", e.what());
    return 1;
  }
}

}  // namespace radial::cli

#endif  // RADIAL_WITH_CLIENT
