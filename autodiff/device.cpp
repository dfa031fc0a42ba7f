// Device parsing, availability errors, copies between devices and the CUDA controls of autodiff/device.h.
#include "autodiff/device.h"

#include <cstring>

#include "autodiff/tape.h"
#include "kernels/cuda/device.h"

namespace pianograd {

namespace kcu = kernels::cuda;

Device parse_device(const std::string& spec) {
  if (spec == "cpu") return kCPU;
  if (spec == "cuda") return kCUDA;
  if (spec.rfind("cuda:", 0) == 0 && spec.size() > 5 && spec.size() < 9) {
    int idx = 0;
    for (size_t i = 5; i < spec.size(); ++i) {
      if (spec[i] < '0' || spec[i] > '9') idx = -1;
      if (idx >= 0) idx = idx * 10 + (spec[i] - '0');
    }
    if (idx >= 0) return Device{DeviceType::CUDA, idx};
  }
  throw ValueError("device: cannot parse '" + spec + "' (expected 'cpu', 'cuda' or 'cuda:N')");
}

void require_device(Device d, const char* op) {
  if (d.type == DeviceType::CPU) return;
  if (!kcu::built_with_cuda())
    throw DeviceError(std::string(op) + ": CUDA requested (" + d.str() +
                      ") but this build has no CUDA (configure with -DPIANOGRAD_CUDA=ON)");
  static const int n = kcu::device_count();  // fixed for the process; asked once (every CUDA allocation checks)
  if (n == 0) throw DeviceError(std::string(op) + ": CUDA requested (" + d.str() + ") but no CUDA device present");
  if (d.index < 0 || d.index >= n)
    throw DeviceError(std::string(op) + ": device " + d.str() + " does not exist (" + std::to_string(n) +
                      " CUDA device" + (n == 1 ? "" : "s") + " present)");
}

void throw_no_cuda_kernel(const char* op, const std::string& detail) {
  throw DeviceError(std::string("op ") + op + " has no CUDA kernel yet" + (detail.empty() ? "" : " (" + detail + ")") +
                    "; move the tensors with .cpu() to run it on the host");
}

void* cuda_launch_context(const Tensor& t) {
  kcu::set_device(t.device().index);
  return kcu::current_stream();
}

void Tensor::host_access_error(const char* what) const {
  if (!impl_) throw_undefined(what);
  throw DeviceError(std::string(what) + ": tensor of shape " + shape_str(impl_->shape) + " is on " +
                    impl_->storage->device.str() +
                    "; host code cannot read device memory (call .cpu() first, or the op has no CUDA kernel yet)");
}

namespace detail {
// Storage::allocate's CUDA branch: a block of the device's caching allocator, returned to it (not
// cudaFree'd) when the storage dies. Allocated on the current stream of the allocating thread.
std::shared_ptr<Storage> allocate_cuda(size_t nbytes, Device device) {
  require_device(device, "allocate");
  void* p = nullptr;
  try {
    p = kcu::cached_alloc(nbytes, device.index, kcu::current_stream());
  } catch (const std::bad_alloc&) {
    throw Error("allocate: CUDA out of memory for " + std::to_string(nbytes) + " bytes on " + device.str());
  }
  const int idx = device.index;
  return Storage::borrow(p, nbytes, [idx](void* q) { kcu::cached_free(q, idx); }, device);
}
}  // namespace detail

namespace {
// Raw copy of t's elements into a new contiguous tensor on `to` (no recording).
Tensor copy_to_device(const Tensor& t, Device to) {
  require_device(to, "to");
  Tensor y = Tensor::empty(t.shape(), t.dtype(), to);
  const size_t n = t.nbytes();
  if (n == 0) return y;
  const Device from = t.device();
  if (from.type == DeviceType::CPU) {
    kcu::copy_sync(y.device_ptr(), t.device_ptr(), n, kcu::CopyKind::host_to_device, kcu::current_stream());
  } else if (to.type == DeviceType::CPU) {
    kcu::set_device(from.index);
    kcu::copy_sync(y.device_ptr(), t.device_ptr(), n, kcu::CopyKind::device_to_host, kcu::current_stream());
  } else {
    // cudaMemcpy between devices under unified addressing (every 64-bit CUDA platform).
    kcu::copy_sync(y.device_ptr(), t.device_ptr(), n, kcu::CopyKind::device_to_device, kcu::current_stream());
  }
  return y;
}
}  // namespace

Tensor Tensor::to(Device device) const {
  check_defined("to");
  const Device from = this->device();
  if (device == from) return *this;
  Tensor y = copy_to_device(*this, device);
  record(y, "to", {*this}, [from](const Tensor& gy) -> Grads { return {gy.to(from)}; });
  return y;
}

namespace cuda {
bool is_built() { return kcu::built_with_cuda(); }
bool is_available() { return kcu::available(); }
int device_count() { return kcu::device_count(); }
void synchronize() {
  require_device(kCUDA, "cuda.synchronize");
  kcu::synchronize();
}
void empty_cache() { kcu::empty_cache(); }
MemoryStats memory_stats(int device) {
  if (!kcu::built_with_cuda()) return {};
  require_device(Device{DeviceType::CUDA, device}, "cuda.memory_stats");
  return kcu::memory_stats(device);
}
void reset_peak_memory_stats(int device) {
  if (!kcu::built_with_cuda()) return;
  require_device(Device{DeviceType::CUDA, device}, "cuda.reset_peak_memory_stats");
  kcu::reset_peak_memory_stats(device);
}

Stream::Stream() {
  require_device(kCUDA, "cuda.Stream");
  s_ = kcu::stream_create();
}
Stream::~Stream() { kcu::stream_destroy(s_); }
void Stream::synchronize() const { kcu::stream_synchronize(s_); }
void* current_stream() { return kcu::current_stream(); }
StreamScope::StreamScope(const Stream& s) : prev_(kcu::current_stream()) { kcu::set_current_stream(s.handle()); }
StreamScope::~StreamScope() { kcu::set_current_stream(prev_); }
}  // namespace cuda

}  // namespace pianograd
