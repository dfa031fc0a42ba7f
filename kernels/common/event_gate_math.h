// Per-sample math of the event renderer's damper gate (synth/event_plan.h), shared by the host renderer,
// the compact gate source's CPU reference (synth/event_gates.cpp) and its CUDA kernels
// (kernels/cuda/event_gate.cu), so all of them evaluate the same expressions in the same order: the host
// paths agree bit for bit, the device differs only by its exp's rounding.
//
//   d(n) = (1 - pedal(n)) S(n),  S(n) = sigmoid((n / sr - off) / tau)
//
// S is saturated to exactly 0 / 1 beyond |x| > 30 (within 1e-13 of them), so the modal kernel sees
// blocks of constant gate; d = 0 wherever S = 0 (whatever the pedal).
#pragma once
#include <cmath>

#include "kernels/common/host_device.h"

namespace pianograd::kernels {

// The release sigmoid at item sample n (double throughout: n / sr must resolve a sample of a long piece).
PG_HD double event_sigmoid_raw(long n, double sample_rate, double off, double tau) {
  const double x = (static_cast<double>(n) / sample_rate - off) / tau;
  return x < -30.0 ? 0.0 : (x > 30.0 ? 1.0 : 1.0 / (1.0 + std::exp(-x)));
}

// The same with the saturation bounds [lo, hi) found once per note (EventPlan::tabulate_sigmoids settles
// them against event_sigmoid_raw, so this equals event_sigmoid_raw at every n without its exp outside).
PG_HD double event_sigmoid(long n, long lo, long hi, double sample_rate, double off, double tau) {
  return n < lo ? 0.0 : (n >= hi ? 1.0 : event_sigmoid_raw(n, sample_rate, off, tau));
}

// d from S and the pedal p (0 = up). (1 - p) * 1 is exactly 1 - p, and (1 - 0) * S exactly S.
PG_HD double event_gate_value(double S, double p) { return S == 0.0 ? 0.0 : (1.0 - p) * S; }

// The per-sample terms of the chain rule for a gate gradient gg = dL/dd:
//   dL/doff   = -gg (1 - p) S (1 - S) / tau   (dS/dx = S (1 - S), dx/doff = -1/tau)
//   dL/dpedal = -gg S
// returned without the sign (the callers subtract, in the order the host reference always has).
PG_HD double event_gate_offset_term(double gg, double S, double p, double inv_tau) {
  return gg * (1.0 - p) * S * (1.0 - S) * inv_tau;
}
PG_HD double event_gate_pedal_term(double gg, double S) { return gg * S; }

}  // namespace pianograd::kernels
