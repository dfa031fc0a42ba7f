// Internal to the event renderer: each strike's life end on the packed route (CUDA controls, or its CPU
// twin), where a mode cannot be truncated on the fly — the GPU scan runs every mode from its start to a
// length fixed in advance (GroupBank::end). So the end must be known before the scan, cheaply (the
// renderer's per-sample note_lifetimes costs ~10-100 ms per 64 x 4 s batch; this is O(modes x log N +
// N) per item) and conservatively (never before the sample from which the mode is truly silent).
//
// The bound (event_renderer.cpp's file comment): log |z[n]| <= log amp - sigma (n - s) - g sum_{i in
// (s, n]} d(i), d = (1 - pedal) S. A mode is below half the bank's absolute threshold from the first n
// with sigma (n - s) + g G(n) >= need = log(amp / threshold) + log 2, and stays there (every term is
// non-decreasing in n). G is replaced by a LOWER bound, from what S is: 0 before sig_lo, the sigmoid
// (increasing) on [sig_lo, sig_hi), exactly 1 from sig_hi on:
// * from sig_hi on, d = 1 - pedal: its sum is closed form without a pedal, one prefix sum per item with one;
// * on the sigmoid's stretch (60 tau: 0.24 s at the default tau, as long as the damper needs), where the
//   pedal is up: sum_{i=a..b} S(i) >= the integral of S over [a - 1, b] (S increasing) = tau sr (softplus
//   x(b) - softplus x(a - 1)), x(t) = (t / sr - off) / tau. Where the pedal is down somewhere in the
//   stretch the stretch is dropped (its d >= 0), which costs at most ~30 tau of damping.
// So the bound trails the true point by about a sample of damping (a few ms) without a pedal.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/modal.h"
#include "synth/event_plan.h"

namespace pianograd::detail {

// One item's lower bounds of the damper sums.
class DamperFloor {
 public:
  // pedal: per sample (N values) or empty (pedal up). A pedal above 1 (or NaN) makes (1 - pedal) S
  // negative where S < 1, which dropping cannot bound: then no bound at all (valid() false).
  DamperFloor(const std::vector<double>& pedal, long N) : N_(N) {
    if (pedal.empty()) return;
    q_.resize(static_cast<size_t>(N) + 1, 0.0);
    down_.resize(static_cast<size_t>(N) + 1, 0);
    for (long i = 0; i < N; ++i) {
      const double p = pedal[static_cast<size_t>(i)];
      const size_t u = static_cast<size_t>(i);
      if (!(p <= 1.0)) valid_ = false;
      q_[u + 1] = q_[u] + (1.0 - p);
      down_[u + 1] = down_[u] + (p > 0.0 ? 1 : 0);
    }
  }
  bool valid() const { return valid_; }
  // sum of (1 - pedal(i)) over [a, n] (0 when empty); 0 <= a, n < N.
  double sum(long a, long n) const {
    if (n < a) return 0.0;
    return q_.empty() ? static_cast<double>(n - a + 1) : q_[static_cast<size_t>(n) + 1] - q_[static_cast<size_t>(a)];
  }
  // No pedal above 0 on [a, b) (there d = (1 - pedal) S >= S).
  bool up(long a, long b) const {
    return down_.empty() || b <= a || down_[static_cast<size_t>(b)] == down_[static_cast<size_t>(a)];
  }
  long N() const { return N_; }

 private:
  long N_;
  std::vector<double> q_;     // q_[n] = sum_{i < n} (1 - pedal(i)); empty: pedal up
  std::vector<long> down_;    // down_[n] = #{i < n : pedal(i) > 0}
  bool valid_ = true;
};

// One note's damper: its sigmoid's stretch [lo, hi) and x(t) = (t / sr - off) / tau there (stretch:
// the pedal is up on it, so its integral bound applies).
struct NoteDamper {
  long lo = 0, hi = 0;
  double sr = 1, off = 0, tau = 1;
  bool stretch = false;
  // The stretch's bound over [a_full, hi) (its last value, the one a mode started at a_full - 1 adds
  // from hi on): cached, as nearly every evaluation is past hi (two exp/log1p pairs per mode saved).
  long a_full = -1;
  double full = 0;
  double softplus_at(double t) const {
    const double x = (t / sr - off) / tau;
    return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
  }
  // A lower bound of sum_{i in [a, n]} d(i).
  double sum(long a, long n, const DamperFloor& f) const {
    double G = f.sum(std::max(a, hi), n);
    if (!stretch) return G;
    if (a == a_full && n >= hi - 1) return G + full;
    return G + stretch_sum(a, n);
  }
  double stretch_sum(long a, long n) const {
    const long a1 = std::max(a, lo), b = std::min(n, hi - 1);
    if (b < a1) return 0.0;  // S increasing: S(i) >= S(t) on [i - 1, i]
    return std::max(0.0, tau * sr * (softplus_at(static_cast<double>(b)) - softplus_at(static_cast<double>(a1 - 1))));
  }
  // Caches the whole stretch's bound for sums that start at a.
  void cache(long a) {
    a_full = a;
    full = stretch ? stretch_sum(a, hi - 1) : 0.0;
  }
};

// One mode's bound: sigma, g (its damper gain; 0 for knock modes), need, start s and its note's damper.
struct ModeLife {
  double sigma, g, need;
  long start;
  NoteDamper d;
  // A tiny slack on need: the bound's sums round differently from a per-sample sum (1e-16 x N
  // relative); in the log domain 1e-9 is nothing.
  double target() const { return need + 1e-9 * (1.0 + need); }
  // The lower bound of sigma (n - s) + g G(n).
  double value(long n, const DamperFloor& f) const {
    return sigma * static_cast<double>(n - start) + (g > 0 ? g * d.sum(start + 1, n, f) : 0.0);
  }
  bool silent_at(long n, const DamperFloor& f) const { return n >= start && value(n, f) >= target(); }
  // The first n in [start, N) from which the bound holds; N if none (or if the bound is not valid:
  // negative or NaN rates, a pedal above 1).
  long point(const DamperFloor& f) const {
    const long N = f.N();
    if (!(need > 0)) return std::min(start, N);
    if (!f.valid() || !(sigma >= 0) || !(g >= 0) || start >= N || !silent_at(N - 1, f)) return N;
    long lo = start, hi_n = N - 1;  // value is non-decreasing: binary search for the first silent n
    while (lo < hi_n) {
      const long mid = lo + (hi_n - lo) / 2;
      if (value(mid, f) >= target()) hi_n = mid;
      else lo = mid + 1;
    }
    return lo;
  }
};

template <class T>
NoteDamper note_damper(const EventPlan<T>& P, size_t j, const DamperFloor& f) {
  NoteDamper d;
  d.lo = P.sig_lo[j], d.hi = P.sig_hi[j];
  d.sr = P.mopt.sample_rate, d.off = P.offsets[j], d.tau = P.ropt.damper_tau;
  d.stretch = f.up(d.lo, d.hi);
  d.cache(static_cast<long>(P.modes.start[static_cast<size_t>(P.mode_begin[j])]) + 1);  // the note's modes' start
  return d;
}

// Mode m's bound data (need <= 0: it starts below half the threshold), its note's damper d.
template <class T>
ModeLife mode_life(const EventPlan<T>& P, long m, const NoteDamper& d) {
  const size_t u = static_cast<size_t>(m);
  const double need = decay_needed(static_cast<double>(P.modes.amp[u]), static_cast<double>(P.threshold));
  return {static_cast<double>(P.modes.sigma[u]), P.modes.env[u] < 0 ? 0.0 : static_cast<double>(P.modes.dgain[u]),
          need, static_cast<long>(P.modes.start[u]), d};
}

// P.life_end for the packed route (needs P.sig_hi, P.pedal per sample, P.threshold): per strike, the
// latest of its modes' points + kModalBlock (the margin note_lifetimes also keeps), capped at N; N for
// every strike when the threshold is 0 (no truncation: exactly the route's former behaviour).
template <class T>
void packed_life_ends(EventPlan<T>& P) {
  const size_t J = P.strikes.size();
  P.life_end.assign(J, 0);
  const DamperFloor floor(P.threshold > 0 ? P.pedal : std::vector<double>{}, P.N);
  for (size_t j = 0; j < J; ++j) {
    const long mb = P.mode_begin[j], me = P.mode_end[j];
    if (mb == me) continue;
    if (P.threshold <= 0) {
      P.life_end[j] = P.N;
      continue;
    }
    // Most modes are already silent at the latest point found so far: one evaluation, no search.
    const NoteDamper d = note_damper(P, j, floor);
    long n = P.modes.start[static_cast<size_t>(mb)];
    for (long m = mb; m < me && n < P.N; ++m) {
      const ModeLife q = mode_life(P, m, d);
      if (q.need > 0 && !q.silent_at(n, floor)) n = std::max(n, q.point(floor));
    }
    P.life_end[j] = std::min(P.N, n + kernels::kModalBlock);
  }
}

}  // namespace pianograd::detail
