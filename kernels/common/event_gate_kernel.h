// The per-position logic of the event renderer's compact-gate kernels (kernels/cuda/event_gate.cu),
// kept __host__ __device__ so the CPU tests run it over the same row arrays the host builds for the
// device (tests/synth/test_event_gates.cpp emulates both kernels position by position): the row lookup,
// the fill value and the reduce's per-sample terms are proven here, the .cu files only add the launch
// structure (grid-stride loops, block reductions, atomics).
#pragma once
#include <cstdint>

#include "kernels/common/event_gate_math.h"
#include "kernels/common/host_device.h"

namespace pianograd::kernels {

// Packed samples per block and step of the reduce kernel (16 per thread of 256).
inline constexpr long kEventGateChunk = 4096;

// The packed rows (device arrays in a kernel, host arrays in the emulation). Row r's stored samples are
// the packed positions [pstart[r], pstart[r + 1]) (pstart has rows + 1 entries, non-decreasing,
// pstart[rows] = the packed gate's size); packed position i is item sample n = i + nshift[r].
struct EventGateRows {
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

// The row holding packed position i < d.size: the last r with pstart[r] <= i (an empty row shares its
// start with its successor, so it is never the answer for a position it does not hold). ~log2(rows)
// probes, all in cache.
PG_HD long event_gate_find_row(const EventGateRows& d, long i) {
  long lo = 0, hi = d.rows;  // pstart[lo] <= i < pstart[hi]
  while (hi - lo > 1) {
    const long mid = lo + (hi - lo) / 2;
    if (d.pstart[mid] <= i) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}

// The gate at packed position i of row r.
PG_HD double event_gate_fill_at(const EventGateRows& d, long r, long i) {
  const long n = i + d.nshift[r];
  if (n < d.from[r] || n >= d.end[r]) return 0.0;
  const double S = event_sigmoid(n, d.lo[r], d.hi[r], d.sample_rate, d.off[r], d.tau);
  const long po = d.ped[r];
  return event_gate_value(S, po < 0 ? 0.0 : d.pedal[po + n]);
}

// The packed positions [a, b) of row r inside the chunk [c0, c1) (empty: a >= b).
PG_HD void event_gate_row_in_chunk(const EventGateRows& d, long r, long c0, long c1, long& a, long& b) {
  a = d.pstart[r] > c0 ? static_cast<long>(d.pstart[r]) : c0;
  b = d.pstart[r + 1] < c1 ? static_cast<long>(d.pstart[r + 1]) : c1;
}

// The reduce's terms at packed position i of row r for the gate gradient g there: returns false when the
// sample has none (outside the row's stretch, before lo where S = 0, or g = 0); else the offset term
// (subtracted from dL/doff of the row) and, when the row's item has a pedal (ped_index >= 0), the pedal
// term (subtracted from dL/dpedal at ped_index).
PG_HD bool event_gate_reduce_at(const EventGateRows& d, long r, long i, double g, double inv_tau, double& off_term,
                                double& ped_term, long& ped_index) {
  const long n = i + d.nshift[r];
  const long from = d.from[r] > d.lo[r] ? static_cast<long>(d.from[r]) : static_cast<long>(d.lo[r]);
  if (n < from || n >= d.end[r] || g == 0.0) return false;
  const double S = event_sigmoid(n, d.lo[r], d.hi[r], d.sample_rate, d.off[r], d.tau);
  const long po = d.ped[r];
  off_term = event_gate_offset_term(g, S, po < 0 ? 0.0 : d.pedal[po + n], inv_tau);
  ped_term = event_gate_pedal_term(g, S);
  ped_index = po < 0 ? -1 : po + n;
  return true;
}

}  // namespace pianograd::kernels
