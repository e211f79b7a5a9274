// The CUDA backend. Every call enqueues its work on the engine's one
// stream; the only host synchronisations are the small reads a caller
// waits for (routing targets, sampled tokens, and the debug/test reads).
// Per-call index arrays go through a ring of pinned staging buffers in one
// upload; nothing is allocated after construction.
#include "kernels/cuda_backend.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/kv_sizing.h"
#include "engine/token_sampling.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_weights.h"
#include "kernels/device_buffer.h"
#include "kernels/embed.cuh"
#include "kernels/gather_scatter.cuh"
#include "kernels/gemm.h"
#include "kernels/gemv.cuh"
#include "kernels/paged_attention.cuh"
#include "kernels/plan/layer_plan.h"
#include "kernels/plan/memory_plan.h"
#include "kernels/rmsnorm.cuh"
#include "kernels/rope_kv.cuh"
#include "kernels/router.cuh"
#include "kernels/sampling.cuh"
#include "kernels/swiglu.cuh"

namespace radial {
namespace {

using namespace kernels;

constexpr int kStagingDepth = 4;
constexpr size_t kCublasWorkspace = 32u << 20;

std::byte* at(const DeviceBuffer& b, int64_t bytes) { return b.as<std::byte>() + bytes; }

// CudaOptions::gemv_max_rows, or RADIAL_CUDA_GEMV_ROWS when set.
int gemv_rows_setting(int configured) {
  const char* env = std::getenv("RADIAL_CUDA_GEMV_ROWS");
  if (env == nullptr || *env == '\0') return configured;
  char* end = nullptr;
  const long v = std::strtol(env, &end, 10);
  require(*end == '\0' && v >= 0 && v <= kGemvMaxRows, ErrorCode::kInvalidArgument,
          std::string("RADIAL_CUDA_GEMV_ROWS must be an integer in [0, ") +
              std::to_string(kGemvMaxRows) + "], got '" + env + "'");
  return static_cast<int>(v);
}

int32_t float_bits(float f) {
  int32_t i;
  std::memcpy(&i, &f, sizeof i);
  return i;
}

class CudaBackend final : public Backend {
 public:
  CudaBackend(const ModelWeights& w, const RouterWeights* router, BackendOptions& opts,
              const CudaOptions& co);
  ~CudaBackend() override {
    if (cublas_) cublasDestroy(cublas_);
    if (stream_) cudaStreamDestroy(stream_);
  }

  std::string name() const override { return std::string("cuda-") + dtype_name(dtype_); }
  const ModelConfig& model_config() const override { return c_; }
  const RouterWeights* router() const override { return router_; }

  void embed(std::span<const int> tokens, std::span<const int> slots) override;
  void forward_layer(int layer, std::span<const LayerRow> rows) override;
  void router_logits(std::span<const int> slots, float* out) override;
  void route(std::span<const int> slots, std::span<const RouteQuery> queries,
             int* targets) override;
  void head_logits(std::span<const int> slots, float* out) override;
  void head_sample(std::span<const int> slots, std::span<const TokenSampling> params,
                   int* tokens) override;
  void read_hidden(int slot, float* out) override;
  void read_kv(int block, int offset, float* k, float* v) override;

 private:
  void check_rows(size_t n, const char* what) const {
    require(n <= static_cast<size_t>(rows_), ErrorCode::kInternal,
            std::string(what) + ": " + std::to_string(n) + " rows exceed the backend's " +
                std::to_string(rows_) + " rows per call");
  }
  void check_slots(std::span<const int> slots) const {
    for (int s : slots)
      require(s >= 0 && s < opts_.max_slots, ErrorCode::kInternal, "slot out of range");
  }
  // Router MLP of the rows whose slots are at device `slots`: gates_ [n, L + 1].
  void router_forward(const int* slots, int n);
  // Final norm + LM head of up to head_rows_ rows: logits_ [n, vocab].
  void head_forward(const int* slots, int n);
  void sync() { CUDA_CHECK(cudaStreamSynchronize(stream_)); }
  // y = beta y + x . W^T (kernels/gemm.h's contract): the GEMV kernel for
  // up to gemv_rows_ rows, cuBLAS otherwise.
  void project(const void* x, int ldx, const void* w, DType in, void* y, int ldy, DType out,
               int rows, int n, int k, float beta) {
    if (rows <= gemv_rows_ && gemv_supported(x, ldx, w, in, rows, k))
      gemv_xwt(x, ldx, w, in, y, ldy, out, rows, n, k, beta, stream_);
    else
      gemm_xwt(cublas_, x, ldx, w, in, y, ldy, out, rows, n, k, beta);
  }

  const ModelConfig& c_;
  const RouterWeights* router_;
  BackendOptions opts_;
  DType dtype_;
  size_t es_;  // element size of dtype_
  int rows_, head_rows_, gemv_rows_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  DeviceWeights w_;
  gpu::AttentionShape shape_;
  gpu::LayerPlan plan_;
  DeviceBuffer cublas_ws_, hidden_, resid_, normed_, normed32_, qkv_, att_, gate_up_, act_;
  DeviceBuffer partial_o_, partial_ml_, logits_, sample_ws_, router_hid_, gates_, ints_, out_ints_;
  DeviceBuffer k_pool_, v_pool_;
  std::unique_ptr<StagingRing> staging_;
  PinnedBuffer host_ints_, host_gates_, host_logits_;
};

CudaBackend::CudaBackend(const ModelWeights& w, const RouterWeights* router, BackendOptions& opts,
                         const CudaOptions& co)
    : c_(w.config), router_(router), dtype_(co.dtype), es_(dtype_size(co.dtype)) {
  require(opts.max_slots > 0, ErrorCode::kInvalidArgument, "max_slots must be positive");
  CUDA_CHECK(cudaSetDevice(co.device));
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  CUBLAS_CHECK(cublasCreate(&cublas_));
  CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
  // fp32 stays fp32 (no TF32), so fp32 runs can match the CPU reference.
  CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
  cublas_ws_ = DeviceBuffer(kCublasWorkspace);
  CUBLAS_CHECK(cublasSetWorkspace(cublas_, cublas_ws_.get(), kCublasWorkspace));

  w_ = upload_weights(w, router, dtype_, stream_);

  rows_ = opts.batch_rows();
  head_rows_ = std::max(1, std::min(co.head_rows, rows_));
  gemv_rows_ = gemv_rows_setting(co.gemv_max_rows);
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, co.device));
  shape_.num_heads = c_.num_heads;
  shape_.num_kv_heads = c_.num_kv_heads;
  shape_.block_size = opts.kv_block_size;
  shape_.target_items = 2 * prop.multiProcessorCount;
  shape_.partial_capacity = std::max(2 * rows_, shape_.target_items);

  gpu::WorkspaceShape ws;
  ws.max_slots = opts.max_slots;
  ws.rows = rows_;
  ws.head_rows = head_rows_;
  ws.partial_rows = shape_.partial_capacity;
  ws.router_hidden = router ? router->config.router_hidden : 0;
  // Table ints are bounded by the pool; before the pool is sized, by the
  // largest pool the budget could give (checked again below).
  const int64_t block_bytes = kv_block_bytes(c_, dtype_, opts.kv_block_size);
  int64_t kv_blocks = opts.kv_blocks;
  if (kv_blocks == 0) {
    size_t free_b = 0, total_b = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    kv_blocks = static_cast<int64_t>(free_b) / block_bytes + 1;
  }
  ws.plan_ints = gpu::LayerPlan::max_packed_ints(
      rows_, static_cast<int>(std::min<int64_t>(kv_blocks, INT_MAX)), c_.max_position_embeddings,
      shape_);
  const gpu::WorkspaceSizes sz = gpu::workspace_sizes(c_, dtype_, ws);
  hidden_ = DeviceBuffer(sz.hidden);
  CUDA_CHECK(cudaMemsetAsync(hidden_.get(), 0, sz.hidden, stream_));
  resid_ = DeviceBuffer(sz.resid);
  normed_ = DeviceBuffer(sz.normed);
  normed32_ = DeviceBuffer(sz.normed32);
  qkv_ = DeviceBuffer(sz.qkv);
  att_ = DeviceBuffer(sz.att);
  gate_up_ = DeviceBuffer(sz.gate_up);
  act_ = DeviceBuffer(sz.act);
  partial_o_ = DeviceBuffer(4LL * shape_.partial_capacity * c_.num_heads * c_.head_dim);
  partial_ml_ = DeviceBuffer(4LL * shape_.partial_capacity * c_.num_heads * 2);
  logits_ = DeviceBuffer(sz.logits);
  sample_ws_ = DeviceBuffer(sample_workspace_bytes(head_rows_));
  if (router) {
    router_hid_ = DeviceBuffer(4LL * rows_ * router->config.router_hidden);
    gates_ = DeviceBuffer(4LL * rows_ * (c_.num_layers + 1));
    host_gates_ = PinnedBuffer(4LL * rows_ * (c_.num_layers + 1));
  }
  const int64_t staging_ints = ws.plan_ints + 9LL * rows_;
  ints_ = DeviceBuffer(4 * staging_ints);
  out_ints_ = DeviceBuffer(4LL * rows_);
  host_ints_ = PinnedBuffer(4LL * rows_);
  host_logits_ = PinnedBuffer(4LL * head_rows_ * c_.vocab_size);
  staging_ = std::make_unique<StagingRing>(staging_ints, kStagingDepth, stream_);
  sync();

  // The KV pool: the given block count, or what the budget leaves.
  if (opts.kv_blocks == 0) {
    size_t free_b = 0, total_b = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    opts.kv_blocks =
        kv_blocks_for_budget(static_cast<int64_t>(total_b), static_cast<int64_t>(free_b),
                             co.gpu_memory_fraction, block_bytes);
    opts.kv_blocks = static_cast<int>(std::min<int64_t>(opts.kv_blocks, kv_blocks));
  }
  const int64_t pool_bytes = static_cast<int64_t>(opts.kv_blocks) * block_bytes / 2;
  k_pool_ = DeviceBuffer(pool_bytes);
  v_pool_ = DeviceBuffer(pool_bytes);
  opts_ = opts;
}

void CudaBackend::embed(std::span<const int> tokens, std::span<const int> slots) {
  const int n = static_cast<int>(tokens.size());
  check_rows(n, "embed");
  check_slots(slots);
  for (int t : tokens)
    require(t >= 0 && t < c_.vocab_size, ErrorCode::kInvalidArgument,
            "token id " + std::to_string(t) + " is outside the vocabulary");
  int* st = staging_->acquire();
  std::copy(tokens.begin(), tokens.end(), st);
  std::copy(slots.begin(), slots.end(), st + n);
  staging_->upload(ints_.as<int>(), 2LL * n);
  embed_rows(w_.embed.get(), dtype_, ints_.as<int>(), ints_.as<int>() + n, n, c_.hidden_size,
             hidden_.as<float>(), stream_);
}

void CudaBackend::forward_layer(int layer, std::span<const LayerRow> rows) {
  require(layer >= 0 && layer < c_.num_layers, ErrorCode::kInternal, "layer out of range");
  const int n = static_cast<int>(rows.size());
  if (n == 0) return;
  check_rows(n, "forward_layer");
  for (const LayerRow& r : rows)
    require(r.slot >= 0 && r.slot < opts_.max_slots, ErrorCode::kInternal, "slot out of range");
  plan_.build(rows, shape_);
  const gpu::PackedLayout lay = plan_.layout();
  require(lay.total <= staging_->capacity(), ErrorCode::kInternal, "layer plan over capacity");
  int* st = staging_->acquire();
  plan_.pack(st);
  staging_->upload(ints_.as<int>(), lay.total);
  const int* P = ints_.as<int>();

  const DeviceLayer& lw = w_.layers[layer];
  const int d = c_.hidden_size, qd = c_.q_dim(), kvd = c_.kv_dim(), ff = c_.intermediate_size;
  const int W = qd + 2 * kvd, nf = plan_.nf();
  const float eps = c_.rms_norm_eps;
  // Normalised rows (all n) and the residual rows (the first nf matter).
  rmsnorm_rows(hidden_.as<float>(), P + lay.slot, n, d, lw.attn_norm.as<float>(), eps,
               normed_.get(), dtype_, resid_.as<float>(), stream_);
  // Q/K/V of the full rows; K/V of the kv_only rows into the same columns.
  project(normed_.get(), d, lw.wqkv.get(), dtype_, qkv_.get(), W, dtype_, nf, W, d, 0.f);
  project(at(normed_, nf * d * es_), d, at(lw.wqkv, int64_t{qd} * d * es_), dtype_,
          at(qkv_, (int64_t{nf} * W + qd) * es_), W, dtype_, n - nf, 2 * kvd, d, 0.f);
  RopeKvArgs rk;
  rk.qkv = qkv_.get();
  rk.ld = W;
  rk.dtype = dtype_;
  rk.n = n;
  rk.nf = nf;
  rk.position = P + lay.position;
  rk.kv_index = P + lay.kv_index;
  rk.bias = lw.bqkv.bytes() ? lw.bqkv.as<float>() : nullptr;
  if (lw.qk_norm.bytes()) {
    rk.q_norm = lw.qk_norm.as<float>();
    rk.k_norm = rk.q_norm + c_.head_dim;
    rk.norm_eps = eps;
  }
  rk.inv_freq = w_.inv_freq.as<double>();
  rk.layout = c_.rope_layout;
  rk.num_heads = c_.num_heads;
  rk.num_kv_heads = c_.num_kv_heads;
  rk.head_dim = c_.head_dim;
  rk.k_pool = k_pool_.get();
  rk.v_pool = v_pool_.get();
  rope_write_kv(rk, stream_);
  if (nf == 0) return;

  AttentionArgs aa;
  aa.q = qkv_.get();
  aa.ldq = W;
  aa.k_pool = k_pool_.get();
  aa.v_pool = v_pool_.get();
  aa.dtype = dtype_;
  aa.nf = nf;
  aa.entries = P + lay.entries;
  aa.table_offset = P + lay.table_offset;
  aa.tables = P + lay.tables;
  aa.items = P + lay.items;
  aa.num_items = plan_.num_items();
  aa.partial_base = P + lay.partial_base;
  aa.num_partials = plan_.num_partials();
  aa.partial_o = partial_o_.as<float>();
  aa.partial_ml = partial_ml_.as<float>();
  aa.num_heads = c_.num_heads;
  aa.num_kv_heads = c_.num_kv_heads;
  aa.head_dim = c_.head_dim;
  aa.block_size = opts_.kv_block_size;
  aa.scale = 1.f / std::sqrt(static_cast<float>(c_.head_dim));
  aa.out = att_.get();
  aa.ldo = qd;
  paged_attention(aa, stream_);

  // h += att . Wo^T, then h += down(act(gate) * up) of rmsnorm(h): the
  // residual adds are the GEMMs' beta = 1 on the fp32 rows.
  project(att_.get(), qd, lw.wo.get(), dtype_, resid_.get(), d, DType::kF32, nf, d, qd, 1.f);
  rmsnorm_rows(resid_.as<float>(), nullptr, nf, d, lw.mlp_norm.as<float>(), eps, normed_.get(),
               dtype_, nullptr, stream_);
  project(normed_.get(), d, lw.wgate_up.get(), dtype_, gate_up_.get(), 2 * ff, dtype_, nf, 2 * ff,
          d, 0.f);
  gated_activation(gate_up_.get(), nf, ff, act_.get(), dtype_, c_.hidden_act, stream_);
  project(act_.get(), ff, lw.wdown.get(), dtype_, resid_.get(), d, DType::kF32, nf, d, ff, 1.f);
  scatter_rows(resid_.as<float>(), P + lay.slot, nf, d, hidden_.as<float>(), stream_);
}

void CudaBackend::router_forward(const int* slots, int n) {
  require(w_.has_router, ErrorCode::kInternal, "router call without a router");
  const RouterConfig& rc = router_->config;
  const int d = c_.hidden_size, r = rc.router_hidden, g = rc.num_layers + 1;
  rmsnorm_rows(hidden_.as<float>(), slots, n, d, w_.router.norm.as<float>(), rc.norm_eps,
               normed32_.get(), DType::kF32, nullptr, stream_);
  project(normed32_.get(), d, w_.router.fc1_w.get(), DType::kF32, router_hid_.get(), r, DType::kF32,
          n, r, d, 0.f);
  bias_activation(router_hid_.as<float>(), w_.router.fc1_b.as<float>(), n, r, true, rc.activation,
                  stream_);
  project(router_hid_.get(), r, w_.router.fc2_w.get(), DType::kF32, gates_.get(), g, DType::kF32, n,
          g, r, 0.f);
  bias_activation(gates_.as<float>(), w_.router.fc2_b.as<float>(), n, g, false, rc.activation,
                  stream_);
}

void CudaBackend::router_logits(std::span<const int> slots, float* out) {
  const int n = static_cast<int>(slots.size());
  if (n == 0) return;
  check_rows(n, "router_logits");
  check_slots(slots);
  int* st = staging_->acquire();
  std::copy(slots.begin(), slots.end(), st);
  staging_->upload(ints_.as<int>(), n);
  router_forward(ints_.as<int>(), n);
  const size_t bytes = sizeof(float) * n * (c_.num_layers + 1);
  CUDA_CHECK(cudaMemcpyAsync(host_gates_.as<float>(), gates_.get(), bytes, cudaMemcpyDeviceToHost,
                             stream_));
  sync();
  std::memcpy(out, host_gates_.as<float>(), bytes);
}

void CudaBackend::route(std::span<const int> slots, std::span<const RouteQuery> queries,
                        int* targets) {
  const int n = static_cast<int>(slots.size());
  require(queries.size() == slots.size(), ErrorCode::kInternal, "route: size mismatch");
  if (n == 0) return;
  check_rows(n, "route");
  check_slots(slots);
  int* st = staging_->acquire();
  std::copy(slots.begin(), slots.end(), st);
  for (int i = 0; i < n; ++i) {
    st[n + 2 * i] = queries[i].last;
    st[n + 2 * i + 1] = float_bits(queries[i].threshold);
  }
  staging_->upload(ints_.as<int>(), 3LL * n);
  router_forward(ints_.as<int>(), n);
  route_decide(gates_.as<float>(), n, c_.num_layers, router_->config.mode,
               w_.router.pinned.as<int>(), ints_.as<int>() + n, out_ints_.as<int>(), stream_);
  // The one small read the scheduler needs: the targets.
  CUDA_CHECK(cudaMemcpyAsync(host_ints_.as<int>(), out_ints_.get(), sizeof(int) * n,
                             cudaMemcpyDeviceToHost, stream_));
  sync();
  std::copy(host_ints_.as<int>(), host_ints_.as<int>() + n, targets);
}

void CudaBackend::head_forward(const int* slots, int n) {
  const int d = c_.hidden_size;
  rmsnorm_rows(hidden_.as<float>(), slots, n, d, w_.final_norm.as<float>(), c_.rms_norm_eps,
               normed_.get(), dtype_, nullptr, stream_);
  project(normed_.get(), d, w_.lm_head, dtype_, logits_.get(), c_.vocab_size, DType::kF32, n,
          c_.vocab_size, d, 0.f);
}

void CudaBackend::head_logits(std::span<const int> slots, float* out) {
  check_slots(slots);
  const size_t V = static_cast<size_t>(c_.vocab_size);
  for (size_t b = 0; b < slots.size(); b += head_rows_) {
    const int n = static_cast<int>(std::min<size_t>(head_rows_, slots.size() - b));
    int* st = staging_->acquire();
    std::copy(slots.begin() + b, slots.begin() + b + n, st);
    staging_->upload(ints_.as<int>(), n);
    head_forward(ints_.as<int>(), n);
    CUDA_CHECK(cudaMemcpyAsync(host_logits_.as<float>(), logits_.get(), sizeof(float) * n * V,
                               cudaMemcpyDeviceToHost, stream_));
    sync();
    std::memcpy(out + b * V, host_logits_.as<float>(), sizeof(float) * n * V);
  }
}

void CudaBackend::head_sample(std::span<const int> slots, std::span<const TokenSampling> params,
                              int* tokens) {
  require(params.size() == slots.size(), ErrorCode::kInternal, "head_sample: size mismatch");
  check_rows(slots.size(), "head_sample");
  check_slots(slots);
  for (const TokenSampling& p : params) validate(p);
  const int total = static_cast<int>(slots.size());
  if (total == 0) return;
  for (int b = 0; b < total; b += head_rows_) {
    const int n = std::min(head_rows_, total - b);
    int* st = staging_->acquire();
    std::copy(slots.begin() + b, slots.begin() + b + n, st);
    for (int i = 0; i < n; ++i) {
      const TokenSampling& p = params[b + i];
      st[n + 4 * i] = float_bits(p.temperature);
      st[n + 4 * i + 1] = p.top_k;
      st[n + 4 * i + 2] = float_bits(p.top_p);
      st[n + 4 * i + 3] = float_bits(p.uniform);
    }
    staging_->upload(ints_.as<int>(), 5LL * n);
    head_forward(ints_.as<int>(), n);
    sample_rows(logits_.as<float>(), n, c_.vocab_size, ints_.as<int>() + n, out_ints_.as<int>() + b,
                sample_ws_.get(), stream_);
  }
  CUDA_CHECK(cudaMemcpyAsync(host_ints_.as<int>(), out_ints_.get(), sizeof(int) * total,
                             cudaMemcpyDeviceToHost, stream_));
  sync();
  std::copy(host_ints_.as<int>(), host_ints_.as<int>() + total, tokens);
}

void CudaBackend::read_hidden(int slot, float* out) {
  require(slot >= 0 && slot < opts_.max_slots, ErrorCode::kInternal, "slot out of range");
  sync();
  CUDA_CHECK(cudaMemcpy(out, hidden_.as<float>() + static_cast<size_t>(slot) * c_.hidden_size,
                        sizeof(float) * c_.hidden_size, cudaMemcpyDeviceToHost));
}

void CudaBackend::read_kv(int block, int offset, float* k, float* v) {
  require(block >= 0 && block < opts_.kv_blocks && offset >= 0 && offset < opts_.kv_block_size,
          ErrorCode::kInternal, "KV entry out of range");
  sync();
  const int kvd = c_.kv_dim();
  const int64_t row = (static_cast<int64_t>(block) * opts_.kv_block_size + offset) * kvd;
  std::vector<std::byte> raw(kvd * es_);
  auto fetch = [&](const DeviceBuffer& pool, float* dst) {
    CUDA_CHECK(cudaMemcpy(raw.data(), at(pool, row * es_), raw.size(), cudaMemcpyDeviceToHost));
    for (int i = 0; i < kvd; ++i) {
      uint16_t h;
      switch (dtype_) {
        case DType::kF32:
          std::memcpy(&dst[i], raw.data() + 4 * i, 4);
          break;
        case DType::kF16:
          std::memcpy(&h, raw.data() + 2 * i, 2), dst[i] = f16_to_f32(h);
          break;
        case DType::kBF16:
          std::memcpy(&h, raw.data() + 2 * i, 2), dst[i] = bf16_to_f32(h);
          break;
        case DType::kQ8_0:  // never a KV dtype (check_backend_choice)
        case DType::kQ4_K:
        case DType::kQ5_K:
        case DType::kQ6_K:
          throw Error(ErrorCode::kInternal, "a quantized KV cache");
      }
    }
  };
  fetch(k_pool_, k);
  fetch(v_pool_, v);
}

}  // namespace

bool cuda_available(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    if (why) *why = std::string("no usable CUDA driver/device: ") + cudaGetErrorString(e);
    cudaGetLastError();  // clear the sticky-free error
    return false;
  }
  if (n == 0) {
    if (why) *why = "no CUDA device is visible";
    return false;
  }
  return true;
}

CudaDeviceInfo cuda_device_info(int device) {
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  CUDA_CHECK(cudaSetDevice(device));
  size_t free_b = 0, total_b = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  return CudaDeviceInfo{prop.name, prop.multiProcessorCount, static_cast<int64_t>(total_b),
                        static_cast<int64_t>(free_b)};
}

std::unique_ptr<Backend> make_cuda_backend(const ModelWeights& weights, const RouterWeights* router,
                                           BackendOptions& opts, const CudaOptions& cuda) {
  std::string why;
  const bool available = cuda_available(&why);  // before `why` is read below
  require(available, ErrorCode::kUnavailable, "the CUDA backend needs a GPU: " + why);
  return std::make_unique<CudaBackend>(weights, router, opts, cuda);
}

}  // namespace radial
