// The CPU reference backend: fp32 activations, weight matrices in F32, BF16,
// F16 or Q8_0 (each exact in f32), projections through the batch-invariant
// gemm_xwt, attention and norms row by row.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <sys/mman.h>

#include "engine/backend.h"
#include "engine/cpu/gemm.h"
#include "engine/cpu/gemm_kernels.h"
#include "engine/cpu/ops.h"
#include "engine/cpu/thread_pool.h"
#include "engine/error.h"
#include "engine/kv_sizing.h"

namespace radial {
namespace {

using cpu::gemm_xwt;

const float* opt_f32(const Tensor& t) { return t.empty() ? nullptr : t.f32(); }

// Euclidean norm of x[0..n), summed in double.
float l2norm(const float* x, int n) {
  double s = 0;
  for (int i = 0; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
  return static_cast<float>(std::sqrt(s));
}

// Unmaps an anonymous mapping of `bytes` (CpuBackend's KV pool).
struct Unmapper {
  size_t bytes = 0;
  void operator()(float* p) const { ::munmap(p, bytes); }
};

class CpuBackend final : public Backend {
 public:
  CpuBackend(const ModelWeights& w, const RouterWeights* router, const BackendOptions& opts)
      : w_(w), c_(w.config), router_(router), opts_(opts), pool_(opts.threads), rope_(w.config) {
    // Every DType is a weight format gemm_xwt computes with (engine/cpu/gemm.h).
    require(opts.max_slots > 0, ErrorCode::kInvalidArgument, "max_slots must be positive");
    hidden_.assign(static_cast<size_t>(opts.max_slots) * c_.hidden_size, 0.f);
    const size_t kv_floats = static_cast<size_t>(opts.kv_blocks) * opts.kv_block_size * c_.kv_dim();
    allocate_host_kv_pool(opts.kv_blocks, kv_block_bytes(c_, DType::kF32, opts.kv_block_size), 0,
                          [&] {
                            k_pool_ = zeroed_floats(kv_floats);
                            v_pool_ = zeroed_floats(kv_floats);
                          });
  }

  std::string name() const override { return "cpu"; }
  const ModelConfig& model_config() const override { return c_; }
  const RouterWeights* router() const override { return router_; }

  void embed(std::span<const int> tokens, std::span<const int> slots) override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      require(tokens[i] >= 0 && tokens[i] < c_.vocab_size, ErrorCode::kInvalidArgument,
              "token id " + std::to_string(tokens[i]) + " is outside the vocabulary");
      cpu::widen_rows_on(cpu::gemm_path(), w_.embed, tokens[i], 1, h(slots[i]));
    }
  }

  void forward_layer(int layer, std::span<const LayerRow> rows) override;
  void router_logits(std::span<const int> slots, float* out) override;
  void head_logits(std::span<const int> slots, float* out) override;

  void read_hidden(int slot, float* out) override {
    std::memcpy(out, h(slot), c_.hidden_size * sizeof(float));
  }
  void read_kv(int block, int offset, float* k, float* v) override {
    std::memcpy(k, kv_row(k_pool_, block, offset), c_.kv_dim() * sizeof(float));
    std::memcpy(v, kv_row(v_pool_, block, offset), c_.kv_dim() * sizeof(float));
  }
  void set_block_probe(BlockProbe* probe) override { probe_ = probe; }

 private:
  float* h(int slot) {
    require(slot >= 0 && slot < opts_.max_slots, ErrorCode::kInternal, "slot out of range");
    return hidden_.data() + static_cast<size_t>(slot) * c_.hidden_size;
  }
  // A zeroed float buffer of fresh anonymous pages, which the kernel zeroes
  // when first touched, so an unused KV pool costs no start-up time and no
  // resident memory (a std::vector would write every byte). Transparent huge
  // pages are asked for (honoured where the kernel's setting is `madvise` or
  // `always`): a first touch then maps 2 MiB at once instead of 4 KiB, and
  // attention's reads scattered over the pool miss the TLB less. Measured on
  // a 2-core VM: 10 us per 4 KiB first touch, which a KV pool the prefix
  // cache spreads over paid again and again.
  using HostFloats = std::unique_ptr<float[], Unmapper>;
  static HostFloats zeroed_floats(size_t n) {
    const size_t bytes = std::max<size_t>(n, 1) * sizeof(float);
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    ::madvise(p, bytes, MADV_HUGEPAGE);  // a hint: without THP, 4 KiB pages as before
#endif
    return HostFloats(static_cast<float*>(p), Unmapper{bytes});
  }
  float* kv_row(const HostFloats& pool, int block, int offset) {
    return pool.get() + (static_cast<size_t>(block) * opts_.kv_block_size + offset) * c_.kv_dim();
  }
  // Resizes a scratch buffer (grows only; no per-step allocation once warm).
  static float* scratch(std::vector<float>& buf, size_t n) {
    if (buf.size() < n) buf.resize(n);
    return buf.data();
  }
  void attention(int layer, std::span<const LayerRow> rows, const std::vector<int>& full,
                 const float* q, float* att);
  // Qwen3's qk_norm: RMSNorm (weights w [head_dim]) of each of the `heads`
  // heads of each of the n rows of x ([n, heads * head_dim]), in place.
  void norm_heads(float* x, int n, int heads, const float* w) const {
    const int hd = c_.head_dim;
    for (int64_t r = 0; r < static_cast<int64_t>(n) * heads; ++r)
      cpu::rmsnorm(x + r * hd, w, x + r * hd, hd, c_.rms_norm_eps);
  }

  const ModelWeights& w_;
  const ModelConfig& c_;
  const RouterWeights* router_;
  BlockProbe* probe_ = nullptr;  // optional; see Backend::set_block_probe
  BackendOptions opts_;
  cpu::ThreadPool pool_;
  cpu::Rope rope_;
  std::vector<float> hidden_;
  HostFloats k_pool_, v_pool_;
  // Scratch, reused across calls.
  std::vector<float> x_, xn_, k_, v_, q_, att_, o_, gate_, up_, act_, cos_, sin_;
  std::vector<int> full_;
  std::vector<const float*> kptr_, vptr_;
  std::vector<BlockNorms> probe_norms_;
};

void CpuBackend::forward_layer(int layer, std::span<const LayerRow> rows) {
  require(layer >= 0 && layer < c_.num_layers, ErrorCode::kInternal, "layer out of range");
  const LayerWeights& lw = w_.layers[layer];
  const int n = static_cast<int>(rows.size());
  const int d = c_.hidden_size, kvd = c_.kv_dim(), qd = c_.q_dim(), ff = c_.intermediate_size;
  const int half = c_.head_dim / 2;
  if (n == 0) return;

  // Normalised inputs of every row; K/V and RoPE for every row.
  float* xn = scratch(xn_, static_cast<size_t>(n) * d);
  for (int i = 0; i < n; ++i)
    cpu::rmsnorm(h(rows[i].slot), lw.attn_norm.f32(), xn + static_cast<size_t>(i) * d, d,
                 c_.rms_norm_eps);
  float* k = scratch(k_, static_cast<size_t>(n) * kvd);
  float* v = scratch(v_, static_cast<size_t>(n) * kvd);
  gemm_xwt(xn, d, lw.wk, opt_f32(lw.bk), k, kvd, n, &pool_);
  gemm_xwt(xn, d, lw.wv, opt_f32(lw.bv), v, kvd, n, &pool_);
  if (c_.qk_norm) norm_heads(k, n, c_.num_kv_heads, lw.k_norm.f32());
  float* cs = scratch(cos_, static_cast<size_t>(n) * half);
  float* sn = scratch(sin_, static_cast<size_t>(n) * half);
  for (int i = 0; i < n; ++i) {
    rope_.angles(rows[i].position, cs + static_cast<size_t>(i) * half,
                 sn + static_cast<size_t>(i) * half);
    rope_.apply(k + static_cast<size_t>(i) * kvd, c_.num_kv_heads,
                cs + static_cast<size_t>(i) * half, sn + static_cast<size_t>(i) * half);
    const int blk = rows[i].block_table[rows[i].entry / opts_.kv_block_size];
    const int off = rows[i].entry % opts_.kv_block_size;
    std::memcpy(kv_row(k_pool_, blk, off), k + static_cast<size_t>(i) * kvd, kvd * 4);
    std::memcpy(kv_row(v_pool_, blk, off), v + static_cast<size_t>(i) * kvd, kvd * 4);
  }

  // The rows that execute the layer fully (kv_only rows stop here).
  full_.clear();
  for (int i = 0; i < n; ++i)
    if (!rows[i].kv_only) full_.push_back(i);
  const int nf = static_cast<int>(full_.size());
  if (nf == 0) return;
  float* x = scratch(x_, static_cast<size_t>(nf) * d);
  float* xf = scratch(o_, static_cast<size_t>(nf) * d);
  for (int f = 0; f < nf; ++f) {
    std::memcpy(x + static_cast<size_t>(f) * d, h(rows[full_[f]].slot), d * 4);
    std::memcpy(xf + static_cast<size_t>(f) * d, xn + static_cast<size_t>(full_[f]) * d, d * 4);
  }
  float* q = scratch(q_, static_cast<size_t>(nf) * qd);
  gemm_xwt(xf, d, lw.wq, opt_f32(lw.bq), q, qd, nf, &pool_);
  if (c_.qk_norm) norm_heads(q, nf, c_.num_heads, lw.q_norm.f32());
  for (int f = 0; f < nf; ++f) {
    const size_t i = full_[f];
    rope_.apply(q + static_cast<size_t>(f) * qd, c_.num_heads, cs + i * half, sn + i * half);
  }
  float* att = scratch(att_, static_cast<size_t>(nf) * qd);
  attention(layer, rows, full_, q, att);

  // h += att . Wo^T ; h += down(act(gate) * up) of rmsnorm(h).
  float* o = scratch(xn_, static_cast<size_t>(nf) * d);  // xn no longer needed
  gemm_xwt(att, qd, lw.wo, nullptr, o, d, nf, &pool_);
  for (size_t i = 0; i < static_cast<size_t>(nf) * d; ++i) x[i] += o[i];
  if (probe_) {  // ||attn out|| and ||h after attn|| per full row
    probe_norms_.assign(nf, BlockNorms{});
    for (int f = 0; f < nf; ++f) {
      probe_norms_[f].attn_out = l2norm(o + static_cast<size_t>(f) * d, d);
      probe_norms_[f].after_attn = l2norm(x + static_cast<size_t>(f) * d, d);
    }
  }
  for (int f = 0; f < nf; ++f)
    cpu::rmsnorm(x + static_cast<size_t>(f) * d, lw.mlp_norm.f32(), xf + static_cast<size_t>(f) * d,
                 d, c_.rms_norm_eps);
  float* g = scratch(gate_, static_cast<size_t>(nf) * ff);
  float* u = scratch(up_, static_cast<size_t>(nf) * ff);
  gemm_xwt(xf, d, lw.w_gate, nullptr, g, ff, nf, &pool_);
  gemm_xwt(xf, d, lw.w_up, nullptr, u, ff, nf, &pool_);
  float* a = scratch(act_, static_cast<size_t>(nf) * ff);
  cpu::gated_activation(g, u, a, static_cast<int64_t>(nf) * ff, c_.hidden_act);
  gemm_xwt(a, ff, lw.w_down, nullptr, o, d, nf, &pool_);
  for (int f = 0; f < nf; ++f) {
    float* dst = h(rows[full_[f]].slot);
    const float* xr = x + static_cast<size_t>(f) * d;
    const float* orow = o + static_cast<size_t>(f) * d;
    for (int i = 0; i < d; ++i) dst[i] = xr[i] + orow[i];
  }
  if (probe_) {
    for (int f = 0; f < nf; ++f) {
      probe_norms_[f].mlp_out = l2norm(o + static_cast<size_t>(f) * d, d);
      probe_norms_[f].after_mlp = l2norm(h(rows[full_[f]].slot), d);
      probe_->on_block(layer, rows[full_[f]], probe_norms_[f]);
    }
  }
}

void CpuBackend::attention(int layer, std::span<const LayerRow> rows, const std::vector<int>& full,
                           const float* q, float* att) {
  const int nf = static_cast<int>(full.size());
  const int hd = c_.head_dim, nh = c_.num_heads, qd = c_.q_dim();
  const int group = c_.num_heads / c_.num_kv_heads;
  const float scale = 1.f / std::sqrt(static_cast<float>(hd));
  int max_entries = 0;
  for (int f = 0; f < nf; ++f) max_entries = std::max(max_entries, rows[full[f]].entry + 1);
  // Per-row pointer tables to each visible entry's K and V rows.
  const size_t table = static_cast<size_t>(max_entries) * c_.num_kv_heads;
  kptr_.resize(table * nf);
  vptr_.resize(table * nf);
  for (int f = 0; f < nf; ++f) {
    const LayerRow& r = rows[full[f]];
    for (int e = 0; e <= r.entry; ++e) {
      const int blk = r.block_table[e / opts_.kv_block_size], off = e % opts_.kv_block_size;
      for (int kh = 0; kh < c_.num_kv_heads; ++kh) {
        const size_t idx = f * table + static_cast<size_t>(kh) * max_entries + e;
        kptr_[idx] = kv_row(k_pool_, blk, off) + kh * hd;
        vptr_[idx] = kv_row(v_pool_, blk, off) + kh * hd;
      }
    }
  }
  const int64_t work = static_cast<int64_t>(nf) * nh;
  const int64_t grain = std::max<int64_t>(1, (1 << 16) / std::max(1, max_entries * hd));
  pool_.parallel_for(work, grain, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> scores;  // per worker thread; grows only
    if (scores.size() < static_cast<size_t>(max_entries)) scores.resize(max_entries);
    for (int64_t wi = begin; wi < end; ++wi) {
      const int f = static_cast<int>(wi / nh), head = static_cast<int>(wi % nh);
      const int kh = head / group;
      const size_t base = f * table + static_cast<size_t>(kh) * max_entries;
      cpu::attend(q + static_cast<size_t>(f) * qd + head * hd, &kptr_[base], &vptr_[base],
                  rows[full[f]].entry + 1, hd, scale, scores.data(),
                  att + static_cast<size_t>(f) * qd + head * hd);
    }
  });
  (void)layer;
}

void CpuBackend::router_logits(std::span<const int> slots, float* out) {
  require(router_ != nullptr, ErrorCode::kInternal, "router_logits without a router");
  const RouterConfig& rc = router_->config;
  const int n = static_cast<int>(slots.size()), d = c_.hidden_size, r = rc.router_hidden;
  const int g = rc.num_layers + 1;
  float* xn = scratch(xn_, static_cast<size_t>(n) * d);
  for (int i = 0; i < n; ++i)
    cpu::rmsnorm(h(slots[i]), router_->norm.f32(), xn + static_cast<size_t>(i) * d, d, rc.norm_eps);
  float* hid = scratch(act_, static_cast<size_t>(n) * r);
  gemm_xwt(xn, d, router_->fc1_w, router_->fc1_b.f32(), hid, r, n, &pool_);
  cpu::activate(hid, static_cast<int64_t>(n) * r, rc.activation);
  gemm_xwt(hid, r, router_->fc2_w, router_->fc2_b.f32(), out, g, n, &pool_);
}

void CpuBackend::head_logits(std::span<const int> slots, float* out) {
  const int n = static_cast<int>(slots.size()), d = c_.hidden_size;
  float* xn = scratch(xn_, static_cast<size_t>(n) * d);
  for (int i = 0; i < n; ++i)
    cpu::rmsnorm(h(slots[i]), w_.final_norm.f32(), xn + static_cast<size_t>(i) * d, d,
                 c_.rms_norm_eps);
  gemm_xwt(xn, d, w_.lm_head, nullptr, out, c_.vocab_size, n, &pool_);
}

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const ModelWeights& weights, const RouterWeights* router,
                                          const BackendOptions& opts) {
  return std::make_unique<CpuBackend>(weights, router, opts);
}

}  // namespace radial
