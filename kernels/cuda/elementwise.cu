// Elementwise kernels: grid-stride loops over the per-element math of kernels/common, with the op
// a template constant so each instantiation compiles to a straight-line body (no per-element switch).
#include "kernels/common/elementwise_math.h"
#include "kernels/common/unary_grad.h"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_kernels.h"

namespace pianograd::kernels::cuda {
namespace {

constexpr int kBlock = 256;

// Strides are 0 (broadcast scalar) or 1, exactly the CPU convention (kernels/cpu/elementwise.h).
template <class T, BinaryOp OP>
__global__ void binary_kernel(const T* __restrict__ a, long sa, const T* __restrict__ b, long sb,
                              T* __restrict__ y, long n) {
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long>(gridDim.x) * blockDim.x)
    y[i] = binary_scalar(OP, a[i * sa], b[i * sb]);
}

template <class T, UnaryOp OP>
__global__ void unary_kernel(const T* __restrict__ x, T* __restrict__ y, long n) {
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long>(gridDim.x) * blockDim.x)
    y[i] = unary_scalar(OP, x[i]);
}

// x or y may be null when the op's derivative does not read it (the autodiff op decides).
template <class T, UnaryOp OP>
__global__ void unary_backward_kernel(const T* __restrict__ x, const T* __restrict__ y, const T* __restrict__ gy,
                                      T* __restrict__ gx, long n) {
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long>(gridDim.x) * blockDim.x)
    gx[i] = gy[i] * unary_grad_scalar(OP, x ? x[i] : T(0), y ? y[i] : T(0));
}


template <class T, BinaryOp OP>
void launch_binary(const T* a, long sa, const T* b, long sb, T* y, long n, cudaStream_t s) {
  binary_kernel<T, OP><<<grid_for(n, kBlock), kBlock, 0, s>>>(a, sa, b, sb, y, n);
}
template <class T, UnaryOp OP>
void launch_unary(const T* x, T* y, long n, cudaStream_t s) {
  unary_kernel<T, OP><<<grid_for(n, kBlock), kBlock, 0, s>>>(x, y, n);
}
template <class T, UnaryOp OP>
void launch_unary_backward(const T* x, const T* y, const T* gy, T* gx, long n, cudaStream_t s) {
  unary_backward_kernel<T, OP><<<grid_for(n, kBlock), kBlock, 0, s>>>(x, y, gy, gx, n);
}

}  // namespace

template <class T>
void binary(BinaryOp op, const T* a, long sa, const T* b, long sb, T* y, long n, void* stream) {
  if (n <= 0) return;
  const cudaStream_t s = as_stream(stream);
  switch (op) {
    case BinaryOp::add: launch_binary<T, BinaryOp::add>(a, sa, b, sb, y, n, s); break;
    case BinaryOp::sub: launch_binary<T, BinaryOp::sub>(a, sa, b, sb, y, n, s); break;
    case BinaryOp::mul: launch_binary<T, BinaryOp::mul>(a, sa, b, sb, y, n, s); break;
    case BinaryOp::div: launch_binary<T, BinaryOp::div>(a, sa, b, sb, y, n, s); break;
    case BinaryOp::pow: launch_binary<T, BinaryOp::pow>(a, sa, b, sb, y, n, s); break;
    case BinaryOp::maximum: launch_binary<T, BinaryOp::maximum>(a, sa, b, sb, y, n, s); break;
    case BinaryOp::minimum: launch_binary<T, BinaryOp::minimum>(a, sa, b, sb, y, n, s); break;
  }
  check_launch("binary_kernel");
}

#define PG_UNARY_CASES(X)                                                                         \
  X(neg) X(exp) X(log) X(sqrt) X(abs) X(sin) X(cos) X(tanh) X(sigmoid) X(relu) X(gelu) X(softplus)

template <class T>
void unary(UnaryOp op, const T* x, T* y, long n, void* stream) {
  if (n <= 0) return;
  const cudaStream_t s = as_stream(stream);
  switch (op) {
#define PG_CASE(name) \
  case UnaryOp::name: launch_unary<T, UnaryOp::name>(x, y, n, s); break;
    PG_UNARY_CASES(PG_CASE)
#undef PG_CASE
  }
  check_launch("unary_kernel");
}

template <class T>
void unary_backward(UnaryOp op, const T* x, const T* y, const T* gy, T* gx, long n, void* stream) {
  if (n <= 0) return;
  const cudaStream_t s = as_stream(stream);
  switch (op) {
#define PG_CASE(name) \
  case UnaryOp::name: launch_unary_backward<T, UnaryOp::name>(x, y, gy, gx, n, s); break;
    PG_UNARY_CASES(PG_CASE)
#undef PG_CASE
  }
  check_launch("unary_backward_kernel");
}
#undef PG_UNARY_CASES

#define PG_EW_INST(T)                                                                       \
  template void binary<T>(BinaryOp, const T*, long, const T*, long, T*, long, void*);       \
  template void unary<T>(UnaryOp, const T*, T*, long, void*);                               \
  template void unary_backward<T>(UnaryOp, const T*, const T*, const T*, T*, long, void*);
PG_EW_INST(float)
PG_EW_INST(double)
#undef PG_EW_INST

}  // namespace pianograd::kernels::cuda
