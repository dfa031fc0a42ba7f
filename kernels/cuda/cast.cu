// Dtype conversion between device buffers (Tensor::to(DType) of a CUDA tensor): y[i] = (D) x[i], the
// static_cast of the CPU loop in autodiff/ops/copy.cpp, one grid-stride launch, no host round trip.
#include <cstdint>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_kernels.h"

namespace pianograd::kernels::cuda {
namespace {

constexpr int kBlock = 256;

template <class S, class D>
__global__ void cast_kernel(const S* __restrict__ x, D* __restrict__ y, long n) {
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long>(gridDim.x) * blockDim.x)
    y[i] = static_cast<D>(x[i]);
}

template <class S, class D>
void launch(const void* src, void* dst, long n, cudaStream_t s) {
  cast_kernel<S, D><<<grid_for(n, kBlock), kBlock, 0, s>>>(static_cast<const S*>(src), static_cast<D*>(dst), n);
}

template <class S>
void launch_from(const void* src, void* dst, ElemType to, long n, cudaStream_t s) {
  switch (to) {
    case ElemType::f32: return launch<S, float>(src, dst, n, s);
    case ElemType::f64: return launch<S, double>(src, dst, n, s);
    case ElemType::i32: return launch<S, std::int32_t>(src, dst, n, s);
    case ElemType::i64: return launch<S, std::int64_t>(src, dst, n, s);
  }
}

}  // namespace

void cast(const void* src, ElemType from, void* dst, ElemType to, long n, void* stream) {
  if (n <= 0) return;
  const cudaStream_t s = as_stream(stream);
  switch (from) {
    case ElemType::f32: launch_from<float>(src, dst, to, n, s); break;
    case ElemType::f64: launch_from<double>(src, dst, to, n, s); break;
    case ElemType::i32: launch_from<std::int32_t>(src, dst, to, n, s); break;
    case ElemType::i64: launch_from<std::int64_t>(src, dst, to, n, s); break;
  }
  check_launch("cast_kernel");
}

}  // namespace pianograd::kernels::cuda
