// The roll gate kernels' per-position logic (kernels/cuda/roll_gate.cu), over the per-row records the host
// builds (synth/roll_gates.h: RollGateSource::kernel_records). PG_HD and plain pointers, so that the CPU
// tests run the very index arithmetic the device runs (tests/synth/test_roll_gates.cpp emulates both
// kernels with it): the .cu file only adds the grid-stride / block loops, the shared-memory staging and
// the atomics.
#pragma once
#include <cstdint>

#include "kernels/common/host_device.h"
#include "kernels/common/roll_gate_math.h"

namespace pianograd::kernels {

constexpr std::int64_t kRollKeys = 88;  // the gate roll's last dimension (synth/performance.h kNumKeys)
// Frames of one reduction block's column staged in shared memory (16 KB of doubles); a chunk whose frame
// span is wider adds straight to global memory.
constexpr std::int64_t kRollSpanMax = 2048;

// Per packed row, kRollRecord int64 (rows in packed order):
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

// The last row r with rec[r][field] <= i. Both searched fields are nondecreasing in r; rows with nothing
// stored (or no chunk) share the next row's value, and the last of equal rows is the one that holds i.
PG_HD std::int64_t roll_find_row(const std::int64_t* rec, std::int64_t rows, int field, std::int64_t i) {
  std::int64_t lo = 0, hi = rows - 1;
  while (lo < hi) {
    const std::int64_t mid = (lo + hi + 1) / 2;  // rounds up: lo = mid always moves
    if (rec[mid * kRollRecord + field] <= i) lo = mid; else hi = mid - 1;
  }
  return lo;
}

// gate[i] of the packed gate, i in [0, gate_size): d(n) = 1 - h(n) inside its row's [begin, end), else 0
// (also the packing gaps before a row's first stored sample: they fall past the previous row's end).
// roll: the gate roll [B, F, 88] (U widened to double). The expression is fill_cpu's.
template <class T, class U>
PG_HD T roll_gate_fill_at(const std::int64_t* rec, std::int64_t rows, const U* roll, const RollGateGeom& g,
                          std::int64_t i) {
  const std::int64_t* p = rec + roll_find_row(rec, rows, kRecStart, i) * kRollRecord;
  const std::int64_t t = i - p[kRecOff];
  double d = 0.0;
  if (t >= p[kRecBegin] && t < p[kRecEnd]) d = 1.0 - roll_gate_h(g, roll + p[kRecCol], kRollKeys, p[kRecW0] + t, p[kRecE0]);
  return static_cast<T>(d);
}

// One reduction chunk: `chunk` samples [t1, t2) of the row p (window-relative), the last chunk shorter.
struct RollChunk {
  const std::int64_t* p = nullptr;
  std::int64_t t1 = 0, t2 = 0;
};

PG_HD RollChunk roll_gate_chunk(const std::int64_t* rec, std::int64_t rows, std::int64_t chunk, std::int64_t c) {
  RollChunk ch;
  ch.p = rec + roll_find_row(rec, rows, kRecChunk, c) * kRollRecord;
  ch.t1 = ch.p[kRecBegin] + (c - ch.p[kRecChunk]) * chunk;
  ch.t2 = ch.t1 + chunk < ch.p[kRecEnd] ? ch.t1 + chunk : ch.p[kRecEnd];
  return ch;
}

// The frames [f0, f0 + n) of the row's column that the chunk's backward touches: E(n), e1 and e2 only grow
// with n, so from the base frame at the first sample (e1 - 1 = base) to the larger of the base and the last
// transition edge at the last sample. Frames >= F are in the span but never added to.
struct RollFrameSpan {
  std::int64_t f0 = 0, n = 0;
};

PG_HD RollFrameSpan roll_gate_chunk_span(const RollGateGeom& g, const RollChunk& ch) {
  const RollGateSpan a = roll_gate_span(g, ch.p[kRecW0] + ch.t1, ch.p[kRecE0]);
  const RollGateSpan b = roll_gate_span(g, ch.p[kRecW0] + ch.t2 - 1, ch.p[kRecE0]);
  RollFrameSpan s;
  s.f0 = a.base;
  s.n = (b.base > b.e2 - 1 ? b.base : b.e2 - 1) - a.base + 1;
  return s;
}

// Sample t of the chunk's row: dL/dh = -dL/dd = -gg[off + t] through roll_gate_h_backward into add(f, v),
// f a frame of the row's column (f < F).
template <class T, class Add>
PG_HD void roll_gate_backward_at(const RollGateGeom& g, const RollChunk& ch, const T* gg, std::int64_t t, Add& add) {
  roll_gate_h_backward(g, ch.p[kRecW0] + t, ch.p[kRecE0], -static_cast<double>(gg[ch.p[kRecOff] + t]), add);
}

// The reduce block's sink: frame f into the staged span sh[f - f0] when the span fits (kRollSpanMax), else
// straight into the output column col[f * 88]. Acc(double* p, double v): the accumulation (atomicAdd on
// the device, += in the CPU emulation).
template <class Acc>
struct RollSpanSink {
  double* sh;
  double* col;
  std::int64_t f0;
  bool shared;
  Acc acc;
  PG_HD void operator()(std::int64_t f, double v) const {
    if (shared) acc(sh + (f - f0), v); else acc(col + f * kRollKeys, v);
  }
};

// After the block's samples: staged frame k of the span into the output column (frames past the roll and
// untouched frames skipped).
template <class Acc>
PG_HD void roll_gate_flush_frame(const RollGateGeom& g, const double* sh, const RollFrameSpan& s, std::int64_t k,
                                 double* col, const Acc& acc) {
  if (sh[k] != 0.0 && s.f0 + k < g.F) acc(col + (s.f0 + k) * kRollKeys, sh[k]);
}

}  // namespace pianograd::kernels
