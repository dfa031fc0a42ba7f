// The renderers on CUDA (issue 6, item 2): the packed modal bank's kernels against its CPU executor
// (synth/modal_packed.h), and render_roll / render_events with CUDA controls against the CPU renderers
// with rel_threshold = 0 (the CUDA route's semantics), forward and every gradient, batch 1 and 4.
// Skips with "no CUDA device" without a GPU; the packing itself is proven on the CPU in
// tests/synth/test_modal_packed.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "autodiff/device.h"
#include "autodiff/ops.h"
#include "autodiff/tape.h"
#include "synth/event_renderer.h"
#include "synth/modal_packed.h"
#include "synth/roll_renderer.h"
#include "synth/render_compare.h"

namespace pg = pianograd;
using pg::DType;
using pg::Tensor;

namespace {

constexpr double kFr = 31.25;

using pianograd::testing::expect_close;

pg::RenderOptions options() {
  pg::RenderOptions ro;
  ro.body = ro.room = false;
  ro.max_partials = 12;
  ro.group_size = 3;
  ro.rel_threshold = 0.0;  // the CPU reference: the CUDA route does not truncate
  return ro;
}

// Audio and the gradient of every control and parameter for a fixed random projection of the audio.
// `controls` are leaves on the device under test; their gradients must come back on that device.
template <class F>
std::vector<Tensor> run(F f, std::vector<Tensor> controls, pg::PianoParams& p, pg::Device expect) {
  const std::vector<Tensor> params = p.parameters();
  for (Tensor& t : controls) t.zero_grad();
  p.zero_grad();
  const Tensor y = f();
  EXPECT_EQ(y.device(), expect);
  std::mt19937 rng(5);
  std::normal_distribution<double> nd;
  std::vector<double> w(static_cast<size_t>(y.numel()));
  for (double& v : w) v = nd(rng);
  pg::sum(pg::mul(y, pg::from_vector(w, y.shape()).to(y.dtype()).to(y.device()))).backward();
  std::vector<Tensor> out{y.detach().cpu()};
  for (const Tensor& t : controls) {
    EXPECT_TRUE(t.grad().defined() && t.grad().device() == t.device());
    out.push_back(t.grad().defined() ? t.grad().cpu() : Tensor());
  }
  for (const Tensor& t : params) out.push_back(t.grad().defined() ? t.grad().cpu() : Tensor());
  return out;
}

void compare(const std::vector<Tensor>& gpu, const std::vector<Tensor>& cpu, double tol) {
  ASSERT_EQ(gpu.size(), cpu.size());
  for (size_t i = 0; i < cpu.size(); ++i) {
    if (!cpu[i].defined()) {  // body/room IRs (not rendered here) get no gradient
      EXPECT_FALSE(gpu[i].defined()) << "output " << i;
      continue;
    }
    expect_close(gpu[i], cpu[i], tol, i == 0 ? "audio" : "gradient " + std::to_string(i));
  }
}

// [B, F, 88] soft rolls with several strikes per item and soft, partly released gates.
std::vector<Tensor> rolls(long B, long F, DType dt, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> key(10, 70), frame(0, static_cast<int>(F) - 8), len(2, 6);
  std::uniform_real_distribution<double> u(0.3, 1.0);
  const size_t n = static_cast<size_t>(B * F * pg::kNumKeys);
  std::vector<double> on(n, 0.0), vel(n, 0.5), gate(n, 0.0);
  for (long b = 0; b < B; ++b)
    for (int s = 0; s < 5; ++s) {
      const long k = key(rng), f0 = frame(rng), l = len(rng);
      const size_t i = static_cast<size_t>((b * F + f0) * pg::kNumKeys + k);
      on[i] = u(rng), vel[i] = u(rng);
      for (long f = f0; f < std::min(F, f0 + l); ++f) gate[static_cast<size_t>((b * F + f) * pg::kNumKeys + k)] = u(rng);
    }
  const pg::Shape s = B == 1 ? pg::Shape{F, pg::kNumKeys} : pg::Shape{B, F, pg::kNumKeys};
  return {pg::from_vector(on, s).to(dt), pg::from_vector(vel, s).to(dt), pg::from_vector(gate, s).to(dt)};
}

void check_roll(long B, DType dt, double tol) {
  if (!pg::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  pg::PianoParams p = pg::PianoParams::concert_grand(16000.0, dt);
  const pg::RenderOptions ro = options();
  const int64_t N = 24000;
  std::vector<Tensor> host = rolls(B, 60, dt, 3), dev;
  for (Tensor& t : host) t.requires_grad_();
  for (const Tensor& t : host) dev.push_back(t.detach().cuda().requires_grad_());
  const auto cpu = run([&] { return pg::render_roll_dry(p, host[0], host[1], host[2], kFr, N, ro); }, host, p, pg::kCPU);
  const auto gpu = run([&] { return pg::render_roll_dry(p, dev[0], dev[1], dev[2], kFr, N, ro); }, dev, p, pg::kCUDA);
  compare(gpu, cpu, tol);
}

TEST(CudaRender, RollBatch1F64) { check_roll(1, DType::f64, 1e-9); }
TEST(CudaRender, RollBatch4F64) { check_roll(4, DType::f64, 1e-9); }
TEST(CudaRender, RollBatch4F32) { check_roll(4, DType::f32, 2e-3); }

TEST(CudaRender, EventsBatch1WithPedal) {
  if (!pg::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  pg::PianoParams p = pg::PianoParams::concert_grand(16000.0, DType::f64);
  const pg::RenderOptions ro = options();
  const int64_t N = 16000;
  Tensor keys = pg::from_vector(std::vector<int64_t>{40, 52, 64, 71, 45, 60});
  std::vector<Tensor> host{pg::from_vector(std::vector<double>{0.01, 0.05, 0.2, 0.21, 0.4, 0.5}),
                           pg::from_vector(std::vector<double>{0.3, 0.5, 0.35, 0.6, 0.55, 0.9}),
                           pg::from_vector(std::vector<double>{80, 60, 100, 40, 90, 70})};
  std::vector<double> ped(100);
  for (size_t i = 0; i < ped.size(); ++i) ped[i] = i > 20 && i < 45 ? 0.8 : 0.0;
  host.push_back(pg::from_vector(ped));
  std::vector<Tensor> dev;
  for (Tensor& t : host) t.requires_grad_();
  for (const Tensor& t : host) dev.push_back(t.detach().cuda().requires_grad_());
  const auto cpu = run([&] { return pg::render_events_dry(p, keys, host[0], host[1], host[2], host[3], N, ro); }, host,
                       p, pg::kCPU);
  const auto gpu = run([&] { return pg::render_events_dry(p, keys, dev[0], dev[1], dev[2], dev[3], N, ro); }, dev, p,
                       pg::kCUDA);
  compare(gpu, cpu, 1e-9);
}

TEST(CudaRender, EventsRenderBatch4) {
  if (!pg::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  pg::PianoParams p = pg::PianoParams::concert_grand(16000.0, DType::f64);
  pg::RenderOptions ro = options();
  ro.tail_seconds = 0.4;
  std::vector<pg::Performance> perfs(4);
  perfs[0].notes = {{60, 0.0, 0.2, 90}, {64, 0.1, 0.4, 70}, {67, 0.15, 0.3, 50}};
  perfs[1].notes = {{48, 0.05, 0.5, 100}};
  perfs[1].pedal = {{0.0, 1.0}, {0.3, 0.0}};
  perfs[2].notes = {{30, 0.2, 0.25, 30}, {90, 0.0, 0.6, 127}};
  perfs[3].notes = {{72, 0.3, 0.5, 64}, {74, 0.3, 0.5, 64}};
  const auto cpu = run([&] { return pg::render_batch(p, perfs, ro); }, {}, p, pg::kCPU);
  ro.device = pg::kCUDA;
  const auto gpu = run([&] { return pg::render_batch(p, perfs, ro); }, {}, p, pg::kCUDA);
  compare(gpu, cpu, 1e-9);
}

TEST(CudaRender, MixedControlDevicesThrow) {
  if (!pg::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  pg::PianoParams p = pg::PianoParams::concert_grand(16000.0, DType::f32);
  std::vector<Tensor> r = rolls(1, 20, DType::f32, 1);
  EXPECT_THROW(pg::render_roll_dry(p, r[0].cuda(), r[1], r[2], kFr, 4000, options()), pg::DeviceError);
}

}  // namespace
