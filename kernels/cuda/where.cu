// where(cond, a, b) with broadcasting over three operands in one launch (autodiff/ops/select.cpp's
// CPU loop): y = cond != 0 ? a : b, and the 0/1 mask the VJP multiplies the gradient by.
#include <cstdint>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_kernels.h"

namespace pianograd::kernels::cuda {
namespace {

constexpr int kBlock = 256;

template <class C, class T>
__global__ void where_kernel(const C* __restrict__ c, const T* __restrict__ a, const T* __restrict__ b,
                             T* __restrict__ y, T* __restrict__ mask, WhereGeom g, long n) {
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long>(gridDim.x) * blockDim.x) {
    long oc = 0, oa = 0, ob = 0, r = i;
    for (int d = g.nd - 1; d >= 0; --d) {
      const long k = r % g.shape[d];
      r /= g.shape[d];
      oc += k * g.sc[d];
      oa += k * g.sa[d];
      ob += k * g.sb[d];
    }
    const bool t = c[oc] != C(0);
    mask[i] = t ? T(1) : T(0);
    y[i] = t ? a[oa] : b[ob];
  }
}

template <class C, class T>
void launch(const void* cond, const T* a, const T* b, T* y, T* mask, const WhereGeom& g, long n, cudaStream_t s) {
  where_kernel<C, T><<<grid_for(n, kBlock), kBlock, 0, s>>>(static_cast<const C*>(cond), a, b, y, mask, g, n);
}

}  // namespace

template <class T>
void where_broadcast(const void* cond, ElemType cond_type, const T* a, const T* b, T* y, T* mask,
                     const WhereGeom& g, void* stream) {
  long n = 1;
  for (int d = 0; d < g.nd; ++d) n *= g.shape[d];
  if (n <= 0) return;
  const cudaStream_t s = as_stream(stream);
  switch (cond_type) {
    case ElemType::f32: launch<float>(cond, a, b, y, mask, g, n, s); break;
    case ElemType::f64: launch<double>(cond, a, b, y, mask, g, n, s); break;
    case ElemType::i32: launch<std::int32_t>(cond, a, b, y, mask, g, n, s); break;
    case ElemType::i64: launch<std::int64_t>(cond, a, b, y, mask, g, n, s); break;
  }
  check_launch("where_kernel");
}

template void where_broadcast<float>(const void*, ElemType, const float*, const float*, float*, float*,
                                     const WhereGeom&, void*);
template void where_broadcast<double>(const void*, ElemType, const double*, const double*, double*, double*,
                                      const WhereGeom&, void*);

}  // namespace pianograd::kernels::cuda
