// Broadcasting elementwise kernels: each thread turns its output index into operand offsets with the
// (merged) shape and strides, so any broadcast pattern is one launch — the CPU walker's inner runs
// would cost one launch per run.
#include "kernels/common/elementwise_math.h"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_kernels.h"

namespace pianograd::kernels::cuda {
namespace {

constexpr int kBlock = 256;

__device__ inline void offsets(const BroadcastGeom& g, long i, long& oa, long& ob) {
  oa = 0;
  ob = 0;
  for (int d = g.nd - 1; d >= 0; --d) {
    const long k = i % g.shape[d];
    i /= g.shape[d];
    oa += k * g.sa[d];
    ob += k * g.sb[d];
  }
}

template <class T, BinaryOp OP>
__global__ void binary_broadcast_kernel(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y,
                                        BroadcastGeom g, long n) {
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long>(gridDim.x) * blockDim.x) {
    long oa, ob;
    offsets(g, i, oa, ob);
    y[i] = binary_scalar(OP, a[oa], b[ob]);
  }
}

template <class T>
__global__ void broadcast_copy_kernel(const T* __restrict__ x, T* __restrict__ y, BroadcastGeom g, long n) {
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long>(gridDim.x) * blockDim.x) {
    long oa, ob;
    offsets(g, i, oa, ob);
    y[i] = x[oa];
  }
}

long numel(const BroadcastGeom& g) {
  long n = 1;
  for (int d = 0; d < g.nd; ++d) n *= g.shape[d];
  return n;
}

}  // namespace

template <class T>
void binary_broadcast(BinaryOp op, const T* a, const T* b, T* y, const BroadcastGeom& g, void* stream) {
  const long n = numel(g);
  if (n <= 0) return;
  const unsigned grid = grid_for(n, kBlock);
  const cudaStream_t s = as_stream(stream);
  switch (op) {
#define PG_CASE(name)                                                                      \
  case BinaryOp::name:                                                                     \
    binary_broadcast_kernel<T, BinaryOp::name><<<grid, kBlock, 0, s>>>(a, b, y, g, n);     \
    break;
    PG_CASE(add) PG_CASE(sub) PG_CASE(mul) PG_CASE(div) PG_CASE(pow) PG_CASE(maximum) PG_CASE(minimum)
#undef PG_CASE
  }
  check_launch("binary_broadcast_kernel");
}

template <class T>
void broadcast_copy(const T* x, T* y, const BroadcastGeom& g, void* stream) {
  const long n = numel(g);
  if (n <= 0) return;
  broadcast_copy_kernel<T><<<grid_for(n, kBlock), kBlock, 0, as_stream(stream)>>>(x, y, g, n);
  check_launch("broadcast_copy_kernel");
}

#define PG_BC_INST(T)                                                                              \
  template void binary_broadcast<T>(BinaryOp, const T*, const T*, T*, const BroadcastGeom&, void*); \
  template void broadcast_copy<T>(const T*, T*, const BroadcastGeom&, void*);
PG_BC_INST(float)
PG_BC_INST(double)
#undef PG_BC_INST

}  // namespace pianograd::kernels::cuda
