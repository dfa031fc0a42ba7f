// OpenMP work splitting shared by the elementwise-style kernels.
#pragma once
#include <omp.h>

#include <algorithm>

#include "kernels/cpu/isa.h"

namespace pianograd::kernels::cpu {

// Splits [0, n) into one chunk per thread, each a multiple of 64 elements so no two threads share a
// cache line of the output; below kParallelGrain it stays on the calling thread.
template <class F>
void parallel_chunks(long n, F&& body) {
  if (n < kParallelGrain || omp_get_max_threads() == 1) {
    body(0L, n);
    return;
  }
#pragma omp parallel
  {
    const long nt = omp_get_num_threads(), t = omp_get_thread_num();
    const long chunk = ((n + nt - 1) / nt + 63) / 64 * 64;
    const long lo = std::min(n, t * chunk), hi = std::min(n, lo + chunk);
    if (hi > lo) body(lo, hi);
  }
}

}  // namespace pianograd::kernels::cpu
