// CUDA backend entry points (issue 6 grows this into the full backend).
#include <cuda_runtime.h>

#include "kernels/cuda/device.h"

namespace pianograd::kernels::cuda {
int device_count() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
}
bool available() { return device_count() > 0; }
}  // namespace pianograd::kernels::cuda
