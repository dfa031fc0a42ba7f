// The roll renderer (see roll_renderer.h): rolls -> strikes -> modes (synth/mode_builder.h) -> the modal
// bank (kernels/cpu/modal.h) with one damper-gate row per strike, and the hand-written backward (modal
// adjoint + the mode builder's chain rule + the gates' derivatives to the gate roll).
//
// Gate rows are evaluated in edge form: h_j(n) = g[e0-1] + sum_{e >= e0} (g[e] - g[e-1]) S_e(n), where
// e0 is the first edge after the strike frame not yet fully passed at the row's first sample (edges that
// are fully passed telescope into g[e0-1]). Each edge S_e is nonzero and not 1 only on the 40 tau around
// t_e, so it is added from a precomputed sigmoid profile (profiles are shared by edges with the same
// sub-sample phase: one profile when the frame period is a whole number of samples) plus a step; the cost
// per row is O(samples + edges x profile), with no exp in the loop.
//
// Memory and grouping follow the event renderer (event_renderer.cpp): strikes are cut into groups of
// `group_size` consecutive onsets, each group runs the kernel on its own window only, to the sample at
// which all its modes are below the bank's truncation threshold.
#include "synth/roll_renderer.h"
#include "synth/modal_group.h"
#include "synth/modal_packed.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <string>

#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops.h"
#include "autodiff/tape.h"
#include "kernels/cpu/modal.h"
#include "synth/mode_builder.h"
#include "synth/performance.h"

namespace pianograd {

PG_REGISTER_OP(render_roll);

namespace {
namespace kc = kernels::cpu;
using detail::GroupBank;
using kernels::kModalBlock;

constexpr double kEdgeHalfWidth = 20.0;  // in tau: sigmoid(-20) = 2.1e-9 is taken as 0
thread_local RollRenderStats g_stats;

// Sigmoid edges at t_e = e / frame_rate, e = 1..F, sampled: S_e(n) = 0 for n < lo, profile[n - lo] on
// [lo, hi), 1 from hi on.
struct Edges {
  std::vector<long> lo, hi;
  std::vector<int> profile;  // index into profiles
  std::vector<std::vector<double>> profiles;

  Edges(long F, double sr, double fr, double tau) {
    const double R = kEdgeHalfWidth * tau * sr, spf = sr / fr;
    lo.assign(static_cast<size_t>(F + 1), 0);
    hi = lo;
    profile.assign(static_cast<size_t>(F + 1), 0);
    std::map<std::pair<long long, long>, int> cache;  // (phase in 1e-9 samples, length) -> profile
    for (long e = 1; e <= F; ++e) {
      const double s = static_cast<double>(e) * spf;
      const long l = static_cast<long>(std::ceil(s - R)), h = static_cast<long>(std::floor(s + R)) + 1;
      const auto key = std::make_pair(std::llround((static_cast<double>(l) - s) * 1e9), h - l);
      auto it = cache.find(key);
      if (it == cache.end()) {
        std::vector<double> p(static_cast<size_t>(h - l));
        for (long n = l; n < h; ++n)
          p[static_cast<size_t>(n - l)] = 1.0 / (1.0 + std::exp(-(static_cast<double>(n) - s) / (tau * sr)));
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

// Where each strike's modes are all below the threshold (the bound of event_renderer.cpp: log |z[n]| <=
// log amp - sigma (n - start) - dgain sum d, with a factor 2 of margin), capped at N.
template <class T>
void strike_lifetimes(RollPlan<T>& P) {
  const size_t J = P.strikes.size();
  P.life_end.assign(J, 0);
  std::vector<double> d;
  for (size_t j = 0; j < J; ++j) {
    const long mb = P.mode_begin[j], me = P.mode_end[j];
    if (mb == me) continue;
    const long start = P.modes.start[static_cast<size_t>(mb)];
    if (P.threshold <= 0) {
      P.life_end[j] = P.N;
      continue;
    }
    struct Need { double sigma, g, need; };
    std::vector<Need> need;
    for (long m = mb; m < me; ++m) {
      const size_t u = static_cast<size_t>(m);
      const double nd = std::log(std::fabs(static_cast<double>(P.modes.amp[u])) / static_cast<double>(P.threshold)) + std::log(2.0);
      if (nd > 0) need.push_back({static_cast<double>(P.modes.sigma[u]), static_cast<double>(P.modes.dgain[u]), nd});
    }
    long n = start;
    double G = 0;
    constexpr long kChunk = 1024;
    while (n < P.N && !need.empty()) {
      const long e = std::min(P.N, n + kChunk);
      if (e > n + 1) {
        d.resize(static_cast<size_t>(e - n - 1));
        P.gate_row(static_cast<long>(j), n + 1, e, d.data());
        for (double x : d) G += x;
      }
      n = e;
      const double t = static_cast<double>(n - start);
      need.erase(std::remove_if(need.begin(), need.end(), [&](const Need& q) { return q.sigma * t + q.g * G >= q.need; }),
                 need.end());
    }
    P.life_end[j] = std::min(P.N, n + kModalBlock);
  }
}

template <class T>
std::unique_ptr<RollPlan<T>> make_plan(const PianoParamValues& pv, std::shared_ptr<const Edges> edges, const double* onset,
                                       const double* velocity, const double* g, long F, double fr, int64_t N,
                                       const RenderOptions& ro, double threshold) {
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
  P->threshold = kc::modal_threshold(P->modes.bank(), ro.rel_threshold);
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
    if (cur.rows.empty()) cur.w0 = P->modes.start[static_cast<size_t>(P->mode_begin[j])] / kModalBlock * kModalBlock;
    cur.rows.push_back(static_cast<long>(j));
    cur.w1 = std::max(cur.w1, P->life_end[j]);
    if (cur.rows.size() == gs) flush();
  }
  flush();
  return P;
}

// One group's sub-bank (starts relative to w0, env = row within the group) and its gates.
template <class T>
GroupBank<T> group_bank(const RollPlan<T>& P, const typename RollPlan<T>::Group& g, int64_t* gate_samples) {
  GroupBank<T> b = detail::gather_group(P.modes, P.mode_begin, P.mode_end, g.rows, g.w0, g.w1, P.threshold,
                                          P.ropt.checkpoint);
  int64_t count = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : count)
  for (long r = 0; r < b.rows; ++r) {
    const size_t j = static_cast<size_t>(g.rows[static_cast<size_t>(r)]);
    const long s = P.modes.start[static_cast<size_t>(P.mode_begin[j])];
    if (P.life_end[j] > s) P.gate_row(static_cast<long>(j), s, P.life_end[j], b.gate.data() + r * b.W + (s - g.w0));
    count += std::max(0L, P.life_end[j] - s);
  }
  if (gate_samples) *gate_samples += count;
  return b;
}

template <class T>
void plan_forward(const RollPlan<T>& P, T* y) {
  std::fill(y, y + P.N, T(0));
  std::vector<T> buf;
  for (const auto& g : P.groups) {
    GroupBank<T> b = group_bank(P, g, &g_stats.gate_samples);
    buf.assign(static_cast<size_t>(b.W), T(0));
    kc::modal_forward(b.bank(), b.gate.data(), b.rows, b.W, buf.data(), b.mo);
    for (long n = 0; n < b.W; ++n) y[g.w0 + n] += buf[static_cast<size_t>(n)];
  }
}

// Accumulates the roll gradients (each [F, 88]) and the parameter gradients of one batch element.
// With pg (the packed route), the modal gradients come from the packed bank's windows win0, win0 + 1, ...
// (this plan's groups, their modes in strike order) instead of a kernel call per group.
template <class T>
void plan_backward(const RollPlan<T>& P, const T* gy, double* g_onset, double* g_velocity, double* g_gate,
                   PianoParamValues& g_params, const detail::PackedGrads<T>* pg = nullptr,
                   const detail::PackedBank<T>* pk = nullptr, size_t win0 = 0) {
  const long M = P.modes.size();
  std::vector<T> go(static_cast<size_t>(M), T(0)), gs = go, gd = go, ga = go, gdl = go;
  for (size_t gi = 0; gi < P.groups.size(); ++gi) {
    const auto& g = P.groups[gi];
    const long rows = static_cast<long>(g.rows.size()), W = g.w1 - g.w0;
    std::vector<T> lg;
    if (pg) {
      lg = pg->window_gate(*pk, win0 + gi);
      size_t i = static_cast<size_t>(pk->windows[win0 + gi].m0);
      for (long j : g.rows)
        for (long m = P.mode_begin[static_cast<size_t>(j)]; m < P.mode_end[static_cast<size_t>(j)]; ++m, ++i) {
          const size_t u = static_cast<size_t>(m);
          go[u] = pg->omega[i], gs[u] = pg->sigma[i], gd[u] = pg->dgain[i], ga[u] = pg->amp[i], gdl[u] = pg->delta[i];
        }
    } else {
      GroupBank<T> b = group_bank(P, g, nullptr);
      const size_t Mg = b.index.size();
      std::vector<T> lo(Mg), ls(Mg), ld(Mg), la(Mg), ldl(Mg);
      lg.assign(b.gate.size(), T(0));
      kc::ModalGrads<T> mg{lo.data(), ls.data(), ld.data(), la.data(), ldl.data(), lg.data()};
      kc::modal_backward(b.bank(), b.gate.data(), b.rows, b.W, gy + g.w0, mg, b.mo);
      for (size_t i = 0; i < Mg; ++i) {
        const size_t u = static_cast<size_t>(b.index[i]);
        go[u] = lo[i], gs[u] = ls[i], gd[u] = ld[i], ga[u] = la[i], gdl[u] = ldl[i];
      }
    }
    for (long r = 0; r < rows; ++r) {
      const long j = g.rows[static_cast<size_t>(r)];
      const long s = P.modes.start[static_cast<size_t>(P.mode_begin[static_cast<size_t>(j)])];
      const long e = P.life_end[static_cast<size_t>(j)];
      if (e > s) P.gate_row_backward(j, s, e, lg.data() + r * W + (s - g.w0), g_gate);
    }
  }
  std::vector<StrikeGrad> sg(P.strikes.size());
  backprop_modes<T>(*P.pv, P.strikes, P.modes, P.mopt, go.data(), gs.data(), gd.data(), ga.data(), gdl.data(),
                    g_params, sg);
  for (size_t j = 0; j < sg.size(); ++j) {
    g_onset[P.sflat[j]] += sg[j].scale;
    g_velocity[P.sflat[j]] += 127.0 * sg[j].velocity;
  }
}

// Everything the backward needs, shared by the VJP closure.
template <class T>
struct RollOp {
  PianoParamValues pv;
  std::vector<double> onset, velocity, gate;
  std::vector<std::unique_ptr<RollPlan<T>>> plans;
  // The packed route (CUDA controls, or a PackedCpuScope): the whole batch in one bank; plan b's groups
  // are its windows win0[b], ... The upload is kept for the backward (null: packed_*_cpu).
  std::unique_ptr<detail::PackedBank<T>> packed;
  std::shared_ptr<detail::PackedDevice> dev;
  std::vector<size_t> win0;
};

void check_inputs(const PianoParams& params, const Tensor& onset, const Tensor& velocity, const Tensor& gate,
                  double frame_rate, int64_t num_samples, const RenderOptions& ro, double threshold) {
  const char* op = "render_roll";
  params.validate();
  const std::pair<const Tensor*, const char*> rolls[3] = {{&onset, "onset"}, {&velocity, "velocity"}, {&gate, "gate"}};
  for (const auto& [t, name] : rolls) {
    check_defined(*t, op, name);
    if (t->dtype() != params.dtype())
      throw DTypeError(std::string(op) + ": " + name + " dtype " + dtype_name(t->dtype()) + " differs from the params' " +
                       dtype_name(params.dtype()));
    if ((t->dim() != 2 && t->dim() != 3) || t->shape().back() != kNumKeys || t->shape()[t->dim() - 2] < 1)
      throw ShapeError(std::string(op) + ": " + name + " must be [F, 88] or [B, F, 88], got " + shape_str(t->shape()));
    if (t->shape() != onset.shape())
      throw ShapeError(std::string(op) + ": " + name + " shape " + shape_str(t->shape()) + " differs from onset's " +
                       shape_str(onset.shape()));
    for (double v : t->to_vector<double>())
      if (!std::isfinite(v)) throw ValueError(std::string(op) + ": " + name + " holds a non-finite value");
  }
  if (!(frame_rate > 0 && std::isfinite(frame_rate)))
    throw ValueError(std::string(op) + ": frame_rate must be > 0, got " + std::to_string(frame_rate));
  detail::check_render_options(op, ro, num_samples);
  if (!(threshold >= 0)) throw ValueError(std::string(op) + ": onset_threshold must be >= 0");
}

template <class T>
Tensor to_tensor(const std::vector<double>& v, const Shape& s) {
  std::vector<T> c(v.begin(), v.end());
  return from_vector(c, s);
}

}  // namespace

RollRenderStats last_roll_render_stats() { return g_stats; }

Tensor render_roll_dry(PianoParams& params, const Tensor& onset, const Tensor& velocity, const Tensor& gate,
                       double frame_rate, int64_t num_samples, const RenderOptions& ro, double threshold) {
  check_inputs(params, onset, velocity, gate, frame_rate, num_samples, ro, threshold);
  // Routing: the modal bank runs on the controls' device (CUDA: packed, no truncation; modal_packed.h).
  const Device dev = detail::control_device("render_roll", {{&onset, "onset"}, {&velocity, "velocity"}, {&gate, "gate"}});
  const bool packed = dev.type != DeviceType::CPU || detail::packed_cpu_forced();
  RenderOptions po = ro;
  if (packed) po.rel_threshold = 0.0;  // the GPU scan does not truncate
  const bool batched = onset.dim() == 3;
  const long B = batched ? static_cast<long>(onset.shape()[0]) : 1;
  const long F = static_cast<long>(onset.shape()[onset.dim() - 2]);
  std::vector<Tensor> inputs{onset, velocity, gate};
  for (int i = 0; i < kNumModeParams; ++i) inputs.push_back(params[i]);
  Tensor y = Tensor::empty(batched ? Shape{B, num_samples} : Shape{num_samples}, params.dtype());
  g_stats = {};
  dispatch_floating(params.dtype(), "render_roll", [&](auto tag) {
    using T = decltype(tag);
    const auto t0 = std::chrono::steady_clock::now();
    auto op = std::make_shared<RollOp<T>>();
    op->pv = piano_param_values(params);
    op->onset = onset.to_vector<double>();
    op->velocity = velocity.to_vector<double>();
    op->gate = gate.to_vector<double>();
    auto edges = std::make_shared<const Edges>(F, ro.sample_rate, frame_rate, ro.damper_tau);
    if (packed) op->packed = std::make_unique<detail::PackedBank<T>>();
    const size_t per = static_cast<size_t>(F * kNumKeys);
    for (long b = 0; b < B; ++b) {
      const size_t o = static_cast<size_t>(b) * per;
      op->plans.push_back(make_plan<T>(op->pv, edges, op->onset.data() + o, op->velocity.data() + o,
                                       op->gate.data() + o, F, frame_rate, num_samples, po, threshold));
      const auto& P = *op->plans.back();
      g_stats.strikes += static_cast<int64_t>(P.strikes.size());
      g_stats.modes += P.modes.size();
      if (!packed) {
        plan_forward(P, y.data<T>() + b * num_samples);
        continue;
      }
      op->win0.push_back(op->packed->windows.size());
      for (const auto& g : P.groups) op->packed->append(group_bank(P, g, &g_stats.gate_samples), b * num_samples + g.w0);
    }
    if (packed) {  // one launch for the whole batch
      op->packed->n = B * num_samples;
      g_stats.host_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (dev.type == DeviceType::CPU) {
        detail::packed_forward_cpu(*op->packed, y.data<T>(), ro.checkpoint);
      } else {
        op->dev = std::make_shared<detail::PackedDevice>(detail::packed_upload(*op->packed, dev));
        y = reshape(detail::packed_forward_cuda(*op->packed, *op->dev), y.shape());
      }
    }
    std::vector<Shape> shapes;
    for (const Tensor& t : inputs) shapes.push_back(t.shape());
    record_many(y, "render_roll", inputs, [op, shapes, num_samples, per, devs = detail::input_devices(inputs)](const Tensor& gy_in) -> Grads {
      const size_t total = op->onset.size();
      std::vector<double> go(total, 0.0), gv(total, 0.0), gg(total, 0.0);
      PianoParamValues gp = zero_param_values();
      if (op->packed) {
        const Tensor gflat = reshape(gy_in.to(dtype_v<T>), {op->packed->n});
        const detail::PackedGrads<T> pg =
            op->dev ? detail::packed_backward_cuda(*op->packed, *op->dev, gflat)
                    : detail::packed_backward_cpu(*op->packed, gflat.cpu().template data<T>(), op->plans[0]->ropt.checkpoint);
        for (size_t b = 0; b < op->plans.size(); ++b)
          plan_backward(*op->plans[b], static_cast<const T*>(nullptr), go.data() + b * per, gv.data() + b * per,
                        gg.data() + b * per, gp, &pg, op->packed.get(), op->win0[b]);
      } else {
        Tensor gy = gy_in.to(dtype_v<T>);
        for (size_t b = 0; b < op->plans.size(); ++b)
          plan_backward(*op->plans[b], gy.data<T>() + static_cast<long>(b) * num_samples, go.data() + b * per,
                        gv.data() + b * per, gg.data() + b * per, gp);
      }
      Grads out{to_tensor<T>(go, shapes[0]), to_tensor<T>(gv, shapes[1]), to_tensor<T>(gg, shapes[2])};
      for (int i = 0; i < kNumModeParams; ++i)
        out.push_back(to_tensor<T>(gp[static_cast<size_t>(i)], shapes[static_cast<size_t>(3 + i)]));
      detail::grads_to_input_devices(out, devs);
      return out;
    });
    return 0;
  });
  return y;
}

namespace detail {
// Defined in event_renderer.cpp: the dry signal through the body and room IRs as one merged filter.
Tensor apply_body_room(const Tensor& dry, PianoParams& params, const RenderOptions& ro);
}  // namespace detail

Tensor render_roll(PianoParams& params, const Tensor& onset, const Tensor& velocity, const Tensor& gate,
                   double frame_rate, int64_t num_samples, const RenderOptions& ro, double threshold) {
  if ((ro.body || ro.room) && std::fabs(params.ir_sample_rate - ro.sample_rate) > 1e-9 * ro.sample_rate)
    throw ValueError("render_roll: the impulse responses are sampled at " + std::to_string(params.ir_sample_rate) +
                     " Hz but rendering is at " + std::to_string(ro.sample_rate) +
                     " Hz (call params.set_default_irs(rate) or disable body/room)");
  // The same body/room path as render_events (one merged IR): fft_convolve takes [T] or [B, T].
  return detail::apply_body_room(render_roll_dry(params, onset, velocity, gate, frame_rate, num_samples, ro, threshold),
                                 params, ro);
}

}  // namespace pianograd
