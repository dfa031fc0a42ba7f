// The event renderer's compact damper gates on a CUDA device (synth/event_gates.h is the caller and
// holds the CPU reference; the per-sample math is kernels/common/event_gate_math.h). Raw device
// pointers, no Tensor. A CPU-only build links kernels/cuda/stub_event_gate.cpp, which throws.
#pragma once
#include <cstdint>

namespace pianograd::kernels::cuda {

// The packed rows, every array on the device. Row r's stored samples are the packed positions
// [pstart[r], pstart[r + 1]) (pstart has rows + 1 entries, non-decreasing, pstart[rows] = the packed
// gate's size); packed position i is item sample n = i + nshift[r].
struct EventGateRowsDev {
  long rows = 0;
  long size = 0;                       // packed gate samples (= pstart[rows])
  const std::int64_t* pstart = nullptr;
  const std::int64_t* nshift = nullptr;
  const std::int64_t* lo = nullptr;    // the sigmoid is 0 before lo, 1 from hi on
  const std::int64_t* hi = nullptr;
  const std::int64_t* from = nullptr;  // the row is 0 outside [from, end)
  const std::int64_t* end = nullptr;
  const double* off = nullptr;         // the note's offset (s)
  const std::int64_t* ped = nullptr;   // per row: its item's pedal at pedal[ped[r] + n], -1: pedal up
  const double* pedal = nullptr;
  double sample_rate = 0, tau = 0;
};

// gate[i] for every packed position i in [0, size): one grid-stride launch on `stream`.
template <class T>
void event_gate_fill(const EventGateRowsDev& rows, T* gate, void* stream);

// Given the packed gate gradient gg: adds dL/doff of row r to d_off[r] and dL/dpedal(n) to
// d_pedal[ped[r] + n] (both double, zeroed by the caller; d_pedal null: the pedal gradient is not wanted).
template <class T>
void event_gate_reduce(const EventGateRowsDev& rows, const T* gg, double* d_off, double* d_pedal, void* stream);

}  // namespace pianograd::kernels::cuda
