// Temporary device memory for one kernel call, from the caching allocator (kernels/cuda/device.h) and
// returned to it on scope exit: stream-ordered reuse, so a launch sequence on `stream` may use it and
// the next call gets the same block back without a cudaMalloc.
#pragma once
#include <cstddef>

#include "kernels/cuda/device.h"

namespace pianograd::kernels::cuda {

template <class T>
struct DeviceScratch {
  T* p = nullptr;
  int dev;
  DeviceScratch(std::size_t n, void* stream) : dev(current_device()) {
    p = static_cast<T*>(cached_alloc(sizeof(T) * (n ? n : 1), dev, stream));
  }
  ~DeviceScratch() { cached_free(p, dev); }
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
};

}  // namespace pianograd::kernels::cuda
