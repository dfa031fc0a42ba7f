// max/min with indices along an axis and the scatter that routes their gradient back: one thread per
// output element walks its n inputs in order, which gives exactly the CPU tie rule (the first
// extremum, or the first NaN) without a second pass.
#include <cstdint>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_kernels.h"

namespace pianograd::kernels::cuda {
namespace {

constexpr int kBlock = 256;

template <class T>
__global__ void reduce_arg_kernel(const T* __restrict__ x, T* __restrict__ y, std::int64_t* __restrict__ idx,
                                  long outer, long n, long inner, bool is_min) {
  for (long w = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; w < outer * inner;
       w += static_cast<long>(gridDim.x) * blockDim.x) {
    const long o = w / inner, i = w % inner;
    const T* p = x + o * n * inner + i;
    if (n == 0) {
      y[w] = T(NAN);
      idx[w] = -1;
      continue;
    }
    T best = p[0];
    long bk = 0;
    for (long k = 1; k < n && best == best; ++k) {  // stops at a NaN: it is the value and the index
      const T v = p[k * inner];
      if (v != v || (is_min ? v < best : v > best)) {
        best = v;
        bk = k;
      }
    }
    y[w] = best;
    idx[w] = bk;
  }
}

template <class T>
__global__ void arg_scatter_kernel(const T* __restrict__ gy, const std::int64_t* __restrict__ idx,
                                   T* __restrict__ gx, long outer, long n, long inner) {
  for (long w = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; w < outer * inner;
       w += static_cast<long>(gridDim.x) * blockDim.x) {
    const long o = w / inner, i = w % inner;
    const std::int64_t k = idx[w];
    if (k >= 0 && k < n) gx[(o * n + k) * inner + i] = gy[w];
  }
}

}  // namespace

template <class T>
void reduce_arg(const T* x, T* y, std::int64_t* idx, long outer, long n, long inner, bool is_min, void* stream) {
  if (outer * inner <= 0) return;
  reduce_arg_kernel<T><<<grid_for(outer * inner, kBlock), kBlock, 0, as_stream(stream)>>>(x, y, idx, outer, n,
                                                                                          inner, is_min);
  check_launch("reduce_arg_kernel");
}

template <class T>
void arg_scatter(const T* gy, const std::int64_t* idx, T* gx, long outer, long n, long inner, void* stream) {
  const cudaStream_t s = as_stream(stream);
  if (outer * n * inner > 0) check(cudaMemsetAsync(gx, 0, sizeof(T) * outer * n * inner, s), "arg_scatter memset");
  if (outer * inner <= 0) return;
  arg_scatter_kernel<T><<<grid_for(outer * inner, kBlock), kBlock, 0, s>>>(gy, idx, gx, outer, n, inner);
  check_launch("arg_scatter_kernel");
}

#define PG_ARG_INST(T)                                                                          \
  template void reduce_arg<T>(const T*, T*, std::int64_t*, long, long, long, bool, void*);      \
  template void arg_scatter<T>(const T*, const std::int64_t*, T*, long, long, long, void*);
PG_ARG_INST(float)
PG_ARG_INST(double)
#undef PG_ARG_INST

}  // namespace pianograd::kernels::cuda
