// The event renderer (see event_renderer.h): notes -> strikes -> modes -> the modal bank, with the
// damper gates built here, and the hand-written backward (modal adjoint + the chain rule of
// synth/mode_builder.cpp + the gates' derivatives).
//
// Memory: a gate row per note over the whole signal would be notes x samples (a 30 s piece at 44.1 kHz
// with 120 notes: 600 MB). Instead notes are cut into groups of `group_size` consecutive onsets, and each
// group runs the kernel on its own window [w0, w1) only: from its first onset (rounded down to the
// kernel's 64-sample grid, so truncation decisions match a whole-signal run) to the last sample at which
// any of its modes is still above the truncation threshold. That end is bounded from the gate itself
// (log |z[n]| <= log amp - sigma (n - start) - g sum d), with a factor 2 of margin for float rounding.
#include "synth/event_renderer.h"
#include "synth/modal_group.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <string>

#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops.h"
#include "autodiff/tape.h"
#include "kernels/cpu/modal.h"
#include "synth/mode_builder.h"

namespace pianograd {

PG_REGISTER_OP(render_events);

namespace {
thread_local EventRenderStats g_stats;

namespace kc = kernels::cpu;
using kernels::kModalBlock;

using detail::GroupBank;

template <class T>
struct EventPlan {
  ModeBuildOptions mopt;
  RenderOptions ropt;
  PianoParamValues pv;
  std::vector<Strike> strikes;      // one per note, env = note index
  std::vector<double> offsets;
  ModeSet<T> modes;
  std::vector<long> mode_begin, mode_end, life_end;  // per note
  std::vector<double> pedal;        // per sample (empty: pedal up)
  std::vector<double> pedal_frames; // the input when given per frame
  bool pedal_per_sample = true;
  T threshold = 0;                  // absolute truncation threshold (of the whole bank)
  long N = 0;
  struct Group {
    long w0 = 0, w1 = 0;
    std::vector<long> notes;
  };
  std::vector<Group> groups;
  // Per group: the forward's checkpoints, kept for the backward while within ropt.tape_budget_bytes
  // (null: the backward recomputes them with a forward sweep).
  std::vector<std::unique_ptr<kc::ModalTape<T>>> tapes;
  // Per group: the forward's sub-bank and gate rows, kept with its tape (same budget) so that the
  // backward does not rebuild them (null: rebuilt).
  std::vector<std::shared_ptr<const GroupBank<T>>> banks;

  double pedal_at(long n) const { return pedal.empty() ? 0.0 : pedal[static_cast<size_t>(n)]; }
  // The release sigmoid, saturated to exactly 0 / 1 beyond 30 tau (where it is within 1e-13 of them):
  // the modal kernel runs blocks of constant gate on constant poles, without an exp per sample.
  double sig_raw(long n, size_t j) const {
    const double x = (static_cast<double>(n) / mopt.sample_rate - offsets[j]) / ropt.damper_tau;
    return x < -30.0 ? 0.0 : (x > 30.0 ? 1.0 : 1.0 / (1.0 + std::exp(-x)));
  }
  // Per note, the unsaturated stretch [sig_lo, sig_hi) (within [0, N)) tabulated once: the forward's gate
  // rows, the lifetimes and the backward all read it (60 tau x sr doubles per note, 30 KB at 16 kHz).
  // A stretch longer than kMaxSigTab (a damper_tau of seconds) is not tabulated but evaluated per sample.
  static constexpr long kMaxSigTab = 1L << 17;
  std::vector<long> sig_lo, sig_hi;
  std::vector<std::vector<double>> sig_tab;
  double sig(long n, size_t j) const {
    if (n < sig_lo[j]) return 0.0;
    if (n >= sig_hi[j]) return 1.0;
    return sig_tab[j].empty() ? sig_raw(n, j) : sig_tab[j][static_cast<size_t>(n - sig_lo[j])];
  }
  double gate(long n, size_t j) const {
    const double S = sig(n, j);
    return S == 0.0 ? 0.0 : (1.0 - pedal_at(n)) * S;
  }
  // Fills sig_lo/hi/tab: the window from the closed form, settled against sig_raw (monotone in n), so
  // sig() is bit-identical to sig_raw() at every sample.
  void tabulate_sigmoids() {
    const size_t J = offsets.size();
    sig_lo.assign(J, 0);
    sig_hi.assign(J, 0);
    sig_tab.assign(J, {});
    const double sr = mopt.sample_rate, tau = ropt.damper_tau;
    for (size_t j = 0; j < J; ++j) {
      const double a = std::floor((offsets[j] - 30.0 * tau) * sr) - 2, b = std::floor((offsets[j] + 30.0 * tau) * sr) - 2;
      long l = static_cast<long>(std::clamp(a, 0.0, static_cast<double>(N)));
      long h = static_cast<long>(std::clamp(b, 0.0, static_cast<double>(N)));
      while (l < N && sig_raw(l, j) == 0.0) ++l;
      while (l > 0 && sig_raw(l - 1, j) != 0.0) --l;
      h = std::max(h, l);
      while (h < N && sig_raw(h, j) != 1.0) ++h;
      while (h > l && sig_raw(h - 1, j) == 1.0) --h;
      sig_lo[j] = l;
      sig_hi[j] = h;
      if (h - l > kMaxSigTab) continue;
      sig_tab[j].resize(static_cast<size_t>(h - l));
      for (long n = l; n < h; ++n) sig_tab[j][static_cast<size_t>(n - l)] = sig_raw(n, j);
    }
  }
  // out[n - n0] = gate(n, j) for n in [n0, n1), skipping the exp and division where sig saturates. The
  // caller zeroes out first when `zeroed` (then the leading zeros are not written).
  template <class U>
  void gate_row(size_t j, long n0, long n1, U* out, bool zeroed) const {
    const long lo = std::clamp(sig_lo[j], n0, n1), hi = std::clamp(sig_hi[j], lo, n1);
    if (!zeroed) std::fill(out, out + (lo - n0), U(0));
    for (long n = lo; n < hi; ++n) out[n - n0] = static_cast<U>(gate(n, j));
    if (pedal.empty()) {
      std::fill(out + (hi - n0), out + (n1 - n0), U(1));
    } else {
      const double* pd = pedal.data();
      for (long n = hi; n < n1; ++n) out[n - n0] = static_cast<U>(1.0 - pd[n]);
    }
  }
};

std::vector<double> float_values(const Tensor& t) { return t.to_vector<double>(); }

// The pedal per sample: as given, or linearly interpolated from frames at pedal_frame_rate.
template <class T>
void set_pedal(EventPlan<T>& P, const Tensor& pedal) {
  if (!pedal.defined()) return;
  std::vector<double> v = float_values(pedal);
  if (static_cast<long>(v.size()) == P.N) {
    P.pedal = std::move(v);
    return;
  }
  P.pedal_per_sample = false;
  P.pedal_frames = v;
  P.pedal.resize(static_cast<size_t>(P.N));
  const double fr = P.ropt.pedal_frame_rate / P.mopt.sample_rate;
  const long F = static_cast<long>(v.size());
  for (long n = 0; n < P.N; ++n) {
    const double x = static_cast<double>(n) * fr;
    const long i = static_cast<long>(x);
    const double a = x - static_cast<double>(i);
    P.pedal[static_cast<size_t>(n)] =
        i + 1 < F ? (1 - a) * v[static_cast<size_t>(i)] + a * v[static_cast<size_t>(i + 1)] : v[static_cast<size_t>(F - 1)];
  }
}

// Where each note's modes are all below the threshold (see the file comment), capped at N.
template <class T>
void note_lifetimes(EventPlan<T>& P) {
  const size_t J = P.strikes.size();
  P.life_end.assign(J, 0);
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
      const double a = std::fabs(static_cast<double>(P.modes.amp[u]));
      const double nd = std::log(a / static_cast<double>(P.threshold)) + std::log(2.0);
      if (nd > 0) need.push_back({static_cast<double>(P.modes.sigma[u]), P.modes.env[u] < 0 ? 0.0 : static_cast<double>(P.modes.dgain[u]), nd});
    }
    long n = start;
    double G = 0;
    constexpr long kChunk = 1024;
    std::vector<double> row(kChunk);
    const long lo = P.sig_lo[j];
    while (n < P.N && !need.empty()) {
      const long e = std::min(P.N, n + kChunk);
      // G += gate(i) for i in (n, e]; the gate is exactly 0 before lo, so that part adds nothing.
      const long a = std::max(n + 1, lo), b = std::min(e + 1, P.N);
      if (a < b) {
        P.gate_row(j, a, b, row.data(), false);
        for (long i = 0; i < b - a; ++i) G += row[static_cast<size_t>(i)];
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
std::shared_ptr<EventPlan<T>> make_plan(const PianoParams& params, const Tensor& keys, const Tensor& onsets,
                                        const Tensor& offsets, const Tensor& velocities, const Tensor& pedal,
                                        int64_t num_samples, const RenderOptions& ro) {
  auto P = std::make_shared<EventPlan<T>>();
  P->ropt = ro;
  P->N = num_samples;
  P->mopt.sample_rate = ro.sample_rate;
  P->mopt.num_samples = num_samples;
  P->mopt.max_partials = ro.max_partials;
  P->mopt.knock = ro.knock;
  P->mopt.partial_floor = ro.partial_floor;
  P->pv = piano_param_values(params);
  const std::vector<double> on = float_values(onsets), vel = float_values(velocities);
  P->offsets = float_values(offsets);
  const std::vector<int64_t> k = keys.to(DType::i64).to_vector<int64_t>();
  P->strikes.resize(k.size());
  for (size_t j = 0; j < k.size(); ++j) {
    if (!std::isfinite(P->offsets[j])) throw ValueError("render_events: offset of note " + std::to_string(j) + " is not finite");
    P->strikes[j] = Strike{static_cast<int>(k[j]), on[j], vel[j], 1.0, static_cast<std::int32_t>(j)};
  }
  P->modes = build_modes<T>(P->pv, P->strikes, P->mopt);
  const size_t J = k.size();
  P->mode_begin.assign(J, 0);
  P->mode_end.assign(J, 0);
  for (long m = P->modes.size(); m-- > 0;) {
    const size_t j = static_cast<size_t>(P->modes.strike[static_cast<size_t>(m)]);
    P->mode_begin[j] = m;
    if (P->mode_end[j] == 0) P->mode_end[j] = m + 1;
  }
  P->threshold = kc::modal_threshold(P->modes.bank(), ro.rel_threshold);
  set_pedal(*P, pedal);
  P->tabulate_sigmoids();
  note_lifetimes(*P);
  std::vector<long> order;
  for (size_t j = 0; j < J; ++j)
    if (P->mode_end[j] > P->mode_begin[j]) order.push_back(static_cast<long>(j));
  std::stable_sort(order.begin(), order.end(), [&](long a, long b) {
    return P->modes.start[static_cast<size_t>(P->mode_begin[static_cast<size_t>(a)])] <
           P->modes.start[static_cast<size_t>(P->mode_begin[static_cast<size_t>(b)])];
  });
  const size_t gs = static_cast<size_t>(std::max(1, ro.group_size));
  for (size_t i = 0; i < order.size(); i += gs) {
    typename EventPlan<T>::Group g;
    g.notes.assign(order.begin() + static_cast<long>(i), order.begin() + static_cast<long>(std::min(order.size(), i + gs)));
    const long first = P->modes.start[static_cast<size_t>(P->mode_begin[static_cast<size_t>(g.notes[0])])];
    g.w0 = first / kModalBlock * kModalBlock;
    for (long j : g.notes) g.w1 = std::max(g.w1, P->life_end[static_cast<size_t>(j)]);
    if (g.w1 > g.w0) P->groups.push_back(std::move(g));
  }
  return P;
}

// One group's sub-bank (starts relative to w0, env = row within the group) and its gates.
template <class T>
GroupBank<T> group_bank(const EventPlan<T>& P, const typename EventPlan<T>::Group& g) {
  GroupBank<T> b = detail::gather_group(P.modes, P.mode_begin, P.mode_end, g.notes, g.w0, g.w1, P.threshold,
                                          P.ropt.checkpoint);
  for (long r = 0; r < b.rows; ++r) {  // rows are zeroed by gather_group
    const size_t j = static_cast<size_t>(g.notes[static_cast<size_t>(r)]);
    const long s = P.modes.start[static_cast<size_t>(P.mode_begin[j])];
    if (P.life_end[j] > s) P.gate_row(j, s, P.life_end[j], b.gate.data() + r * b.W + (s - g.w0), true);
  }
  return b;
}

template <class T>
void plan_forward(EventPlan<T>& P, T* y, bool keep_tapes) {
  std::fill(y, y + P.N, T(0));
  std::vector<T> buf;
  P.tapes.clear();
  P.tapes.resize(P.groups.size());
  P.banks.clear();
  P.banks.resize(P.groups.size());
  double budget = keep_tapes ? P.ropt.tape_budget_bytes : 0.0;
  for (size_t gi = 0; gi < P.groups.size(); ++gi) {
    const auto& g = P.groups[gi];
    auto bp = std::make_shared<GroupBank<T>>(group_bank(P, g));
    const GroupBank<T>& b = *bp;
    buf.assign(static_cast<size_t>(b.W), T(0));
    const double bytes = static_cast<double>(b.omega.size()) * static_cast<double>((b.W + b.mo.checkpoint) / b.mo.checkpoint) * 2.0 * sizeof(T) +
                         static_cast<double>(b.gate.size()) * sizeof(T);
    if (bytes <= budget) {
      budget -= bytes;
      P.tapes[gi] = std::make_unique<kc::ModalTape<T>>();
      P.banks[gi] = bp;
    }
    kc::modal_forward(b.bank(), b.gate.data(), b.rows, b.W, buf.data(), b.mo, P.tapes[gi].get());
    for (long n = 0; n < b.W; ++n) y[g.w0 + n] += buf[static_cast<size_t>(n)];
  }
}

struct EventGrads {
  PianoParamValues params = zero_param_values();
  std::vector<double> onset, offset, velocity, pedal;  // pedal: per sample, or per frame when so given
};

template <class T>
EventGrads plan_backward(const EventPlan<T>& P, const T* gy) {
  const long M = P.modes.size();
  std::vector<T> go(static_cast<size_t>(M), T(0)), gs = go, gd = go, ga = go, gdl = go;
  EventGrads out;
  const size_t J = P.strikes.size();
  out.offset.assign(J, 0.0);
  std::vector<double> gp(P.pedal.empty() ? 0 : static_cast<size_t>(P.N), 0.0);
  const double inv_tau = 1.0 / P.ropt.damper_tau;
  for (size_t gi = 0; gi < P.groups.size(); ++gi) {
    const auto& g = P.groups[gi];
    std::shared_ptr<const GroupBank<T>> kept = gi < P.banks.size() ? P.banks[gi] : nullptr;
    if (!kept) kept = std::make_shared<const GroupBank<T>>(group_bank(P, g));
    const GroupBank<T>& b = *kept;
    const size_t Mg = b.index.size();
    std::vector<T> lo(Mg), ls(Mg), ld(Mg), la(Mg), ldl(Mg), lg(b.gate.size());
    // The gate gradient is read from each note's sig_lo on (before it S = 0 and d = (1 - P) S has no
    // derivative): the kernel skips the blocks before (most of a held note's life).
    const long nb = (b.W + kModalBlock - 1) / kModalBlock;
    std::vector<unsigned char> need(static_cast<size_t>(b.rows * nb), 0);
    for (long r = 0; r < b.rows; ++r) {
      const long from = std::max(0L, P.sig_lo[static_cast<size_t>(g.notes[static_cast<size_t>(r)])] - g.w0);
      for (long k = std::min(nb, from / kModalBlock); k < nb; ++k) need[static_cast<size_t>(r * nb + k)] = 1;
    }
    kc::ModalGrads<T> mg{lo.data(), ls.data(), ld.data(), la.data(), ldl.data(), lg.data(), need.data()};
    kc::modal_backward(b.bank(), b.gate.data(), b.rows, b.W, gy + g.w0, mg, b.mo,
                       gi < P.tapes.size() ? P.tapes[gi].get() : nullptr);
    for (size_t i = 0; i < Mg; ++i) {
      const size_t u = static_cast<size_t>(b.index[i]);
      go[u] = lo[i], gs[u] = ls[i], gd[u] = ld[i], ga[u] = la[i], gdl[u] = ldl[i];
    }
    // d = (1 - P) S, S = sigmoid((t - off)/tau): dd/doff = -(1 - P) S (1 - S) / tau, dd/dP = -S.
    for (long r = 0; r < b.rows; ++r) {
      const size_t j = static_cast<size_t>(g.notes[static_cast<size_t>(r)]);
      const long s = P.modes.start[static_cast<size_t>(P.mode_begin[j])];
      const T* row = lg.data() + r * b.W;
      double acc = 0;
      // Before sig_lo, S = 0: neither derivative has a share.
      for (long n = std::max(s, P.sig_lo[j]); n < P.life_end[j]; ++n) {
        const double gg = static_cast<double>(row[n - g.w0]);
        if (gg == 0.0) continue;
        const double S = P.sig(n, j);
        acc -= gg * (1.0 - P.pedal_at(n)) * S * (1.0 - S) * inv_tau;
        if (!gp.empty()) gp[static_cast<size_t>(n)] -= gg * S;
      }
      out.offset[j] += acc;
    }
  }
  std::vector<StrikeGrad> sg(J);
  backprop_modes<T>(P.pv, P.strikes, P.modes, P.mopt, go.data(), gs.data(), gd.data(), ga.data(), gdl.data(),
                    out.params, sg);
  out.onset.resize(J);
  out.velocity.resize(J);
  for (size_t j = 0; j < J; ++j) out.onset[j] = sg[j].onset, out.velocity[j] = sg[j].velocity;
  if (!P.pedal_per_sample && !gp.empty()) {  // adjoint of the linear interpolation
    const long F = static_cast<long>(P.pedal_frames.size());
    out.pedal.assign(static_cast<size_t>(F), 0.0);
    const double fr = P.ropt.pedal_frame_rate / P.mopt.sample_rate;
    for (long n = 0; n < P.N; ++n) {
      const double x = static_cast<double>(n) * fr;
      const long i = static_cast<long>(x);
      const double a = x - static_cast<double>(i), v = gp[static_cast<size_t>(n)];
      if (i + 1 < F) {
        out.pedal[static_cast<size_t>(i)] += (1 - a) * v;
        out.pedal[static_cast<size_t>(i + 1)] += a * v;
      } else {
        out.pedal[static_cast<size_t>(F - 1)] += v;
      }
    }
  } else {
    out.pedal = std::move(gp);
  }
  return out;
}

void check_inputs(const PianoParams& params, const Tensor& keys, const Tensor& onsets, const Tensor& offsets,
                  const Tensor& velocities, const Tensor& pedal, int64_t num_samples, const RenderOptions& ro) {
  const char* op = "render_events";
  params.validate();
  check_index_dtype(keys, op);
  if (keys.dim() != 1) throw ShapeError(std::string(op) + ": keys must be [N], got " + shape_str(keys.shape()));
  const int64_t N = keys.numel();
  const std::pair<const Tensor*, const char*> fl[3] = {{&onsets, "onsets"}, {&offsets, "offsets"}, {&velocities, "velocities"}};
  for (const auto& [t, name] : fl) {
    check_defined(*t, op, name);
    if (t->dtype() != params.dtype())
      throw DTypeError(std::string(op) + ": " + name + " dtype " + dtype_name(t->dtype()) + " differs from the params' " +
                       dtype_name(params.dtype()));
    if (t->shape() != Shape{N})
      throw ShapeError(std::string(op) + ": " + name + " must be [" + std::to_string(N) + "] like keys, got " + shape_str(t->shape()));
  }
  for (int64_t k : keys.to(DType::i64).to_vector<int64_t>())
    if (k < kMinKey || k > kMaxKey) throw ValueError(std::string(op) + ": key " + std::to_string(k) + " outside 21..108");
  if (num_samples < 1) throw ValueError(std::string(op) + ": num_samples must be >= 1, got " + std::to_string(num_samples));
  if (!(ro.sample_rate >= 1000.0 && std::isfinite(ro.sample_rate)))
    throw ValueError(std::string(op) + ": sample rate must be >= 1000 Hz, got " + std::to_string(ro.sample_rate));
  if (!(ro.damper_tau > 0)) throw ValueError(std::string(op) + ": damper_tau must be > 0");
  if (!(ro.rel_threshold >= 0)) throw ValueError(std::string(op) + ": rel_threshold must be >= 0");
  if (!(ro.partial_floor >= 0 && ro.partial_floor < 1))
    throw ValueError(std::string(op) + ": partial_floor must be in [0, 1), got " + std::to_string(ro.partial_floor));
  if (ro.checkpoint <= 0 || ro.checkpoint % kModalBlock != 0)
    throw ValueError(std::string(op) + ": checkpoint must be a positive multiple of 64, got " + std::to_string(ro.checkpoint));
  if (pedal.defined()) {
    if (pedal.dtype() != params.dtype())
      throw DTypeError(std::string(op) + ": pedal dtype " + dtype_name(pedal.dtype()) + " differs from the params' " +
                       dtype_name(params.dtype()));
    if (pedal.dim() != 1 || pedal.numel() < 1)
      throw ShapeError(std::string(op) + ": pedal must be [num_samples] or [frames], got " + shape_str(pedal.shape()));
    if (pedal.numel() != num_samples && !(ro.pedal_frame_rate > 0))
      throw ValueError(std::string(op) + ": a per-frame pedal needs pedal_frame_rate > 0");
  }
}

template <class T>
Tensor to_tensor(const std::vector<double>& v, const Shape& s) {
  std::vector<T> c(v.begin(), v.end());
  return from_vector(c, s);
}

}  // namespace

Tensor render_events_dry(PianoParams& params, const Tensor& keys, const Tensor& onsets, const Tensor& offsets,
                         const Tensor& velocities, const Tensor& pedal, int64_t num_samples, const RenderOptions& ro) {
  check_inputs(params, keys, onsets, offsets, velocities, pedal, num_samples, ro);
  std::vector<Tensor> inputs{onsets, offsets, velocities, pedal};
  for (int i = 0; i < kNumModeParams; ++i) inputs.push_back(params[i]);
  Tensor y = Tensor::empty({num_samples}, params.dtype());
  dispatch_floating(params.dtype(), "render_events", [&](auto tag) {
    using T = decltype(tag);
    auto plan = make_plan<T>(params, keys, onsets, offsets, velocities, pedal, num_samples, ro);
    g_stats = {static_cast<int64_t>(plan->strikes.size()), plan->modes.size(), plan->modes.trimmed};
    bool recording = grad_enabled();
    if (recording) {
      recording = false;
      for (const Tensor& t : inputs) recording = recording || (t.defined() && t.requires_grad());
    }
    plan_forward(*plan, y.data<T>(), recording);
    std::vector<Shape> shapes;
    for (const Tensor& t : inputs) shapes.push_back(t.defined() ? t.shape() : Shape{});
    const bool has_pedal = pedal.defined();
    record_many(y, "render_events", inputs, [plan, shapes, has_pedal](const Tensor& gy_in) -> Grads {
      Tensor gy = gy_in.to(dtype_v<T>);
      EventGrads g = plan_backward(*plan, gy.data<T>());
      const long J = static_cast<long>(plan->strikes.size());
      Grads out{to_tensor<T>(g.onset, {J}), to_tensor<T>(g.offset, {J}), to_tensor<T>(g.velocity, {J}), Tensor()};
      if (has_pedal) out[3] = to_tensor<T>(g.pedal, shapes[3]);
      for (int i = 0; i < kNumModeParams; ++i)
        out.push_back(to_tensor<T>(g.params[static_cast<size_t>(i)], shapes[static_cast<size_t>(4 + i)]));
      return out;
    });
    return 0;
  });
  return y;
}

EventRenderStats last_event_render_stats() { return g_stats; }

namespace detail {
Tensor apply_body_room(const Tensor& dry, PianoParams& params, const RenderOptions& ro);  // event_renderer_ir.cpp
}  // namespace detail

Tensor render_events(PianoParams& params, const Tensor& keys, const Tensor& onsets, const Tensor& offsets,
                     const Tensor& velocities, const Tensor& pedal, int64_t num_samples, const RenderOptions& ro) {
  if ((ro.body || ro.room) && std::fabs(params.ir_sample_rate - ro.sample_rate) > 1e-9 * ro.sample_rate)
    throw ValueError("render_events: the impulse responses are sampled at " + std::to_string(params.ir_sample_rate) +
                     " Hz but rendering is at " + std::to_string(ro.sample_rate) +
                     " Hz (call params.set_default_irs(rate) or disable body/room)");
  return detail::apply_body_room(render_events_dry(params, keys, onsets, offsets, velocities, pedal, num_samples, ro),
                                 params, ro);
}

}  // namespace pianograd
