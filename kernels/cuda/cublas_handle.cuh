// The cuBLAS handle of the calling host thread for the current device, shared by every .cu file that
// calls cuBLAS (matmul, conv): a handle must not be used by two threads at once, and one per thread
// and device (created on first use, re-pointed at the caller's stream) avoids both locking and a handle
// per call site. Per device because a handle is bound to the device current when it was created. The default math
// mode is kept: no TF32, so float results match the CPU to float rounding rather than to TF32's
// 10-bit mantissa.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>

namespace pianograd::kernels::cuda {

inline void check_blas(cublasStatus_t st, const char* what) {
  if (st != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("cuBLAS: ") + what + ": " + cublasGetStatusString(st));
}

// An inline function's thread_local is one object per thread across all translation units.
inline cublasHandle_t cublas_handle(cudaStream_t stream) {
  struct Handle {
    cublasHandle_t h = nullptr;
    Handle() { check_blas(cublasCreate(&h), "cublasCreate"); }
    ~Handle() {
      if (h) cublasDestroy(h);  // may fail at process exit after the driver unloads: nothing to do then
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
  };
  thread_local std::map<int, std::unique_ptr<Handle>> handles;
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) throw std::runtime_error("cuBLAS: cudaGetDevice failed");
  auto& hd = handles[dev];
  if (!hd) hd = std::make_unique<Handle>();
  check_blas(cublasSetStream(hd->h, stream), "cublasSetStream");
  return hd->h;
}

}  // namespace pianograd::kernels::cuda
