#include "tools/radial/router_data.h"

#include <algorithm>
#include <cmath>
#include <fstream>

#include "engine/error.h"
#include "engine/kv_sizing.h"
#include "engine/model_bundle.h"
#include "engine/random.h"
#include "scheduler/scheduler.h"

namespace radial::tools {
namespace {

Corpus read_data_file(const ModelConfig& c, const Tokenizer* tok, const CorpusOptions& o) {
  require(tok != nullptr, ErrorCode::kInvalidArgument,
          "--data needs the model's tokenizer (give --tokenizer FILE, or use --self-samples)");
  std::ifstream in(o.data_file);
  require(in.good(), ErrorCode::kNotFound, o.data_file + ": cannot open");
  const int limit = std::min(o.max_tokens, c.max_position_embeddings);
  Corpus out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::vector<int> ids = tok->encode(line);
    if (static_cast<int>(ids.size()) > limit) ids.resize(limit);
    if (ids.size() >= 2) out.push_back(std::move(ids));
  }
  require(!out.empty(), ErrorCode::kInvalidArgument,
          o.data_file + ": no documents (the file is empty or holds only blank lines)");
  return out;
}

Corpus sample_corpus(std::shared_ptr<const ModelWeights> w, const CorpusOptions& o) {
  const ModelConfig& c = w->config;
  const int len = std::min(o.sample_tokens, c.max_position_embeddings);
  constexpr int kGroup = 64;  // sequences sampled together
  auto engine = make_engine(
      w, nullptr,
      backend_options_for(c, 1, len, std::min(kGroup, o.self_samples), o.compute.threads),
      o.compute.backend);
  Corpus out(o.self_samples);
  for (int first = 0; first < o.self_samples; first += kGroup) {
    Scheduler sched(*engine, nullptr);
    const int last = std::min(o.self_samples, first + kGroup);
    for (int i = first; i < last; ++i) {
      GenerateRequest r;
      r.prompt = {c.bos_token_id};
      r.max_tokens = len - 1;
      r.mode = RouteMode::kFull;
      r.sampling.temperature = 1.f;
      r.sampling.seed = mix64(o.seed + static_cast<uint64_t>(i));
      sched.submit(r, {nullptr, [&out, i, bos = c.bos_token_id](const SequenceResult& res) {
                         require(res.finish != FinishReason::kError, ErrorCode::kInternal,
                                 "self-sampling failed: " + res.error);
                         out[i] = {bos};
                         for (const auto& t : res.tokens) out[i].push_back(t.token);
                       }});
    }
    sched.run_until_idle();
  }
  // A sample that ended at once (BOS alone) has nothing to predict.
  std::erase_if(out, [](const std::vector<int>& s) { return s.size() < 2; });
  require(!out.empty(), ErrorCode::kInvalidArgument,
          "self-sampling produced no sequence longer than BOS");
  return out;
}

}  // namespace

Corpus load_corpus(std::shared_ptr<const ModelWeights> weights, const Tokenizer* tokenizer,
                   const CorpusOptions& o) {
  require(o.max_tokens >= 2, ErrorCode::kInvalidArgument, "--max-tokens must be at least 2");
  if (!o.data_file.empty()) return read_data_file(weights->config, tokenizer, o);
  require(o.self_samples >= 1, ErrorCode::kInvalidArgument, "--self-samples must be at least 1");
  require(o.sample_tokens >= 2, ErrorCode::kInvalidArgument, "--sample-tokens must be at least 2");
  return sample_corpus(std::move(weights), o);
}

long corpus_positions(const Corpus& c) {
  long n = 0;
  for (const auto& s : c) n += static_cast<long>(s.size());
  return n;
}

void split_corpus(const Corpus& c, double fraction, Corpus* train, Corpus* held_out) {
  train->clear();
  held_out->clear();
  const int k = fraction > 0 ? std::max(2, static_cast<int>(std::lround(1.0 / fraction))) : 0;
  for (size_t i = 0; i < c.size(); ++i) {
    const bool hold = k > 0 && c.size() >= 2 && static_cast<int>(i % k) == k - 1;
    (hold ? held_out : train)->push_back(c[i]);
  }
  if (held_out->empty() && fraction > 0 && train->size() >= 2) {
    held_out->push_back(train->back());
    train->pop_back();
  }
}

int default_wave_positions(const ModelConfig& c) {
  const long budget = 16L << 20;  // floats of logits
  return static_cast<int>(std::clamp<long>(budget / c.vocab_size, c.max_position_embeddings, 8192));
}

int default_wave_sequences(int max_positions) { return max_positions / 16 + 16; }

std::vector<std::pair<int, int>> plan_waves(const Corpus& corpus, int max_positions,
                                            int max_sequences) {
  std::vector<std::pair<int, int>> waves;
  const int n = static_cast<int>(corpus.size());
  int begin = 0;
  while (begin < n) {
    require(static_cast<int>(corpus[begin].size()) <= max_positions, ErrorCode::kInvalidArgument,
            "a sequence of " + std::to_string(corpus[begin].size()) +
                " tokens exceeds the wave size " + std::to_string(max_positions));
    int end = begin, positions = 0;
    while (end < n && end - begin < max_sequences &&
           positions + static_cast<int>(corpus[end].size()) <= max_positions)
      positions += static_cast<int>(corpus[end++].size());
    waves.emplace_back(begin, end);
    begin = end;
  }
  return waves;
}

RoutingParams routing_params(RouteMode mode, float threshold, KvPolicy policy, int max_steps) {
  RoutingParams p;
  p.mode = mode;
  p.threshold = threshold;
  p.kv_policy = mode == RouteMode::kFull ? KvPolicy::kPropagate : policy;
  p.max_steps = max_steps;
  return p;
}

WaveRunner::WaveRunner(std::shared_ptr<const ModelWeights> weights,
                       std::shared_ptr<const RouterWeights> router, int max_positions,
                       int max_sequences, const Compute& compute)
    : max_positions_(max_positions), max_sequences_(max_sequences) {
  const ModelConfig& c = weights->config;
  BackendOptions o;
  o.kv_block_size = 16;
  // Every sequence may leave one block per layer partly used.
  o.kv_blocks = (max_positions / o.kv_block_size + max_sequences) * c.num_layers;
  o.max_slots = max_positions;
  o.threads = compute.threads;
  engine_ = make_engine(std::move(weights), std::move(router), o, compute.backend);
  h_.resize(c.hidden_size);
}

void WaveRunner::run(const Corpus& corpus, int begin, int end, const RoutingParams& routing,
                     const WaveVisitor& visitor) {
  Engine& e = *engine_;
  const int L = e.num_layers(), V = e.config().vocab_size;
  std::vector<std::unique_ptr<Pass>> passes;
  std::vector<int> owner;
  std::vector<std::unique_ptr<SequenceKv>>
      seqs;  // their KV blocks and slots, given back at the end
  for (int s = begin; s < end; ++s) {
    seqs.push_back(e.open_sequence());
    SequenceKv& kv = *seqs.back();
    for (size_t pos = 0; pos < corpus[s].size(); ++pos) {
      auto p = std::make_unique<Pass>();
      p->kv_seq = kv.id();
      p->slot = kv.acquire_slot();
      p->position = static_cast<int>(pos);
      p->token = corpus[s][pos];
      p->routing = routing;
      p->wants_logits = true;
      if (visitor.on_start) visitor.on_start(s, *p);
      e.start_pass(*p);
      passes.push_back(std::move(p));
      owner.push_back(s);
    }
  }
  std::vector<Pass*> batch;
  std::vector<int> batch_owner;
  for (;;) {
    int node = e.done_node();
    for (const auto& p : passes) node = std::min(node, p->node);
    if (node == e.done_node()) break;
    batch.clear();
    batch_owner.clear();
    for (size_t i = 0; i < passes.size(); ++i)
      if (passes[i]->node == node) {
        batch.push_back(passes[i].get());
        batch_owner.push_back(owner[i]);
      }
    NodeRun r;
    r.node = node;
    r.batch = batch;
    if (node == kNodeEmbed || node < L) {
      e.run(r);
      if (!visitor.on_state) continue;
      for (size_t i = 0; i < batch.size(); ++i) {
        const Pass& p = *batch[i];
        if (p.last != node && node != kNodeEmbed) continue;  // a K/V-only row
        e.backend().read_hidden(p.slot, h_.data());
        visitor.on_state(batch_owner[i], p, h_.data());
      }
    } else {
      logits_.resize(batch.size() * static_cast<size_t>(V));
      r.logits = logits_.data();
      e.run(r);
      if (visitor.on_logits)
        for (size_t i = 0; i < batch.size(); ++i)
          visitor.on_logits(batch_owner[i], *batch[i], logits_.data() + i * static_cast<size_t>(V));
    }
  }
}

void WaveRunner::run_all(const Corpus& corpus, const RoutingParams& routing,
                         const WaveVisitor& visitor) {
  for (auto [begin, end] : plan_waves(corpus, max_positions_, max_sequences_))
    run(corpus, begin, end, routing, visitor);
}

}  // namespace radial::tools
