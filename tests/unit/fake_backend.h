// A fake backend for scheduler and serving-core tests that need no model: an
// exact integer "model" with the Backend contract's semantics, so results
// are bit-exact and a wrong KV entry, a wrong batch or a lost pass changes
// the tokens.
//   embed:  h = mix(token)
//   layer:  every row first writes its K/V entry, kv = mix(h, layer, position);
//           then each full row reads the entries [0, entry] of its block
//           table (the attention contract: prompt rows of one batch see each
//           other) and sets h = mix(h, sum of those entries, layer)
//   router: gate j = ((h >> 3j) % 7) - 3 for the L layers and the exit, so
//           forward mode at threshold 0.5 runs layer j iff its gate >= 0
//   head:   a one-hot logit at h % vocab
// Hidden state and K/V are uint64 (arithmetic mod 2^64); read_hidden and
// read_kv show their low bits as floats. `fail_layer` makes forward_layer
// of that layer throw Error(kInternal) (the engine-error path);
// `layer_delay` makes each layer call take that long.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "engine/error.h"
#include "kernels/backend_factory.h"

namespace radial::test {

class FakeBackend final : public Backend {
 public:
  FakeBackend(const ModelConfig& c, const RouterWeights* router, const BackendOptions& o)
      : c_(c),
        router_(router),
        bs_(o.kv_block_size),
        h_(o.max_slots, 0),
        kv_(static_cast<size_t>(o.kv_blocks) * o.kv_block_size, 0) {}

  std::string name() const override { return "fake"; }
  const ModelConfig& model_config() const override { return c_; }
  const RouterWeights* router() const override { return router_; }

  int fail_layer = -1;
  std::chrono::microseconds layer_delay{0};  // a slower "GPU" for timing-dependent tests
  int layer_calls = 0;                       // forward_layer calls
  int max_rows_seen = 0;                     // most rows in one call

  static uint64_t mix(uint64_t a, uint64_t b) {
    uint64_t x = a * 0x9e3779b97f4a7c15ull + b + 0x632be59bd9b4e019ull;
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    return x ^ (x >> 32);
  }

  void embed(std::span<const int> tokens, std::span<const int> slots) override {
    for (size_t i = 0; i < tokens.size(); ++i)
      h_.at(slots[i]) = mix(static_cast<uint64_t>(tokens[i]), 1);
  }

  void forward_layer(int layer, std::span<const LayerRow> rows) override {
    ++layer_calls;
    max_rows_seen = std::max(max_rows_seen, static_cast<int>(rows.size()));
    if (layer == fail_layer) throw Error(ErrorCode::kInternal, "fake backend: layer failed");
    if (layer_delay.count() > 0) std::this_thread::sleep_for(layer_delay);
    for (const LayerRow& r : rows)
      kv_.at(index(r, r.entry)) =
          mix(mix(h_.at(r.slot), static_cast<uint64_t>(layer)), static_cast<uint64_t>(r.position));
    for (const LayerRow& r : rows) {
      if (r.kv_only) continue;
      uint64_t acc = 0;
      for (int e = 0; e <= r.entry; ++e) acc += kv_.at(index(r, e));
      h_[r.slot] = mix(mix(h_[r.slot], acc), static_cast<uint64_t>(layer) + 100);
    }
  }

  void router_logits(std::span<const int> slots, float* out) override {
    const int g = c_.num_layers + 1;
    for (size_t i = 0; i < slots.size(); ++i)
      for (int j = 0; j < g; ++j)
        out[i * g + j] = static_cast<float>(static_cast<int>((h_.at(slots[i]) >> (3 * j)) % 7) - 3);
  }

  void head_logits(std::span<const int> slots, float* out) override {
    const size_t V = static_cast<size_t>(c_.vocab_size);
    for (size_t i = 0; i < slots.size(); ++i) {
      std::fill(out + i * V, out + (i + 1) * V, 0.f);
      out[i * V + h_.at(slots[i]) % V] = 1.f;
    }
  }

  void read_hidden(int slot, float* out) override {
    for (int k = 0; k < c_.hidden_size; ++k)
      out[k] = static_cast<float>((h_.at(slot) >> (k % 48)) & 0xffff);
  }
  void read_kv(int block, int offset, float* k, float* v) override {
    const uint64_t x = kv_.at(static_cast<size_t>(block) * bs_ + offset);
    for (int i = 0; i < c_.kv_dim(); ++i)
      k[i] = v[i] = static_cast<float>((x >> (i % 48)) & 0xffff);
  }

 private:
  size_t index(const LayerRow& r, int entry) const {
    return static_cast<size_t>(r.block_table[entry / bs_]) * bs_ + entry % bs_;
  }
  const ModelConfig& c_;
  const RouterWeights* router_;
  int bs_;
  std::vector<uint64_t> h_, kv_;
};

// A model shape for the fake backend: L layers, a vocabulary, a context;
// weights hold the config alone (the fake computes from nothing else).
struct FakeModel {
  std::shared_ptr<ModelWeights> weights;
  FakeBackend* last_backend = nullptr;       // the most recent backend made
  std::chrono::microseconds layer_delay{0};  // given to the backends made from now on

  explicit FakeModel(int layers, int vocab = 97, int context = 512) {
    weights = std::make_shared<ModelWeights>();
    ModelConfig& c = weights->config;
    c.hidden_size = 8;
    c.intermediate_size = 16;
    c.num_layers = layers;
    c.num_heads = 2;
    c.num_kv_heads = 1;
    c.head_dim = 4;
    c.vocab_size = vocab;
    c.max_position_embeddings = context;
    c.bos_token_id = 1;
    c.eos_token_ids = {2};
  }

  // A router config of `mode` (forward: threshold 0.5, layer 0 pinned).
  std::shared_ptr<RouterWeights> router(RouteMode mode, KvPolicy policy) const {
    auto r = std::make_shared<RouterWeights>();
    RouterConfig& rc = r->config;
    rc.num_layers = weights->config.num_layers;
    rc.hidden_size = weights->config.hidden_size;
    rc.router_hidden = 4;
    rc.mode = mode;
    rc.threshold = 0.5f;
    rc.kv_policy = mode == RouteMode::kRadial ? KvPolicy::kSparse : policy;
    rc.max_steps = 2 * rc.num_layers;
    if (mode == RouteMode::kForward) rc.pinned_layers = {0};
    return r;
  }

  BackendFactory factory() {
    return [this](const ModelWeights& w, const RouterWeights* r, BackendOptions& o) {
      auto b = std::make_unique<FakeBackend>(w.config, r, o);
      b->layer_delay = layer_delay;
      last_backend = b.get();
      return b;
    };
  }

  std::unique_ptr<Engine> engine(BackendOptions o,
                                 std::shared_ptr<const RouterWeights> router = nullptr) {
    auto b = factory()(*weights, router.get(), o);
    return std::make_unique<Engine>(weights, std::move(router), o, std::move(b));
  }
};

}  // namespace radial::test
