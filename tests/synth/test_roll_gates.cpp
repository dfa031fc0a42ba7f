// The roll renderer's compact gates (synth/roll_gates.h) on the CPU: every packed row written by the source
// equals the renderer's old dense host row (RollPlan::gate_row), its reduction equals the old dense chain
// rule (RollPlan::gate_row_backward), over the edge cases (strikes in the first / last frame, staccato
// repeats, soft gate values, B > 1, R > spf and R < spf, a fractional frame period, float and double), and
// the packed route renders with no host gate rows and matches the CPU renderer.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "autodiff/ops.h"
#include "autodiff/tape.h"
#include "kernels/common/roll_gate_math.h"
#include "synth/modal_packed.h"
#include "synth/roll_gates.h"
#include "synth/roll_renderer.h"

namespace pianograd {
namespace {

struct Case {
  std::string name;
  long B, F;
  double fr, tau;
  int64_t N;
};

// Onsets, velocities and gates [B, F, 88]: per item a staccato key (struck every other frame, gate
// 1/0.6/0 alternating: an edge at nearly every frame), a strike in frame 0 held to past the roll's end,
// a strike in the last frame that starts inside the signal, and a few random soft notes.
struct Rolls {
  std::vector<double> on, vel, gate;
};
Rolls make_rolls(const Case& c, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.2, 1.0);
  std::uniform_int_distribution<int> key(5, 80), len(1, 6);
  const size_t n = static_cast<size_t>(c.B * c.F * kNumKeys);
  Rolls r{std::vector<double>(n, 0.0), std::vector<double>(n, 0.5), std::vector<double>(n, 0.0)};
  auto at = [&](long b, long f, long k) { return static_cast<size_t>((b * c.F + f) * kNumKeys + k); };
  // The last frame whose strike starts inside the signal (f spf <= N - 1).
  const long last = std::min(c.F - 1, static_cast<long>(std::floor(static_cast<double>(c.N - 1) * c.fr / 16000.0)));
  for (long b = 0; b < c.B; ++b) {
    const long ks = 40 + b;  // staccato
    for (long f = 0; f < c.F; ++f) {
      if (f % 2 == 0) r.on[at(b, f, ks)] = u(rng), r.vel[at(b, f, ks)] = u(rng);
      r.gate[at(b, f, ks)] = f % 3 == 0 ? 1.0 : f % 3 == 1 ? 0.6 : 0.0;
    }
    r.on[at(b, 0, 20)] = 1.0;  // first frame, held past the roll
    for (long f = 0; f < c.F; ++f) r.gate[at(b, f, 20)] = 0.9;
    r.on[at(b, last, 70)] = 0.8;  // last frame that sounds
    r.gate[at(b, last, 70)] = 0.7;
    for (int s = 0; s < 3; ++s) {  // soft notes
      const long k = key(rng), f0 = std::uniform_int_distribution<long>(0, c.F - 1)(rng);
      if (k == ks || k == 20 || k == 70) continue;
      r.on[at(b, f0, k)] = u(rng);
      for (long f = f0; f < std::min(c.F, f0 + len(rng)); ++f) r.gate[at(b, f, k)] = u(rng);
    }
  }
  return r;
}

std::vector<Case> cases() {
  return {
      {"R>spf", 2, 24, 31.25, 0.004, 14000},      // spf 512, R 1280; the roll ends before the signal
      {"R<spf", 2, 30, 31.25, 0.0005, 12000},     // R 160; the roll runs past the signal
      {"fractional", 3, 20, 30.0, 0.004, 11000},  // spf 533.33
      {"fast", 1, 80, 250.0, 0.004, 6000},        // spf 64: 40 edges in transition at once
      {"slow", 1, 6, 4.0, 0.004, 16000},          // spf 4000 >> R
  };
}

template <class T>
detail::RollGateCheck<T> check_of(const Case& c, unsigned seed) {
  const Rolls r = make_rolls(c, seed);
  const Shape s{c.B, c.F, kNumKeys};
  const DType dt = dtype_v<T>;
  PianoParams p = PianoParams::concert_grand(16000.0, dt);
  RenderOptions ro;
  ro.body = ro.room = false;
  ro.max_partials = 4;
  ro.group_size = 2;
  ro.damper_tau = c.tau;
  return detail::roll_gate_check<T>(p, from_vector(r.on, s).to(dt), from_vector(r.vel, s).to(dt),
                                    from_vector(r.gate, s).to(dt), c.fr, c.N, ro, seed);
}

template <class T>
void fill_matches_dense_rows() {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const auto k = check_of<T>(c, 3);
    ASSERT_TRUE(k.compact.gate.empty());  // no dense rows on the host
    ASSERT_EQ(k.compact.gate_size, k.dense.gate_size);
    ASSERT_EQ(k.compact.gate_off, k.dense.gate_off);
    ASSERT_GT(k.dense.rows(), 2 * c.B);
    std::vector<T> f(static_cast<size_t>(k.compact.gate_size), T(-7));
    k.compact.gates->fill_cpu(k.compact, f.data());
    // The dense row is a running sum of steps plus shared profiles, the source a per-sample telescoped sum:
    // equal up to rounding (1e-14 in double; one rounding of the result in float).
    const double tol = std::is_same_v<T, double> ? 1e-14 : 1.2e-7;
    long soft = 0;
    double err = 0;
    for (size_t i = 0; i < f.size(); ++i) {
      const double a = static_cast<double>(f[i]), b = static_cast<double>(k.dense.gate[i]);
      err = std::max(err, std::fabs(a - b));
      ASSERT_LE(std::fabs(a - b), tol * std::max(1.0, std::fabs(b))) << "sample " << i;
      soft += b > 1e-3 && b < 0.999;
    }
    EXPECT_GT(soft, 100) << "no gate in transition or soft";  // the edge cases are exercised
    std::printf("%s %s: %ld samples, max |fill - dense| %.3g\n", c.name.c_str(), std::is_same_v<T, double> ? "f64" : "f32",
                static_cast<long>(f.size()), err);
  }
}
TEST(RollGates, FillMatchesDenseRowsDouble) { fill_matches_dense_rows<double>(); }
TEST(RollGates, FillMatchesDenseRowsFloat) { fill_matches_dense_rows<float>(); }

template <class T>
void reduce_matches_dense_chain_rule() {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const auto k = check_of<T>(c, 9);
    const std::vector<double> red = k.compact.gates->reduce_cpu(k.compact, k.gg.data());
    ASSERT_EQ(red.size(), k.dense_grad.size());
    double scale = 0, err = 0;
    long nonzero = 0;
    for (size_t i = 0; i < red.size(); ++i) {
      scale = std::max(scale, std::fabs(k.dense_grad[i]));
      err = std::max(err, std::fabs(red[i] - k.dense_grad[i]));
      nonzero += k.dense_grad[i] != 0.0;
    }
    EXPECT_GT(nonzero, 10);
    EXPECT_LE(err, 1e-12 * (1 + scale)) << "max error " << err << ", scale " << scale;
  }
}
TEST(RollGates, ReduceMatchesDenseChainRuleDouble) { reduce_matches_dense_chain_rule<double>(); }
TEST(RollGates, ReduceMatchesDenseChainRuleFloat) { reduce_matches_dense_chain_rule<float>(); }

// The telescoped form at a few hand-checked points: before the first edge after the strike, between
// edges, and past the roll.
TEST(RollGates, TelescopedGateByHand) {
  const kernels::RollGateGeom g = kernels::roll_gate_geom(3, 16000.0, 10.0, 0.001);  // spf 1600, R 320
  const double col[3] = {0.5, 0.25, 1.0};  // stride 1
  EXPECT_EQ(kernels::roll_gate_h(g, col, 1, 1000, 1), 0.5);     // edge 1 (1600) not yet in transition
  EXPECT_EQ(kernels::roll_gate_h(g, col, 1, 2500, 1), 0.25);    // edge 1 passed, edge 2 (3200) not started
  EXPECT_EQ(kernels::roll_gate_h(g, col, 1, 2500, 3), 1.0);     // struck in frame 2 (e0 = 3): base g[2]
  EXPECT_EQ(kernels::roll_gate_h(g, col, 1, 6000, 1), 0.0);     // past edge 3 = the roll's end
  const double mid = kernels::roll_gate_h(g, col, 1, 3200, 1);  // edge 2 at its center: halfway
  EXPECT_NEAR(mid, 0.25 + 0.75 * 0.5, 1e-15);
}

// The packed route with compact gates renders like the CPU renderer (forward and the gate roll's
// gradient) on the edge cases, and writes no gate sample on the host.
TEST(RollGates, PackedRouteMatchesCpuRendererWithoutHostRows) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const Rolls r = make_rolls(c, 5);
    const Shape s{c.B, c.F, kNumKeys};
    PianoParams p = PianoParams::concert_grand(16000.0, DType::f64);
    RenderOptions ro;
    ro.body = ro.room = false;
    ro.max_partials = 4;
    ro.group_size = 2;
    ro.damper_tau = c.tau;
    ro.rel_threshold = 0.0;
    std::vector<Tensor> out[2];
    RollRenderStats st[2];
    for (int packed = 0; packed < 2; ++packed) {
      const Tensor on = from_vector(r.on, s), vel = from_vector(r.vel, s), gate = from_vector(r.gate, s).requires_grad_();
      std::unique_ptr<detail::PackedCpuScope> scope;
      if (packed) scope = std::make_unique<detail::PackedCpuScope>();
      const Tensor y = render_roll_dry(p, on, vel, gate, c.fr, c.N, ro);
      st[packed] = last_roll_render_stats();
      std::mt19937 rng(2);
      std::normal_distribution<double> nd;
      std::vector<double> w(static_cast<size_t>(y.numel()));
      for (double& v : w) v = nd(rng);
      sum(mul(y, from_vector(w, y.shape()))).backward();
      out[packed] = {y.detach(), gate.grad()};
    }
    EXPECT_GT(st[0].gate_samples, 0);
    EXPECT_EQ(st[1].gate_samples, 0);  // compact: no host rows
    EXPECT_EQ(st[1].strikes, st[0].strikes);
    for (int i = 0; i < 2; ++i) {
      const auto a = out[1][static_cast<size_t>(i)].to_vector<double>(), b = out[0][static_cast<size_t>(i)].to_vector<double>();
      ASSERT_EQ(a.size(), b.size());
      double scale = 0, err = 0;
      for (size_t q = 0; q < a.size(); ++q) scale = std::max(scale, std::fabs(b[q])), err = std::max(err, std::fabs(a[q] - b[q]));
      EXPECT_GT(scale, 0.0) << (i ? "gate gradient" : "audio");
      EXPECT_LE(err, 1e-12 * (1 + scale)) << (i ? "gate gradient" : "audio") << ": max error " << err;
    }
  }
}

}  // namespace
}  // namespace pianograd
