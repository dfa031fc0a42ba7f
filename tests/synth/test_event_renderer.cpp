// The event renderer's API: argument errors, Performance and batch rendering, sample rates, the
// note-group windows (an implementation detail that must not change the audio), truncation, and
// float32 gradients against float64 ones.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <random>
#include <vector>

#include "autodiff/ops.h"
#include "kernels/cpu/fft.h"
#include "synth/event_renderer.h"
#include "synth/mode_builder.h"

namespace pianograd {
namespace {

Tensor keys(std::vector<int64_t> k) { return from_vector(k); }

Performance piece(int notes, double seconds, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  Performance perf;
  for (int i = 0; i < notes; ++i) {
    const double on = u(rng) * seconds;
    perf.notes.push_back({21 + static_cast<int>(u(rng) * 88), on, on + 0.05 + 0.6 * u(rng), 1 + static_cast<int>(u(rng) * 126)});
  }
  perf.pedal = {{0.3, 1.0}, {0.9, 0.0}};
  perf.sort();
  return perf;
}

TEST(EventRenderer, RejectsBadArguments) {
  PianoParams p = PianoParams::concert_grand();
  const Tensor on = tensor({0.0}), off = tensor({0.5}), vel = tensor({64.0});
  EXPECT_THROW(render_events(p, keys({20}), on, off, vel, Tensor(), 100), ValueError);
  EXPECT_THROW(render_events(p, keys({60, 61}), on, off, vel, Tensor(), 100), ShapeError);
  EXPECT_THROW(render_events(p, tensor({60.0}), on, off, vel, Tensor(), 100), DTypeError);
  EXPECT_THROW(render_events(p, keys({60}), tensor({0.0}, DType::f64), off, vel, Tensor(), 100), DTypeError);
  EXPECT_THROW(render_events(p, keys({60}), tensor({-1.0}), off, vel, Tensor(), 100), ValueError);
  EXPECT_THROW(render_events(p, keys({60}), on, off, vel, Tensor(), 0), ValueError);
  EXPECT_THROW(render_events(p, keys({60}), on, off, vel, zeros({2, 3}), 100), ShapeError);
  RenderOptions o;
  o.sample_rate = 44100;  // the impulse responses are at 16 kHz
  EXPECT_THROW(render_events(p, keys({60}), on, off, vel, Tensor(), 100, o), ValueError);
  o.body = o.room = false;
  EXPECT_NO_THROW(render_events(p, keys({60}), on, off, vel, Tensor(), 100, o));
  PianoParams broken = p;
  broken[kLogB] = zeros({87});
  EXPECT_THROW(render_events(broken, keys({60}), on, off, vel, Tensor(), 100), ShapeError);
}

TEST(EventRenderer, NoNotesIsSilenceAndLateNotesAreSkipped) {
  PianoParams p = PianoParams::concert_grand();
  const Tensor y = render_events(p, keys({}), zeros({0}), zeros({0}), zeros({0}), Tensor(), 64);
  for (float v : y.to_vector<float>()) EXPECT_EQ(v, 0.f);
  const Tensor z = render_events(p, keys({60}), tensor({1.0}), tensor({2.0}), tensor({64.0}), Tensor(), 1000);
  for (float v : z.to_vector<float>()) EXPECT_EQ(v, 0.f);
}

// Grouping notes into kernel windows, and truncating inaudible tails, are cost savers only.
TEST(EventRenderer, GroupWindowsAndTruncationDoNotChangeTheAudio) {
  PianoParams p = PianoParams::concert_grand(16000, DType::f64);
  const Performance perf = piece(24, 2.0, 3);
  RenderOptions whole, grouped;
  whole.group_size = 1000;
  whole.rel_threshold = 0.0;
  grouped.group_size = 3;
  const std::vector<double> a = render(p, perf, whole).to_vector<double>();
  const std::vector<double> b = render(p, perf, grouped).to_vector<double>();
  ASSERT_EQ(a.size(), b.size());
  double peak = 0, diff = 0;
  for (size_t i = 0; i < a.size(); ++i) peak = std::max(peak, std::fabs(a[i])), diff = std::max(diff, std::fabs(a[i] - b[i]));
  EXPECT_GT(peak, 1e-3);
  EXPECT_LT(diff, 1e-4 * peak);  // -80 dB: the truncated tails are below -100 dB per mode
}

TEST(EventRenderer, RenderAndBatch) {
  PianoParams p = PianoParams::concert_grand();
  Performance a = piece(5, 1.0, 1), b = piece(3, 0.5, 2);
  RenderOptions o;
  o.tail_seconds = 0.5;
  const Tensor ya = render(p, a, o);
  EXPECT_EQ(ya.numel(), static_cast<int64_t>(std::ceil((a.duration() + 0.5) * 16000)));
  const Tensor batch = render_batch(p, {a, b}, o);
  ASSERT_EQ(batch.shape(), (Shape{2, ya.numel()}));
  const std::vector<float> row0 = batch.select(0, 0).to_vector<float>(), single = ya.to_vector<float>();
  for (size_t i = 0; i < single.size(); ++i) ASSERT_NEAR(row0[i], single[i], 1e-6f);
  EXPECT_THROW(render_batch(p, {}), ValueError);
  Performance bad = a;
  bad.notes[0].velocity = 0;
  EXPECT_THROW(render(p, bad), ValueError);
}

TEST(EventRenderer, NoEnergyAboveNyquistAtEverySampleRate) {
  for (double sr : {16000.0, 22050.0, 44100.0, 48000.0}) {
    PianoParams p = PianoParams::concert_grand(sr);
    RenderOptions o;
    o.sample_rate = sr;
    o.body = o.room = false;
    const int64_t n = 16384;
    const Tensor y = render_events(p, keys({21, 60, 100, 108}), tensor({0.0, 0.0, 0.0, 0.0}), tensor({1, 1, 1, 1}),
                                   tensor({127, 127, 127, 127}), Tensor(), n, o);
    const std::vector<double> x = y.to_vector<double>();
    kernels::cpu::RealFFT<double> fft(n);
    std::vector<std::complex<double>> X(static_cast<size_t>(fft.bins()));
    std::vector<double> w(x.size());
    for (int64_t i = 0; i < n; ++i) w[static_cast<size_t>(i)] = x[static_cast<size_t>(i)] * (0.5 - 0.5 * std::cos(2 * M_PI * i / n));
    fft.forward(w.data(), X.data());
    double below = 0, above = 0;
    for (size_t k = 0; k < X.size(); ++k) (k * sr / n < 0.46 * sr ? below : above) += std::norm(X[k]);
    EXPECT_GT(below, 0.0);
    EXPECT_LT(above, 1e-8 * below) << sr;
  }
}

TEST(EventRenderer, Float32GradientsMatchFloat64) {
  std::vector<Tensor> grads[2];
  for (int d = 0; d < 2; ++d) {
    const DType dt = d ? DType::f64 : DType::f32;
    PianoParams p = PianoParams::concert_grand(16000, dt);
    std::vector<Tensor> params = p.parameters();
    Tensor vel = tensor({80.0, 50.0, 100.0}, dt).requires_grad_(true);
    // Onsets off the sample grid: at onset * sr integer the onset derivative is one-sided (the sampled
    // note's first sample switches between sin(omega delta) and 0), and f32/f64 rounding could pick
    // different sides.
    Tensor on = tensor({0.0107, 0.1013, 0.2031}, dt).requires_grad_(true);
    Tensor off = tensor({0.3, 0.25, 0.33}, dt).requires_grad_(true);
    Tensor pedal = tensor({0.0, 0.3, 0.8, 0.0}, dt).requires_grad_(true);
    RenderOptions o;
    o.pedal_frame_rate = 10.0;
    Tensor y = render_events(p, keys({40, 64, 71}), on, off, vel, pedal, 8000, o);
    Tensor target = zeros({8000}, dt);
    Tensor loss = sum(mul(sub(y, target), sub(y, target)));
    loss.backward();
    grads[d] = {vel.grad(), on.grad(), off.grad(), pedal.grad()};
    for (const Tensor& t : params) grads[d].push_back(t.grad());
  }
  for (size_t i = 0; i < grads[0].size(); ++i) {
    ASSERT_TRUE(grads[0][i].defined() && grads[1][i].defined()) << i;
    const std::vector<double> a = grads[0][i].to_vector<double>(), b = grads[1][i].to_vector<double>();
    double scale = 0, diff = 0;
    for (size_t k = 0; k < a.size(); ++k) {
      ASSERT_TRUE(std::isfinite(a[k])) << i;
      scale = std::max(scale, std::fabs(b[k]));
      diff = std::max(diff, std::fabs(a[k] - b[k]));
    }
    EXPECT_GT(scale, 0.0) << "gradient " << i << " is zero";
    EXPECT_LT(diff, 2e-3 * scale) << "gradient " << i;
  }
}

}  // namespace
}  // namespace pianograd
