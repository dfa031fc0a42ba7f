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
// On the packed route (CUDA controls, or a PackedCpuScope) the rows are compact (synth/roll_gates.h): the
// host keeps a few numbers per row and the rows are evaluated per sample where the bank runs, from the same
// edge expressions (kernels/common/roll_gate_math.h) as the tables here.
//
// Memory and grouping follow the event renderer (event_renderer.cpp): strikes are cut into groups of
// `group_size` consecutive onsets, each group runs the kernel on its own window only, to the sample at
// which all its modes are below the bank's truncation threshold. On the packed route that sample is a
// cheap conservative bound per strike (roll_plan.h, strike_life_bound), which each mode is scanned to.
#include "synth/roll_renderer.h"
#include "synth/modal_group.h"
#include "synth/modal_packed.h"
#include "synth/roll_gates.h"
#include "synth/roll_plan.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <random>
#include <string>

#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops.h"
#include "autodiff/tape.h"
#include "kernels/common/roll_gate_math.h"
#include "kernels/cpu/modal.h"
#include "synth/mode_builder.h"
#include "synth/performance.h"

namespace pianograd {

PG_REGISTER_OP(render_roll);

namespace {
namespace kc = kernels::cpu;
using detail::GroupBank;
using kernels::kModalBlock;

using detail::Edges;
using detail::RollPlan;
using detail::make_plan;
thread_local RollRenderStats g_stats;

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

// Appends plan P (batch item b) to the packed bank with compact gates: group banks without gate rows, one
// source row per strike row (the dense rows' a = s and end = life_end; e0 as gate_row computes it), each
// mode scanned to its strike's life end (GroupBank::end, in gather_group's mode order: rows, then modes).
template <class T>
void pack_plan(const RollPlan<T>& P, long b, detail::PackedBank<T>& pk, detail::RollGateSource<T>& src) {
  for (const auto& g : P.groups) {
    GroupBank<T> bank = detail::gather_group(P.modes, P.mode_begin, P.mode_end, g.rows, g.w0, g.w1, P.threshold,
                                             P.ropt.checkpoint, /*gate_rows=*/false);
    bank.end.reserve(bank.index.size());
    for (long j : g.rows) {
      const size_t u = static_cast<size_t>(j);
      const long s = P.modes.start[static_cast<size_t>(P.mode_begin[u])];
      src.add_row(b, P.skey[u], P.first_edge(j, s), s, P.life_end[u]);
      bank.end.insert(bank.end.end(), static_cast<size_t>(P.mode_end[u] - P.mode_begin[u]), P.life_end[u] - g.w0);
    }
    pk.append(bank, b * P.N + g.w0);
  }
}

// The dense gate rows' chain rule of one group: lg = dL/d gate as rows x W -> g_gate [F, 88].
template <class T>
void group_gate_backward(const RollPlan<T>& P, const typename RollPlan<T>::Group& g, const T* lg, double* g_gate) {
  const long W = g.w1 - g.w0;
  for (size_t r = 0; r < g.rows.size(); ++r) {
    const long j = g.rows[r];
    const long s = P.modes.start[static_cast<size_t>(P.mode_begin[static_cast<size_t>(j)])];
    const long e = P.life_end[static_cast<size_t>(j)];
    if (e > s) P.gate_row_backward(j, s, e, lg + static_cast<long>(r) * W + (s - g.w0), g_gate);
  }
}

// Accumulates the roll gradients (each [F, 88]) and the parameter gradients of one batch element.
// With pg (the packed route), the modal gradients come from the packed bank's windows win0, win0 + 1, ...
// (this plan's groups, their modes in strike order) instead of a kernel call per group, and the gate
// roll's gradient is the compact source's (added by the caller from pg->gate_reduced).
template <class T>
void plan_backward(const RollPlan<T>& P, const T* gy, double* g_onset, double* g_velocity, double* g_gate,
                   PianoParamValues& g_params, const detail::PackedGrads<T>* pg = nullptr,
                   const detail::PackedBank<T>* pk = nullptr, size_t win0 = 0) {
  const long M = P.modes.size();
  std::vector<T> go(static_cast<size_t>(M), T(0)), gs = go, gd = go, ga = go, gdl = go;
  for (size_t gi = 0; gi < P.groups.size(); ++gi) {
    const auto& g = P.groups[gi];
    std::vector<T> lg;
    if (pg) {
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
    if (!pg) group_gate_backward(P, g, lg.data(), g_gate);  // packed: the source reduced it (gate_reduced)
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
  std::vector<double> onset, velocity;
  std::shared_ptr<std::vector<double>> gate;  // shared with the compact gate source
  std::vector<std::unique_ptr<RollPlan<T>>> plans;
  // The packed route (CUDA controls, or a PackedCpuScope): the whole batch in one bank; plan b's groups
  // are its windows win0[b], ... The upload is kept for the backward (null: packed_*_cpu).
  std::unique_ptr<detail::PackedBank<T>> packed;
  std::shared_ptr<detail::PackedDevice> dev;
  std::vector<size_t> win0;
};

// values (optional): the three rolls as host doubles, read once here (on CUDA each read is a download).
void check_inputs(const PianoParams& params, const Tensor& onset, const Tensor& velocity, const Tensor& gate,
                  double frame_rate, int64_t num_samples, const RenderOptions& ro, double threshold,
                  std::vector<double>* values = nullptr) {
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
  }
  for (int i = 0; i < 3; ++i) {
    std::vector<double> v = rolls[i].first->to_vector<double>();
    for (double x : v)
      if (!std::isfinite(x)) throw ValueError(std::string(op) + ": " + rolls[i].second + " holds a non-finite value");
    if (values) values[i] = std::move(v);
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
  std::vector<double> rolls[3];
  check_inputs(params, onset, velocity, gate, frame_rate, num_samples, ro, threshold, rolls);
  // Routing: the modal bank runs on the controls' device (CUDA: packed, each mode to its life end; modal_packed.h).
  const Device dev = detail::control_device("render_roll", {{&onset, "onset"}, {&velocity, "velocity"}, {&gate, "gate"}});
  const bool packed = dev.type != DeviceType::CPU || detail::packed_cpu_forced();
  // The packed route keeps the caller's threshold: the GPU scan cannot truncate on the fly, but each mode
  // stops at its strike's life end, bounded in advance (roll_plan.h, strike_life_bound).
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
    op->onset = std::move(rolls[0]);
    op->velocity = std::move(rolls[1]);
    op->gate = std::make_shared<std::vector<double>>(std::move(rolls[2]));
    auto edges = std::make_shared<const Edges>(F, ro.sample_rate, frame_rate, ro.damper_tau);
    std::shared_ptr<detail::RollGateSource<T>> src;
    if (packed) {  // compact gates: set before appending (the banks carry no rows)
      op->packed = std::make_unique<detail::PackedBank<T>>();
      src = std::make_shared<detail::RollGateSource<T>>(op->gate, dev.type != DeviceType::CPU ? gate.detach() : Tensor(),
                                                        B, F, num_samples, ro.sample_rate, frame_rate, ro.damper_tau);
      op->packed->gates = src;
    }
    const size_t per = static_cast<size_t>(F * kNumKeys);
    for (long b = 0; b < B; ++b) {
      const size_t o = static_cast<size_t>(b) * per;
      op->plans.push_back(make_plan<T>(op->pv, edges, op->onset.data() + o, op->velocity.data() + o,
                                       op->gate->data() + o, F, frame_rate, num_samples, ro, threshold, packed));
      const auto& P = *op->plans.back();
      g_stats.strikes += static_cast<int64_t>(P.strikes.size());
      g_stats.modes += P.modes.size();
      if (!packed) {
        plan_forward(P, y.data<T>() + b * num_samples);
        continue;
      }
      op->win0.push_back(op->packed->windows.size());
      pack_plan(P, b, *op->packed, *src);  // no host gate samples (g_stats.gate_samples stays 0)
    }
    if (packed) {  // one launch for the whole batch
      op->packed->n = B * num_samples;
      g_stats.scan_samples = op->packed->scan_samples();
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
        if (pg.gate_reduced.size() != total)
          throw ValueError("render_roll: the compact gates' gradient has " + std::to_string(pg.gate_reduced.size()) +
                           " values, expected " + std::to_string(total));
        for (size_t i = 0; i < total; ++i) gg[i] += pg.gate_reduced[i];
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

template <class T>
RollGateCheck<T> roll_gate_check(const PianoParams& params, const Tensor& onset, const Tensor& velocity,
                                 const Tensor& gate, double frame_rate, int64_t num_samples, const RenderOptions& ro,
                                 unsigned seed) {
  check_inputs(params, onset, velocity, gate, frame_rate, num_samples, ro, 0.0);
  RenderOptions po = ro;
  po.rel_threshold = 0.0;  // the packed route's plans
  const long B = onset.dim() == 3 ? static_cast<long>(onset.shape()[0]) : 1;
  const long F = static_cast<long>(onset.shape()[onset.dim() - 2]);
  const size_t per = static_cast<size_t>(F * kNumKeys);
  const PianoParamValues pv = piano_param_values(params);
  const std::vector<double> on = onset.to_vector<double>(), vel = velocity.to_vector<double>();
  auto g = std::make_shared<std::vector<double>>(gate.to_vector<double>());
  auto edges = std::make_shared<const Edges>(F, ro.sample_rate, frame_rate, ro.damper_tau);
  RollGateCheck<T> c;
  auto src = std::make_shared<RollGateSource<T>>(g, gate.device().type != DeviceType::CPU ? gate.detach() : Tensor(), B,
                                                 F, num_samples, ro.sample_rate, frame_rate, ro.damper_tau);
  c.compact.gates = src;
  std::vector<std::unique_ptr<RollPlan<T>>> plans;
  std::vector<size_t> win0;
  for (long b = 0; b < B; ++b) {
    const size_t o = static_cast<size_t>(b) * per;
    plans.push_back(
        make_plan<T>(pv, edges, on.data() + o, vel.data() + o, g->data() + o, F, frame_rate, num_samples, po, 0.0, true));
    win0.push_back(c.dense.windows.size());
    for (const auto& grp : plans.back()->groups) c.dense.append(group_bank(*plans.back(), grp, nullptr), b * num_samples + grp.w0);
    pack_plan(*plans.back(), b, c.compact, *src);
  }
  c.dense.n = c.compact.n = B * num_samples;
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd;
  c.gg.resize(static_cast<size_t>(c.dense.gate_size));
  for (T& v : c.gg) v = static_cast<T>(nd(rng));
  c.dense_grad.assign(g->size(), 0.0);
  PackedGrads<T> pg;
  pg.gate = c.gg;
  for (long b = 0; b < B; ++b)
    for (size_t gi = 0; gi < plans[static_cast<size_t>(b)]->groups.size(); ++gi)
      group_gate_backward(*plans[static_cast<size_t>(b)], plans[static_cast<size_t>(b)]->groups[gi],
                          pg.window_gate(c.dense, win0[static_cast<size_t>(b)] + gi).data(),
                          c.dense_grad.data() + static_cast<size_t>(b) * per);
  return c;
}
template RollGateCheck<float> roll_gate_check<float>(const PianoParams&, const Tensor&, const Tensor&, const Tensor&,
                                                     double, int64_t, const RenderOptions&, unsigned);
template RollGateCheck<double> roll_gate_check<double>(const PianoParams&, const Tensor&, const Tensor&, const Tensor&,
                                                       double, int64_t, const RenderOptions&, unsigned);

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
