#include "kernels/device_buffer.h"

#include <utility>

#include "engine/error.h"
#include "kernels/cuda_check.h"

namespace radial::kernels {

DeviceBuffer::DeviceBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes > 0) CUDA_CHECK(cudaMalloc(&ptr_, bytes));
}
DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);  // no throw from a destructor
}
DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept
    : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_) cudaFree(ptr_);
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

PinnedBuffer::PinnedBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes > 0) CUDA_CHECK(cudaMallocHost(&ptr_, bytes));
}
PinnedBuffer::~PinnedBuffer() {
  if (ptr_) cudaFreeHost(ptr_);
}
PinnedBuffer::PinnedBuffer(PinnedBuffer&& o) noexcept
    : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_) cudaFreeHost(ptr_);
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

StagingRing::StagingRing(int64_t capacity_ints, int depth, cudaStream_t stream)
    : capacity_(capacity_ints), stream_(stream) {
  for (int i = 0; i < depth; ++i) {
    buffers_.emplace_back(static_cast<size_t>(capacity_ints) * sizeof(int));
    cudaEvent_t e;
    CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    events_.push_back(e);
  }
}

StagingRing::~StagingRing() {
  for (cudaEvent_t e : events_) cudaEventDestroy(e);
}

int* StagingRing::acquire() {
  require(!acquired_, ErrorCode::kInternal, "staging buffer acquired twice");
  CUDA_CHECK(cudaEventSynchronize(events_[next_]));  // its last copy is done
  acquired_ = true;
  return buffers_[next_].as<int>();
}

void StagingRing::upload(int* device, int64_t count) {
  require(acquired_, ErrorCode::kInternal, "staging upload without acquire");
  require(count <= capacity_, ErrorCode::kInternal, "staging upload over capacity");
  if (count > 0)
    CUDA_CHECK(cudaMemcpyAsync(device, buffers_[next_].as<int>(), count * sizeof(int),
                               cudaMemcpyHostToDevice, stream_));
  CUDA_CHECK(cudaEventRecord(events_[next_], stream_));
  acquired_ = false;
  next_ = (next_ + 1) % static_cast<int>(buffers_.size());
}

}  // namespace radial::kernels
