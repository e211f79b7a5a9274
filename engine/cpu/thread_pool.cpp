// ThreadPool: a fixed set of workers that run one parallel_for at a time.
//
// parallel_for splits [0, n) into chunks = min(size(), n / grain) (at least
// 1) contiguous near-equal pieces, each of at least `grain` items when
// n >= grain. Protocol (every shared field is guarded by mu_):
//   * The caller waits until no other job is active (fn_ == nullptr), then
//     publishes the job (fn_ = a "drain" function, n_, chunk_ = number of
//     chunks), bumps generation_ and wakes the workers through cv_start_.
//   * Participants (the caller and every worker that sees the job) claim
//     chunks from an atomic counter until none are left. A worker registers
//     in pending_ before touching the job and deregisters after.
//   * Once the caller has no chunk left to claim, it waits for pending_ == 0,
//     retires the job (fn_ = nullptr; a worker waking later skips it) and
//     notifies cv_done_ so that a caller queued on another thread can start.
//   So with T threads and T chunks each thread normally runs one chunk, but
//   the caller never waits for a worker that has not started (one that is
//   descheduled on a busy machine): it runs the unclaimed chunks itself.
// Waiting (a worker for the next job, the caller for the workers) first spins
// for up to kSpin watching an atomic epoch counter, so that back-to-back jobs
// cost ~1-3 µs instead of a futex wake-up's ~20 µs, then blocks on the
// condition variable: an idle pool sleeps. An exception thrown by fn in any
// chunk is caught, the remaining chunks still run, and the first exception is
// rethrown in the caller after all finish. A parallel_for issued from inside
// a pool task (nested) runs inline on the calling thread.
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

void ThreadPool::worker_loop(int /*index*/) {
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
    if (fn_ == nullptr) continue;  // that job was finished without this worker
    const auto* fn = fn_;
    ++pending_;  // the job (and *fn) stays alive until pending_ drops to 0
    lock.unlock();
    t_in_pool_task = true;
    (*fn)(0, 0);  // runs unclaimed chunks until none are left; never throws
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

  // Every participant (the caller and each worker that joins) runs `drain`,
  // which claims chunks one at a time until all are claimed. Exceptions are
  // recorded (the first one wins) instead of escaping a worker thread.
  std::atomic<int64_t> next_chunk{0};
  std::exception_ptr error;
  std::mutex error_mu;
  const std::function<void(int64_t, int64_t)> drain = [&](int64_t, int64_t) {
    for (;;) {
      const int64_t c = next_chunk.fetch_add(1, std::memory_order_relaxed);
      if (c >= chunks) return;
      try {
        fn(chunk_begin(n, chunks, c), chunk_begin(n, chunks, c + 1));
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (!error) error = std::current_exception();
      }
    }
  };

  std::unique_lock<std::mutex> lock(mu_);
  cv_done_.wait(lock, [&] { return fn_ == nullptr; });  // one job at a time
  fn_ = &drain;
  n_ = n;
  chunk_ = chunks;
  pending_ = 0;
  ++generation_;
  g_epoch.fetch_add(1, std::memory_order_release);
  lock.unlock();
  cv_start_.notify_all();

  t_in_pool_task = true;
  drain(0, 0);
  t_in_pool_task = false;

  // Every chunk is claimed; wait for the workers still inside the job, then
  // retire it so that late wakers skip it.
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
