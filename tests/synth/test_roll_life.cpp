// Life ends of the roll renderer's packed route (synth/roll_plan.h, strike_life_bound; synth/roll_life.h):
// the per-strike bound is conservative against the exact per-sample damping sum, not loose, and the packed
// route truncated by it renders what the CPU renderer renders with the same threshold, scanning far less.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "autodiff/ops.h"
#include "kernels/common/roll_gate_math.h"
#include "synth/modal_packed.h"
#include "synth/mode_builder.h"
#include "synth/roll_life.h"
#include "synth/roll_plan.h"
#include "synth/roll_renderer.h"
#include "render_compare.h"

namespace pianograd {
namespace {

constexpr double kSr = 16000.0;

// One item's rolls [F, 88] as host doubles. kind 0: binary notes released early (no pedal); 1: binary
// with the gate held long (a sustain pedal's effect on the roll), some to the end; 2: soft rolls (gate
// values in [0, 1] with ragged tails, onset strengths below 1).
struct HostRolls {
  std::vector<double> on, vel, gate;
};
HostRolls random_rolls(long F, int kind, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> key(0, 87), len(1, 12);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const size_t n = static_cast<size_t>(F * kNumKeys);
  HostRolls r{std::vector<double>(n, 0.0), std::vector<double>(n, 0.0), std::vector<double>(n, 0.0)};
  for (int s = 0; s < 14; ++s) {
    const long k = key(rng), f0 = static_cast<long>(u(rng) * 0.6 * static_cast<double>(F));
    long l = len(rng);
    if (kind == 1) l = u(rng) < 0.3 ? F : l + static_cast<long>(u(rng) * 0.3 * static_cast<double>(F));
    const size_t i0 = static_cast<size_t>(f0 * kNumKeys + k);
    r.on[i0] = kind == 2 ? 0.2 + 0.8 * u(rng) : 1.0;
    r.vel[i0] = 0.2 + 0.8 * u(rng);
    for (long f = f0; f < std::min(F, f0 + l); ++f) r.gate[static_cast<size_t>(f * kNumKeys + k)] = kind == 2 ? u(rng) : 1.0;
    if (kind == 2)  // a decaying tail past the note
      for (long f = f0 + l, q = 1; f < std::min(F, f0 + l + 4); ++f, ++q)
        r.gate[static_cast<size_t>(f * kNumKeys + k)] = std::max(r.gate[static_cast<size_t>(f * kNumKeys + k)], 0.5 / static_cast<double>(q));
  }
  return r;
}

RenderOptions options() {
  RenderOptions ro;
  ro.sample_rate = kSr;
  ro.body = ro.room = false;
  return ro;
}

// The exact check, by brute force from the gate the packed route evaluates (roll_gate_math.h): for strike
// j, G(n) = sum_{i in (start, n]} d(i) and whether every mode holds sigma t + g G >= need at n.
struct Exact {
  const detail::RollPlan<double>& P;
  size_t j;
  long s, e0;
  kernels::RollGateGeom geo;
  std::vector<double> G;  // G[n - s]
  Exact(const detail::RollPlan<double>& plan, size_t strike, double fr) : P(plan), j(strike) {
    s = P.modes.start[static_cast<size_t>(P.mode_begin[j])];
    e0 = P.first_edge(static_cast<long>(j), s);
    geo = kernels::roll_gate_geom(P.F, kSr, fr, P.ropt.damper_tau);
    G.assign(static_cast<size_t>(P.N - s), 0.0);
    for (long n = s + 1; n < P.N; ++n)
      G[static_cast<size_t>(n - s)] = G[static_cast<size_t>(n - s - 1)] + 1.0 - kernels::roll_gate_h(geo, P.g + P.skey[j], kNumKeys, n, e0);
  }
  // The worst mode's sigma t + g G - need at n, relative to its need (>= 0: all hold).
  double slack(long n) const {
    double worst = INFINITY;
    const double t = static_cast<double>(n - s), Gn = G[static_cast<size_t>(n - s)];
    for (long m = P.mode_begin[j]; m < P.mode_end[j]; ++m) {
      const size_t u = static_cast<size_t>(m);
      const double need = std::log(std::fabs(P.modes.amp[u]) / P.threshold) + std::log(2.0);
      if (!(need > 0)) continue;
      const double g = P.modes.env[u] < 0 ? 0.0 : P.modes.dgain[u];
      worst = std::min(worst, (P.modes.sigma[u] * t + g * Gn - need) / need);
    }
    return worst;
  }
  // The earliest n >= s at which all hold (N if none): the condition is monotone in n (G non-decreasing).
  long earliest() const {
    if (slack(P.N - 1) < 0) return P.N;
    long lo = s, hi = P.N - 1;
    while (lo < hi) {
      const long mid = (lo + hi) / 2;
      if (slack(mid) >= 0)
        hi = mid;
      else
        lo = mid + 1;
    }
    return lo;
  }
};

std::unique_ptr<detail::RollPlan<double>> plan_of(const PianoParamValues& pv, const HostRolls& r, long F, double fr,
                                                  long N, const RenderOptions& ro) {
  auto edges = std::make_shared<const detail::Edges>(F, kSr, fr, ro.damper_tau);
  return detail::make_plan<double>(pv, edges, r.on.data(), r.vel.data(), r.gate.data(), F, fr, N, ro,
                                   kRollOnsetThreshold, /*packed=*/true);
}

// The hull evaluates the same minimum as every mode, and first() is the first sample of a block that holds.
TEST(RollLife, HullConditionMatchesEveryMode) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<std::array<double, 3>> modes;
    detail::LifeCondition c;
    const int M = 1 + static_cast<int>(u(rng) * 60);
    for (int q = 0; q < M; ++q) {
      const std::array<double, 3> m{1e-4 * u(rng), trial % 5 == 0 ? 0.0 : 3e-3 * u(rng), 0.1 + 12 * u(rng)};
      modes.push_back(m);
      c.add(m[0], m[1], m[2]);
    }
    c.finish();
    EXPECT_LE(c.hull_size(), static_cast<size_t>(M));
    auto all_hold = [&](double t, double G) {
      for (const auto& m : modes)
        if (m[0] * t + m[1] * G < m[2]) return false;
      return true;
    };
    const double t0 = 2e4 * u(rng), G0 = t0 * u(rng), d = u(rng) < 0.3 ? 0.0 : u(rng);
    const long xmax = 1 + static_cast<long>(2e5 * u(rng));
    const long x = c.first(t0, G0, d, xmax);
    long want = -1;  // by brute force over the block
    for (long y = 1; y <= xmax; ++y)
      if (all_hold(t0 + static_cast<double>(y), G0 + d * static_cast<double>(y))) {
        want = y;
        break;
      }
    if (want < 0) {
      EXPECT_EQ(x, -1) << trial;
    } else {
      ASSERT_GE(x, want) << trial;  // never early
      EXPECT_LE(x, want + 1) << trial;  // a sample late at most (the crossing's rounding margin)
    }
  }
}

// At the bound every mode of the strike already holds with the exact per-sample sum (so the bound is never
// early), for binary rolls with and without long gates and for soft rolls, at frame periods that are and
// are not whole samples; without pedal the bound is within a stated margin of the exact earliest point.
TEST(RollLife, BoundIsConservativeAndTight) {
  PianoParams params = PianoParams::concert_grand(kSr, DType::f64);
  const PianoParamValues pv = piano_param_values(params);
  const RenderOptions ro = options();
  const long N = static_cast<long>(3 * kSr);
  int proven = 0, checked = 0;
  for (double fr : {31.25, 86.1328125}) {
    const long F = static_cast<long>(3 * fr) + 2;
    // Block length of the bound (strike_life_bound) at this frame rate.
    const long L = std::max(kernels::kModalBlock, std::lround(kSr / fr / 4));
    for (int kind = 0; kind < 3; ++kind)
      for (unsigned seed = 0; seed < 3; ++seed) {
        const HostRolls r = random_rolls(F, kind, 100 * seed + static_cast<unsigned>(kind));
        const auto P = plan_of(pv, r, F, fr, N, ro);
        ASSERT_GT(P->threshold, 0.0);
        ASSERT_GT(P->strikes.size(), 5u);
        for (size_t j = 0; j < P->strikes.size(); ++j) {
          if (P->mode_begin[j] == P->mode_end[j]) continue;
          const long nb = detail::strike_life_bound(*P, j);
          EXPECT_EQ(P->life_end[j], std::min(N, nb + kernels::kModalBlock));
          if (nb >= N) continue;
          ++proven;
          const Exact ex(*P, j, fr);
          ASSERT_GE(nb, ex.s);
          // Exact to rounding: 1e-12 of the need.
          EXPECT_GE(ex.slack(nb), -1e-12) << "fr " << fr << " kind " << kind << " strike " << j << " at " << nb;
          if (kind != 0) continue;
          // Tightness without pedal: the damping lost is at most one block per switching edge of the release
          // (its sigmoid spans 2 R = 40 tau), plus a block for the crossing's rounding and the first block.
          ++checked;
          const long n0 = ex.earliest();
          EXPECT_LE(nb - n0, 3 * L) << "fr " << fr << " strike " << j << ": bound " << nb << ", exact " << n0;
        }
      }
  }
  EXPECT_GT(proven, 40);
  EXPECT_GT(checked, 15);
}

// Threshold 0: every strike lives to N, exactly the packed route's old semantics; a gate above 1 that the
// strike sees (d < 0: |z| may grow back) leaves it unbounded.
TEST(RollLife, ZeroThresholdAndGatesAboveOneRunToTheEnd) {
  PianoParams params = PianoParams::concert_grand(kSr, DType::f64);
  const PianoParamValues pv = piano_param_values(params);
  RenderOptions ro = options();
  const double fr = 31.25;
  const long F = 100, N = 48000;
  HostRolls r = random_rolls(F, 0, 7);
  ro.rel_threshold = 0.0;
  auto P = plan_of(pv, r, F, fr, N, ro);
  for (size_t j = 0; j < P->strikes.size(); ++j) EXPECT_EQ(P->life_end[j], P->mode_begin[j] == P->mode_end[j] ? 0 : N);
  ro.rel_threshold = 1e-5;
  P = plan_of(pv, r, F, fr, N, ro);
  ASSERT_FALSE(P->strikes.empty());
  EXPECT_LT(P->life_end[0], N);  // released early: bounded
  const long k = P->skey[0];
  r.gate[static_cast<size_t>(P->sframe[0] * kNumKeys + k)] = 1.5;  // seen from the strike on
  P = plan_of(pv, r, F, fr, N, ro);
  EXPECT_EQ(P->life_end[0], N);
}

// A 4 s batch whose notes all end by 1.5 s.
struct Clip {
  Tensor onset, velocity, gate;
};
Clip early_clip(DType dt, bool soft) {
  const double fr = 31.25;
  const long B = 2, F = 125;
  std::vector<double> on, vel, gate;
  for (long b = 0; b < B; ++b) {
    HostRolls r = random_rolls(F, soft ? 2 : 0, 40 + static_cast<unsigned>(b));
    for (long f = static_cast<long>(1.5 * fr) - 4; f < F; ++f)  // nothing sounds past ~1.5 s
      for (long k = 0; k < kNumKeys; ++k) {
        const size_t i = static_cast<size_t>(f * kNumKeys + k);
        r.on[i] = r.gate[i] = 0.0;
      }
    on.insert(on.end(), r.on.begin(), r.on.end());
    vel.insert(vel.end(), r.vel.begin(), r.vel.end());
    gate.insert(gate.end(), r.gate.begin(), r.gate.end());
  }
  const Shape s{B, F, kNumKeys};
  return {from_vector(on, s).to(dt).requires_grad_(), from_vector(vel, s).to(dt).requires_grad_(),
          from_vector(gate, s).to(dt).requires_grad_()};
}

double peak(const Tensor& y) {
  double m = 0;
  for (double v : y.to_vector<double>()) m = std::max(m, std::fabs(v));
  return m;
}

// The packed route truncated by the bound vs the CPU renderer truncated on the fly, both at the default
// threshold: the audio differs by the truncated tails only (both below -100 dB of the loudest mode, cut at
// different samples), <= 1e-4 of the peak. Gradients differ by the tails' share too, but a gradient sums
// over a mode's samples weighted by up to t (frequency, decay), so a -100 dB tail of a few seconds weighs
// more: <= 1e-2 of each gradient's scale (measured <= 4e-3, on the knock modes' tiny gradients). Every mode
// runs at least as long as on the CPU, so against the untruncated render (rel_threshold 0) the packed
// route is the closer one: audio, and gradients summed over the parameters (per gradient, tails of
// different modes may cancel differently). And the scan's work: >= 40% less than at threshold 0.
TEST(RollLife, PackedRouteAtDefaultThresholdMatchesCpuRenderer) {
  const double fr = 31.25;
  const int64_t N = static_cast<int64_t>(4 * kSr);
  for (DType dt : {DType::f64, DType::f32})
    for (bool soft : {false, true}) {
      PianoParams p = PianoParams::concert_grand(kSr, dt);
      const RenderOptions ro = options();
      const Clip c = early_clip(dt, soft);
      auto run = [&] { return render_roll_dry(p, c.onset, c.velocity, c.gate, fr, N, ro); };
      const auto cpu = testing::render_and_grads(run, {c.onset, c.velocity, c.gate}, p);
      RenderOptions rfull = ro;
      rfull.rel_threshold = 0.0;
      const auto full = testing::render_and_grads([&] { return render_roll_dry(p, c.onset, c.velocity, c.gate, fr, N, rfull); },
                                                  {c.onset, c.velocity, c.gate}, p);
      run();
      EXPECT_EQ(last_roll_render_stats().scan_samples, 0);
      std::vector<Tensor> packed;
      int64_t scan = 0, scan0 = 0;
      {
        detail::PackedCpuScope scope;
        packed = testing::render_and_grads(run, {c.onset, c.velocity, c.gate}, p);
        scan = last_roll_render_stats().scan_samples;
        RenderOptions r0 = ro;
        r0.rel_threshold = 0.0;
        render_roll_dry(p, c.onset.detach(), c.velocity.detach(), c.gate.detach(), fr, N, r0);
        scan0 = last_roll_render_stats().scan_samples;
      }
      const std::string tag = std::string(dt == DType::f64 ? " f64" : " f32") + (soft ? " soft" : " binary");
      const double pk = peak(cpu[0]);
      ASSERT_GT(pk, 0.0);
      double err = 0;
      const auto a = packed[0].to_vector<double>(), b = cpu[0].to_vector<double>();
      for (size_t i = 0; i < a.size(); ++i) err = std::max(err, std::fabs(a[i] - b[i]));
      EXPECT_LE(err, 1e-4 * pk) << tag;
      const auto z = full[0].to_vector<double>();
      double epf = 0, ecf = 0;
      for (size_t i = 0; i < a.size(); ++i) epf = std::max(epf, std::fabs(a[i] - z[i])), ecf = std::max(ecf, std::fabs(b[i] - z[i]));
      EXPECT_LE(epf, ecf) << tag;  // every mode runs at least as long as on the CPU: closer to the exact render
      double sum_pf = 0, sum_cf = 0;  // gradient errors against the untruncated render, relative to scale
      for (size_t i = 1; i < cpu.size(); ++i) {
        if (!cpu[i].defined()) continue;
        const auto x = packed[i].to_vector<double>(), y = cpu[i].to_vector<double>(), w = full[i].to_vector<double>();
        double scale = 0, e = 0, pf = 0, cf = 0;
        for (size_t q = 0; q < x.size(); ++q) {
          scale = std::max(scale, std::fabs(y[q]));
          e = std::max(e, std::fabs(x[q] - y[q]));
          pf = std::max(pf, std::fabs(x[q] - w[q]));
          cf = std::max(cf, std::fabs(y[q] - w[q]));
        }
        EXPECT_LE(e, 1e-2 * scale + 1e-12) << "gradient " << i << tag;
        sum_pf += pf / (scale + 1e-30);
        sum_cf += cf / (scale + 1e-30);
      }
      EXPECT_LT(sum_pf, sum_cf) << tag;
      EXPECT_GT(scan, 0) << tag;
      EXPECT_LE(static_cast<double>(scan), 0.6 * static_cast<double>(scan0)) << tag << ": " << scan << " vs " << scan0;
    }
}

}  // namespace
}  // namespace pianograd
