// Internal to the roll renderer (roll_renderer.cpp): one batch item's plan — the rolls' onsets as
// strikes, their modes, the damper gates in edge form (the sampled sigmoid edges of the gate roll and
// each strike's row of them), the strikes' lifetimes and the groups the modal kernel runs over.
#pragma once
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autodiff/errors.h"
#include "kernels/common/roll_gate_math.h"
#include "kernels/cpu/modal.h"
#include "synth/event_renderer.h"
#include "synth/modal_group.h"
#include "synth/mode_builder.h"
#include "synth/performance.h"
#include "synth/piano_params.h"
#include "synth/roll_life.h"

namespace pianograd::detail {

constexpr double kEdgeHalfWidth = kernels::kRollEdgeHalfWidth;  // in tau: sigmoid(-20) = 2.1e-9 is taken as 0

// Sigmoid edges at t_e = e / frame_rate, e = 1..F, sampled: S_e(n) = 0 for n < lo, profile[n - lo] on
// [lo, hi), 1 from hi on. The expressions are roll_gate_math.h's, which the compact gates evaluate per
// sample; a shared profile uses its first edge's s_e, so other edges' values may differ from the per-sample
// ones by rounding of the phase (~1e-13 samples).
struct Edges {
  std::vector<long> lo, hi;
  std::vector<int> profile;  // index into profiles
  std::vector<std::vector<double>> profiles;

  Edges(long F, double sr, double fr, double tau) {
    const kernels::RollGateGeom geo = kernels::roll_gate_geom(F, sr, fr, tau);
    lo.assign(static_cast<size_t>(F + 1), 0);
    hi = lo;
    profile.assign(static_cast<size_t>(F + 1), 0);
    std::map<std::pair<long long, long>, int> cache;  // (phase in 1e-9 samples, length) -> profile
    for (long e = 1; e <= F; ++e) {
      const double s = kernels::roll_edge_center(e, geo.spf);
      const long l = kernels::roll_edge_lo(s, geo.R), h = kernels::roll_edge_hi(s, geo.R);
      const auto key = std::make_pair(std::llround((static_cast<double>(l) - s) * 1e9), h - l);
      auto it = cache.find(key);
      if (it == cache.end()) {
        std::vector<double> p(static_cast<size_t>(h - l));
        for (long n = l; n < h; ++n)
          p[static_cast<size_t>(n - l)] = kernels::roll_edge_sigmoid(n, s, geo.tau_sr);
        it = cache.emplace(key, static_cast<int>(profiles.size())).first;
        profiles.push_back(std::move(p));
      }
      lo[static_cast<size_t>(e)] = l;
      hi[static_cast<size_t>(e)] = h;
      profile[static_cast<size_t>(e)] = it->second;
    }
  }
};

template <class T>
struct RollPlan {
  ModeBuildOptions mopt;
  RenderOptions ropt;
  const PianoParamValues* pv = nullptr;
  std::shared_ptr<const Edges> edges;
  const double* g = nullptr;  // this batch element's gate roll [F, 88] (owned by RollOp)
  long N = 0, F = 0;
  double spf = 0;             // samples per frame
  std::vector<Strike> strikes;
  std::vector<long> sframe, skey, sflat;  // per strike: frame, key index, flat roll index
  ModeSet<T> modes;
  std::vector<long> mode_begin, mode_end, life_end;
  T threshold = 0;
  struct Group {
    long w0 = 0, w1 = 0;
    std::vector<long> rows;  // strikes
  };
  std::vector<Group> groups;

  double gv(long f, long k) const { return f < F ? g[f * kNumKeys + k] : 0.0; }
  long first_edge(long j, long a) const {  // the first edge after the strike frame with hi > a
    long e = std::max(sframe[static_cast<size_t>(j)] + 1,
                      static_cast<long>(std::floor((static_cast<double>(a) - kEdgeHalfWidth * ropt.damper_tau *
                                                    mopt.sample_rate - 1.0) / spf)));
    while (e <= F && edges->hi[static_cast<size_t>(e)] <= a) ++e;
    return e;
  }

  // d_j(n) = 1 - h_j(n) for n in [a, b) into out[0, b - a).
  template <class U>
  void gate_row(long j, long a, long b, U* out) const {
    const long k = skey[static_cast<size_t>(j)], W = b - a;
    const long e0 = first_edge(j, a);
    std::vector<double> h(static_cast<size_t>(W) + 1, 0.0), step(static_cast<size_t>(W) + 1, 0.0);
    step[0] = gv(e0 - 1, k);
    for (long e = e0; e <= F && edges->lo[static_cast<size_t>(e)] < b; ++e) {
      const double c = gv(e, k) - gv(e - 1, k);
      if (c == 0.0) continue;
      const long lo = edges->lo[static_cast<size_t>(e)], hi = edges->hi[static_cast<size_t>(e)];
      const double* p = edges->profiles[static_cast<size_t>(edges->profile[static_cast<size_t>(e)])].data();
      for (long n = std::max(a, lo); n < std::min(b, hi); ++n) h[static_cast<size_t>(n - a)] += c * p[n - lo];
      if (hi < b) step[static_cast<size_t>(std::max(a, hi) - a)] += c;
    }
    double run = 0;
    for (long i = 0; i < W; ++i) {
      run += step[static_cast<size_t>(i)];
      out[i] = static_cast<U>(1.0 - (h[static_cast<size_t>(i)] + run));
    }
  }

  // Accumulates into gg_roll [F, 88] the gradient of the gate roll, given gd = dL/dd_j on [a, b).
  void gate_row_backward(long j, long a, long b, const T* gd, double* gg_roll) const {
    const long k = skey[static_cast<size_t>(j)], W = b - a;
    std::vector<double> S(static_cast<size_t>(W) + 1, 0.0);  // suffix sums of dL/dh = -gd
    for (long i = W; i-- > 0;) S[static_cast<size_t>(i)] = S[static_cast<size_t>(i) + 1] - static_cast<double>(gd[i]);
    const long e0 = first_edge(j, a);
    if (e0 - 1 < F) gg_roll[(e0 - 1) * kNumKeys + k] += S[0];  // the base term g[e0 - 1] (0 past the roll)
    for (long e = e0; e <= F && edges->lo[static_cast<size_t>(e)] < b; ++e) {
      const long lo = edges->lo[static_cast<size_t>(e)], hi = edges->hi[static_cast<size_t>(e)];
      const double* p = edges->profiles[static_cast<size_t>(edges->profile[static_cast<size_t>(e)])].data();
      double dc = hi < b ? S[static_cast<size_t>(std::max(a, hi) - a)] : 0.0;
      for (long n = std::max(a, lo); n < std::min(b, hi); ++n) dc -= static_cast<double>(gd[n - a]) * p[n - lo];
      if (e < F) gg_roll[e * kNumKeys + k] += dc;  // c_e = g[e] - g[e-1]
      gg_roll[(e - 1) * kNumKeys + k] -= dc;
    }
  }
};

// Where each strike's modes are all below the threshold (modal_group.h's chunked_life_end over the gate of
// samples (n, e) of each chunk), capped at N.
template <class T>
void strike_lifetimes(RollPlan<T>& P) {
  const size_t J = P.strikes.size();
  P.life_end.assign(J, 0);
  std::vector<double> d;
  for (size_t j = 0; j < J; ++j) {
    auto add_gate = [&](long n, long e, double& G) {
      if (e > n + 1) {
        d.resize(static_cast<size_t>(e - n - 1));
        P.gate_row(static_cast<long>(j), n + 1, e, d.data());
        for (double x : d) G += x;
      }
    };
    P.life_end[j] = chunked_life_end(P.modes, P.mode_begin[j], P.mode_end[j], P.threshold, P.N, add_gate);
  }
}

// The packed route's life end of strike j (the GPU scan cannot stop a mode on the fly, so each mode runs
// to a length fixed in advance): the first sample n from which every mode of the strike is provably below
// half the threshold (roll_life.h's condition), or N when that is not proven before N. No per-sample loop:
// G is bounded from below block by block. In a block [A, B) every sample sees
//   h(n) = g[p] + sum_{p < e < q} c_e S_e(n),  c_e = g[e] - g[e-1],
// p = max(e0 - 1, the last edge fully passed at A), q = the first edge not begun before B (S_e = 0 there);
// S_e is non-decreasing in n, so h(n) <= g[p] + sum_{c_e > 0} c_e S_e(B - 1) + sum_{c_e < 0} c_e S_e(A), and
// h is a convex combination of g[p .. q-1] (roll_gate_math.h: S_e(n) falls with e), so also h <= their max.
// d = 1 - h >= 1 - min of both bounds over the whole block, solved exactly within it. Blocks are L samples
// where some edge with c_e != 0 is in transition, else they run to the next such edge's start (d exact:
// a binary roll costs O(its switches), a soft one O(life / L x edges per block)).
// "From n on" needs G non-decreasing and sigma, dgain >= 0: a strike with a mode of negative sigma or dgain,
// or whose row sees a gate above 1 (outside render_roll's domain) before the bound, is not bounded (N).
// Frames past the bound are not read (O(life), not O(F)); a gate above 1 there could revive a mode past
// its end, as the CPU kernel's truncation would ignore it too.
template <class T>
long strike_life_bound(const RollPlan<T>& P, size_t j) {
  const long mb = P.mode_begin[j], me = P.mode_end[j];
  const long s = P.modes.start[static_cast<size_t>(mb)], N = P.N, F = P.F, k = P.skey[j];
  LifeCondition cond(static_cast<size_t>(me - mb));
  for (long m = mb; m < me; ++m) {
    const size_t u = static_cast<size_t>(m);
    const double nd = decay_needed(static_cast<double>(P.modes.amp[u]), static_cast<double>(P.threshold));
    if (!(nd > 0)) continue;
    const double sg = static_cast<double>(P.modes.sigma[u]);
    const double dg = P.modes.env[u] < 0 ? 0.0 : static_cast<double>(P.modes.dgain[u]);  // env -1: no damper
    if (!(sg >= 0 && dg >= 0)) return N;
    cond.add(sg, dg, nd);
  }
  if (cond.empty()) return s;
  cond.finish();
  const long e0 = P.first_edge(static_cast<long>(j), s);
  const Edges& E = *P.edges;
  auto S = [&](long e, long n) {  // the sampled edge e at n
    const size_t u = static_cast<size_t>(e);
    if (n < E.lo[u]) return 0.0;
    if (n >= E.hi[u]) return 1.0;
    return E.profiles[static_cast<size_t>(E.profile[u])][static_cast<size_t>(n - E.lo[u])];
  };
  const long L = std::max(kernels::kModalBlock, std::lround(P.spf / 4));
  long p = e0 - 1, q = e0, nz = e0;
  double t = 0, G = 0;  // at sample A - 1
  for (long A = s + 1; A < N;) {
    long B = std::min(N, A + L);
    while (p + 1 <= F && E.hi[static_cast<size_t>(p + 1)] <= A) ++p;
    q = std::max(q, p + 1);
    while (q <= F && E.lo[static_cast<size_t>(q)] < B) ++q;
    double hub = P.gv(p, k), hmax = hub;
    bool quiet = true;
    for (long e = p + 1; e < q; ++e) {
      const double ge = P.gv(e, k), c = ge - P.gv(e - 1, k);
      hmax = std::max(hmax, ge);
      if (c == 0.0) continue;
      quiet = false;
      hub += c * (c > 0 ? S(e, B - 1) : S(e, A));
    }
    if (quiet) {  // h = g[p] exactly until the next switching edge begins
      nz = std::max(nz, q);
      while (nz <= F && P.gv(nz, k) == P.gv(nz - 1, k)) ++nz;
      B = nz <= F ? std::min(N, std::max(B, E.lo[static_cast<size_t>(nz)])) : N;
    }
    if (hmax > 1.0) return N;  // d < 0 possible: |z| may grow back
    const double d = 1.0 - std::min(hub, hmax);
    const long x = cond.first(t, G, d, B - A);
    if (x > 0) return A - 1 + x;
    t += static_cast<double>(B - A);
    G += d * static_cast<double>(B - A);
    A = B;
  }
  return N;
}

// life_end on the packed route: strike_life_bound + kModalBlock (as strike_lifetimes), capped at N; N for
// every strike when the threshold is 0 (no truncation: the route's old semantics, exactly).
template <class T>
void strike_life_bounds(RollPlan<T>& P) {
  const size_t J = P.strikes.size();
  P.life_end.assign(J, 0);
  for (size_t j = 0; j < J; ++j) {
    if (P.mode_begin[j] == P.mode_end[j]) continue;
    P.life_end[j] = P.threshold <= 0 ? P.N : std::min(P.N, strike_life_bound(P, j) + kernels::kModalBlock);
  }
}

template <class T>
std::unique_ptr<RollPlan<T>> make_plan(const PianoParamValues& pv, std::shared_ptr<const Edges> edges, const double* onset,
                                       const double* velocity, const double* g, long F, double fr, int64_t N,
                                       const RenderOptions& ro, double threshold, bool packed = false) {
  auto P = std::make_unique<RollPlan<T>>();
  P->ropt = ro;
  P->N = N;
  P->F = F;
  P->g = g;
  P->pv = &pv;
  P->edges = std::move(edges);
  P->spf = ro.sample_rate / fr;
  P->mopt.sample_rate = ro.sample_rate;
  P->mopt.num_samples = N;
  P->mopt.max_partials = ro.max_partials;
  P->mopt.knock = ro.knock;
  P->mopt.partial_floor = ro.partial_floor;
  for (long f = 0; f < F; ++f) {
    const double t = static_cast<double>(f) / fr;
    if (std::ceil(t * ro.sample_rate) >= static_cast<double>(N)) break;  // starts past the end: no sound
    for (long k = 0; k < kNumKeys; ++k) {
      const long i = f * kNumKeys + k;
      if (!(onset[i] > threshold)) continue;  // a negative strength counts as none
      if (velocity[i] < 0)
        throw ValueError("render_roll: velocity " + std::to_string(velocity[i]) + " < 0 at an onset (frame " +
                         std::to_string(f) + ", key " + std::to_string(kMinKey + k) + ")");
      P->strikes.push_back(Strike{static_cast<int>(kMinKey + k), t, 127.0 * velocity[i], onset[i],
                                  static_cast<std::int32_t>(P->strikes.size())});
      P->sframe.push_back(f);
      P->skey.push_back(k);
      P->sflat.push_back(i);
    }
  }
  P->modes = build_modes<T>(pv, P->strikes, P->mopt);
  const size_t J = P->strikes.size();
  P->mode_begin.assign(J, 0);
  P->mode_end.assign(J, 0);
  for (long m = P->modes.size(); m-- > 0;) {
    const size_t j = static_cast<size_t>(P->modes.strike[static_cast<size_t>(m)]);
    P->mode_begin[j] = m;
    if (P->mode_end[j] == 0) P->mode_end[j] = m + 1;
  }
  P->threshold = kernels::cpu::modal_threshold(P->modes.bank(), ro.rel_threshold);
  if (packed)
    strike_life_bounds(*P);  // the packed route: per-mode scan lengths fixed in advance
  else
    strike_lifetimes(*P);
  // Strikes are already in onset order (frame-major).
  const size_t gs = static_cast<size_t>(std::max(1, ro.group_size));
  typename RollPlan<T>::Group cur;
  auto flush = [&] {
    if (!cur.rows.empty() && cur.w1 > cur.w0) P->groups.push_back(std::move(cur));
    cur = {};
  };
  for (size_t j = 0; j < J; ++j) {
    if (P->mode_end[j] == P->mode_begin[j]) continue;
    if (cur.rows.empty()) cur.w0 = P->modes.start[static_cast<size_t>(P->mode_begin[j])] / kernels::kModalBlock * kernels::kModalBlock;
    cur.rows.push_back(static_cast<long>(j));
    cur.w1 = std::max(cur.w1, P->life_end[j]);
    if (cur.rows.size() == gs) flush();
  }
  flush();
  return P;
}

}  // namespace pianograd::detail
