// The fused Adam/AdamW step on the device: one streaming pass over p, g, m, v with the per-element
// update of kernels/common/adam_math.h (the CPU scalar reference runs the same function).
#include "kernels/common/adam_math.h"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_kernels.h"

namespace pianograd::kernels::cuda {
namespace {

constexpr int kBlock = 256;

template <class T>
__global__ void adam_kernel(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m, T* __restrict__ v,
                            long n, AdamCoeffs<T> c) {
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long>(gridDim.x) * blockDim.x) {
    T pi = p[i], mi = m[i], vi = v[i];
    adam_element(pi, g[i], mi, vi, c);
    p[i] = pi;
    m[i] = mi;
    v[i] = vi;
  }
}

}  // namespace

template <class T>
void adam_update(T* p, const T* g, T* m, T* v, long n, const cpu::AdamStep& s, void* stream) {
  if (n <= 0) return;
  const AdamCoeffs<T> c = adam_coeffs<T>(s.lr, s.beta1, s.beta2, s.eps, s.weight_decay, s.decoupled,
                                         s.bias_correction1, s.bias_correction2);
  adam_kernel<T><<<grid_for(n, kBlock), kBlock, 0, as_stream(stream)>>>(p, g, m, v, n, c);
  check_launch("adam_update");
}

template void adam_update<float>(float*, const float*, float*, float*, long, const cpu::AdamStep&, void*);
template void adam_update<double>(double*, const double*, double*, double*, long, const cpu::AdamStep&, void*);

}  // namespace pianograd::kernels::cuda
