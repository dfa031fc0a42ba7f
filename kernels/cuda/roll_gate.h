// The roll renderer's compact damper gates on a CUDA device (synth/roll_gates.h): writing the packed gate
// rows and reducing their gradient to the gate roll's, from kernels/common/roll_gate_kernel.h. Raw device
// pointers; the CPU reference is RollGateSource::fill_cpu / reduce_cpu.
#pragma once
#include <cstdint>

#include "kernels/common/roll_gate_kernel.h"

namespace pianograd::kernels::cuda {

// The records (kRollRecord int64 per packed row, device memory) and the per-position logic:
// kernels/common/roll_gate_kernel.h.

// gate[i], i in [0, gate_size): d(n) = 1 - h(n) of its row, 0 outside the row's [begin, end).
// roll: the gate roll [B, F, 88] in T.
template <class T>
void roll_gate_fill(const std::int64_t* records, long rows, const T* roll, const RollGateGeom& geom, long gate_size,
                    T* gate, void* stream);

// out (double [B, F, 88], zeroed here) = dL/d roll given gg = dL/d gate (packed like the gate): blocks
// over `chunks` chunks of `chunk` samples, each summing its (bounded) frame span in shared memory first.
template <class T>
void roll_gate_reduce(const std::int64_t* records, long rows, long chunks, long chunk, const T* gg,
                      const RollGateGeom& geom, long out_size, double* out, void* stream);

}  // namespace pianograd::kernels::cuda
