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
#include "synth/event_gates.h"
#include "synth/event_life.h"
#include "synth/event_plan.h"
#include "synth/modal_group.h"
#include "synth/modal_packed.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <numeric>
#include <string>

#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops.h"
#include "autodiff/tape.h"
#include "kernels/common/event_gate_math.h"
#include "kernels/cpu/modal.h"
#include "synth/mode_builder.h"

namespace pianograd {

PG_REGISTER_OP(render_events);

namespace {
thread_local EventRenderStats g_stats;

namespace kc = kernels::cpu;
using kernels::kModalBlock;

using detail::GroupBank;

using detail::EventPlan;

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

// Where each note's modes are all below the threshold (see the file comment; modal_group.h's
// chunked_life_end over the gate of samples (n, e] of each chunk), capped at N.
template <class T>
void note_lifetimes(EventPlan<T>& P) {
  const size_t J = P.strikes.size();
  P.life_end.assign(J, 0);
  std::vector<double> row(1024);
  for (size_t j = 0; j < J; ++j) {
    const long lo = P.sig_lo[j];
    auto add_gate = [&](long n, long e, double& G) {
      // The gate is exactly 0 before lo, so that part adds nothing.
      const long a = std::max(n + 1, lo), b = std::min(e + 1, P.N);
      if (a < b) {
        row.resize(static_cast<size_t>(b - a));
        P.gate_row(j, a, b, row.data(), false);
        for (long i = 0; i < b - a; ++i) G += row[static_cast<size_t>(i)];
      }
    };
    P.life_end[j] = detail::chunked_life_end(P.modes, P.mode_begin[j], P.mode_end[j], P.threshold, P.N, add_gate);
  }
}

}  // namespace

namespace detail {
template <class T>
std::shared_ptr<EventPlan<T>> make_event_plan(const PianoParams& params, const Tensor& keys, const Tensor& onsets,
                                              const Tensor& offsets, const Tensor& velocities, const Tensor& pedal,
                                              int64_t num_samples, const RenderOptions& ro, bool packed) {
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
  // The packed route writes no rows on the host (no sigmoid tables) and cannot truncate on the fly: its
  // life ends are bounded in advance (event_life.h); the per-group CPU path keeps its per-sample ones.
  P->tabulate_sigmoids(!packed);
  if (packed) packed_life_ends(*P);
  else note_lifetimes(*P);
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
template std::shared_ptr<EventPlan<float>> make_event_plan<float>(const PianoParams&, const Tensor&, const Tensor&,
                                                                  const Tensor&, const Tensor&, const Tensor&, int64_t,
                                                                  const RenderOptions&, bool);
template std::shared_ptr<EventPlan<double>> make_event_plan<double>(const PianoParams&, const Tensor&, const Tensor&,
                                                                    const Tensor&, const Tensor&, const Tensor&, int64_t,
                                                                    const RenderOptions&, bool);
}  // namespace detail

namespace {

// One group's sub-bank (starts relative to w0, env = row within the group) and, with gate_rows, its dense
// gate rows (rows x W; without, a compact EventGateSource writes them where the bank runs).
template <class T>
GroupBank<T> group_bank(const EventPlan<T>& P, const typename EventPlan<T>::Group& g, bool gate_rows = true) {
  GroupBank<T> b = detail::gather_group(P.modes, P.mode_begin, P.mode_end, g.notes, g.w0, g.w1, P.threshold,
                                          P.ropt.checkpoint, gate_rows);
  if (!gate_rows) return b;
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
    g_stats.host_gate_samples += static_cast<int64_t>(b.gate.size());
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

// With pg (the packed route), the modal gradients come from the packed bank's windows win0, win0 + 1, ...
// (this plan's groups, their modes in note order) instead of a kernel call per group, and the gates'
// from pg->gate_reduced (the EventGateSource's layout, event_gates.h: dL/doff per packed row, this item's
// per-sample pedal gradient from ped_off on, -1: none).
template <class T>
EventGrads plan_backward(const EventPlan<T>& P, const T* gy, const detail::PackedGrads<T>* pg = nullptr,
                         const detail::PackedBank<T>* pk = nullptr, size_t win0 = 0, long ped_off = -1) {
  const long M = P.modes.size();
  std::vector<T> go(static_cast<size_t>(M), T(0)), gs = go, gd = go, ga = go, gdl = go;
  EventGrads out;
  const size_t J = P.strikes.size();
  out.offset.assign(J, 0.0);
  // On the packed route the item's pedal lives in the gate source (ped_off >= 0: it has one).
  const bool has_pedal = pg ? ped_off >= 0 : !P.pedal.empty();
  std::vector<double> gp(has_pedal ? static_cast<size_t>(P.N) : 0, 0.0);
  const double inv_tau = 1.0 / P.ropt.damper_tau;
  for (size_t gi = 0; gi < P.groups.size(); ++gi) {
    const auto& g = P.groups[gi];
    const long rows = static_cast<long>(g.notes.size()), W = g.w1 - g.w0;
    std::vector<T> lg;
    if (pg) {
      const auto& w = pk->windows[win0 + gi];
      size_t i = static_cast<size_t>(w.m0);
      for (long j : g.notes)
        for (long m = P.mode_begin[static_cast<size_t>(j)]; m < P.mode_end[static_cast<size_t>(j)]; ++m, ++i) {
          const size_t u = static_cast<size_t>(m);
          go[u] = pg->omega[i], gs[u] = pg->sigma[i], gd[u] = pg->dgain[i], ga[u] = pg->amp[i], gdl[u] = pg->delta[i];
        }
      // The source reduced the gate chain rule below row by row, in the same order (bit-identical).
      for (long r = 0; r < rows; ++r)
        out.offset[static_cast<size_t>(g.notes[static_cast<size_t>(r)])] += pg->gate_reduced[static_cast<size_t>(w.r0 + r)];
      continue;
    } else {
      std::shared_ptr<const GroupBank<T>> kept = gi < P.banks.size() ? P.banks[gi] : nullptr;
      if (!kept) kept = std::make_shared<const GroupBank<T>>(group_bank(P, g));
      const GroupBank<T>& b = *kept;
      const size_t Mg = b.index.size();
      std::vector<T> lo(Mg), ls(Mg), ld(Mg), la(Mg), ldl(Mg);
      lg.assign(b.gate.size(), T(0));
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
    }
    // d = (1 - P) S, S = sigmoid((t - off)/tau): dd/doff = -(1 - P) S (1 - S) / tau, dd/dP = -S.
    for (long r = 0; r < rows; ++r) {
      const size_t j = static_cast<size_t>(g.notes[static_cast<size_t>(r)]);
      const long s = P.modes.start[static_cast<size_t>(P.mode_begin[j])];
      const T* row = lg.data() + r * W;
      double acc = 0;
      // Before sig_lo, S = 0: neither derivative has a share.
      for (long n = std::max(s, P.sig_lo[j]); n < P.life_end[j]; ++n) {
        const double gg = static_cast<double>(row[n - g.w0]);
        if (gg == 0.0) continue;
        const double S = P.sig(n, j);
        acc -= kernels::event_gate_offset_term(gg, S, P.pedal_at(n), inv_tau);
        if (!gp.empty()) gp[static_cast<size_t>(n)] -= kernels::event_gate_pedal_term(gg, S);
      }
      out.offset[j] += acc;
    }
  }
  if (pg && has_pedal) std::copy_n(pg->gate_reduced.begin() + ped_off, P.N, gp.begin());
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

template <class T>
Tensor to_tensor(const std::vector<double>& v, const Shape& s) {
  std::vector<T> c(v.begin(), v.end());
  return from_vector(c, s);
}

}  // namespace

namespace detail {
// event_renderer_checks.cpp: the argument checks (typed errors naming the argument).
void check_event_inputs(const PianoParams& params, const Tensor& keys, const Tensor& onsets, const Tensor& offsets,
                        const Tensor& velocities, const Tensor& pedal, int64_t num_samples, const RenderOptions& ro);
}  // namespace detail

namespace {

// Everything the backward needs: the plans of the batch items and, on the packed route, their bank
// (plan b's groups are its windows win0[b], ...) with its upload (null: packed_*_cpu).
template <class T>
struct EventOp {
  std::vector<std::shared_ptr<EventPlan<T>>> plans;
  std::unique_ptr<detail::PackedBank<T>> packed;
  std::shared_ptr<detail::EventGateSource<T>> gates;  // packed->gates
  std::shared_ptr<detail::PackedDevice> dev;
  std::vector<size_t> win0;
};

// B items -> [B, N] (batched) or [N]; inputs: per item onsets, offsets, velocities, pedal, then the params.
Tensor events_dry(PianoParams& params, const std::vector<detail::EventControls>& items, int64_t N,
                  const RenderOptions& ro, bool batched) {
  std::vector<std::pair<const Tensor*, const char*>> controls;
  std::vector<Tensor> inputs;
  for (const auto& c : items) {
    detail::check_event_inputs(params, c.keys, c.onsets, c.offsets, c.velocities, c.pedal, N, ro);
    controls.insert(controls.end(), {{&c.onsets, "onsets"}, {&c.offsets, "offsets"}, {&c.velocities, "velocities"},
                                     {&c.pedal, "pedal"}});
    inputs.insert(inputs.end(), {c.onsets, c.offsets, c.velocities, c.pedal});
  }
  // Routing: the modal bank runs on the controls' device (CUDA: packed, no truncation; modal_packed.h).
  const Device dev = detail::control_device("render_events", controls);
  const bool packed = dev.type != DeviceType::CPU || detail::packed_cpu_forced();
  for (int i = 0; i < kNumModeParams; ++i) inputs.push_back(params[i]);
  const long B = static_cast<long>(items.size());
  Tensor y = Tensor::empty(batched ? Shape{B, N} : Shape{N}, params.dtype());
  dispatch_floating(params.dtype(), "render_events", [&](auto tag) {
    using T = decltype(tag);
    const auto t0 = std::chrono::steady_clock::now();
    bool recording = grad_enabled();
    if (recording) {
      recording = false;
      for (const Tensor& t : inputs) recording = recording || (t.defined() && t.requires_grad());
    }
    auto op = std::make_shared<EventOp<T>>();
    g_stats = {};
    if (packed) {  // compact gates: a few numbers per row on the host, the rows written where the bank runs
      op->packed = std::make_unique<detail::PackedBank<T>>();
      op->gates = std::make_shared<detail::EventGateSource<T>>(N, ro.sample_rate, ro.damper_tau);
      op->packed->gates = op->gates;
      bool pedal_grad = false;  // a pedal curve built from a Performance is a constant: no gradient to reduce
      for (const auto& c : items) pedal_grad = pedal_grad || (c.pedal.defined() && c.pedal.requires_grad());
      op->gates->set_pedal_grad(pedal_grad && grad_enabled());
    }
    for (long b = 0; b < B; ++b) {
      const auto& c = items[static_cast<size_t>(b)];
      auto plan = detail::make_event_plan<T>(params, c.keys, c.onsets, c.offsets, c.velocities, c.pedal, N, ro, packed);
      g_stats.notes += static_cast<int64_t>(plan->strikes.size());
      g_stats.modes += plan->modes.size();
      g_stats.trimmed += plan->modes.trimmed;
      if (packed) {
        op->win0.push_back(op->packed->windows.size());
        op->gates->add_item(std::move(plan->pedal));  // the source holds it now (plan_backward: ped_off)
        for (const auto& g : plan->groups) {
          GroupBank<T> bank = group_bank(*plan, g, false);
          // The GPU scan cannot truncate per block: each mode stops at its strike's life end (gather_group's
          // local order: the group's notes, each note's modes).
          for (long j : g.notes)
            bank.end.insert(bank.end.end(), static_cast<size_t>(plan->mode_end[static_cast<size_t>(j)] - plan->mode_begin[static_cast<size_t>(j)]),
                            plan->life_end[static_cast<size_t>(j)] - g.w0);
          g_stats.host_gate_samples += static_cast<int64_t>(bank.gate.size());  // 0: no rows on the host
          op->packed->append(bank, b * N + g.w0);
          for (long j : g.notes) {  // the row group_bank would have written: gate_row(j, s, life_end)
            const size_t u = static_cast<size_t>(j);
            op->gates->add_row(plan->offsets[u], plan->sig_lo[u], plan->sig_hi[u],
                               plan->modes.start[static_cast<size_t>(plan->mode_begin[u])], plan->life_end[u]);
          }
        }
      } else {
        plan_forward(*plan, y.data<T>() + b * N, recording);
      }
      op->plans.push_back(std::move(plan));
    }
    g_stats.host_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (packed) {  // one launch for the whole batch
      op->packed->n = B * N;
      g_stats.scan_samples = op->packed->scan_samples();
      if (dev.type == DeviceType::CPU) {
        detail::packed_forward_cpu(*op->packed, y.data<T>(), ro.checkpoint);
      } else {
        op->dev = std::make_shared<detail::PackedDevice>(detail::packed_upload(*op->packed, dev));
        y = reshape(detail::packed_forward_cuda(*op->packed, *op->dev), y.shape());
      }
    }
    std::vector<Shape> shapes;
    for (const Tensor& t : inputs) shapes.push_back(t.defined() ? t.shape() : Shape{});
    record_many(y, "render_events", inputs, [op, shapes, N, devs = detail::input_devices(inputs)](const Tensor& gy_in) -> Grads {
      detail::PackedGrads<T> pg;
      Tensor gy = gy_in.to(dtype_v<T>);
      if (op->packed) {
        gy = reshape(gy, {op->packed->n});
        pg = op->dev ? detail::packed_backward_cuda(*op->packed, *op->dev, gy)
                     : detail::packed_backward_cpu(*op->packed, gy.cpu().template data<T>(), op->plans[0]->ropt.checkpoint);
      }
      Grads out;
      PianoParamValues gp;
      for (size_t b = 0; b < op->plans.size(); ++b) {
        const EventPlan<T>& P = *op->plans[b];
        EventGrads g = op->packed ? plan_backward(P, static_cast<const T*>(nullptr), &pg, op->packed.get(), op->win0[b],
                                                  op->gates->pedal_offset(static_cast<long>(b)))
                                  : plan_backward(P, gy.data<T>() + static_cast<long>(b) * N);
        const long J = static_cast<long>(P.strikes.size());
        out.insert(out.end(), {to_tensor<T>(g.onset, {J}), to_tensor<T>(g.offset, {J}), to_tensor<T>(g.velocity, {J}),
                               shapes[4 * b + 3].empty() || g.pedal.empty() ? Tensor()
                                                             : to_tensor<T>(g.pedal, shapes[4 * b + 3])});
        if (b == 0) gp = std::move(g.params);  // one item: its gradients as they are
        for (size_t i = 0; b > 0 && i < gp.size(); ++i)
          for (size_t k = 0; k < gp[i].size(); ++k) gp[i][k] += g.params[i][k];
      }
      for (int i = 0; i < kNumModeParams; ++i)
        out.push_back(to_tensor<T>(gp[static_cast<size_t>(i)], shapes[op->plans.size() * 4 + static_cast<size_t>(i)]));
      detail::grads_to_input_devices(out, devs);
      return out;
    });
    return 0;
  });
  return y;
}

}  // namespace

namespace detail {
Tensor render_events_batch_dry(PianoParams& params, const std::vector<EventControls>& items, int64_t num_samples,
                               const RenderOptions& ro) {
  if (items.empty()) throw ValueError("render_events: no batch items");
  return events_dry(params, items, num_samples, ro, true);
}
}  // namespace detail

Tensor render_events_dry(PianoParams& params, const Tensor& keys, const Tensor& onsets, const Tensor& offsets,
                         const Tensor& velocities, const Tensor& pedal, int64_t num_samples, const RenderOptions& ro) {
  return events_dry(params, {{keys, onsets, offsets, velocities, pedal}}, num_samples, ro, false);
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
