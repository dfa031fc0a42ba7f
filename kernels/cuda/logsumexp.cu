// logsumexp along the middle axis of the [outer, n, inner] view: the stable form of the CPU reference
// (kernels/cpu/reduce_ref.cpp) term for term — m = max (the first NaN wins), s = sum exp(x - m) in
// index order, y = m + log s when m is finite, else m (all -inf rows give -inf, a +inf gives +inf,
// where composing x - m from routed ops would give inf - inf = NaN). One thread per output element:
// neighbouring threads read neighbouring inner positions, so the loads coalesce when inner > 1.
#include <cmath>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_kernels.h"

namespace pianograd::kernels::cuda {
namespace {

constexpr int kBlock = 256;

template <class T>
__global__ void logsumexp_kernel(const T* __restrict__ x, T* __restrict__ y, long outer, long n, long inner) {
  for (long w = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; w < outer * inner;
       w += static_cast<long>(gridDim.x) * blockDim.x) {
    const long o = w / inner, i = w % inner;
    const T* p = x + o * n * inner + i;
    T m = p[0];
    for (long k = 1; k < n && !isnan(m); ++k) {
      const T v = p[k * inner];
      if (isnan(v) || v > m) m = v;
    }
    if (!isfinite(m)) {
      y[w] = m;
      continue;
    }
    T s = 0;
    for (long k = 0; k < n; ++k) s += exp(p[k * inner] - m);
    y[w] = m + log(s);
  }
}

}  // namespace

template <class T>
void logsumexp(const T* x, T* y, long outer, long n, long inner, void* stream) {
  if (outer * inner <= 0 || n <= 0) return;
  logsumexp_kernel<T><<<grid_for(outer * inner, kBlock), kBlock, 0, as_stream(stream)>>>(x, y, outer, n, inner);
  check_launch("logsumexp_kernel");
}

template void logsumexp<float>(const float*, float*, long, long, long, void*);
template void logsumexp<double>(const double*, double*, long, long, long, void*);

}  // namespace pianograd::kernels::cuda
