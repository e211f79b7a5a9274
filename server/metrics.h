// Prometheus metrics of radiald (names follow vLLM / SGLang with the prefix
// `radial_`; every series carries a `model` label). The scheduler's hooks
// (SchedulerObserver, called on the engine loop thread) update counters and
// histograms; the gauges (running, waiting, KV blocks, skipped compute) are
// computed at scrape time from EngineService::stats(). docs/api.md lists every
// metric.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "scheduler/engine_service.h"
#include "scheduler/observer.h"

namespace prometheus {
class Counter;
class Exposer;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace radial::server {

class Metrics : public radial::SchedulerObserver {
 public:
  // `model_name` becomes the `model` label of every series.
  explicit Metrics(const std::string& model_name);
  ~Metrics() override;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Serves GET /metrics on `listen` ("host:port"; port 0 picks one).
  // Returns the bound port. Throws std::runtime_error when it cannot bind.
  int serve(const std::string& listen);

  // Must be called once the model is loaded and before the first request:
  // creates the per-layer series and the depth histogram (buckets 0..L, or
  // 0..max_steps for radial routers). Hooks that arrive before it are
  // counted only where no layer count is needed.
  void on_model_loaded(const radial::ModelInfo& info);

  // Where the scrape-time gauges come from; nullptr detaches (call that
  // before the EngineService is destroyed). Thread-safe.
  void set_stats_source(std::function<radial::ServiceStats()> source);

  // A Radial RPC ended with the non-OK gRPC status `code` (its canonical
  // name, e.g. "INVALID_ARGUMENT"). Thread-safe.
  void count_error(const std::string& code);

  // The text exposition format of every series (what /metrics returns).
  std::string render() const;

  // SchedulerObserver (engine loop thread).
  void on_step(const radial::StepInfo& s) override;
  void on_admitted(uint64_t id, double queue_seconds) override;
  void on_token(uint64_t id, const radial::GeneratedToken& t, bool first,
                double since_previous) override;
  void on_preempted(uint64_t id) override;
  void on_prefix_lookup(int looked_up, int hit) override;
  void on_finished(uint64_t id, const radial::SequenceResult& r, double e2e_seconds) override;

 private:
  class Gauges;  // the scrape-time collectable
  struct Series;

  std::string model_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Series> s_;
  std::shared_ptr<Gauges> gauges_;
  std::unique_ptr<prometheus::Exposer> exposer_;  // last: stops scraping first
};

}  // namespace radial::server
