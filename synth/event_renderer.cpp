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
  double sig(long n, size_t j) const {
    const double x = (static_cast<double>(n) / mopt.sample_rate - offsets[j]) / ropt.damper_tau;
    return x < -30.0 ? 0.0 : (x > 30.0 ? 1.0 : 1.0 / (1.0 + std::exp(-x)));
  }
  double gate(long n, size_t j) const {
    const double S = sig(n, j);
    return S == 0.0 ? 0.0 : (1.0 - pedal_at(n)) * S;
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
    while (n < P.N && !need.empty()) {
      const long e = std::min(P.N, n + kChunk);
      for (long i = n + 1; i <= e && i < P.N; ++i) G += P.gate(i, j);
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
#pragma omp parallel for schedule(dynamic, 1)
  for (long r = 0; r < b.rows; ++r) {
    const size_t j = static_cast<size_t>(g.notes[static_cast<size_t>(r)]);
    const long s = P.modes.start[static_cast<size_t>(P.mode_begin[j])];
    T* row = b.gate.data() + r * b.W;
    for (long n = s; n < P.life_end[j]; ++n) row[n - g.w0] = static_cast<T>(P.gate(n, j));
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
    kc::ModalGrads<T> mg{lo.data(), ls.data(), ld.data(), la.data(), ldl.data(), lg.data()};
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
      for (long n = s; n < P.life_end[j]; ++n) {
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

namespace detail {
// Body then room is one causal LTI filter: ((x*b)[:T] * r)[:T] = (x * (b*r))[:T], since output n < T only
// reads (x*b) at indices <= n. So convolve the two IRs first (a short convolution, differentiable through
// fft_convolve like the rest) and the signal once: one long convolution instead of two, forward and
// backward (6 -> 3 long ones per forward+backward). Shared with render_roll (roll_renderer.cpp).
Tensor apply_body_room(const Tensor& dry, PianoParams& params, const RenderOptions& ro) {
  if (ro.body && ro.room) {
    const Tensor& b = params[kBodyIr];
    const Tensor& r = params[kRoomIr];
    // fft_convolve keeps its first operand's length: zero-pad the longer IR to the full Kb+Kr-1 taps
    // and convolve it with the shorter one (the cheaper FFT size).
    const bool b_longer = b.numel() > r.numel();
    const Tensor& lng = b_longer ? b : r;
    const Tensor& sht = b_longer ? r : b;
    const Tensor h = fft_convolve(pad(lng, {0, sht.numel() - 1}), sht);
    return fft_convolve(dry, h);
  }
  if (ro.body) return fft_convolve(dry, params[kBodyIr]);
  if (ro.room) return fft_convolve(dry, params[kRoomIr]);
  return dry;
}
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

namespace {
int64_t perf_samples(const Performance& perf, const RenderOptions& ro) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil((perf.duration() + ro.tail_seconds) * ro.sample_rate)));
}

Tensor render_n(PianoParams& params, const Performance& perf, int64_t N, const RenderOptions& ro) {
  perf.validate();
  const DType dt = params.dtype();
  std::vector<int64_t> keys;
  std::vector<double> on, off, vel;
  for (const Note& n : perf.notes) {
    keys.push_back(n.key);
    on.push_back(n.onset);
    off.push_back(n.offset);
    vel.push_back(n.velocity);
  }
  Tensor pedal;
  if (!perf.pedal.empty()) {
    std::vector<double> p(static_cast<size_t>(N));
    size_t i = 0;  // walk the step function once instead of a search per sample
    double v = 0.0;
    for (int64_t n = 0; n < N; ++n) {
      const double t = static_cast<double>(n) / ro.sample_rate;
      while (i < perf.pedal.size() && perf.pedal[i].time <= t) v = perf.pedal[i++].value;
      p[static_cast<size_t>(n)] = v;
    }
    pedal = from_vector(p).to(dt);
  }
  return render_events(params, from_vector(keys), from_vector(on).to(dt), from_vector(off).to(dt),
                       from_vector(vel).to(dt), pedal, N, ro);
}
}  // namespace

Tensor render(PianoParams& params, const Performance& perf, const RenderOptions& ro) {
  perf.validate();
  return render_n(params, perf, perf_samples(perf, ro), ro);
}

Tensor render_batch(PianoParams& params, const std::vector<Performance>& perfs, const RenderOptions& ro) {
  if (perfs.empty()) throw ValueError("render_batch: no performances");
  int64_t N = 1;
  for (const auto& p : perfs) {
    p.validate();
    N = std::max(N, perf_samples(p, ro));
  }
  std::vector<Tensor> ys;
  for (const auto& p : perfs) ys.push_back(render_n(params, p, N, ro));
  return stack(ys, 0);
}

}  // namespace pianograd
