// Host-side planning of the GPU backend (kernels/plan/, plain C++): the
// layer plan (row order, KV write indices, flattened block tables, attention
// tiles and splits, the packed upload) and the memory plan (weight,
// workspace and KV block sizing from a budget). The attention plan is also
// executed here on the CPU, split by split and merged as the CUDA kernels
// do, against direct attention: a wrong range, tile or partial index shows.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <set>

#include "engine/kv_sizing.h"
#include "engine/model_loader.h"
#include "kernels/plan/layer_plan.h"
#include "kernels/plan/memory_plan.h"
#include "test_util.h"

using namespace radial;
using namespace radial::gpu;
using radial::test::expect_error;

namespace {

// A call's rows: each sequence has its own block table; `chunk` rows per
// sequence with consecutive entries (a prompt chunk) or one (decode).
struct Call {
  std::vector<std::vector<int>> tables;
  std::vector<LayerRow> rows;
};

Call make_call(std::mt19937& rng, int seqs, int block_size, int pool_blocks, bool with_kv_only,
               int max_ctx) {
  Call c;
  c.tables.resize(seqs);
  std::vector<int> free_blocks(pool_blocks);
  for (int i = 0; i < pool_blocks; ++i) free_blocks[i] = i;
  std::shuffle(free_blocks.begin(), free_blocks.end(), rng);
  int next_block = 0, slot = 0;
  for (int s = 0; s < seqs; ++s) {
    const int cached = std::uniform_int_distribution<int>(0, max_ctx)(rng);
    const int chunk = std::uniform_int_distribution<int>(0, 3)(rng) == 0
                          ? std::uniform_int_distribution<int>(1, 40)(rng)
                          : 1;
    const int blocks = (cached + chunk + block_size - 1) / block_size;
    for (int b = 0; b < blocks; ++b) c.tables[s].push_back(free_blocks.at(next_block++));
    for (int k = 0; k < chunk; ++k) {
      LayerRow r;
      r.slot = slot++;
      r.entry = cached + k;
      r.position = r.entry + std::uniform_int_distribution<int>(0, 2)(rng);  // sparse: pos >= entry
      r.kv_only = with_kv_only && std::uniform_int_distribution<int>(0, 3)(rng) == 0;
      r.block_table = c.tables[s].data();  // c.tables is sized up front: no reallocation
      c.rows.push_back(r);
    }
  }
  return c;
}

AttentionShape shape_for(int heads, int kv_heads, int block_size, int capacity) {
  AttentionShape s;
  s.num_heads = heads;
  s.num_kv_heads = kv_heads;
  s.block_size = block_size;
  s.target_items = 64;
  s.min_split_entries = 32;
  s.max_splits = 8;
  s.partial_capacity = capacity;
  return s;
}

}  // namespace

TEST_CASE("layer plan: full rows first, KV write indices and block tables", "[gpu_plan]") {
  const int bs = 16;
  std::vector<int> t0 = {7, 3, 9}, t1 = {4}, t2 = {12, 0};
  std::vector<LayerRow> rows = {
      {/*slot*/ 5, /*pos*/ 40, t0.data(), /*entry*/ 40, /*kv_only*/ false},
      {6, 41, t0.data(), 41, true},
      {7, 3, t1.data(), 3, false},
      {8, 20, t2.data(), 17, false},  // sparse: entry 17 holds position 20
  };
  LayerPlan p;
  p.build(rows, shape_for(8, 4, bs, 64));
  CHECK(p.n() == 4);
  CHECK(p.nf() == 3);
  CHECK(p.order() == std::vector<int>{0, 2, 3, 1});
  CHECK(p.slot() == std::vector<int>{5, 7, 8, 6});
  CHECK(p.position() == std::vector<int>{40, 3, 20, 41});
  CHECK(p.kv_index() == std::vector<int>{9 * bs + 8, 4 * bs + 3, 0 * bs + 1, 9 * bs + 9});
  CHECK(p.entries() == std::vector<int>{41, 4, 18});
  // Each full row's table, as long as it needs.
  for (int f = 0; f < p.nf(); ++f) {
    const LayerRow& r = rows[p.order()[f]];
    for (int b = 0; b * bs < p.entries()[f]; ++b)
      CHECK(p.tables()[p.table_offset()[f] + b] == r.block_table[b]);
  }
  CHECK(p.tables().size() == 3 + 1 + 2);
  // kv_only rows need no table: t0 is copied once for its full row.
}

TEST_CASE("layer plan: splits of a long decode row cover its entries in 32-entry chunks",
          "[gpu_plan]") {
  std::vector<int> table(64);
  for (int i = 0; i < 64; ++i) table[i] = 63 - i;
  std::vector<LayerRow> rows = {{0, 999, table.data(), 999, false}};
  AttentionShape s = shape_for(32, 8, 16, 4096);
  s.target_items = 264;
  s.min_split_entries = 128;
  s.max_splits = 32;
  LayerPlan p;
  p.build(rows, s);
  // 264 / 8 = 33 wanted, 1000 / 128 = 7 allowed: 7 ranges of 160 entries.
  REQUIRE(p.num_items() == 7);
  for (int k = 0; k < 7; ++k) {
    CHECK(p.items()[k].entry_begin == 160 * k);
    CHECK(p.items()[k].entry_end == std::min(1000, 160 * (k + 1)));
    CHECK(p.items()[k].split == k);
  }
  CHECK(p.num_partials() == 7);
  CHECK(p.max_splits() == 7);
}

TEST_CASE("layer plan: a prompt chunk forms tiles of consecutive entries", "[gpu_plan]") {
  std::vector<int> table = {2, 5, 1};
  std::vector<LayerRow> rows;
  for (int e = 10; e < 40; ++e) rows.push_back({e, e, table.data(), e, false});
  // 32 heads, 8 KV heads: group 4, tiles of 4 rows.
  LayerPlan p;
  p.build(rows, shape_for(32, 8, 16, 4096));
  std::set<int> starts;
  for (const AttentionItem& it : p.items()) {
    CHECK(it.rows <= 4);
    starts.insert(it.row0);
    CHECK(it.entry_end <= p.entries()[it.row0 + it.rows - 1]);
  }
  CHECK(starts.size() == 8);  // 30 rows: 7 tiles of 4, one of 2
  CHECK(LayerPlan::max_packed_ints(30, 3, 40, shape_for(32, 8, 16, 4096)) >= p.layout().total);
}

TEST_CASE("layer plan: a routed chunk's full rows form tiles across the skipped rows",
          "[gpu_plan]") {
  std::vector<int> table = {2, 5, 1};
  std::vector<LayerRow> rows;
  // Entries 10..39, every third row K/V-only (it skips the layer): the 20
  // full rows have gaps in their entries but one table.
  for (int e = 10; e < 40; ++e) rows.push_back({e, e, table.data(), e, e % 3 == 0});
  LayerPlan p;
  p.build(rows, shape_for(32, 8, 16, 4096));
  REQUIRE(p.nf() == 20);
  std::set<int> starts;
  for (const AttentionItem& it : p.items()) {
    CHECK(it.rows <= 4);
    starts.insert(it.row0);
    for (int r = it.row0 + 1; r < it.row0 + it.rows; ++r)
      CHECK(p.entries()[r] > p.entries()[r - 1]);
  }
  CHECK(starts.size() == 5);  // 20 full rows: 5 tiles of 4, not 10 runs
  // Another sequence's row never joins, even with the next entry.
  std::vector<int> other = {7};
  rows = {{0, 3, table.data(), 3, false}, {1, 4, other.data(), 4, false}};
  p.build(rows, shape_for(32, 8, 16, 4096));
  CHECK(p.num_items() == 2);
}

TEST_CASE("layer plan: staging is bounded by the rows' context, not the whole pool", "[gpu_plan]") {
  // A large pool (stories260K at 0.9 of an H200 is millions of blocks) must
  // not size the staging buffers: 256 rows of a 512-entry context need at
  // most 32 blocks each.
  const AttentionShape s = shape_for(8, 4, 16, 528);
  CHECK(LayerPlan::max_packed_ints(256, 5'000'000, 512, s) == 6 * 256 + 256 * 32 + 5 * 528);
  // A small pool bounds it instead.
  CHECK(LayerPlan::max_packed_ints(256, 100, 512, s) == 6 * 256 + 100 + 5 * 528);
  // Rows at the context's end fit: 256 sequences with 512 entries each.
  std::vector<std::vector<int>> tables(256);
  std::vector<LayerRow> rows;
  for (int q = 0; q < 256; ++q) {
    for (int b = 0; b < 32; ++b) tables[q].push_back(q * 32 + b);
    rows.push_back({q, 511, tables[q].data(), 511, false});
  }
  LayerPlan p;
  p.build(rows, s);
  CHECK(p.layout().total <= LayerPlan::max_packed_ints(256, 256 * 32, 512, s));
}

TEST_CASE("layer plan: too little partial capacity is an error", "[gpu_plan]") {
  std::vector<int> table = {0};
  std::vector<LayerRow> rows = {{0, 0, table.data(), 0, false}, {1, 1, table.data(), 1, false}};
  LayerPlan p;
  expect_error([&] { p.build(rows, shape_for(8, 8, 16, 1)); }, ErrorCode::kResourceExhausted,
               {"attention workspace"});
  std::vector<LayerRow> bad = {{0, 0, nullptr, 0, false}};
  expect_error([&] { p.build(bad, shape_for(8, 8, 16, 8)); }, ErrorCode::kInternal,
               {"no KV entry"});
}

TEST_CASE("layer plan executed split by split equals direct attention", "[gpu_plan]") {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 40; ++trial) {
    const int kvh = std::uniform_int_distribution<int>(1, 4)(rng);
    const int group = 1 << std::uniform_int_distribution<int>(0, 2)(rng);
    const int heads = kvh * group, hd = 4, bs = trial % 2 ? 16 : 4;
    const int pool_blocks = 4096;
    Call call = make_call(rng, std::uniform_int_distribution<int>(1, 6)(rng), bs, pool_blocks,
                          trial % 3 == 0, 300);
    const int kvd = kvh * hd;
    std::normal_distribution<float> nd;
    std::vector<float> kpool(static_cast<size_t>(pool_blocks) * bs * kvd), vpool(kpool.size());
    for (float& v : kpool) v = nd(rng);
    for (float& v : vpool) v = nd(rng);
    const int n = static_cast<int>(call.rows.size());
    std::vector<float> q(static_cast<size_t>(n) * heads * hd);
    for (float& v : q) v = nd(rng);

    AttentionShape s = shape_for(heads, kvh, bs, 2 * n + 16);
    LayerPlan p;
    p.build(call.rows, s);
    // The packed upload round-trips.
    const PackedLayout lay = p.layout();
    std::vector<int> packed(lay.total);
    p.pack(packed.data());
    REQUIRE(lay.total <= LayerPlan::max_packed_ints(n, pool_blocks, 300 + 40, s));
    CHECK(std::vector<int>(packed.begin() + lay.kv_index, packed.begin() + lay.kv_index + n) ==
          p.kv_index());
    CHECK(p.num_partials() <= s.partial_capacity);

    // Execute the plan: partials per (partial slot, head), then merge.
    const int P = p.num_partials();
    std::vector<double> pm(static_cast<size_t>(P) * heads, -INFINITY), pl(pm.size(), 0),
        po(static_cast<size_t>(P) * heads * hd, 0);
    std::vector<int> written(pm.size(), 0);
    for (const AttentionItem& it : p.items()) {
      for (int r = it.row0; r < it.row0 + it.rows; ++r) {
        const int* tab = p.tables().data() + p.table_offset()[r];
        for (int h = 0; h < heads; ++h) {
          const int kh = h / group;
          const size_t pi = static_cast<size_t>(p.partial_base()[r] + it.split) * heads + h;
          ++written[pi];
          const float* qv = q.data() + (static_cast<size_t>(p.order()[r]) * heads + h) * hd;
          for (int e = it.entry_begin; e < std::min(it.entry_end, p.entries()[r]); ++e) {
            const size_t row = static_cast<size_t>(tab[e / bs]) * bs + e % bs;
            double dot = 0;
            for (int d = 0; d < hd; ++d) dot += qv[d] * kpool[row * kvd + kh * hd + d];
            const double m_new = std::max(pm[pi], dot);
            const double corr = std::exp(pm[pi] - m_new), w = std::exp(dot - m_new);
            pl[pi] = pl[pi] * corr + w;
            for (int d = 0; d < hd; ++d)
              po[pi * hd + d] = po[pi * hd + d] * corr + w * vpool[row * kvd + kh * hd + d];
            pm[pi] = m_new;
          }
        }
      }
    }
    for (int w : written) CHECK(w == 1);  // every partial slot written exactly once
    for (int r = 0; r < p.nf(); ++r) {
      const LayerRow& lr = call.rows[p.order()[r]];
      const int splits = (r + 1 < p.nf() ? p.partial_base()[r + 1] : P) - p.partial_base()[r];
      for (int h = 0; h < heads; ++h) {
        double mx = -INFINITY, total = 0;
        std::vector<double> out(hd, 0);
        for (int k = 0; k < splits; ++k) {
          const size_t pi = static_cast<size_t>(p.partial_base()[r] + k) * heads + h;
          if (pl[pi] > 0) mx = std::max(mx, pm[pi]);
        }
        for (int k = 0; k < splits; ++k) {
          const size_t pi = static_cast<size_t>(p.partial_base()[r] + k) * heads + h;
          if (!(pl[pi] > 0)) continue;
          const double w = std::exp(pm[pi] - mx);
          total += w * pl[pi];
          for (int d = 0; d < hd; ++d) out[d] += w * po[pi * hd + d];
        }
        // Direct attention over entries [0, entry] of the row's own table.
        const int kh = h / group;
        const float* qv = q.data() + (static_cast<size_t>(p.order()[r]) * heads + h) * hd;
        std::vector<double> sc;
        double smax = -INFINITY;
        for (int e = 0; e <= lr.entry; ++e) {
          const size_t row = static_cast<size_t>(lr.block_table[e / bs]) * bs + e % bs;
          double dot = 0;
          for (int d = 0; d < hd; ++d) dot += qv[d] * kpool[row * kvd + kh * hd + d];
          sc.push_back(dot);
          smax = std::max(smax, dot);
        }
        double z = 0;
        std::vector<double> want(hd, 0);
        for (int e = 0; e <= lr.entry; ++e) {
          const size_t row = static_cast<size_t>(lr.block_table[e / bs]) * bs + e % bs;
          const double w = std::exp(sc[e] - smax);
          z += w;
          for (int d = 0; d < hd; ++d) want[d] += w * vpool[row * kvd + kh * hd + d];
        }
        for (int d = 0; d < hd; ++d) CHECK(out[d] / total == Approx(want[d] / z).margin(1e-9));
      }
    }
  }
}

TEST_CASE("memory plan: weight bytes match the tensors of a model", "[gpu_plan]") {
  for (const int variant : {0, 1, 2}) {  // tied; untied with biases; Qwen3 (q/k norms)
    const bool tied = variant != 1;
    ModelConfig c;
    c.hidden_size = 64;
    c.intermediate_size = 96;
    c.num_layers = 3;
    c.num_heads = 8;
    c.num_kv_heads = 2;
    c.head_dim = 8;
    c.vocab_size = 100;
    c.max_position_embeddings = 64;
    c.tie_word_embeddings = tied;
    c.attention_bias = variant == 1;
    c.qk_norm = variant == 2;
    if (c.qk_norm) c.model_type = "qwen3";
    const ModelWeights w = make_random_model(c, 1);
    int64_t matrices = w.embed.numel() + (tied ? 0 : w.lm_head.numel()),
            small = w.final_norm.numel();
    for (const LayerWeights& l : w.layers) {
      matrices += l.wq.numel() + l.wk.numel() + l.wv.numel() + l.wo.numel() + l.w_gate.numel() +
                  l.w_up.numel() + l.w_down.numel();
      small += l.attn_norm.numel() + l.mlp_norm.numel();
      for (const Tensor* b : {&l.bq, &l.bk, &l.bv, &l.q_norm, &l.k_norm})
        if (!b->empty()) small += b->numel();
    }
    CHECK(weight_bytes(c, DType::kBF16) == 2 * matrices + 4 * small);
    CHECK(weight_bytes(c, DType::kF32) == 4 * matrices + 4 * small);
  }
}

TEST_CASE("memory plan: Llama-3.2-1B sizes", "[gpu_plan]") {
  ModelConfig c;
  c.hidden_size = 2048;
  c.intermediate_size = 8192;
  c.num_layers = 16;
  c.num_heads = 32;
  c.num_kv_heads = 8;
  c.head_dim = 64;
  c.vocab_size = 128256;
  c.tie_word_embeddings = true;
  // 1.2358e9 parameters: 1235746816 in matrices (bf16), 67584 in norms (fp32).
  CHECK(weight_bytes(c, DType::kBF16) == 2LL * 1235746816 + 4LL * (16 * 2 * 2048 + 2048));
  CHECK(kv_block_bytes(c, DType::kBF16, 16) == 2 * 16 * 512 * 2);
  WorkspaceShape s;
  s.max_slots = 4096;
  s.rows = 2048;
  s.head_rows = 256;
  s.partial_rows = 4096;
  s.router_hidden = 64;
  s.plan_ints = 1000;
  const WorkspaceSizes w = workspace_sizes(c, DType::kBF16, s);
  CHECK(w.hidden == 4LL * 4096 * 2048);
  CHECK(w.qkv == 2LL * 2048 * (2048 + 2 * 512));
  CHECK(w.gate_up == 2LL * 2048 * 2 * 8192);
  CHECK(w.logits == 4LL * 256 * 128256);
  CHECK(w.partial == 4LL * 4096 * 32 * 66);
  CHECK(w.total() == w.hidden + w.resid + w.normed + w.normed32 + w.qkv + w.att + w.gate_up +
                         w.act + w.partial + w.logits + w.router + w.small);
}

TEST_CASE("memory plan: KV blocks from a memory budget", "[gpu_plan]") {
  const int64_t GiB = int64_t{1} << 30;
  // 80 GiB device, 60 GiB free (20 in use): 0.9 * 80 - 20 = 52 GiB for blocks of 32 KiB.
  CHECK(kv_blocks_for_budget(80 * GiB, 60 * GiB, 0.9, 32 << 10) == 52 * 32768);
  CHECK(kv_blocks_for_budget(80 * GiB, 80 * GiB, 1.0, GiB) == 80);
  expect_error([&] { kv_blocks_for_budget(80 * GiB, 10 * GiB, 0.5, 1 << 20); },
               ErrorCode::kResourceExhausted, {"--gpu-memory-fraction"});
  expect_error([&] { kv_blocks_for_budget(80 * GiB, 10 * GiB, 0.0, 1 << 20); },
               ErrorCode::kInvalidArgument, {"fraction"});
  expect_error([&] { kv_blocks_for_budget(80 * GiB, 10 * GiB, 1.5, 1 << 20); },
               ErrorCode::kInvalidArgument, {"fraction"});
}
