// The event renderer's compact damper gates on a CUDA device (synth/event_gates.h is the caller and
// holds the CPU reference; the per-sample math is kernels/common/event_gate_math.h). Raw device
// pointers, no Tensor. A CPU-only build links kernels/cuda/stub_event_gate.cpp, which throws.
#pragma once
#include <cstdint>

#include "kernels/common/event_gate_kernel.h"

namespace pianograd::kernels::cuda {

// The packed rows, every array on the device (kernels/common/event_gate_kernel.h).
using EventGateRowsDev = kernels::EventGateRows;

// gate[i] for every packed position i in [0, size): one grid-stride launch on `stream`.
template <class T>
void event_gate_fill(const EventGateRowsDev& rows, T* gate, void* stream);

// Given the packed gate gradient gg: adds dL/doff of row r to d_off[r] and dL/dpedal(n) to
// d_pedal[ped[r] + n] (both double, zeroed by the caller; d_pedal null: the pedal gradient is not wanted).
template <class T>
void event_gate_reduce(const EventGateRowsDev& rows, const T* gg, double* d_off, double* d_pedal, void* stream);

}  // namespace pianograd::kernels::cuda
