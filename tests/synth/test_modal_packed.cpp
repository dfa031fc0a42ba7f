// The packed modal bank (synth/modal_packed.h), the layout the CUDA route launches once per pass, proven
// on the CPU: rendering through the packed layout (PackedCpuScope: the CUDA route's code with the CPU
// kernels) equals the per-group CPU renderer run with rel_threshold = 0, forward and every gradient, for
// rolls (one bank for the whole batch) and events, batch > 1. Plus the layout itself and the routing's
// device errors in a build or on a machine without CUDA.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "autodiff/device.h"
#include "autodiff/ops.h"
#include "autodiff/tape.h"
#include "kernels/cpu/modal.h"
#include "synth/event_renderer.h"
#include "synth/modal_packed.h"
#include "synth/piano_roll.h"
#include "synth/roll_renderer.h"
#include "render_compare.h"

namespace pianograd {
namespace {

constexpr double kFr = 31.25;
using testing::expect_close;
using testing::render_and_grads;

RenderOptions small_options() {
  RenderOptions ro;
  ro.body = ro.room = false;
  ro.max_partials = 6;
  ro.group_size = 2;         // several windows per item, overlapping in the output
  ro.rel_threshold = 0.0;    // the packed route's semantics
  return ro;
}

void compare_runs(const std::vector<Tensor>& packed, const std::vector<Tensor>& cpu, double tol) {
  testing::compare_runs(packed, cpu, tol);
  size_t defined = 0;
  for (const Tensor& t : cpu) defined += t.defined() ? 1 : 0;
  EXPECT_GE(defined + 2, cpu.size());
}

struct Rolls {
  Tensor onset, velocity, gate;
};

// A [B, F, 88] soft roll: a few strikes per item, soft gates with partial releases.
Rolls random_rolls(long B, long F, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> key(10, 70), frame(0, static_cast<int>(F) - 8), len(2, 6);
  std::uniform_real_distribution<double> u(0.3, 1.0);
  const size_t n = static_cast<size_t>(B * F * kNumKeys);
  std::vector<double> on(n, 0.0), vel(n, 0.5), gate(n, 0.0);
  for (long b = 0; b < B; ++b)
    for (int s = 0; s < 4; ++s) {
      const long k = key(rng), f0 = frame(rng), l = len(rng);
      on[static_cast<size_t>((b * F + f0) * kNumKeys + k)] = u(rng);
      vel[static_cast<size_t>((b * F + f0) * kNumKeys + k)] = u(rng);
      for (long f = f0; f < std::min(F, f0 + l); ++f) gate[static_cast<size_t>((b * F + f) * kNumKeys + k)] = u(rng);
    }
  const Shape s{B, F, kNumKeys};
  return {from_vector(on, s).requires_grad_(), from_vector(vel, s).requires_grad_(), from_vector(gate, s).requires_grad_()};
}

TEST(ModalPacked, LayoutStoresRowsFromTheirFirstStart) {
  detail::GroupBank<double> b;
  b.rows = 2;
  b.W = 10;
  b.omega = {0.1, 0.2, 0.3};
  b.sigma = b.dgain = b.amp = b.delta = {0.0, 0.0, 0.0};
  b.start = {4, 2, 7};
  b.env = {0, 1, 1};
  b.gate.resize(20);
  for (size_t i = 0; i < 20; ++i) b.gate[i] = static_cast<double>(i);
  detail::PackedBank<double> pk;
  pk.append(b, 100);
  pk.append(b, 5);
  EXPECT_EQ(pk.count(), 6);
  EXPECT_EQ(pk.rows(), 4);
  EXPECT_EQ(pk.n, 110);
  EXPECT_EQ(pk.max_len, 10);
  EXPECT_EQ(pk.gate.size(), 2u * (6 + 8));  // row 0 from sample 4, row 1 from sample 2
  EXPECT_EQ(pk.env, (std::vector<std::int32_t>{0, 1, 1, 2, 3, 3}));
  EXPECT_EQ(pk.base[4], 5);
  for (long r = 0; r < 4; ++r)
    for (long t = pk.windows[static_cast<size_t>(r / 2)].row_first[static_cast<size_t>(r % 2)]; t < 10; ++t)
      EXPECT_EQ(pk.gate[static_cast<size_t>(pk.gate_off[static_cast<size_t>(r)] + t)], static_cast<double>((r % 2) * 10 + t));
  detail::PackedGrads<double> g;
  g.gate = pk.gate;
  const std::vector<double> dense = g.window_gate(pk, 1);
  for (size_t i = 0; i < 20; ++i) EXPECT_EQ(dense[i], (i < 4 || (i >= 10 && i < 12)) ? 0.0 : b.gate[i]) << i;

  // The two upload buffers and the kernels' view over them (here in host memory) give back every array.
  b.sigma = {1, 2, 3};
  b.dgain = {4, 5, 6};
  b.amp = {7, 8, 9};
  b.delta = {10, 11, 12};
  detail::PackedBank<double> pk2;
  pk2.append(b, 0);
  pk2.append(b, 30);
  pk2.append(b, 7);
  const detail::PackedArrays<double> a = detail::packed_arrays(pk2);
  const auto v = detail::packed_view(pk2, a.reals.data(), a.ints.data(), pk2.env.data());
  ASSERT_EQ(v.count, 9);
  EXPECT_EQ(v.max_len, 10);
  EXPECT_EQ(v.gate_size, pk2.gate_size);
  for (long m = 0; m < v.count; ++m) {
    const size_t u = static_cast<size_t>(m);
    EXPECT_EQ(v.omega[m], pk2.omega[u]);
    EXPECT_EQ(v.sigma[m], pk2.sigma[u]);
    EXPECT_EQ(v.dgain[m], pk2.dgain[u]);
    EXPECT_EQ(v.amp[m], pk2.amp[u]);
    EXPECT_EQ(v.delta[m], pk2.delta[u]);
    EXPECT_EQ(v.start[m], pk2.start[u]);
    EXPECT_EQ(v.base[m], pk2.base[u]);
    EXPECT_EQ(v.len[m], pk2.len[u]);
    EXPECT_EQ(v.env[m], pk2.env[u]);
  }
  for (long r = 0; r < pk2.rows(); ++r) EXPECT_EQ(v.gate_off[r], pk2.gate_off[static_cast<size_t>(r)]);
}

// Per-mode ends (GroupBank::end, the packed route's life ends): each mode is scanned to its own end,
// rows are stored to the last end of their modes, and the CPU twin equals running every mode alone over
// its own length with the CPU kernel (forward, per-mode gradients and the gate gradient).
TEST(ModalPacked, ModesStopAtTheirOwnEnds) {
  namespace kc = kernels::cpu;
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  detail::PackedBank<double> pk;
  std::vector<detail::GroupBank<double>> banks;
  const std::vector<long> bases{0, 40, 300};
  for (size_t k = 0; k < bases.size(); ++k) {
    detail::GroupBank<double> b;
    b.rows = 2;
    b.W = 200;
    for (int i = 0; i < 6; ++i) {
      b.omega.push_back(0.05 + 0.3 * u(rng));
      b.sigma.push_back(0.002 + 0.01 * u(rng));
      b.dgain.push_back(0.05 * u(rng));
      b.amp.push_back(0.5 + u(rng));
      b.delta.push_back(0.5 * u(rng));
      b.start.push_back(static_cast<long>(30 * u(rng)));
      b.env.push_back(i == 5 ? -1 : i % 2);
      b.end.push_back(i == 4 ? 0 : 60 + static_cast<long>(140 * u(rng)));  // mode 4 silent (end 0)
    }
    b.gate.resize(static_cast<size_t>(b.rows * b.W));
    for (double& g : b.gate) g = u(rng);
    pk.append(b, bases[k]);
    banks.push_back(b);
  }
  // Layout: lengths are the ends, rows stop at their modes' last end.
  for (size_t k = 0; k < banks.size(); ++k)
    for (long r = 0; r < 2; ++r) {
      long e = 0;
      for (size_t i = 0; i < 6; ++i)
        if (banks[k].env[i] == r) e = std::max(e, banks[k].end[i]);
      EXPECT_EQ(pk.row_len[k * 2 + static_cast<size_t>(r)], std::max(e, pk.row_first[k * 2 + static_cast<size_t>(r)]));
    }
  EXPECT_EQ(pk.len[4], 0);
  // Reference: every mode alone, over its own length, at its window's base.
  std::vector<double> gy(static_cast<size_t>(pk.n));
  for (double& g : gy) g = u(rng) - 0.5;
  std::vector<double> y_ref(static_cast<size_t>(pk.n), 0.0), gate_ref;
  std::vector<std::vector<double>> gm(5, std::vector<double>(static_cast<size_t>(pk.count()), 0.0));
  std::vector<std::vector<double>> gg_rows;  // per bank: dense rows x W
  kc::ModalOptions mo;
  mo.rel_threshold = 0.0;
  for (size_t k = 0; k < banks.size(); ++k) {
    const auto& b = banks[k];
    std::vector<double> rows_grad(b.gate.size(), 0.0);
    for (size_t i = 0; i < 6; ++i) {
      const long L = b.end[i];
      if (L <= 0) continue;
      const std::int32_t env = b.env[i] < 0 ? -1 : 0;
      std::vector<double> row(static_cast<size_t>(L), 0.0);
      if (b.env[i] >= 0) std::copy(b.gate.begin() + b.env[i] * b.W, b.gate.begin() + b.env[i] * b.W + L, row.begin());
      const kc::ModalBank<double> one{1, &b.omega[i], &b.sigma[i], &b.dgain[i], &b.amp[i], &b.delta[i], &b.start[i], &env};
      std::vector<double> y(static_cast<size_t>(L));
      kc::modal_forward(one, row.data(), 1, L, y.data(), mo);
      for (long t = 0; t < L; ++t) y_ref[static_cast<size_t>(bases[k] + t)] += y[static_cast<size_t>(t)];
      double go, gs, gd, ga, gl;
      std::vector<double> lg(static_cast<size_t>(L), 0.0);
      kc::ModalGrads<double> g1{&go, &gs, &gd, &ga, &gl, lg.data()};
      kc::modal_backward(one, row.data(), 1, L, gy.data() + bases[k], g1, mo);
      const size_t m = k * 6 + i;
      gm[0][m] = go, gm[1][m] = gs, gm[2][m] = gd, gm[3][m] = ga, gm[4][m] = gl;
      if (b.env[i] >= 0)
        for (long t = 0; t < L; ++t) rows_grad[static_cast<size_t>(b.env[i] * b.W + t)] += lg[static_cast<size_t>(t)];
    }
    gg_rows.push_back(rows_grad);
  }
  std::vector<double> y(static_cast<size_t>(pk.n));
  detail::packed_forward_cpu(pk, y.data(), 64);
  for (long t = 0; t < pk.n; ++t) EXPECT_NEAR(y[static_cast<size_t>(t)], y_ref[static_cast<size_t>(t)], 1e-12) << t;
  const detail::PackedGrads<double> g = detail::packed_backward_cpu(pk, gy.data(), 64);
  const std::vector<const std::vector<double>*> got{&g.omega, &g.sigma, &g.dgain, &g.amp, &g.delta};
  for (size_t q = 0; q < 5; ++q)
    for (long m = 0; m < pk.count(); ++m)
      EXPECT_NEAR((*got[q])[static_cast<size_t>(m)], gm[q][static_cast<size_t>(m)], 1e-10 * (1 + std::fabs(gm[q][static_cast<size_t>(m)])))
          << "grad " << q << " mode " << m;
  for (size_t k = 0; k < banks.size(); ++k) {
    const std::vector<double> dense = g.window_gate(pk, k);
    for (size_t i = 0; i < dense.size(); ++i) EXPECT_NEAR(dense[i], gg_rows[k][i], 1e-10) << "bank " << k << " gate " << i;
  }
  EXPECT_EQ(pk.scan_samples(), [&] {
    long s = 0;
    for (const auto& b : banks)
      for (size_t i = 0; i < 6; ++i) s += std::max(0L, b.end[i] - static_cast<long>(b.start[i]));
    return s;
  }());
}

TEST(ModalPacked, RollBatchMatchesCpuRenderer) {
  for (DType dt : {DType::f64, DType::f32}) {
    PianoParams p = PianoParams::concert_grand(16000.0, dt);
    const RenderOptions ro = small_options();
    Rolls r = random_rolls(3, 40, 11);
    r = {r.onset.detach().to(dt).requires_grad_(), r.velocity.detach().to(dt).requires_grad_(),
         r.gate.detach().to(dt).requires_grad_()};
    const int64_t N = 16000;
    auto run = [&] { return render_roll_dry(p, r.onset, r.velocity, r.gate, kFr, N, ro); };
    const auto cpu = render_and_grads(run, {r.onset, r.velocity, r.gate}, p);
    std::vector<Tensor> packed;
    {
      detail::PackedCpuScope scope;
      packed = render_and_grads(run, {r.onset, r.velocity, r.gate}, p);
    }
    EXPECT_GT(cpu[0].to_vector<double>()[8000] * cpu[0].to_vector<double>()[8000], 0.0);
    compare_runs(packed, cpu, dt == DType::f64 ? 1e-12 : 1e-5);
  }
}

TEST(ModalPacked, EventsMatchCpuRendererWithPedal) {
  PianoParams p = PianoParams::concert_grand(16000.0, DType::f64);
  const RenderOptions ro = small_options();
  const int64_t N = 12000;
  Tensor keys = from_vector(std::vector<int64_t>{40, 52, 64, 71, 45});
  Tensor on = from_vector(std::vector<double>{0.01, 0.05, 0.2, 0.21, 0.4}).requires_grad_();
  Tensor off = from_vector(std::vector<double>{0.3, 0.5, 0.35, 0.6, 0.55}).requires_grad_();
  Tensor vel = from_vector(std::vector<double>{80, 60, 100, 40, 90}).requires_grad_();
  std::vector<double> ped(50);
  for (size_t i = 0; i < ped.size(); ++i) ped[i] = i > 20 && i < 35 ? 0.8 : 0.0;
  Tensor pedal = from_vector(ped).requires_grad_();  // per frame at 100 frames/s
  auto run = [&] { return render_events_dry(p, keys, on, off, vel, pedal, N, ro); };
  const auto cpu = render_and_grads(run, {on, off, vel, pedal}, p);
  std::vector<Tensor> packed;
  {
    detail::PackedCpuScope scope;
    packed = render_and_grads(run, {on, off, vel, pedal}, p);
  }
  compare_runs(packed, cpu, 1e-12);
}

TEST(ModalPacked, RenderBatchMatchesCpuRenderer) {
  PianoParams p = PianoParams::concert_grand(16000.0, DType::f64);
  RenderOptions ro = small_options();
  ro.tail_seconds = 0.3;
  std::vector<Performance> perfs(2);
  perfs[0].notes = {{60, 0.0, 0.2, 90}, {64, 0.1, 0.4, 70}, {67, 0.15, 0.3, 50}};
  perfs[1].notes = {{48, 0.05, 0.5, 100}};
  perfs[1].pedal = {{0.0, 1.0}, {0.3, 0.0}};
  auto run = [&] { return render_batch(p, perfs, ro); };
  const auto cpu = render_and_grads(run, {}, p);
  std::vector<Tensor> packed;
  {
    detail::PackedCpuScope scope;
    packed = render_and_grads(run, {}, p);
  }
  compare_runs(packed, cpu, 1e-12);
}

// render_batch's CUDA route: B event items as one op over one packed bank (windows of every item).
TEST(ModalPacked, EventsBatchOpMatchesPerItemRenders) {
  PianoParams p = PianoParams::concert_grand(16000.0, DType::f64);
  const RenderOptions ro = small_options();
  const int64_t N = 9000;
  std::vector<detail::EventControls> items;
  std::vector<Tensor> leaves;
  for (int b = 0; b < 3; ++b) {
    const double o = 0.03 * b;
    detail::EventControls c{from_vector(std::vector<int64_t>{40 + b, 55, 67 - b}),
                            from_vector(std::vector<double>{0.01 + o, 0.1, 0.2 + o}).requires_grad_(),
                            from_vector(std::vector<double>{0.3, 0.25 + o, 0.45}).requires_grad_(),
                            from_vector(std::vector<double>{70.0 + 10 * b, 90, 50}).requires_grad_(), Tensor()};
    if (b == 1) c.pedal = from_vector(std::vector<double>(static_cast<size_t>(N), 0.5)).requires_grad_();
    for (const Tensor* t : {&c.onsets, &c.offsets, &c.velocities, &c.pedal})
      if (t->defined()) leaves.push_back(*t);
    items.push_back(c);
  }
  auto per_item = [&] {
    std::vector<Tensor> ys;
    for (const auto& c : items) ys.push_back(render_events_dry(p, c.keys, c.onsets, c.offsets, c.velocities, c.pedal, N, ro));
    return stack(ys, 0);
  };
  auto batch_op = [&] { return detail::render_events_batch_dry(p, items, N, ro); };
  const auto ref = render_and_grads(per_item, leaves, p);
  compare_runs(render_and_grads(batch_op, leaves, p), ref, 1e-12);  // per-group CPU path, batched
  detail::PackedCpuScope scope;
  compare_runs(render_and_grads(batch_op, leaves, p), ref, 1e-12);  // one packed bank
}

TEST(ModalPacked, CudaControlsWithoutDeviceThrowDeviceError) {
  if (cuda::is_available()) GTEST_SKIP() << "a CUDA device is present (tests/cuda/test_cuda_render.cpp covers it)";
  PianoParams p = PianoParams::concert_grand(16000.0, DType::f32);
  RenderOptions ro = small_options();
  ro.device = kCUDA;
  std::vector<Performance> perfs(1);
  perfs[0].notes = {{60, 0.0, 0.2, 90}};
  EXPECT_THROW(render_batch(p, perfs, ro), DeviceError);
  EXPECT_THROW(render(p, perfs[0], ro), DeviceError);
}

}  // namespace
}  // namespace pianograd
