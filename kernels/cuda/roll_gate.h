// The roll renderer's compact damper gates on a CUDA device (synth/roll_gates.h): writing the packed gate
// rows and reducing their gradient to the gate roll's, from kernels/common/roll_gate_math.h. Raw device
// pointers; the CPU reference is RollGateSource::fill_cpu / reduce_cpu.
#pragma once
#include <cstdint>

#include "kernels/common/roll_gate_math.h"

namespace pianograd::kernels::cuda {

constexpr long kRollKeys = 88;  // the gate roll's last dimension (synth/performance.h kNumKeys)

// Per packed row, kRollRecord int64 (device memory, rows in packed order):
enum RollRecordField : int {
  kRecStart = 0,   // packed index of the row's first stored sample (gate_off + row_first), increasing in r
  kRecOff = 1,     // gate_off: the row's window-relative sample t lives at gate[off + t]
  kRecW0 = 2,      // the window's first item-absolute sample (n = w0 + t)
  kRecBegin = 3,   // t in [begin, end): the gate's samples; other stored samples are 0
  kRecEnd = 4,
  kRecCol = 5,     // the row's gate roll column: item * F * 88 + key (stride 88 over frames)
  kRecE0 = 6,      // first edge (roll_gate_math.h)
  kRecChunk = 7,   // first reduction chunk of the row (chunks of `chunk` samples over [begin, end))
  kRollRecord = 8
};

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
