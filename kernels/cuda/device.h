// CUDA backend entry points visible to the rest of the library. A CPU-only build links stub.cpp,
// whose answers say "not available" (and whose memory functions throw std::runtime_error).
#pragma once
#include <cstddef>
#include <utility>
#include <vector>

#include "kernels/cuda/memory_stats.h"

namespace pianograd::kernels::cuda {
bool available();      // built with CUDA and a device is present
int device_count();    // 0 without CUDA

// Raw device memory and copies, for tests, harnesses and (until CUDA tensors land) the ops layer.
// Errors throw std::runtime_error with CUDA's message. Copies are synchronous.
void* device_alloc(std::size_t bytes);
void device_free(void* p) noexcept;
void copy_to_device(void* dst, const void* src, std::size_t bytes);
void copy_to_host(void* dst, const void* src, std::size_t bytes);
void device_memset_zero(void* p, std::size_t bytes);
void synchronize();  // waits for the device; throws the first asynchronous kernel error

// ---- what the tensor layer uses (issue 6): build flag, devices, streams, cached memory ----
bool built_with_cuda();  // false in a CPU-only build (stub.cpp)
void set_device(int index);  // cudaSetDevice; throws std::runtime_error naming the index
int current_device();

// Streams are cudaStream_t passed as void*; nullptr is the default stream. Each thread has a current
// stream (initially the default one): tensor allocations are cached per stream and the ops launch
// their kernels on it.
void* current_stream();
void set_current_stream(void* stream);
void* stream_create();  // a non-blocking stream
void stream_destroy(void* stream) noexcept;
void stream_synchronize(void* stream);

// Copies ordered on `stream` that return when the data has arrived (host memory is pageable).
enum class CopyKind { host_to_device, device_to_host, device_to_device };
void copy_sync(void* dst, const void* src, std::size_t bytes, CopyKind kind, void* stream);
// A copy between two buffers of ONE device, ordered on `stream` and not waited for: later work on the
// stream sees the data, the host does not wait (a clone in the middle of a graph is not a sync point).
void copy_device_async(void* dst, const void* src, std::size_t bytes, void* stream);
void memset_zero_async(void* p, std::size_t bytes, void* stream);

// The caching allocator (kernels/cuda/caching_allocator.h) of each device. cached_alloc makes `device`
// current and throws std::bad_alloc when even an emptied cache cannot serve the request.
void* cached_alloc(std::size_t bytes, int device, void* stream);
void cached_free(void* p, int device) noexcept;
void empty_cache();  // every device's fully free segments go back to cudaFree
MemoryStats memory_stats(int device);
void reset_peak_memory_stats(int device);

// Makes a stream current for a scope (RAII), like torch.cuda.stream(s).
class StreamGuard {
 public:
  explicit StreamGuard(void* stream) : prev_(current_stream()) { set_current_stream(stream); }
  ~StreamGuard() { set_current_stream(prev_); }
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  void* prev_;
};

// An owning device array of n T's (RAII; move-only). Not a tensor: no shape, no dtype tag.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t n) : n_(n), p_(n ? static_cast<T*>(device_alloc(n * sizeof(T))) : nullptr) {}
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) {
    if (n_) copy_to_device(p_, host.data(), n_ * sizeof(T));
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : n_(std::exchange(o.n_, 0)), p_(std::exchange(o.p_, nullptr)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      device_free(p_);
      n_ = std::exchange(o.n_, 0);
      p_ = std::exchange(o.p_, nullptr);
    }
    return *this;
  }
  ~DeviceBuffer() { device_free(p_); }

  T* data() { return p_; }
  const T* data() const { return p_; }
  std::size_t size() const { return n_; }
  std::vector<T> to_host() const {
    std::vector<T> h(n_);
    if (n_) copy_to_host(h.data(), p_, n_ * sizeof(T));
    return h;
  }

 private:
  std::size_t n_ = 0;
  T* p_ = nullptr;
};
}  // namespace pianograd::kernels::cuda
