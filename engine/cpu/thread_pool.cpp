// ThreadPool: a fixed set of workers that run one parallel_for at a time.
//
// Protocol (every shared field is guarded by mu_):
//   * parallel_for waits until no other job is active (fn_ == nullptr), then
//     publishes the job (fn_, n_, chunk_ = number of chunks), sets pending_ to
//     the number of workers that own a chunk, bumps generation_ and wakes the
//     workers through cv_start_.
//   * Worker `index` owns chunk index + 1 (the caller runs chunk 0). A worker
//     whose chunk is past the end just goes back to sleep without touching
//     pending_, so the caller never waits for it.
//   * Each chunk-owning worker decrements pending_ when done and notifies
//     cv_done_; the caller waits for pending_ == 0, clears fn_ and notifies
//     cv_done_ again so that a queued caller on another thread can start.
// Waiting (a worker for the next job, the caller for the workers) first spins
// for up to kSpin watching an atomic epoch counter, so that back-to-back jobs
// cost ~1 µs instead of a futex wake-up's ~20 µs, then blocks on the
// condition variable: an idle pool sleeps. An exception thrown by
// fn in any chunk is caught, the remaining chunks still run to completion, and
// the first exception is rethrown in the caller. A parallel_for issued from
// inside a pool task (nested) runs inline on the calling thread.
#include "engine/cpu/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace radial::cpu {

namespace {
// True while this thread is executing a chunk of some pool's parallel_for.
thread_local bool t_in_pool_task = false;

// Chunk c of n items split into `chunks` near-equal contiguous pieces: sizes
// differ by at most one, so every piece has at least floor(n / chunks) items.
inline int64_t chunk_begin(int64_t n, int64_t chunks, int64_t c) {
  return n / chunks * c + std::min(c, n % chunks);
}

constexpr auto kSpin = std::chrono::microseconds(100);

// Bumped (after the change, under the pool's mutex) whenever any pool
// publishes a job or finishes one, so that spinning threads can watch a
// plain atomic instead of hammering the mutex. Shared by all pools: a bump
// from another pool only causes one extra check.
std::atomic<uint64_t> g_epoch{0};

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// Polls `ready` (evaluated with mu held) for up to kSpin, re-checking only
// when g_epoch moves; mu must not be held by the calling thread. Returns
// whether `ready` became true. Either way the caller then re-locks mu and
// waits on its condition variable, which returns at once if it holds.
template <typename Pred>
bool spin_until(std::mutex& mu, Pred ready) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  uint64_t epoch = g_epoch.load(std::memory_order_acquire);
  for (int iter = 1;; ++iter) {
    if (mu.try_lock()) {
      const bool ok = ready();
      mu.unlock();
      if (ok) return true;
      // Not ready as of `epoch`: wait for the next bump.
      while (g_epoch.load(std::memory_order_acquire) == epoch) {
        for (int i = 0; i < 4; ++i) cpu_relax();
        if (++iter % 64 == 0 && std::chrono::steady_clock::now() > deadline) return false;
      }
      epoch = g_epoch.load(std::memory_order_acquire);
    } else {
      cpu_relax();
      if (iter % 64 == 0 && std::chrono::steady_clock::now() > deadline) return false;
    }
  }
}
}  // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  if (threads <= 0) threads = 1;
  workers_.reserve(static_cast<size_t>(threads - 1));
  for (int i = 0; i + 1 < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    g_epoch.fetch_add(1, std::memory_order_release);
  }
  cv_start_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  const auto job_ready = [&] { return stop_ || generation_ != seen; };
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (!job_ready()) {
      lock.unlock();
      spin_until(mu_, job_ready);
      lock.lock();
      cv_start_.wait(lock, job_ready);
    }
    if (stop_) return;
    seen = generation_;
    const int64_t chunk = index + 1;
    if (chunk >= chunk_) continue;  // no work for this worker in this job
    const auto* fn = fn_;
    const int64_t n = n_, chunks = chunk_;
    lock.unlock();
    t_in_pool_task = true;
    (*fn)(chunk_begin(n, chunks, chunk), chunk_begin(n, chunks, chunk + 1));  // never throws
    t_in_pool_task = false;
    lock.lock();
    if (--pending_ == 0) {
      g_epoch.fetch_add(1, std::memory_order_release);
      cv_done_.notify_all();
    }
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t chunks = std::clamp<int64_t>(n / grain, 1, size());
  if (chunks == 1 || t_in_pool_task) {
    fn(0, n);
    return;
  }

  // Every chunk (the caller's included) runs through `guarded`, which records
  // the first exception instead of letting it escape a worker thread.
  std::exception_ptr error;
  std::mutex error_mu;
  const std::function<void(int64_t, int64_t)> guarded = [&](int64_t begin, int64_t end) {
    try {
      fn(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mu);
      if (!error) error = std::current_exception();
    }
  };

  std::unique_lock<std::mutex> lock(mu_);
  cv_done_.wait(lock, [&] { return fn_ == nullptr; });  // one job at a time
  fn_ = &guarded;
  n_ = n;
  chunk_ = chunks;
  pending_ = static_cast<int>(chunks - 1);
  ++generation_;
  g_epoch.fetch_add(1, std::memory_order_release);
  lock.unlock();
  cv_start_.notify_all();

  t_in_pool_task = true;
  guarded(chunk_begin(n, chunks, 0), chunk_begin(n, chunks, 1));
  t_in_pool_task = false;

  const auto all_done = [&] { return pending_ == 0; };
  spin_until(mu_, all_done);
  lock.lock();
  cv_done_.wait(lock, all_done);
  fn_ = nullptr;
  lock.unlock();
  cv_done_.notify_all();  // a caller queued on another thread may start now

  if (error) std::rethrow_exception(error);
}

}  // namespace radial::cpu
