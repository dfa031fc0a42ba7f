// The roll renderer: a binary roll renders what the event renderer renders for the same notes, silence
// and sub-threshold entries cost nothing, batches equal single renders, argument errors are typed, and
// float32 gradients follow float64 ones.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "autodiff/ops.h"
#include "autodiff/tape.h"
#include "synth/event_renderer.h"
#include "synth/piano_roll.h"
#include "synth/roll_renderer.h"

namespace pianograd {
namespace {

constexpr double kFr = 31.25;  // Onsets and Frames: 16 kHz / 512

double rel_rms(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector<double>(), y = b.to_vector<double>();
  double num = 0, den = 0;
  for (size_t i = 0; i < x.size(); ++i) num += (x[i] - y[i]) * (x[i] - y[i]), den += y[i] * y[i];
  return std::sqrt(num / den);
}

// Notes on the frame grid, on distinct keys (a re-strike of a key is a different sound in the two
// renderers: the roll renderer strikes the same string again, the event renderer adds a second one).
Performance grid_piece(int notes, double seconds, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> key(21, 108), vel(1, 127), len(1, 20);
  std::uniform_int_distribution<int> frame(0, static_cast<int>(seconds * kFr) - 1);
  Performance perf;
  std::vector<bool> used(128, false);
  while (static_cast<int>(perf.notes.size()) < notes) {
    const int k = key(rng);
    if (used[static_cast<size_t>(k)]) continue;
    used[static_cast<size_t>(k)] = true;
    const int f = frame(rng);
    perf.notes.push_back({k, f / kFr, (f + len(rng)) / kFr, vel(rng)});
  }
  perf.sort();
  return perf;
}

struct Rolls {
  Tensor onset, velocity, gate;
};

Rolls rolls_of(const Performance& perf, int64_t frames, DType dt) {
  RollOptions ro;
  ro.num_frames = frames;
  const PianoRolls r = performance_to_rolls(perf, kFr, ro);
  return {r.onset.to(dt), r.velocity.to(dt), r.frame.to(dt)};
}

Tensor events(PianoParams& p, const Performance& perf, int64_t N, const RenderOptions& ro) {
  std::vector<int64_t> k;
  std::vector<double> on, off, vel;
  for (const Note& n : perf.notes) k.push_back(n.key), on.push_back(n.onset), off.push_back(n.offset), vel.push_back(n.velocity);
  const DType dt = p.dtype();
  return render_events(p, from_vector(k), from_vector(on).to(dt), from_vector(off).to(dt), from_vector(vel).to(dt),
                       Tensor(), N, ro);
}

TEST(RollRenderer, BinaryRollMatchesEventRenderer) {
  // f64, 16 kHz, knock, body and room on: the strikes, modes and damper gates are the same, so the audio
  // agrees to the velocity roll's float32 rounding and the 2e-9 sigmoid-edge truncation.
  for (double sr : {16000.0, 44100.0}) {
    PianoParams p = PianoParams::concert_grand(sr, DType::f64);
    RenderOptions ro;
    ro.sample_rate = sr;
    const Performance perf = grid_piece(12, 2.0, 7);
    const int64_t F = static_cast<int64_t>(3 * kFr), N = static_cast<int64_t>(3 * sr);
    const Rolls r = rolls_of(perf, F, DType::f64);
    const Tensor ye = events(p, perf, N, ro);
    const Tensor yr = render_roll(p, r.onset, r.velocity, r.gate, kFr, N, ro);
    ASSERT_EQ(yr.shape(), (Shape{N}));
    EXPECT_LT(rel_rms(yr, ye), 1e-6) << "sr " << sr;
  }
}

TEST(RollRenderer, BinaryRollMatchesEventRendererFloat32) {
  PianoParams p = PianoParams::concert_grand(16000.0, DType::f32);
  const Performance perf = grid_piece(8, 2.0, 11);
  const int64_t F = 90, N = 48000;
  const Rolls r = rolls_of(perf, F, DType::f32);
  EXPECT_LT(rel_rms(render_roll(p, r.onset, r.velocity, r.gate, kFr, N), events(p, perf, N, {})), 1e-4);
}

TEST(RollRenderer, ZeroRollIsSilentAndFree) {
  PianoParams p = PianoParams::concert_grand();
  const Tensor z = zeros({40, kNumKeys});
  const Tensor y = render_roll(p, z, z, z, kFr, 8000);
  for (float v : y.to_vector<float>()) ASSERT_EQ(v, 0.0f);
  const RollRenderStats s = last_roll_render_stats();
  EXPECT_EQ(s.strikes, 0);
  EXPECT_EQ(s.modes, 0);
  EXPECT_EQ(s.gate_samples, 0);
}

TEST(RollRenderer, SubThresholdOnsetsCostNothing) {
  PianoParams p = PianoParams::concert_grand(16000.0, DType::f64);
  RenderOptions ro;
  ro.body = ro.room = false;
  const Performance perf = grid_piece(3, 1.0, 3);
  const Rolls r = rolls_of(perf, 40, DType::f64);
  const int64_t N = 20000;
  const Tensor y0 = render_roll(p, r.onset, r.velocity, r.gate, kFr, N, ro);
  const RollRenderStats s0 = last_roll_render_stats();
  EXPECT_EQ(s0.strikes, 3);
  EXPECT_GT(s0.modes, 0);
  // Every other entry gets a sub-threshold onset (a model's near-zero sigmoid output) and a soft velocity.
  const Tensor noise = mul(ones_like(r.onset), 5e-4);
  const Tensor onset = maximum(r.onset, noise), velocity = add(r.velocity, mul(sub(ones_like(r.onset), r.onset), 0.5));
  const Tensor y1 = render_roll(p, onset, velocity, r.gate, kFr, N, ro);
  const RollRenderStats s1 = last_roll_render_stats();
  EXPECT_EQ(s1.strikes, s0.strikes);
  EXPECT_EQ(s1.modes, s0.modes);
  EXPECT_EQ(s1.gate_samples, s0.gate_samples);
  EXPECT_EQ(rel_rms(y1, y0), 0.0);
  // A lower threshold turns them into (quiet) strikes: the counter does count.
  // (2000 samples: frames 0..3 start inside the signal.)
  render_roll(p, onset, velocity, r.gate, kFr, 2000, ro, 1e-4);
  EXPECT_EQ(last_roll_render_stats().strikes, 4 * kNumKeys);
}

TEST(RollRenderer, BatchEqualsSingleRenders) {
  PianoParams p = PianoParams::concert_grand();
  const int64_t F = 60, N = 32000;
  const Performance a = grid_piece(6, 1.5, 21), b = grid_piece(9, 1.5, 22);
  const Rolls ra = rolls_of(a, F, DType::f32), rb = rolls_of(b, F, DType::f32);
  const Tensor y = render_roll(p, stack({ra.onset, rb.onset}), stack({ra.velocity, rb.velocity}),
                               stack({ra.gate, rb.gate}), kFr, N);
  ASSERT_EQ(y.shape(), (Shape{2, N}));
  const Tensor ya = render_roll(p, ra.onset, ra.velocity, ra.gate, kFr, N);
  const Tensor yb = render_roll(p, rb.onset, rb.velocity, rb.gate, kFr, N);
  EXPECT_LT(rel_rms(y.select(0, 0), ya), 1e-6);
  EXPECT_LT(rel_rms(y.select(0, 1), yb), 1e-6);
}

TEST(RollRenderer, RejectsBadArguments) {
  PianoParams p = PianoParams::concert_grand();
  const Tensor r = zeros({10, kNumKeys});
  EXPECT_THROW(render_roll(p, zeros({10, 87}), zeros({10, 87}), zeros({10, 87}), kFr, 100), ShapeError);
  EXPECT_THROW(render_roll(p, zeros({kNumKeys}), zeros({kNumKeys}), zeros({kNumKeys}), kFr, 100), ShapeError);
  EXPECT_THROW(render_roll(p, zeros({0, kNumKeys}), zeros({0, kNumKeys}), zeros({0, kNumKeys}), kFr, 100), ShapeError);
  EXPECT_THROW(render_roll(p, r, zeros({11, kNumKeys}), r, kFr, 100), ShapeError);
  EXPECT_THROW(render_roll(p, r, r, zeros({1, 10, kNumKeys}), kFr, 100), ShapeError);
  EXPECT_THROW(render_roll(p, r.to(DType::f64), r, r, kFr, 100), DTypeError);
  EXPECT_THROW(render_roll(p, r, r, Tensor(), kFr, 100), std::exception);
  EXPECT_NO_THROW(render_roll(p, mul(ones_like(r), -0.5), r, r, kFr, 100));  // negative strength: no strike
  EXPECT_THROW(render_roll(p, ones_like(r), mul(ones_like(r), -0.5), r, kFr, 100), ValueError);
  EXPECT_THROW(render_roll(p, r, r, mul(ones_like(r), std::nan("")), kFr, 100), ValueError);
  EXPECT_THROW(render_roll(p, r, r, r, 0.0, 100), ValueError);
  EXPECT_THROW(render_roll(p, r, r, r, kFr, 0), ValueError);
  RenderOptions ro;
  ro.sample_rate = 44100;  // the impulse responses are at 16 kHz
  EXPECT_THROW(render_roll(p, r, r, r, kFr, 100, ro), ValueError);
  EXPECT_THROW(render_roll(p, r, r, r, kFr, 100, {}, -1.0), ValueError);
}

TEST(RollRenderer, Float32GradientsFollowFloat64) {
  // A soft roll (a model's output): gradients of a fixed linear loss in f32 against f64.
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(0, 1);
  const int64_t F = 20, N = 12000;
  std::vector<double> on(static_cast<size_t>(F * kNumKeys), 0.0), vel(on.size()), gate(on.size());
  for (size_t i = 0; i < on.size(); ++i) {
    vel[i] = 0.2 + 0.6 * u(rng);
    gate[i] = u(rng) < 0.2 ? 0.1 + 0.8 * u(rng) : 0.0;
  }
  for (int s = 0; s < 6; ++s) on[static_cast<size_t>((3 * s) * kNumKeys + 20 + 7 * s)] = 0.4 + 0.5 * u(rng);
  std::vector<double> w(static_cast<size_t>(N));
  for (auto& x : w) x = u(rng) - 0.5;
  std::vector<std::vector<double>> g[2];
  for (int d = 0; d < 2; ++d) {
    const DType dt = d == 0 ? DType::f64 : DType::f32;
    PianoParams p = PianoParams::concert_grand(16000.0, dt);
    Tensor o = from_vector(on, {F, kNumKeys}).to(dt).requires_grad_(), v = from_vector(vel, {F, kNumKeys}).to(dt).requires_grad_(),
           ga = from_vector(gate, {F, kNumKeys}).to(dt).requires_grad_();
    p[kLogB].requires_grad_();
    sum(mul(render_roll(p, o, v, ga, kFr, N), from_vector(w).to(dt))).backward();
    for (const Tensor* t : {&o, &v, &ga, &p[kLogB]}) g[d].push_back(t->grad().to_vector<double>());
  }
  for (size_t t = 0; t < g[0].size(); ++t) {
    double num = 0, den = 0;
    for (size_t i = 0; i < g[0][t].size(); ++i) num += std::pow(g[0][t][i] - g[1][t][i], 2), den += std::pow(g[0][t][i], 2);
    ASSERT_GT(den, 0) << "input " << t;
    EXPECT_LT(std::sqrt(num / den), 1e-3) << "input " << t;
  }
}

}  // namespace
}  // namespace pianograd
