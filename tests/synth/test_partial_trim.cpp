// Trimming inaudible partials (RenderOptions::partial_floor, ModeBuildOptions::partial_floor) and the
// renderer's cost savers around the release gate: they drop modes but must not change the audio
// beyond the stated -80 dB relative RMS.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "autodiff/ops.h"
#include "synth/event_renderer.h"
#include "synth/mode_builder.h"
#include "synth/roll_renderer.h"

namespace pianograd {
namespace {

double rel_rms(const std::vector<double>& a, const std::vector<double>& b) {
  double e = 0, s = 0;
  for (size_t i = 0; i < a.size(); ++i) e += (a[i] - b[i]) * (a[i] - b[i]), s += a[i] * a[i];
  return std::sqrt(e / s);
}

// A low chord (bass keys have the most partials, and the strike comb's zeros among them), released
// inside the signal so that the damper gates act, with the pedal half down for a while.
std::vector<double> low_chord(const RenderOptions& o, EventRenderStats* stats) {
  PianoParams p = PianoParams::concert_grand(o.sample_rate, DType::f64);
  const int64_t N = static_cast<int64_t>(0.8 * o.sample_rate);
  std::vector<double> ped(static_cast<size_t>(N), 0.0);
  for (int64_t n = N / 4; n < N / 2; ++n) ped[static_cast<size_t>(n)] = 0.5;
  const Tensor y = render_events(p, from_vector(std::vector<int64_t>{21, 28, 33, 36, 40, 45}),
                                 tensor({0.0, 0.004, 0.011, 0.013, 0.02, 0.031}, DType::f64),
                                 tensor({0.5, 0.45, 0.6, 0.55, 0.5, 0.52}, DType::f64),
                                 tensor({40.0, 70.0, 100.0, 127.0, 64.0, 90.0}, DType::f64), from_vector(ped), N, o);
  *stats = last_event_render_stats();
  return y.to_vector<double>();
}

TEST(PartialTrim, LowChordAudioUnchangedAndModesDrop) {
  for (double sr : {16000.0, 44100.0}) {
    RenderOptions trim, keep;
    trim.sample_rate = keep.sample_rate = sr;
    trim.body = trim.room = keep.body = keep.room = false;
    keep.partial_floor = 0.0;
    EventRenderStats st, sk;
    const std::vector<double> a = low_chord(trim, &st), b = low_chord(keep, &sk);
    EXPECT_EQ(st.notes, 6);
    EXPECT_EQ(sk.trimmed, 0);
    EXPECT_GT(st.trimmed, 0) << sr;
    EXPECT_EQ(st.modes + st.trimmed, sk.modes) << sr;
    EXPECT_LT(rel_rms(a, b), 1e-4) << sr;  // -80 dB, the stated bound
  }
}

// Every kept string partial is at or above partial_floor x its strike's strongest one, and every
// dropped one below it: the kept set is exactly the untrimmed set minus the quiet partials.
TEST(PartialTrim, BuildModesKeepsExactlyThePartialsAboveTheFloor) {
  const PianoParams params = PianoParams::concert_grand(44100);
  const PianoParamValues pv = piano_param_values(params);
  std::vector<Strike> strikes;
  for (int key : {21, 30, 48, 60, 84}) strikes.push_back(Strike{key, 0.01, 90.0, 1.0, -1});
  ModeBuildOptions all, trim;
  all.sample_rate = trim.sample_rate = 44100;
  trim.partial_floor = 1e-3;  // -60 dB: a floor that bites beyond the comb zeros
  const ModeSet<double> a = build_modes<double>(pv, strikes, all), t = build_modes<double>(pv, strikes, trim);
  long expect_trimmed = 0;
  size_t k = 0;  // walks t alongside a
  for (size_t j = 0; j < strikes.size(); ++j) {
    double amax = 0;
    for (long i = 0; i < a.size(); ++i)
      if (a.strike[static_cast<size_t>(i)] == static_cast<int>(j) && a.partial[static_cast<size_t>(i)] > 0)
        amax = std::max(amax, std::fabs(a.amp[static_cast<size_t>(i)]));
    for (long i = 0; i < a.size(); ++i) {
      const size_t u = static_cast<size_t>(i);
      if (a.strike[u] != static_cast<int>(j)) continue;
      const bool quiet = a.partial[u] > 0 && std::fabs(a.amp[u]) < 1e-3 * amax;
      if (quiet) {
        ++expect_trimmed;
        continue;
      }
      ASSERT_LT(k, static_cast<size_t>(t.size()));
      EXPECT_EQ(t.partial[k], a.partial[u]);
      EXPECT_EQ(t.string[k], a.string[u]);
      EXPECT_EQ(t.amp[k], a.amp[u]);
      EXPECT_EQ(t.omega[k], a.omega[u]);
      ++k;
    }
  }
  EXPECT_EQ(static_cast<long>(k), t.size());
  EXPECT_GT(expect_trimmed, 0);
  EXPECT_EQ(t.trimmed, expect_trimmed);
}

TEST(PartialTrim, RejectsABadFloor) {
  PianoParams p = PianoParams::concert_grand();
  RenderOptions o;
  o.partial_floor = 1.0;
  EXPECT_THROW(render_events(p, from_vector(std::vector<int64_t>{60}), tensor({0.0}), tensor({0.5}), tensor({64.0}),
                             Tensor(), 100, o),
               ValueError);
  o.partial_floor = -1e-3;
  EXPECT_THROW(render_roll(p, zeros({4, kNumKeys}), zeros({4, kNumKeys}), zeros({4, kNumKeys}), 100.0, 100, o),
               ValueError);
}

}  // namespace
}  // namespace pianograd
