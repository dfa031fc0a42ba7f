// CUDA backend entry points visible to the rest of the library. A CPU-only build links stub.cpp,
// whose answers say "not available" (and whose memory functions throw std::runtime_error).
#pragma once
#include <cstddef>
#include <utility>
#include <vector>

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
