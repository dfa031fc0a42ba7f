// Counters of the CUDA caching allocator (kernels/cuda/caching_allocator.h), kept apart so that
// device.h stays light.
#pragma once
#include <cstddef>

namespace pianograd::kernels::cuda {

struct MemoryStats {
  std::size_t allocated = 0;       // bytes in live blocks (rounded sizes)
  std::size_t reserved = 0;        // bytes held from the raw allocator (live + cached)
  std::size_t peak_allocated = 0;  // high-water mark of `allocated` since construction/reset_peak
  std::size_t peak_reserved = 0;
  std::size_t raw_allocs = 0;      // calls to the raw allocator that succeeded
  std::size_t raw_frees = 0;       // segments given back to the raw allocator
  std::size_t cache_hits = 0;      // allocations served from a cached block
};

}  // namespace pianograd::kernels::cuda
