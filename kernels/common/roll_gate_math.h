// The roll renderer's damper gate per sample (synth/roll_renderer.cpp, synth/roll_gates.h), shared by the
// host (the renderer's edge tables, the compact gates' CPU reference) and the CUDA kernels
// (kernels/cuda/roll_gate.cu).
//
// The gate roll column g of a key switches at frame edges e = 1..F through sampled sigmoids
// S_e(n) = 1 / (1 + exp(-(n - s_e) / (tau sr))), s_e = e spf, taken as 0 below lo_e = ceil(s_e - R) and as
// 1 from hi_e = floor(s_e + R) + 1 on (R = 20 tau sr: sigmoid(-20) = 2.1e-9). A strike of frame f whose
// gate is evaluated from sample a on sees h(n) = g[e0-1] + sum_{e0 <= e <= F} (g[e] - g[e-1]) S_e(n)
// (e0: the first edge after f not fully passed at a; g[F] = 0, past the roll), damping d(n) = 1 - h(n).
// Because lo_e and hi_e grow with e, the edges fully passed at n telescope:
//   h(n) = g[max(E(n), e0-1)] + sum over the edges in transition at n (lo_e <= n < hi_e, e >= e0)
// with E(n) the last edge with hi_e <= n, so a sample costs O(2R/spf + 2) exps and no table.
//
// Bit-exactness: s_e, lo_e, hi_e and S_e use exactly the expressions below on both sides (the product
// e spf is kept unfused on the device, so an FMA cannot move an edge's lo/hi by one sample).
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/common/host_device.h"

namespace pianograd::kernels {

constexpr double kRollEdgeHalfWidth = 20.0;  // in tau

struct RollGateGeom {
  std::int64_t F = 0;   // frames of the roll (edges 1..F)
  double spf = 0;       // samples per frame: sample_rate / frame_rate
  double R = 0;         // the edges' half width in samples: kRollEdgeHalfWidth * tau * sample_rate
  double tau_sr = 0;    // tau * sample_rate
};

PG_HD RollGateGeom roll_gate_geom(std::int64_t F, double sample_rate, double frame_rate, double tau) {
  RollGateGeom g;
  g.F = F;
  g.spf = sample_rate / frame_rate;
  g.R = kRollEdgeHalfWidth * tau * sample_rate;
  g.tau_sr = tau * sample_rate;
  return g;
}

PG_HD double roll_edge_center(std::int64_t e, double spf) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(static_cast<double>(e), spf);  // never contracted into a following add
#else
  return static_cast<double>(e) * spf;
#endif
}
PG_HD std::int64_t roll_edge_lo(double s, double R) { return static_cast<std::int64_t>(std::ceil(s - R)); }
PG_HD std::int64_t roll_edge_hi(double s, double R) { return static_cast<std::int64_t>(std::floor(s + R)) + 1; }
// S_e(n) inside [lo_e, hi_e).
PG_HD double roll_edge_sigmoid(std::int64_t n, double s, double tau_sr) {
  return 1.0 / (1.0 + std::exp(-(static_cast<double>(n) - s) / tau_sr));
}

// The terms of h(n): the base frame (>= F: the base value is 0) and the transition edges [e1, e2).
struct RollGateSpan {
  std::int64_t base = 0, e1 = 0, e2 = 0;
};

PG_HD RollGateSpan roll_gate_span(const RollGateGeom& g, std::int64_t n, std::int64_t e0) {
  // E(n): a guess from the inverse of hi_e, then corrected with the exact hi_e (both loops run 0-1 times
  // except for rounding at the boundary).
  const double x = std::floor((static_cast<double>(n) - g.R) / g.spf);
  std::int64_t E = x < 0 ? 0 : x > static_cast<double>(g.F) ? g.F : static_cast<std::int64_t>(x);
  while (E < g.F && roll_edge_hi(roll_edge_center(E + 1, g.spf), g.R) <= n) ++E;
  while (E > 0 && roll_edge_hi(roll_edge_center(E, g.spf), g.R) > n) --E;
  RollGateSpan sp;
  sp.base = E > e0 - 1 ? E : e0 - 1;
  sp.e1 = E + 1 > e0 ? E + 1 : e0;
  sp.e2 = sp.e1;
  while (sp.e2 <= g.F && roll_edge_lo(roll_edge_center(sp.e2, g.spf), g.R) <= n) ++sp.e2;
  return sp;
}

// g[f] of the column col[f * stride] (U: the roll's element type, widened to double); 0 past the roll.
template <class U>
PG_HD double roll_gate_at(const RollGateGeom& g, const U* col, std::int64_t stride, std::int64_t f) {
  return f < g.F ? static_cast<double>(col[f * stride]) : 0.0;
}

// h(n) for the gate roll column col. Differs from the renderer's dense rows (RollPlan::gate_row: a
// running sum of the passed edges' steps plus the tabulated profiles) by rounding only.
template <class U>
PG_HD double roll_gate_h(const RollGateGeom& g, const U* col, std::int64_t stride, std::int64_t n, std::int64_t e0) {
  const RollGateSpan sp = roll_gate_span(g, n, e0);
  double h = roll_gate_at(g, col, stride, sp.base);
  for (std::int64_t e = sp.e1; e < sp.e2; ++e) {
    const double c = roll_gate_at(g, col, stride, e) - roll_gate_at(g, col, stride, e - 1);
    if (c != 0.0) h += c * roll_edge_sigmoid(n, roll_edge_center(e, g.spf), g.tau_sr);
  }
  return h;
}

// The backward of h at n: dL/dh = dh goes to g[base] and, per transition edge e, dc = dh S_e(n) to g[e]
// (c_e = g[e] - g[e-1]) and -dc to g[e-1]. add(f, v) is called for frames f < F only.
template <class Add>
PG_HD void roll_gate_h_backward(const RollGateGeom& g, std::int64_t n, std::int64_t e0, double dh, Add& add) {
  const RollGateSpan sp = roll_gate_span(g, n, e0);
  if (sp.base < g.F) add(sp.base, dh);
  for (std::int64_t e = sp.e1; e < sp.e2; ++e) {
    const double dc = dh * roll_edge_sigmoid(n, roll_edge_center(e, g.spf), g.tau_sr);
    if (e < g.F) add(e, dc);
    add(e - 1, -dc);
  }
}

}  // namespace pianograd::kernels
