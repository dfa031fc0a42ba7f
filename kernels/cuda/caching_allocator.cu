// The caching allocator over cudaMalloc, one BlockCache per device, plus the per-thread current stream
// and the stream/copy helpers the tensor layer needs (kernels/cuda/device.h).
#include <cuda_runtime.h>

#include <mutex>
#include <string>
#include <vector>

#include "kernels/cuda/caching_allocator.h"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/device.h"

namespace pianograd::kernels::cuda {
namespace {

// cudaMalloc on the device made current by cached_alloc; out of memory is reported as null (the
// cache then empties itself and retries) after clearing the error so later calls start clean.
struct CudaRaw {
  void* alloc(std::size_t bytes) {
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      return nullptr;
    }
    check(e, "cudaMalloc");
    return p;
  }
  void free(void* p) { cudaFree(p); }
};
using Cache = BlockCache<CudaRaw>;

// One cache per device, created on first use and never destroyed: tensors freed during static
// destruction (after the CUDA runtime may have shut down) must still find their cache.
Cache& cache(int device) {
  static std::mutex mu;
  static std::vector<Cache*>* caches = new std::vector<Cache*>();
  std::lock_guard<std::mutex> lock(mu);
  if (device < 0) throw std::runtime_error("CUDA: negative device index " + std::to_string(device));
  if (static_cast<std::size_t>(device) >= caches->size()) caches->resize(static_cast<std::size_t>(device) + 1, nullptr);
  auto& c = (*caches)[static_cast<std::size_t>(device)];
  if (!c) c = new Cache();
  return *c;
}

thread_local void* t_stream = nullptr;

}  // namespace

bool built_with_cuda() { return true; }

void set_device(int index) {
  check(cudaSetDevice(index), ("cudaSetDevice(" + std::to_string(index) + ")").c_str());
}
int current_device() {
  int d = 0;
  check(cudaGetDevice(&d), "cudaGetDevice");
  return d;
}

void* current_stream() { return t_stream; }
void set_current_stream(void* stream) { t_stream = stream; }
void* stream_create() {
  cudaStream_t s = nullptr;
  check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
  return s;
}
void stream_destroy(void* stream) noexcept {
  if (stream) cudaStreamDestroy(as_stream(stream));
}
void stream_synchronize(void* stream) { check(cudaStreamSynchronize(as_stream(stream)), "cudaStreamSynchronize"); }

void copy_sync(void* dst, const void* src, std::size_t bytes, CopyKind kind, void* stream) {
  if (bytes == 0) return;
  const cudaMemcpyKind k = kind == CopyKind::host_to_device   ? cudaMemcpyHostToDevice
                           : kind == CopyKind::device_to_host ? cudaMemcpyDeviceToHost
                                                              : cudaMemcpyDeviceToDevice;
  check(cudaMemcpyAsync(dst, src, bytes, k, as_stream(stream)), "cudaMemcpyAsync");
  check(cudaStreamSynchronize(as_stream(stream)), "cudaStreamSynchronize after copy");
}
void copy_device_async(void* dst, const void* src, std::size_t bytes, void* stream) {
  if (bytes) check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, as_stream(stream)), "cudaMemcpyAsync");
}
void memset_zero_async(void* p, std::size_t bytes, void* stream) {
  if (bytes) check(cudaMemsetAsync(p, 0, bytes, as_stream(stream)), "cudaMemsetAsync");
}

void* cached_alloc(std::size_t bytes, int device, void* stream) {
  set_device(device);
  return cache(device).allocate(bytes, stream);
}
void cached_free(void* p, int device) noexcept {
  if (p) cache(device).release(p);
}
void empty_cache() {
  const int n = device_count();
  for (int d = 0; d < n; ++d) {
    set_device(d);
    cache(d).empty_cache();
  }
}
MemoryStats memory_stats(int device) { return cache(device).stats(); }
void reset_peak_memory_stats(int device) { cache(device).reset_peak(); }

}  // namespace pianograd::kernels::cuda
