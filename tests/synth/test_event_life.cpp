// The event renderer's life ends on the packed route (synth/event_life.h):
// * the bound is conservative: at every mode's bound point the exact per-sample damper sum (the plan's
//   gate, summed sample by sample here) already gives sigma t + g G >= need, for random notes with and
//   without a pedal (per sample and per frame) and two damper taus; and it is tight without a pedal (life
//   end within a stated margin of the brute-force earliest point + the block margin);
// * threshold 0 gives life_end = N (the route's former behaviour); a pedal above 1 gives no bound (N);
// * end to end, the packed CPU route at the default threshold matches the CPU renderer at the default
//   threshold (both truncate near -100 dB, differently) in audio and gradients, and scans far fewer samples
//   than with threshold 0 when the notes end early.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "autodiff/ops.h"
#include "autodiff/tape.h"
#include "kernels/cpu/modal.h"
#include "synth/event_life.h"
#include "synth/event_plan.h"
#include "synth/event_renderer.h"
#include "synth/modal_packed.h"
#include "render_compare.h"

namespace pianograd {
namespace {

using detail::DamperFloor;
using detail::EventPlan;

struct Notes {
  Tensor keys, on, off, vel;
};

// n notes with onsets in [0, on_max) s, held 0.05..hold_max s (some released past the clip's end).
Notes random_notes(unsigned seed, int n, double on_max, double hold_max) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<int64_t> k;
  std::vector<double> on, off, vel;
  for (int i = 0; i < n; ++i) {
    k.push_back(21 + static_cast<int64_t>(u(rng) * 88));
    on.push_back(u(rng) * on_max);
    off.push_back(on.back() + 0.05 + u(rng) * hold_max);
    vel.push_back(20 + u(rng) * 107);
  }
  return {from_vector(k), from_vector(on), from_vector(off), from_vector(vel)};
}

// A pedal with a few down stretches (values in (0.3, 1]) and ramps, per sample (N values) or per frame.
Tensor random_pedal(unsigned seed, long n) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> p(static_cast<size_t>(n), 0.0);
  for (int s = 0; s < 3; ++s) {
    const long a = static_cast<long>(u(rng) * static_cast<double>(n)), len = static_cast<long>(u(rng) * static_cast<double>(n) / 4);
    const double v = 0.3 + 0.7 * u(rng);
    for (long i = a; i < std::min(n, a + len); ++i)
      p[static_cast<size_t>(i)] = v * std::min(1.0, static_cast<double>(i - a + 1) / (0.1 * static_cast<double>(len) + 1));
  }
  return from_vector(p);
}

struct Checked {
  long modes = 0;       // modes checked (need > 0, point < N)
  long worst_slack = 0; // no-pedal notes: max of life_end - (brute-force earliest end + block)
};

// Every mode of every strike of P: its bound point against the brute-force per-sample sums.
Checked check_plan(const EventPlan<double>& P, bool tight) {
  Checked c;
  const DamperFloor floor(P.pedal, P.N);
  for (size_t j = 0; j < P.strikes.size(); ++j) {
    const long mb = P.mode_begin[j], me = P.mode_end[j];
    if (mb == me) continue;
    std::vector<double> C(static_cast<size_t>(P.N));  // C[n] = sum_{i <= n} gate(i, j), the exact sum
    double acc = 0;
    for (long n = 0; n < P.N; ++n) C[static_cast<size_t>(n)] = acc += P.gate(n, j);
    const detail::NoteDamper d = detail::note_damper(P, j, floor);
    long latest = P.modes.start[static_cast<size_t>(mb)], earliest = latest;
    for (long m = mb; m < me; ++m) {
      const detail::ModeLife q = detail::mode_life(P, m, d);
      const long s = q.start;
      auto exact = [&](long n) { return q.sigma * static_cast<double>(n - s) + q.g * (C[static_cast<size_t>(n)] - C[static_cast<size_t>(s)]); };
      if (!(q.need > 0)) continue;
      const long p = q.point(floor);
      latest = std::max(latest, p);
      long e = s;  // brute force: the first sample from which the exact sum reaches need
      while (e < P.N && exact(e) < q.need) ++e;
      earliest = std::max(earliest, e);
      EXPECT_LE(e, p) << "strike " << j << " mode " << m;
      if (p < P.N) {
        EXPECT_GE(exact(p), q.need) << "strike " << j << " mode " << m << " point " << p;
        ++c.modes;
      }
    }
    const long block = kernels::kModalBlock;
    EXPECT_EQ(P.life_end[j], std::min(P.N, latest + block)) << "strike " << j;
    EXPECT_GE(P.life_end[j], std::min(P.N, earliest + block)) << "strike " << j;
    if (tight) c.worst_slack = std::max(c.worst_slack, P.life_end[j] - std::min(P.N, earliest + block));
  }
  return c;
}

TEST(EventLife, BoundIsConservativeAndTightWithoutPedal) {
  PianoParams p = PianoParams::concert_grand(16000.0, DType::f64);
  const long N = 48000;
  long checked = 0, worst = 0;
  for (double tau : {0.004, 0.02})
    for (unsigned seed : {1u, 2u, 3u}) {
      RenderOptions ro;
      ro.damper_tau = tau;
      const Notes n = random_notes(seed, 8, 2.0, 1.5);
      auto P = detail::make_event_plan<double>(p, n.keys, n.on, n.off, n.vel, Tensor(), N, ro, true);
      const Checked c = check_plan(*P, true);
      checked += c.modes;
      worst = std::max(worst, c.worst_slack);
    }
  EXPECT_GT(checked, 1000);  // most modes end within the clip
  // Without a pedal the bound drops less than a sample of damping (the stretch's integral bound), so
  // the life end trails the brute-force one by a few samples: 10 ms (160 samples) is a wide margin.
  EXPECT_LE(worst, 160) << "life end beyond the brute-force earliest point + block margin";
  std::printf("[ info ] no pedal: %ld modes checked, life end at most %ld samples late\n", checked, worst);
}

TEST(EventLife, BoundIsConservativeWithPedal) {
  PianoParams p = PianoParams::concert_grand(16000.0, DType::f64);
  const long N = 48000;
  long checked = 0;
  for (unsigned seed : {4u, 5u, 6u}) {
    RenderOptions ro;
    const Notes n = random_notes(seed, 8, 2.0, 1.0);
    // per sample, then per frame (100 frames/s, interpolated by the plan)
    for (Tensor pedal : {random_pedal(seed, N), random_pedal(seed + 10, N / 160)}) {
      auto P = detail::make_event_plan<double>(p, n.keys, n.on, n.off, n.vel, pedal, N, ro, true);
      checked += check_plan(*P, false).modes;
    }
  }
  EXPECT_GT(checked, 500);
}

TEST(EventLife, ThresholdZeroOrBadPedalRunsToTheEnd) {
  PianoParams p = PianoParams::concert_grand(16000.0, DType::f64);
  const long N = 16000;
  const Notes n = random_notes(7, 5, 0.5, 0.2);
  RenderOptions ro;
  ro.rel_threshold = 0.0;
  auto P = detail::make_event_plan<double>(p, n.keys, n.on, n.off, n.vel, Tensor(), N, ro, true);
  for (size_t j = 0; j < P->strikes.size(); ++j) EXPECT_EQ(P->life_end[j], N);
  ro.rel_threshold = 1e-5;
  std::vector<double> bad(static_cast<size_t>(N), 0.0);
  bad[100] = 1.5;  // outside [0, 1]: (1 - pedal) S < 0, no lower bound of the damper sum
  P = detail::make_event_plan<double>(p, n.keys, n.on, n.off, n.vel, from_vector(bad), N, ro, true);
  for (size_t j = 0; j < P->strikes.size(); ++j) EXPECT_EQ(P->life_end[j], N);
  P = detail::make_event_plan<double>(p, n.keys, n.on, n.off, n.vel, Tensor(), N, ro, true);
  long early = 0;
  for (size_t j = 0; j < P->strikes.size(); ++j) early += P->life_end[j] < N ? 1 : 0;
  EXPECT_GT(early, 0);  // notes held <= 0.25 s end within 1 s
}

// A 4 s clip whose notes are released by 1.5 s.
struct Clip {
  Tensor keys, on, off, vel;
  Clip() {
    Notes n = random_notes(11, 6, 1.0, 0.4);
    keys = n.keys;
    on = n.on.requires_grad_();
    off = n.off.requires_grad_();
    vel = n.vel.requires_grad_();
  }
};

TEST(EventLife, PackedRouteAtDefaultThresholdMatchesCpuRenderer) {
  PianoParams p = PianoParams::concert_grand(16000.0, DType::f64);
  RenderOptions ro;
  ro.body = ro.room = false;
  ro.max_partials = 24;
  const int64_t N = 64000;
  Clip c;
  Tensor pedal = random_pedal(3, N / 160).requires_grad_();
  auto run = [&] { return render_events_dry(p, c.keys, c.on, c.off, c.vel, pedal, N, ro); };
  const auto cpu = testing::render_and_grads(run, {c.on, c.off, c.vel, pedal}, p);
  EXPECT_EQ(last_event_render_stats().scan_samples, 0);  // the CPU route has no packed bank
  std::vector<Tensor> packed;
  {
    detail::PackedCpuScope scope;
    packed = testing::render_and_grads(run, {c.on, c.off, c.vel, pedal}, p);
  }
  // The untruncated render (the CPU renderer at threshold 0, which the packed route at threshold 0 equals).
  RenderOptions r0 = ro;
  r0.rel_threshold = 0.0;
  auto run0 = [&] { return render_events_dry(p, c.keys, c.on, c.off, c.vel, pedal, N, r0); };
  const auto exact = testing::render_and_grads(run0, {c.on, c.off, c.vel, pedal}, p);
  // max |a - b| / max |b| over each output.
  auto rel = [](const Tensor& x, const Tensor& y) {
    const auto a = x.to_vector<double>(), b = y.to_vector<double>();
    double sc = 0, er = 0;
    for (size_t k = 0; k < a.size(); ++k) sc = std::max(sc, std::fabs(b[k])), er = std::max(er, std::fabs(a[k] - b[k]));
    return sc > 0 ? er / sc : er;
  };
  // Both routes stop each mode near -100 dB of the loudest (the CPU kernel per 64-sample block once below
  // the threshold, the packed route at its bound, where the mode is below half of it): the audio differs
  // by about the threshold per mode.
  EXPECT_GT(rel(cpu[0], exact[0]), 0.0);  // the CPU route does truncate
  EXPECT_LE(rel(packed[0], cpu[0]), 1e-4);
  // Gradients: the truncated tails carry -100 dB of the signal but are weighted by time for the decay
  // parameters (dz/dsigma = -t z, t up to the clip's 64000 samples): the CPU route's own gradients differ
  // from the untruncated ones by up to ~3e-3 of their scale here. The packed route truncates later (at
  // half the threshold, bounded) and must be closer: within 1e-3 of the untruncated gradients, and so
  // within 5e-3 of the CPU route's. A wrong gate, end or missing mode would be off by O(1).
  for (size_t i = 1; i < cpu.size(); ++i) {
    if (!cpu[i].defined()) continue;
    EXPECT_LE(rel(packed[i], exact[i]), 1e-3) << "gradient " << i << " vs the untruncated render";
    EXPECT_LE(rel(packed[i], cpu[i]), 5e-3) << "gradient " << i << " vs the CPU route";
  }
}

TEST(EventLife, EarlyNotesScanFarLessThanWithThresholdZero) {
  PianoParams p = PianoParams::concert_grand(16000.0, DType::f32);
  RenderOptions ro;
  ro.body = ro.room = false;
  const int64_t N = 64000;
  Clip c;
  auto scan = [&](double rel) {
    RenderOptions r = ro;
    r.rel_threshold = rel;
    detail::PackedCpuScope scope;
    NoGrad ng;
    render_events_dry(p, c.keys, c.on.to(DType::f32), c.off.to(DType::f32), c.vel.to(DType::f32), Tensor(), N, r);
    return last_event_render_stats().scan_samples;
  };
  const int64_t full = scan(0.0), cut = scan(1e-5);
  EXPECT_GT(cut, 0);
  EXPECT_LE(static_cast<double>(cut), 0.6 * static_cast<double>(full));
  std::printf("[ info ] scan samples: %lld at threshold 0, %lld at 1e-5\n", static_cast<long long>(full),
              static_cast<long long>(cut));
}

}  // namespace
}  // namespace pianograd
