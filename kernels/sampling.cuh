// Token sampling on the device, one CTA per row of fp32 logits [n, vocab],
// following engine/token_sampling.h exactly (greedy; temperature, top-k,
// top-p, the draw in id order), with fp32 sums. params: device [n, 4] as
// (temperature, top_k, top_p, uniform), floats and an int as 32-bit words.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

namespace radial::kernels {

// Device bytes `workspace` must hold for calls of up to `rows` rows.
size_t sample_workspace_bytes(int rows);

// Greedy rows take two kernels: a split argmax over many CTAs into
// `workspace`, then the merge; the others one CTA each.
void sample_rows(const float* logits, int n, int vocab, const int* params, int* tokens,
                 void* workspace, cudaStream_t stream);

}  // namespace radial::kernels
