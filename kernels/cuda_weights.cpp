#include "kernels/cuda_weights.h"

#include <algorithm>
#include <cstring>

#include "engine/error.h"
#include "engine/rope.h"
#include "kernels/convert.cuh"
#include "kernels/cuda_check.h"

namespace radial::kernels {
namespace {

class Uploader {
 public:
  explicit Uploader(cudaStream_t stream) : stream_(stream), staging_(kStagingBytes) {}

  // Copies the tensors' elements one after another into `dst` as `dtype`.
  void put(const std::vector<const Tensor*>& parts, void* dst, DType dtype) {
    size_t at = 0;  // elements written
    for (const Tensor* t : parts) {
      const size_t es = dtype_size(t->dtype);
      const size_t n = static_cast<size_t>(t->numel());
      const size_t chunk = kStagingBytes / es;
      for (size_t done = 0; done < n; done += chunk) {
        const size_t m = std::min(chunk, n - done);
        CUDA_CHECK(cudaMemcpyAsync(staging_.get(), t->data() + done * es, m * es,
                                   cudaMemcpyHostToDevice, stream_));
        convert(staging_.get(), t->dtype,
                static_cast<std::byte*>(dst) + (at + done) * dtype_size(dtype), dtype,
                static_cast<int64_t>(m), stream_);
        CUDA_CHECK(cudaStreamSynchronize(stream_));  // the staging buffer is reused
      }
      at += n;
    }
  }

  DeviceBuffer make(const std::vector<const Tensor*>& parts, DType dtype) {
    int64_t n = 0;
    for (const Tensor* t : parts) n += t->numel();
    DeviceBuffer b(static_cast<size_t>(n) * dtype_size(dtype));
    put(parts, b.get(), dtype);
    return b;
  }

 private:
  static constexpr size_t kStagingBytes = 64u << 20;
  cudaStream_t stream_;
  DeviceBuffer staging_;
};

}  // namespace

DeviceWeights upload_weights(const ModelWeights& w, const RouterWeights* router, DType dtype,
                             cudaStream_t stream) {
  const ModelConfig& c = w.config;
  Uploader up(stream);
  DeviceWeights d;
  d.dtype = dtype;
  d.embed = up.make({&w.embed}, dtype);
  const bool tied = w.lm_head.storage == w.embed.storage;
  if (tied) {
    d.lm_head = d.embed.get();
  } else {
    d.lm_head_own = up.make({&w.lm_head}, dtype);
    d.lm_head = d.lm_head_own.get();
  }
  for (const LayerWeights& lw : w.layers) {
    DeviceLayer dl;
    dl.wqkv = up.make({&lw.wq, &lw.wk, &lw.wv}, dtype);
    dl.wo = up.make({&lw.wo}, dtype);
    dl.wgate_up = up.make({&lw.w_gate, &lw.w_up}, dtype);
    dl.wdown = up.make({&lw.w_down}, dtype);
    dl.attn_norm = up.make({&lw.attn_norm}, DType::kF32);
    dl.mlp_norm = up.make({&lw.mlp_norm}, DType::kF32);
    if (c.attention_bias) dl.bqkv = up.make({&lw.bq, &lw.bk, &lw.bv}, DType::kF32);
    if (c.qk_norm) dl.qk_norm = up.make({&lw.q_norm, &lw.k_norm}, DType::kF32);
    d.layers.push_back(std::move(dl));
  }
  d.final_norm = up.make({&w.final_norm}, DType::kF32);
  const std::vector<double> f = rope_inv_freq(c);
  d.inv_freq = DeviceBuffer(f.size() * sizeof(double));
  CUDA_CHECK(
      cudaMemcpy(d.inv_freq.get(), f.data(), f.size() * sizeof(double), cudaMemcpyHostToDevice));
  if (router) {
    d.has_router = true;
    DeviceRouter& r = d.router;
    r.norm = up.make({&router->norm}, DType::kF32);
    r.fc1_w = up.make({&router->fc1_w}, DType::kF32);
    r.fc1_b = up.make({&router->fc1_b}, DType::kF32);
    r.fc2_w = up.make({&router->fc2_w}, DType::kF32);
    r.fc2_b = up.make({&router->fc2_b}, DType::kF32);
    std::vector<int> pinned(c.num_layers);
    for (int j = 0; j < c.num_layers; ++j) pinned[j] = router->config.is_pinned(j) ? 1 : 0;
    r.pinned = DeviceBuffer(pinned.size() * sizeof(int));
    CUDA_CHECK(cudaMemcpy(r.pinned.get(), pinned.data(), pinned.size() * sizeof(int),
                          cudaMemcpyHostToDevice));
  }
  return d;
}

}  // namespace radial::kernels
