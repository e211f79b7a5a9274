// Benchmark of the CPU GEMM y[n, m] = x[n, k] * w[m, k]^T (engine/cpu/gemm.h).
//
// For each (k, m) weight shape and n in {1, 4, 16, 64, 256} it prints the
// median time of repeated calls after a warm-up, as GFLOP/s (2 n m k / t) and
// weight GB/s (4 m k bytes / t), single-threaded and with a ThreadPool of all
// hardware threads. Weights are "cold": each call uses the next of several
// copies of w totalling >= 256 MiB, so w streams from DRAM as it does in a
// real model whose weights exceed the last-level cache. A naive triple loop
// on one shape gives a baseline. Buffers are 64-byte aligned like engine
// tensors.
//
// Usage: bench_gemm [--quick] [--threads N] [--shape K M]
//   RADIAL_GEMM_PATH=scalar|avx2|avx512 forces a dispatch path.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/cpu/gemm.h"
#include "engine/cpu/gemm_kernels.h"
#include "engine/cpu/thread_pool.h"

namespace {

using Clock = std::chrono::steady_clock;
using radial::cpu::ThreadPool;

constexpr size_t kColdBytes = size_t{256} << 20;

// 64-byte aligned float buffer (like engine tensors), random in [-1, 1).
struct Buffer {
  struct Free {
    void operator()(float* p) const { ::operator delete[](p, std::align_val_t{64}); }
  };
  std::unique_ptr<float[], Free> mem;
  float* data() const { return mem.get(); }
};

Buffer random_buf(size_t size, uint32_t seed) {
  Buffer b{std::unique_ptr<float[], Buffer::Free>(static_cast<float*>(
      ::operator new[](std::max<size_t>(size, 1) * sizeof(float), std::align_val_t{64})))};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (size_t i = 0; i < size; ++i) b.data()[i] = dist(rng);
  return b;
}

// Median seconds per call of fn(copy) over repeated runs: one warm-up call,
// then at least min_runs and about budget_s seconds (at most 200 runs).
template <typename Fn>
double median_seconds(Fn&& fn, int copies, double budget_s, int min_runs) {
  int next = 0;
  auto t0 = Clock::now();
  fn(next++ % copies);
  const double first = std::chrono::duration<double>(Clock::now() - t0).count();
  const int runs = std::clamp(static_cast<int>(budget_s / std::max(first, 1e-7)), min_runs, 200);
  std::vector<double> times;
  times.reserve(static_cast<size_t>(runs));
  for (int r = 0; r < runs; ++r) {
    t0 = Clock::now();
    fn(next++ % copies);
    times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::nth_element(times.begin(), times.begin() + runs / 2, times.end());
  return times[static_cast<size_t>(runs / 2)];
}

void naive_xwt(const float* x, const float* w, float* y, int64_t n, int64_t m, int64_t k) {
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < m; ++j) {
      float s = 0.0f;
      for (int64_t p = 0; p < k; ++p) s += x[i * k + p] * w[j * k + p];
      y[i * m + j] = s;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  int64_t only_k = 0, only_m = 0;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--shape") == 0 && i + 2 < argc) {
      only_k = std::atoll(argv[++i]);
      only_m = std::atoll(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--threads N] [--shape K M]\n", argv[0]);
      return 2;
    }
  }
  threads = std::max(threads, 1);
  ThreadPool pool(threads);
  const double budget = quick ? 0.05 : 0.4;

  std::printf("gemm dispatch path: %s\n", radial::cpu::gemm_path_name(radial::cpu::gemm_path()));
  std::printf("threads: 1 and %d; cold weights (%zu MiB of copies); median of runs\n", threads,
              kColdBytes >> 20);
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {  // other load skews the figures
    char line[128] = {};
    if (std::fgets(line, sizeof line, f)) std::printf("loadavg at start: %s", line);
    std::fclose(f);
  }
  {  // In-L1 reference: the micro-kernel's speed on this machine right now.
    const Buffer x = random_buf(4 * 512, 1), w = random_buf(16 * 512, 2), y = random_buf(64, 3);
    const double t = median_seconds(
        [&](int) {
          for (int r = 0; r < 100; ++r)
            radial::cpu::gemm_xwt(x.data(), 512, w.data(), nullptr, y.data(), 16, 4, 16, 512,
                                  nullptr);
        },
        1, budget, 5);
    std::printf("in-L1 kernel speed (n=4 m=16 k=512, 1 thread): %.1f GFLOP/s\n",
                100 * 2.0 * 4 * 16 * 512 / t * 1e-9);
  }
  std::printf("\n");
  std::printf("%6s %6s %5s | %9s %8s %9s | %9s %8s %9s\n", "k", "m", "n", "1T ms", "GFLOP/s",
              "w GB/s", "NT ms", "GFLOP/s", "w GB/s");

  // (k, m): weight [m, k] = projection from k to m features.
  std::vector<std::array<int64_t, 2>> shapes = {
      {64, 64},     {64, 172},    {172, 64},    {768, 768},   {768, 3072},  {3072, 768},
      {2048, 2048}, {2048, 3072}, {3072, 2048}, {768, 32000}, {2048, 32000}};
  if (only_k > 0 && only_m > 0) shapes = {{only_k, only_m}};
  const int64_t ns[] = {1, 4, 16, 64, 256};
  uint32_t seed = 1;
  for (const auto& s : shapes) {
    const int64_t k = s[0], m = s[1];
    const size_t wsize = static_cast<size_t>(m * k);
    const int copies =
        static_cast<int>(std::clamp<size_t>(kColdBytes / (wsize * sizeof(float)) + 1, 2, 1024));
    const Buffer w = random_buf(wsize * static_cast<size_t>(copies), ++seed);
    for (int64_t n : ns) {
      if (quick && n * m * k > (int64_t{1} << 31)) continue;
      const Buffer x = random_buf(static_cast<size_t>(n * k), ++seed);
      const Buffer bias = random_buf(static_cast<size_t>(m), ++seed);
      const Buffer y = random_buf(static_cast<size_t>(n * m), 0);
      double t[2];
      for (int mode = 0; mode < 2; ++mode) {
        ThreadPool* p = mode == 0 ? nullptr : &pool;
        t[mode] = median_seconds(
            [&](int c) {
              radial::cpu::gemm_xwt(x.data(), k, w.data() + wsize * static_cast<size_t>(c),
                                    bias.data(), y.data(), m, n, m, k, p);
            },
            copies, budget, 5);
      }
      const double flops = 2.0 * static_cast<double>(n * m * k);
      const double bytes = 4.0 * static_cast<double>(m * k);
      std::printf("%6ld %6ld %5ld | %9.3f %8.1f %9.1f | %9.3f %8.1f %9.1f\n", static_cast<long>(k),
                  static_cast<long>(m), static_cast<long>(n), t[0] * 1e3, flops / t[0] * 1e-9,
                  bytes / t[0] * 1e-9, t[1] * 1e3, flops / t[1] * 1e-9, bytes / t[1] * 1e-9);
      std::fflush(stdout);
    }
  }

  // Naive baseline: plain triple loop (scalar; no reassociation allowed).
  {
    const int64_t n = 64, m = 768, k = 768;
    const Buffer x = random_buf(static_cast<size_t>(n * k), 1000);
    const Buffer w = random_buf(static_cast<size_t>(m * k), 1001);
    const Buffer y = random_buf(static_cast<size_t>(n * m), 0);
    const double tn = median_seconds([&](int) { naive_xwt(x.data(), w.data(), y.data(), n, m, k); },
                                     1, budget, 3);
    const double tg = median_seconds(
        [&](int) {
          radial::cpu::gemm_xwt(x.data(), k, w.data(), nullptr, y.data(), m, n, m, k, nullptr);
        },
        1, budget, 3);
    const double flops = 2.0 * static_cast<double>(n * m * k);
    std::printf("\nnaive triple loop k=%ld m=%ld n=%ld, 1 thread, warm: %.3f ms  %.1f GFLOP/s\n",
                static_cast<long>(k), static_cast<long>(m), static_cast<long>(n), tn * 1e3,
                flops / tn * 1e-9);
    std::printf("gemm_xwt          same shape,  1 thread, warm: %.3f ms  %.1f GFLOP/s  (%.1fx)\n",
                tg * 1e3, flops / tg * 1e-9, tn / tg);
  }
  return 0;
}
