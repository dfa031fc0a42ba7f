// The event renderer's compact damper gates on the device (kernels/cuda/event_gate.h; the CPU reference
// is synth/event_gates.cpp, the per-sample math kernels/common/event_gate_math.h).
//
// Both kernels walk the packed gate (batch x notes x samples: ~25 M samples for 64 items of 4 s with 10
// notes) in grid-stride fashion. A packed position's row is found by binary search over the rows'
// packed starts (a few hundred to a few thousand rows: ~10 probes, all in L1/L2), which keeps the loop
// free of per-row launch structure and saturates bandwidth: the fill is one write per sample, the reduce
// one read (plus the sigmoid's exp only inside a note's release stretch).
//
// The reduce gives each block a contiguous chunk of packed samples; rows are long (a note's life, tens of
// thousands of samples) so a chunk meets one or two rows: per row it meets, a BlockReduce of the
// threads' partial dL/doff and one atomicAdd. The pedal gradient is per item sample and shared by every
// row of the item, so it is atomicAdd'ed per sample (double atomicAdd is native on sm_60+); only items
// with a pedal have one. Sums therefore differ from the CPU reference by association only.
#include <cub/block/block_reduce.cuh>

#include "kernels/common/event_gate_kernel.h"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/event_gate.h"

namespace pianograd::kernels::cuda {
namespace {

constexpr int kThreads = 256;
constexpr long kChunk = kEventGateChunk;

template <class T>
__global__ void __launch_bounds__(kThreads) event_gate_fill_kernel(EventGateRowsDev d, T* __restrict__ gate) {
  const long stride = static_cast<long>(gridDim.x) * blockDim.x;
  for (long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x; i < d.size; i += stride) {
    gate[i] = static_cast<T>(event_gate_fill_at(d, event_gate_find_row(d, i), i));
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    event_gate_reduce_kernel(EventGateRowsDev d, const T* __restrict__ gg, double* __restrict__ d_off,
                             double* __restrict__ d_pedal) {
  using Reduce = cub::BlockReduce<double, kThreads>;
  __shared__ typename Reduce::TempStorage tmp;
  __shared__ long span[2];
  const double inv_tau = 1.0 / d.tau;
  for (long c0 = static_cast<long>(blockIdx.x) * kChunk; c0 < d.size; c0 += static_cast<long>(gridDim.x) * kChunk) {
    const long c1 = c0 + kChunk < d.size ? c0 + kChunk : d.size;
    if (threadIdx.x == 0) {
      span[0] = event_gate_find_row(d, c0);
      span[1] = event_gate_find_row(d, c1 - 1);
    }
    __syncthreads();
    const long r0 = span[0], r1 = span[1];
    for (long r = r0; r <= r1; ++r) {  // block-uniform: every thread takes part in each Reduce
      long a, b;
      event_gate_row_in_chunk(d, r, c0, c1, a, b);
      double acc = 0.0;
      for (long i = a + threadIdx.x; i < b; i += kThreads) {
        double off_term, ped_term;
        long pi;
        if (!event_gate_reduce_at(d, r, i, static_cast<double>(gg[i]), inv_tau, off_term, ped_term, pi)) continue;
        acc -= off_term;
        if (pi >= 0 && d_pedal) atomicAdd(d_pedal + pi, -ped_term);
      }
      const double sum = Reduce(tmp).Sum(acc);
      if (threadIdx.x == 0 && sum != 0.0) atomicAdd(d_off + r, sum);
      __syncthreads();  // tmp is reused by the next row's Reduce; span by the next chunk
    }
  }
}

}  // namespace

template <class T>
void event_gate_fill(const EventGateRowsDev& rows, T* gate, void* stream) {
  if (rows.size <= 0) return;
  event_gate_fill_kernel<T><<<grid_for(rows.size, kThreads), kThreads, 0, as_stream(stream)>>>(rows, gate);
  check_launch("event_gate_fill_kernel");
}

template <class T>
void event_gate_reduce(const EventGateRowsDev& rows, const T* gg, double* d_off, double* d_pedal, void* stream) {
  if (rows.size <= 0) return;
  event_gate_reduce_kernel<T><<<grid_for(rows.size, kChunk), kThreads, 0, as_stream(stream)>>>(rows, gg, d_off, d_pedal);
  check_launch("event_gate_reduce_kernel");
}

template void event_gate_fill<float>(const EventGateRowsDev&, float*, void*);
template void event_gate_fill<double>(const EventGateRowsDev&, double*, void*);
template void event_gate_reduce<float>(const EventGateRowsDev&, const float*, double*, double*, void*);
template void event_gate_reduce<double>(const EventGateRowsDev&, const double*, double*, double*, void*);

}  // namespace pianograd::kernels::cuda
