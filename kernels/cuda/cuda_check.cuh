// Error checking and launch helpers shared by the .cu files (internal: never included by a .cpp).
#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace pianograd::kernels::cuda {

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA: ") + what + ": " + cudaGetErrorString(e));
}
// After a <<<>>> launch: configuration errors are reported synchronously by cudaGetLastError.
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

inline cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

// Grid for a grid-stride loop over n elements: enough blocks to fill the device, capped so the
// index arithmetic of a grid-stride loop never overflows.
inline unsigned grid_for(long n, int block) {
  long g = (n + block - 1) / block;
  if (g > 65535L * 16) g = 65535L * 16;
  return static_cast<unsigned>(g < 1 ? 1 : g);
}

}  // namespace pianograd::kernels::cuda
