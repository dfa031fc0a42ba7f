// The CUDA side of the tensor layer (issue 6): device queries, streams, the caching allocator's
// controls, and the checks every op uses to pick a backend by device (MLX style: one branch per op,
// the CUDA path beside the CPU one in the op's .cpp).
#pragma once
#include <string>

#include "autodiff/tensor.h"
#include "kernels/cuda/memory_stats.h"

namespace pianograd {

namespace cuda {
bool is_built();      // this build has the CUDA backend
bool is_available();  // built with CUDA and a device present (= cuda_available())
int device_count();   // 0 without CUDA
void synchronize();   // waits for every kernel queued on the device; throws the first async error
void empty_cache();   // cached free blocks go back to cudaFree (no-op without CUDA)
using MemoryStats = kernels::cuda::MemoryStats;
MemoryStats memory_stats(int device = 0);
void reset_peak_memory_stats(int device = 0);

// A CUDA stream (cudaStream_t as void*); nullptr is the default stream. Owning and move-only.
class Stream {
 public:
  Stream();  // a new non-blocking stream; DeviceError without CUDA
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  void* handle() const { return s_; }
  void synchronize() const;

 private:
  void* s_ = nullptr;
};
// The calling thread's current stream (nullptr = default): ops launch and tensors allocate on it.
void* current_stream();
// Makes `s` current for a scope; blocks freed meanwhile are reused only by work on that stream.
class StreamScope {
 public:
  explicit StreamScope(const Stream& s);
  ~StreamScope();
  StreamScope(const StreamScope&) = delete;
  StreamScope& operator=(const StreamScope&) = delete;

 private:
  void* prev_;
};
}  // namespace cuda

// DeviceError unless `d` can hold tensors here: "CUDA requested but this build has no CUDA",
// "no CUDA device present", or an index out of range. `op` prefixes the message.
void require_device(Device d, const char* op);

// For ops (and op variants) that run on the CPU only: DeviceError "op X has no CUDA kernel yet".
// Never a silent copy to the host.
inline void check_cpu(const Tensor& t, const char* op) {
  if (t.defined() && t.device().type != DeviceType::CPU) [[unlikely]]
    throw DeviceError(std::string("op ") + op + " has no CUDA kernel yet (input on " + t.device().str() +
                      "); move the tensor with .cpu() to run it on the host");
}
[[noreturn]] void throw_no_cuda_kernel(const char* op, const std::string& detail = "");

// Selects t's device for the kernel launches of a CUDA op (multi-GPU); returns the current stream.
void* cuda_launch_context(const Tensor& t);

}  // namespace pianograd
