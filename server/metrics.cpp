#include "server/metrics.h"

#include <algorithm>
#include <stdexcept>

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace radial::server {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Histogram;

const char* finish_label(radial::FinishReason r) {
  switch (r) {
    case radial::FinishReason::kLength:
      return "length";
    case radial::FinishReason::kStop:
      return "stop";
    case radial::FinishReason::kStopString:
      return "stop_string";
    case radial::FinishReason::kCancelled:
      return "cancelled";
    case radial::FinishReason::kError:
      return "error";
  }
  return "error";
}

const char* node_label(radial::NodeKind k) {
  switch (k) {
    case radial::NodeKind::kEmbed:
      return "embed";
    case radial::NodeKind::kLayer:
      return "layer";
    case radial::NodeKind::kHead:
      return "head";
  }
  return "layer";
}

// Latency buckets: vLLM's, extended downwards for small CPU models.
const Histogram::BucketBoundaries kTtftBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25, 0.5,
    0.75,   1.0,   2.5,    5.0,   7.5,  10.0, 20.0, 40.0, 80.0, 160., 640., 2560.};
const Histogram::BucketBoundaries kItlBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1,
    0.15,   0.2,     0.3,    0.4,   0.5,    0.75,  1.0,  2.5,   5.0,  10.0,  20.0};
const Histogram::BucketBoundaries kRequestBuckets = {
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1,  0.3,  0.5,  0.8,  1.0,  1.5,  2.0,   2.5,  5.0,
    10.0,  15.0,  20.0, 30.0,  40.0, 50.0, 60.0, 120., 240., 480., 960., 1920., 7680.};
const Histogram::BucketBoundaries kStepBuckets = {
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
    0.01,    0.025,    0.05,    0.1,    0.25,    0.5,    1.0,   2.5,    10.0};
const Histogram::BucketBoundaries kBatchBuckets = {1,   2,   4,   8,    16,   32,   64,
                                                   128, 256, 512, 1024, 2048, 4096, 8192};

}  // namespace

// Every registered series. Per-layer vectors and the depth histogram are
// filled by on_model_loaded(), before any request, and read only on the
// engine loop thread afterwards.
struct Metrics::Series {
  Counter* request_success[5] = {};  // by FinishReason
  Counter* prompt_tokens = nullptr;
  Counter* generation_tokens = nullptr;
  Histogram* ttft = nullptr;
  Histogram* itl = nullptr;
  Histogram* tpot = nullptr;
  Histogram* e2e = nullptr;
  Histogram* queue_time = nullptr;
  Family<Histogram>* depth_family = nullptr;
  Histogram* depth = nullptr;
  Family<Counter>* layer_executed_family = nullptr;
  Family<Counter>* layer_kv_only_family = nullptr;
  Family<Histogram>* layer_batch_family = nullptr;
  std::vector<Counter*> layer_executed, layer_kv_only;
  std::vector<Histogram*> layer_batch;
  Histogram* step_duration[3] = {nullptr, nullptr, nullptr};  // by NodeKind
  Counter* router_seconds = nullptr;
  Counter* router_evals = nullptr;
  Counter* compute_executed = nullptr;
  Counter* compute_full = nullptr;
  Counter* preemptions = nullptr;
  Counter* prefix_queries = nullptr;
  Counter* prefix_hits = nullptr;
  Family<Counter>* errors = nullptr;
};

// Gauges computed at scrape time from the service's stats and the compute
// counters.
class Metrics::Gauges : public prometheus::Collectable {
 public:
  Gauges(std::string model, const Series* s) : model_(std::move(model)), s_(s) {}

  void set_source(std::function<radial::ServiceStats()> f) {
    std::lock_guard<std::mutex> lock(mu_);
    source_ = std::move(f);
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    radial::ServiceStats st;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (source_) st = source_();
    }
    const double executed = s_->compute_executed->Value();
    const double full = s_->compute_full->Value();
    std::vector<prometheus::MetricFamily> out;
    auto gauge = [&](const char* name, const char* help, double v) {
      prometheus::MetricFamily f;
      f.name = name;
      f.help = help;
      f.type = prometheus::MetricType::Gauge;
      prometheus::ClientMetric m;
      m.label.push_back({"model", model_});
      m.gauge.value = v;
      f.metric.push_back(std::move(m));
      out.push_back(std::move(f));
    };
    gauge("radial_num_requests_running", "Requests admitted and generating.", st.running);
    gauge("radial_num_requests_waiting", "Requests queued for admission.", st.waiting);
    gauge("radial_kv_cache_blocks_used", "KV pool blocks in use.", st.kv_blocks_used);
    gauge("radial_kv_cache_blocks_capacity", "KV pool blocks in all.", st.kv_blocks_total);
    gauge("radial_kv_cache_usage_perc", "Fraction of the KV pool in use (0..1).",
          st.kv_blocks_total > 0 ? static_cast<double>(st.kv_blocks_used) / st.kv_blocks_total : 0);
    gauge("radial_kv_cache_blocks_cached",
          "KV pool blocks in the prefix cache (held by requests, or free to evict).",
          st.kv_blocks_cached);
    gauge("radial_compute_skipped_fraction",
          "1 - mean compute fraction of the generated tokens so far (0 before any).",
          full > 0 ? 1.0 - executed / full : 0);
    return out;
  }

 private:
  std::string model_;
  const Series* s_;
  mutable std::mutex mu_;
  std::function<radial::ServiceStats()> source_;
};

Metrics::Metrics(const std::string& model_name)
    : model_(model_name),
      registry_(std::make_shared<prometheus::Registry>()),
      s_(std::make_unique<Series>()) {
  prometheus::Registry& r = *registry_;
  const prometheus::Labels model = {{"model", model_}};
  auto counter = [&](const char* name, const char* help) -> Family<Counter>& {
    return prometheus::BuildCounter().Name(name).Help(help).Labels(model).Register(r);
  };
  auto histogram = [&](const char* name, const char* help) -> Family<Histogram>& {
    return prometheus::BuildHistogram().Name(name).Help(help).Labels(model).Register(r);
  };
  Series& s = *s_;
  auto& success =
      counter("radial_request_success_total", "Accepted requests that finished, by finish reason.");
  for (auto r : {radial::FinishReason::kLength, radial::FinishReason::kStop,
                 radial::FinishReason::kStopString, radial::FinishReason::kCancelled,
                 radial::FinishReason::kError})
    s.request_success[static_cast<int>(r)] = &success.Add({{"finished_reason", finish_label(r)}});
  s.prompt_tokens =
      &counter("radial_prompt_tokens_total", "Prompt tokens of finished requests.").Add({});
  s.generation_tokens = &counter("radial_generation_tokens_total", "Generated tokens.").Add({});
  s.ttft = &histogram("radial_time_to_first_token_seconds",
                      "Time from submission to the first generated token.")
                .Add({}, kTtftBuckets);
  s.itl = &histogram("radial_inter_token_latency_seconds",
                     "Time between consecutive generated tokens of a request.")
               .Add({}, kItlBuckets);
  s.tpot = &histogram("radial_time_per_output_token_seconds",
                      "Same samples as radial_inter_token_latency_seconds (vLLM's name).")
                .Add({}, kItlBuckets);
  s.e2e = &histogram("radial_e2e_request_latency_seconds",
                     "Time from submission to the end of the request.")
               .Add({}, kRequestBuckets);
  s.queue_time =
      &histogram("radial_request_queue_time_seconds", "Time from submission to admission.")
           .Add({}, kRequestBuckets);
  s.depth_family = &histogram("radial_token_depth",
                              "Layers executed fully by the pass that produced each generated "
                              "token.");
  s.layer_executed_family =
      &counter("radial_layer_tokens_executed_total", "Passes that executed the layer fully.");
  s.layer_kv_only_family = &counter("radial_layer_kv_only_rows_total",
                                    "K/V-only rows written at the layer (propagate policy).");
  s.layer_batch_family =
      &histogram("radial_layer_batch_size", "Passes per scheduler step of the layer.");
  auto& steps = histogram("radial_scheduler_step_duration_seconds",
                          "Wall time of a scheduler step, by the node it ran.");
  for (auto kind : {radial::NodeKind::kEmbed, radial::NodeKind::kLayer, radial::NodeKind::kHead})
    s.step_duration[static_cast<int>(kind)] =
        &steps.Add({{"node_kind", node_label(kind)}}, kStepBuckets);
  s.router_seconds =
      &counter("radial_router_seconds_total", "Time spent evaluating the router.").Add({});
  s.router_evals =
      &counter("radial_router_evaluations_total", "Router evaluations (one per pass and call).")
           .Add({});
  s.compute_executed = &counter("radial_layer_compute_executed_total",
                                "Layer compute of the generated tokens' passes, in full-depth "
                                "passes (sum of compute fractions).")
                            .Add({});
  s.compute_full = &counter("radial_layer_compute_full_total",
                            "Layer compute the same tokens would take at full depth, in "
                            "full-depth passes (one per token).")
                        .Add({});
  s.preemptions = &counter("radial_preemptions_total",
                           "Running sequences preempted (KV freed, recomputed later).")
                       .Add({});
  s.prefix_queries = &counter("radial_prefix_cache_queries_total",
                              "Tokens looked up in the prefix cache when sequences were admitted.")
                          .Add({});
  s.prefix_hits = &counter("radial_prefix_cache_hits_total",
                           "Of those, tokens found (their passes did not run).")
                       .Add({});
  s.errors = &counter("radial_request_errors_total",
                      "Radial RPCs that ended with a non-OK gRPC status, by code.");
  for (auto code : {"INVALID_ARGUMENT", "RESOURCE_EXHAUSTED", "UNAVAILABLE", "CANCELLED",
                    "DEADLINE_EXCEEDED", "INTERNAL", "NOT_FOUND"})
    s.errors->Add({{"code", code}});
  gauges_ = std::make_shared<Gauges>(model_, s_.get());
}

Metrics::~Metrics() { exposer_.reset(); }

int Metrics::serve(const std::string& listen) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(listen, 2);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot serve metrics on " + listen + ": " + e.what());
  }
  exposer_->RegisterCollectable(registry_);
  exposer_->RegisterCollectable(gauges_);
  const std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

void Metrics::on_model_loaded(const radial::ModelInfo& info) {
  Series& s = *s_;
  const int L = info.num_layers;
  Histogram::BucketBoundaries depth_buckets;
  for (int d = 0; d <= std::max(L, info.max_steps); ++d) depth_buckets.push_back(d);
  s.depth = &s.depth_family->Add({}, depth_buckets);
  s.layer_executed.clear();
  s.layer_kv_only.clear();
  s.layer_batch.clear();
  for (int j = 0; j < L; ++j) {
    const prometheus::Labels layer = {{"layer", std::to_string(j)}};
    s.layer_executed.push_back(&s.layer_executed_family->Add(layer));
    s.layer_kv_only.push_back(&s.layer_kv_only_family->Add(layer));
    s.layer_batch.push_back(&s.layer_batch_family->Add(layer, kBatchBuckets));
  }
}

void Metrics::set_stats_source(std::function<radial::ServiceStats()> source) {
  gauges_->set_source(std::move(source));
}

void Metrics::count_error(const std::string& code) {
  s_->errors->Add({{"code", code}}).Increment();
}

std::string Metrics::render() const {
  std::vector<prometheus::MetricFamily> all = registry_->Collect();
  for (auto& f : gauges_->Collect()) all.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(all);
}

void Metrics::on_step(const radial::StepInfo& st) {
  Series& s = *s_;
  const int kind = static_cast<int>(st.kind);
  if (kind >= 0 && kind < 3) s.step_duration[kind]->Observe(st.seconds);
  if (st.router_evals > 0) {
    s.router_evals->Increment(st.router_evals);
    s.router_seconds->Increment(std::max(0.0, st.router_seconds));
  }
  if (st.kind == radial::NodeKind::kLayer && st.layer >= 0 &&
      st.layer < static_cast<int>(s.layer_executed.size())) {
    if (st.full_rows > 0) s.layer_executed[st.layer]->Increment(st.full_rows);
    if (st.kv_only_rows > 0) s.layer_kv_only[st.layer]->Increment(st.kv_only_rows);
    s.layer_batch[st.layer]->Observe(st.batch_size);
  }
}

void Metrics::on_admitted(uint64_t, double queue_seconds) {
  s_->queue_time->Observe(queue_seconds);
}

void Metrics::on_token(uint64_t, const radial::GeneratedToken& t, bool first,
                       double since_previous) {
  Series& s = *s_;
  s.generation_tokens->Increment();
  if (first) {
    s.ttft->Observe(since_previous);
  } else {
    s.itl->Observe(since_previous);
    s.tpot->Observe(since_previous);
  }
  if (s.depth != nullptr) s.depth->Observe(t.depth);
  s.compute_executed->Increment(std::max(0.0, t.compute_fraction));
  s.compute_full->Increment();
}

void Metrics::on_preempted(uint64_t) { s_->preemptions->Increment(); }

void Metrics::on_prefix_lookup(int looked_up, int hit) {
  s_->prefix_queries->Increment(looked_up);
  s_->prefix_hits->Increment(hit);
}

void Metrics::on_finished(uint64_t, const radial::SequenceResult& r, double e2e_seconds) {
  Series& s = *s_;
  const int reason = static_cast<int>(r.finish);
  if (reason >= 0 && reason < 5) s.request_success[reason]->Increment();
  s.prompt_tokens->Increment(r.usage.prompt_tokens);
  s.e2e->Observe(e2e_seconds);
}

}  // namespace radial::server
