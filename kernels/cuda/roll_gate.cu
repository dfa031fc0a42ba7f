// The roll renderer's compact gates on the device (roll_gate.h); the per-position logic is
// kernels/common/roll_gate_kernel.h's (CPU-emulated in tests/synth/test_roll_gates.cpp). Fill: a
// grid-stride loop over the packed samples, the row found by binary search over the rows' packed starts.
// Reduce: one block per chunk of one row; a chunk of L samples touches at most L/spf + 2R/spf + 3 frames
// of its column, summed in shared memory (double atomicAdd, native on sm_60+) before one global atomicAdd
// per frame per block (spans over kRollSpanMax frames add to global memory directly).
#include <cstdint>

#include "kernels/common/roll_gate_kernel.h"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/roll_gate.h"

namespace pianograd::kernels::cuda {
namespace {

constexpr int kBlock = 256;

template <class T>
__global__ void fill_kernel(const std::int64_t* __restrict__ rec, long rows, const T* __restrict__ roll,
                            RollGateGeom g, long gate_size, T* __restrict__ gate) {
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < gate_size;
       i += static_cast<long>(gridDim.x) * blockDim.x)
    gate[i] = roll_gate_fill_at<T>(rec, rows, roll, g, i);
}

// RollSpanSink's accumulation on the device (host side: never instantiated for a host call).
struct DevAtomic {
  __host__ __device__ void operator()(double* p, double v) const {
#if defined(__CUDA_ARCH__)
    atomicAdd(p, v);
#else
    (void)p, (void)v;
#endif
  }
};

template <class T>
__global__ void reduce_kernel(const std::int64_t* __restrict__ rec, long rows, long chunks, long chunk,
                              const T* __restrict__ gg, RollGateGeom g, double* __restrict__ out) {
  __shared__ double sh[kRollSpanMax];
  __shared__ std::int64_t span_f0, span_n;  // not a RollFrameSpan: __shared__ allows no initializers
  for (long c = blockIdx.x; c < chunks; c += gridDim.x) {  // uniform per block: the syncs below are safe
    const RollChunk ch = roll_gate_chunk(rec, rows, chunk, c);
    if (threadIdx.x == 0) {
      const RollFrameSpan s0 = roll_gate_chunk_span(g, ch);
      span_f0 = s0.f0, span_n = s0.n;
    }
    __syncthreads();
    RollFrameSpan s;
    s.f0 = span_f0, s.n = span_n;
    const bool use_shared = s.n <= kRollSpanMax;
    if (use_shared)
      for (long k = threadIdx.x; k < s.n; k += blockDim.x) sh[k] = 0.0;
    __syncthreads();
    double* col = out + ch.p[kRecCol];
    RollSpanSink<DevAtomic> add{sh, col, s.f0, use_shared, DevAtomic{}};
    for (long t = ch.t1 + threadIdx.x; t < ch.t2; t += blockDim.x) roll_gate_backward_at(g, ch, gg, t, add);
    __syncthreads();
    if (use_shared)
      for (long k = threadIdx.x; k < s.n; k += blockDim.x) roll_gate_flush_frame(g, sh, s, k, col, DevAtomic{});
    __syncthreads();  // sh and span_* are rewritten by the next chunk
  }
}

}  // namespace

template <class T>
void roll_gate_fill(const std::int64_t* records, long rows, const T* roll, const RollGateGeom& geom, long gate_size,
                    T* gate, void* stream) {
  if (gate_size <= 0 || rows <= 0) return;
  fill_kernel<T><<<grid_for(gate_size, kBlock), kBlock, 0, as_stream(stream)>>>(records, rows, roll, geom, gate_size, gate);
  check_launch("roll_gate_fill");
}

template <class T>
void roll_gate_reduce(const std::int64_t* records, long rows, long chunks, long chunk, const T* gg,
                      const RollGateGeom& geom, long out_size, double* out, void* stream) {
  const cudaStream_t s = as_stream(stream);
  if (out_size > 0) check(cudaMemsetAsync(out, 0, static_cast<size_t>(out_size) * sizeof(double), s), "roll_gate_reduce memset");
  if (chunks <= 0 || rows <= 0) return;
  const unsigned grid = static_cast<unsigned>(chunks < 65535L * 16 ? chunks : 65535L * 16);
  reduce_kernel<T><<<grid, kBlock, 0, s>>>(records, rows, chunks, chunk, gg, geom, out);
  check_launch("roll_gate_reduce");
}

template void roll_gate_fill<float>(const std::int64_t*, long, const float*, const RollGateGeom&, long, float*, void*);
template void roll_gate_fill<double>(const std::int64_t*, long, const double*, const RollGateGeom&, long, double*, void*);
template void roll_gate_reduce<float>(const std::int64_t*, long, long, long, const float*, const RollGateGeom&, long,
                                      double*, void*);
template void roll_gate_reduce<double>(const std::int64_t*, long, long, long, const double*, const RollGateGeom&, long,
                                       double*, void*);

}  // namespace pianograd::kernels::cuda
