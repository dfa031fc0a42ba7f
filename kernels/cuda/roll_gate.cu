// The roll renderer's compact gates on the device (roll_gate.h). Fill: a grid-stride loop over the packed
// samples, the row found by binary search over the rows' packed starts. Reduce: one block per chunk of
// one row; a chunk of L samples touches at most L/spf + 2R/spf + 3 frames of its column, summed in shared
// memory (double atomicAdd, native on sm_60+) before one global atomicAdd per frame per block.
#include <cstdint>

#include "kernels/common/roll_gate_math.h"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/roll_gate.h"

namespace pianograd::kernels::cuda {
namespace {

constexpr int kBlock = 256;
constexpr int kSpanMax = 2048;  // shared doubles per reduction block (16 KB); wider spans go to global atomics

// The last row r with records[r][field] <= i (rows with nothing stored share the next row's value, and the
// last such row is the one that holds i).
__device__ long find_row(const std::int64_t* rec, long rows, int field, long i) {
  long lo = 0, hi = rows - 1;
  while (lo < hi) {
    const long mid = (lo + hi + 1) / 2;
    if (rec[mid * kRollRecord + field] <= i) lo = mid; else hi = mid - 1;
  }
  return lo;
}

template <class T>
__global__ void fill_kernel(const std::int64_t* __restrict__ rec, long rows, const T* __restrict__ roll,
                            RollGateGeom g, long gate_size, T* __restrict__ gate) {
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < gate_size;
       i += static_cast<long>(gridDim.x) * blockDim.x) {
    const std::int64_t* p = rec + find_row(rec, rows, kRecStart, i) * kRollRecord;
    const long t = i - p[kRecOff];
    double d = 0.0;
    if (t >= p[kRecBegin] && t < p[kRecEnd]) d = 1.0 - roll_gate_h(g, roll + p[kRecCol], kRollKeys, p[kRecW0] + t, p[kRecE0]);
    gate[i] = static_cast<T>(d);
  }
}

// roll_gate_h_backward's sink: frames [f0, f0 + span) of the block's column in shared memory, else global.
struct DevAdd {
  double* sh;
  double* col;
  long f0;
  bool shared;
  __host__ __device__ void operator()(std::int64_t f, double v) const {
#if defined(__CUDA_ARCH__)
    if (shared) atomicAdd(sh + (f - f0), v); else atomicAdd(col + f * kRollKeys, v);
#else
    (void)f, (void)v;
#endif
  }
};

template <class T>
__global__ void reduce_kernel(const std::int64_t* __restrict__ rec, long rows, long chunks, long chunk,
                              const T* __restrict__ gg, RollGateGeom g, double* __restrict__ out) {
  __shared__ double sh[kSpanMax];
  __shared__ long span_lo, span_n;
  for (long c = blockIdx.x; c < chunks; c += gridDim.x) {  // uniform per block: the syncs below are safe
    const std::int64_t* p = rec + find_row(rec, rows, kRecChunk, c) * kRollRecord;
    const long t1 = p[kRecBegin] + (c - p[kRecChunk]) * chunk;
    const long t2 = t1 + chunk < p[kRecEnd] ? t1 + chunk : static_cast<long>(p[kRecEnd]);
    if (threadIdx.x == 0) {  // frames touched: from the base frame at the first sample to the last edge at the end
      const RollGateSpan a = roll_gate_span(g, p[kRecW0] + t1, p[kRecE0]), b = roll_gate_span(g, p[kRecW0] + t2 - 1, p[kRecE0]);
      span_lo = a.base;
      span_n = (b.base > b.e2 - 1 ? b.base : b.e2 - 1) - a.base + 1;
    }
    __syncthreads();
    const long f0 = span_lo, n = span_n;
    const bool use_shared = n <= kSpanMax;
    if (use_shared)
      for (long k = threadIdx.x; k < n; k += blockDim.x) sh[k] = 0.0;
    __syncthreads();
    DevAdd add{sh, out + p[kRecCol], f0, use_shared};
    for (long t = t1 + threadIdx.x; t < t2; t += blockDim.x)
      roll_gate_h_backward(g, p[kRecW0] + t, p[kRecE0], -static_cast<double>(gg[p[kRecOff] + t]), add);  // dL/dh = -dL/dd
    __syncthreads();
    if (use_shared)
      for (long k = threadIdx.x; k < n; k += blockDim.x)
        if (sh[k] != 0.0 && f0 + k < g.F) atomicAdd(out + p[kRecCol] + (f0 + k) * kRollKeys, sh[k]);
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
