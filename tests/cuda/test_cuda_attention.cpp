// RoPE + KV write and paged attention against the CPU backend's ops, on
// batches of many sequences of different lengths: prompt chunks (tiles),
// decode rows (split-K), kv_only rows (propagate) and sparse tables whose
// entries hold other positions. Attention tolerance: relative L2 error
// 1e-5 in fp32, tolerance(dtype) + 5e-3 in f16/bf16 (K/V and Q stored in
// the dtype, the reference computed from the same rounded values).
#include <catch2/catch.hpp>

#include <cmath>

#include "cuda_test_util.h"
#include "engine/cpu/ops.h"
#include "kernels/paged_attention.cuh"
#include "kernels/plan/layer_plan.h"
#include "kernels/rope_kv.cuh"

using namespace radial;
using namespace radial::test;

namespace {

ModelConfig config(int heads, int kv_heads, int head_dim, RopeLayout layout) {
  ModelConfig c;
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.head_dim = head_dim;
  c.hidden_size = heads * head_dim;
  c.rope_layout = layout;
  c.rope_theta = 10000.f;
  return c;
}

}  // namespace

TEST_CASE("rope_write_kv rotates Q and K like cpu::Rope and stores K/V", "[cuda][kernels]") {
  std::mt19937 rng(11);
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16})
    for (RopeLayout layout : {RopeLayout::kHalfSplit, RopeLayout::kInterleaved})
      for (bool bias : {false, true}) {
        const ModelConfig c = config(8, 2, 16, layout);
        const int qd = c.q_dim(), kvd = c.kv_dim(), W = qd + 2 * kvd, n = 7, nf = 4;
        auto qkv = rounded(random_vec(rng, static_cast<size_t>(n) * W), t);
        auto b = random_vec(rng, W);
        std::vector<int> pos = {0, 1, 17, 300, 5, 4095, 2}, kvi = {3, 0, 9, 1, 2, 7, 5};
        DeviceBuffer dqkv = to_device(qkv, t), dpos = ints_to_device(pos),
                     dkvi = ints_to_device(kvi), db = to_device(b);
        DeviceBuffer kp = poisoned(10 * kvd * 4), vp = poisoned(10 * kvd * 4);
        const cpu::Rope rope(c);
        DeviceBuffer inv(rope.inv_freq().size() * 8);
        CUDA_CHECK(
            cudaMemcpy(inv.get(), rope.inv_freq().data(), inv.bytes(), cudaMemcpyHostToDevice));
        kernels::RopeKvArgs a;
        a.qkv = dqkv.get();
        a.ld = W;
        a.dtype = t;
        a.n = n;
        a.nf = nf;
        a.position = dpos.as<int>();
        a.kv_index = dkvi.as<int>();
        a.bias = bias ? db.as<float>() : nullptr;
        a.inv_freq = inv.as<double>();
        a.layout = layout;
        a.num_heads = c.num_heads;
        a.num_kv_heads = c.num_kv_heads;
        a.head_dim = c.head_dim;
        a.k_pool = kp.get();
        a.v_pool = vp.get();
        kernels::rope_write_kv(a, nullptr);
        auto got_qkv = to_host(dqkv.get(), qkv.size(), t);
        auto got_k = to_host(kp.get(), 10 * kvd, t), got_v = to_host(vp.get(), 10 * kvd, t);
        std::vector<float> want_q, got_q, want_k, gk, want_v, gv;
        std::vector<float> cs(c.head_dim / 2), sn(c.head_dim / 2);
        for (int i = 0; i < n; ++i) {
          std::vector<float> row(qkv.begin() + i * W, qkv.begin() + (i + 1) * W);
          if (bias)
            for (int k = 0; k < W; ++k) row[k] += b[k];
          rope.angles(pos[i], cs.data(), sn.data());
          rope.apply(row.data(), c.num_heads, cs.data(), sn.data());
          rope.apply(row.data() + qd, c.num_kv_heads, cs.data(), sn.data());
          if (i < nf) {
            want_q.insert(want_q.end(), row.begin(), row.begin() + qd);
            got_q.insert(got_q.end(), got_qkv.begin() + i * W, got_qkv.begin() + i * W + qd);
          }
          want_k.insert(want_k.end(), row.begin() + qd, row.begin() + qd + kvd);
          want_v.insert(want_v.end(), row.begin() + qd + kvd, row.end());
          gk.insert(gk.end(), got_k.begin() + kvi[i] * kvd, got_k.begin() + (kvi[i] + 1) * kvd);
          gv.insert(gv.end(), got_v.begin() + kvi[i] * kvd, got_v.begin() + (kvi[i] + 1) * kvd);
        }
        INFO(dtype_name(t) << (layout == RopeLayout::kHalfSplit ? " half-split" : " interleaved"));
        CHECK(rel_error(got_q, want_q) < tolerance(t));
        CHECK(rel_error(gk, want_k) < tolerance(t));
        CHECK(rel_error(gv, want_v) < tolerance(t));
        // kv_only rows' q columns are left as they were.
        std::vector<float> got_kvq, want_kvq;
        for (int i = nf; i < n; ++i)
          for (int k = 0; k < qd; ++k) {
            got_kvq.push_back(got_qkv[i * W + k]);
            want_kvq.push_back(qkv[i * W + k]);
          }
        CHECK(mismatch(got_kvq, want_kvq) == "");
      }
}

TEST_CASE("paged_attention matches cpu::attend on mixed batches", "[cuda][kernels]") {
  std::mt19937 rng(12);
  struct Shape {
    int heads, kv_heads, head_dim, block_size;
  };
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16})
    for (Shape s : {Shape{8, 4, 8, 16}, Shape{32, 8, 64, 16}, Shape{12, 12, 128, 4},
                    Shape{16, 1, 256, 16}, Shape{6, 2, 34, 8}})
      for (int variant = 0; variant < 4; ++variant) {
        INFO(dtype_name(t) << " heads " << s.heads << "/" << s.kv_heads << " hd " << s.head_dim
                           << " variant " << variant);
        const int kvd = s.kv_heads * s.head_dim, qd = s.heads * s.head_dim, bs = s.block_size;
        // Sequences (cached entries, chunk rows, last row kv_only): a long
        // decode row, a prompt chunk with a cached prefix, a one-token
        // sequence, a sparse table (entries < positions), and (variant 2)
        // many short decode rows, (variant 3) a routed prompt chunk whose
        // every third row skips the layer (K/V-only), so its full rows'
        // tiles have gaps. The pool holds exactly their blocks, in a
        // shuffled order.
        struct Seq {
          int cached, chunk;
          bool kv_only_tail;
          int skip_every = 0;  // rows k with k % skip_every == skip_every - 1 are kv_only
        };
        std::vector<Seq> seqs = {{variant == 0 ? 1500 : 700, 1, false},
                                 {40, variant == 1 ? 77 : 19, true},
                                 {0, 1, false},
                                 {5, 3, false}};
        if (variant == 2)
          for (int i = 0; i < 60; ++i) seqs.push_back({i * 3, 1, i % 4 == 0});
        if (variant == 3) seqs.push_back({300, 50, false, 3});
        int pool_blocks = 0;
        for (const Seq& q : seqs) pool_blocks += (q.cached + q.chunk + bs - 1) / bs;
        std::vector<std::vector<int>> tables;
        tables.reserve(seqs.size());  // rows point into the tables: no reallocation
        std::vector<LayerRow> rows;
        std::vector<int> perm(pool_blocks);
        for (int i = 0; i < pool_blocks; ++i) perm[i] = i;
        std::shuffle(perm.begin(), perm.end(), rng);
        int next = 0, slot = 0;
        for (const Seq& q : seqs) {
          const int blocks = (q.cached + q.chunk + bs - 1) / bs;
          REQUIRE(next + blocks <= pool_blocks);
          tables.emplace_back(perm.begin() + next, perm.begin() + next + blocks);
          next += blocks;
          for (int k = 0; k < q.chunk; ++k) {
            LayerRow r;
            r.slot = slot++;
            r.entry = q.cached + k;
            r.position = 3 * r.entry;
            r.kv_only = (q.kv_only_tail && k == q.chunk - 1) ||
                        (q.skip_every > 0 && k % q.skip_every == q.skip_every - 1);
            r.block_table = tables.back().data();
            rows.push_back(r);
          }
        }
        const int n = static_cast<int>(rows.size());
        auto kpool = rounded(random_vec(rng, static_cast<size_t>(pool_blocks) * bs * kvd), t);
        auto vpool = rounded(random_vec(rng, kpool.size()), t);
        auto q = rounded(random_vec(rng, static_cast<size_t>(n) * qd, 0.5f), t);

        gpu::AttentionShape shape;
        shape.num_heads = s.heads;
        shape.num_kv_heads = s.kv_heads;
        shape.block_size = bs;
        shape.target_items = 264;
        shape.partial_capacity = 2 * n + 264;
        gpu::LayerPlan plan;
        plan.build(rows, shape);
        const gpu::PackedLayout lay = plan.layout();
        std::vector<int> packed(lay.total);
        plan.pack(packed.data());
        // q rows in plan order (the full rows first).
        std::vector<float> qp;
        for (int f = 0; f < plan.nf(); ++f)
          qp.insert(qp.end(), q.begin() + plan.order()[f] * qd,
                    q.begin() + (plan.order()[f] + 1) * qd);
        DeviceBuffer dq = to_device(qp, t), dk = to_device(kpool, t), dv = to_device(vpool, t),
                     dplan = ints_to_device(packed);
        DeviceBuffer po(4LL * shape.partial_capacity * s.heads * s.head_dim),
            pml(8LL * shape.partial_capacity * s.heads), out = poisoned(plan.nf() * qd * 4);
        const int* P = dplan.as<int>();
        kernels::AttentionArgs a;
        a.q = dq.get();
        a.ldq = qd;
        a.k_pool = dk.get();
        a.v_pool = dv.get();
        a.dtype = t;
        a.nf = plan.nf();
        a.entries = P + lay.entries;
        a.table_offset = P + lay.table_offset;
        a.tables = P + lay.tables;
        a.items = P + lay.items;
        a.num_items = plan.num_items();
        a.partial_base = P + lay.partial_base;
        a.num_partials = plan.num_partials();
        a.partial_o = po.as<float>();
        a.partial_ml = pml.as<float>();
        a.num_heads = s.heads;
        a.num_kv_heads = s.kv_heads;
        a.head_dim = s.head_dim;
        a.block_size = bs;
        a.scale = 1.f / std::sqrt(static_cast<float>(s.head_dim));
        a.out = out.get();
        a.ldo = qd;
        kernels::paged_attention(a, nullptr);
        auto got = to_host(out.get(), static_cast<size_t>(plan.nf()) * qd, t);

        std::vector<float> want(got.size()), scores(4096);
        const int group = s.heads / s.kv_heads;
        for (int f = 0; f < plan.nf(); ++f) {
          const LayerRow& r = rows[plan.order()[f]];
          for (int h = 0; h < s.heads; ++h) {
            std::vector<const float*> kr, vr;
            for (int e = 0; e <= r.entry; ++e) {
              const size_t row = static_cast<size_t>(r.block_table[e / bs]) * bs + e % bs;
              kr.push_back(kpool.data() + row * kvd + (h / group) * s.head_dim);
              vr.push_back(vpool.data() + row * kvd + (h / group) * s.head_dim);
            }
            cpu::attend(qp.data() + f * qd + h * s.head_dim, kr.data(), vr.data(), r.entry + 1,
                        s.head_dim, a.scale, scores.data(), want.data() + f * qd + h * s.head_dim);
          }
        }
        CHECK(rel_error(got, want) < (t == DType::kF32 ? 1e-5 : tolerance(t) + 5e-3));
      }
}
