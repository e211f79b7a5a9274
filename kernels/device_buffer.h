// Owning handles for device memory, pinned host memory, and the ring of
// pinned staging buffers per-step uploads go through.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <cuda_runtime_api.h>

namespace radial::kernels {

// cudaMalloc'd bytes; freed on destruction (never on the per-step path).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* get() const { return ptr_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// cudaMallocHost'd (page-locked) bytes.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t bytes);
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& o) noexcept;
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// A ring of pinned int buffers for host-to-device uploads on one stream:
// acquire() returns the next buffer once the copy that last used it has
// finished (an event wait, rarely blocking), upload() copies its first
// `count` ints to `device` asynchronously and records that event.
class StagingRing {
 public:
  StagingRing(int64_t capacity_ints, int depth, cudaStream_t stream);
  ~StagingRing();
  StagingRing(const StagingRing&) = delete;
  StagingRing& operator=(const StagingRing&) = delete;

  int64_t capacity() const { return capacity_; }
  int* acquire();
  void upload(int* device, int64_t count);

 private:
  int64_t capacity_;
  cudaStream_t stream_;
  std::vector<PinnedBuffer> buffers_;
  std::vector<cudaEvent_t> events_;
  int next_ = 0;
  bool acquired_ = false;
};

}  // namespace radial::kernels
