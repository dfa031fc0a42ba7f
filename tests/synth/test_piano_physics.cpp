// Physics of the event renderer, measured on rendered audio (issue 4 §7): stretched partial
// frequencies, decay rates, the damper, the sustain pedal, velocity -> loudness and brightness,
// continuity at note boundaries, and preset files. The body/room responses are off where they would
// blur a measurement; unison detuning is zeroed where beating would.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <vector>

#include "autodiff/checkpoint.h"
#include "autodiff/ops.h"
#include "kernels/cpu/fft.h"
#include "synth/event_renderer.h"
#include "synth/piano_params.h"
#include "synth_test_util.h"

namespace pianograd {
namespace {

constexpr double kSr = 16000.0;

RenderOptions dry_options(bool knock = false) {
  RenderOptions o;
  o.sample_rate = kSr;
  o.body = o.room = false;
  o.knock = knock;
  return o;
}

PianoParams no_detune() {
  PianoParams p = PianoParams::concert_grand(kSr, DType::f64);
  p[kDetuneCents] = zeros({kNumKeys, 3}, DType::f64);
  return p;
}

std::vector<double> note(PianoParams& p, int key, double vel, double off, double seconds, const RenderOptions& o,
                         const Tensor& pedal = Tensor()) {
  const int64_t N = static_cast<int64_t>(seconds * kSr);
  const DType dt = p.dtype();
  return render_events(p, from_vector(std::vector<int64_t>{key}), tensor({0.01}, dt), tensor({off}, dt),
                       tensor({vel}, dt), pedal, N, o)
      .to_vector<double>();
}

// |FFT| of a Hann-windowed segment x[begin, begin + n).
std::vector<double> spectrum(const std::vector<double>& x, long begin, long n) {
  kernels::cpu::RealFFT<double> fft(n);
  std::vector<double> w(static_cast<size_t>(n));
  for (long i = 0; i < n; ++i) w[static_cast<size_t>(i)] = x[static_cast<size_t>(begin + i)] * (0.5 - 0.5 * std::cos(2 * M_PI * i / n));
  std::vector<std::complex<double>> X(static_cast<size_t>(fft.bins()));
  fft.forward(w.data(), X.data());
  std::vector<double> m(X.size());
  for (size_t k = 0; k < X.size(); ++k) m[k] = std::abs(X[k]);
  return m;
}

// The peak near `f` (within +-2%) refined by a parabola through the log magnitudes of three bins.
double peak_hz(const std::vector<double>& mag, double f, long n) {
  const double bin = kSr / n;
  long lo = static_cast<long>(f * 0.98 / bin), hi = static_cast<long>(f * 1.02 / bin) + 1, best = lo;
  for (long k = lo; k <= hi; ++k)
    if (mag[static_cast<size_t>(k)] > mag[static_cast<size_t>(best)]) best = k;
  const double a = std::log(mag[static_cast<size_t>(best - 1)]), b = std::log(mag[static_cast<size_t>(best)]),
               c = std::log(mag[static_cast<size_t>(best + 1)]);
  return (static_cast<double>(best) + 0.5 * (a - c) / (a - 2 * b + c)) * bin;
}

double rms(const std::vector<double>& x, long b, long e) {
  double s = 0;
  for (long i = b; i < e; ++i) s += x[static_cast<size_t>(i)] * x[static_cast<size_t>(i)];
  return std::sqrt(s / static_cast<double>(e - b));
}

// Least-squares slope of log(RMS) over 10 ms frames in [t0, t1): minus the amplitude decay rate.
double log_rms_slope(const std::vector<double>& x, double t0, double t1) {
  const long hop = static_cast<long>(0.01 * kSr);
  double sx = 0, sy = 0, sxx = 0, sxy = 0, n = 0;
  for (long b = static_cast<long>(t0 * kSr); b + hop <= static_cast<long>(t1 * kSr); b += hop) {
    const double t = (static_cast<double>(b) + hop / 2.0) / kSr, y = std::log(rms(x, b, b + hop));
    sx += t, sy += y, sxx += t * t, sxy += t * y, n += 1;
  }
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

TEST(PianoPhysics, PartialFrequenciesFollowTheStiffStringLaw) {
  PianoParams p = no_detune();
  const long n = 65536;
  for (int key : {36, 60}) {
    const std::vector<double> y = note(p, key, 90, 10.0, 4.2, dry_options());
    const std::vector<double> mag = spectrum(y, static_cast<long>(0.02 * kSr), n);
    const double f0 = stretched_et_hz(key), B = std::exp(p[kLogB].to_vector<double>()[static_cast<size_t>(key - kMinKey)]);
    for (int q = 1; q <= 7; ++q) {
      const double want = q * f0 * std::sqrt(1 + B * q * q);
      const double got = peak_hz(mag, want, n);
      EXPECT_LT(std::fabs(1200 * std::log2(got / want)), 1.0) << "key " << key << " partial " << q << ": " << got << " Hz vs " << want;
    }
    // Inharmonicity is measurable: the 7th partial sits well above 7 f0 (several cents).
    const double f7 = peak_hz(mag, 7 * f0 * std::sqrt(1 + 49 * B), n);
    EXPECT_GT(1200 * std::log2(f7 / (7 * peak_hz(mag, f0 * std::sqrt(1 + B), n))), 2.0) << "key " << key;
  }
}

TEST(PianoPhysics, PartialDecayRatesMatchSigma) {
  PianoParams p = no_detune();
  const std::vector<double> y = note(p, 60, 90, 10.0, 4.0, dry_options());
  const double f0 = stretched_et_hz(60), B = std::exp(p[kLogB].to_vector<double>()[39]);
  const long n = 2048, hop = 512;
  for (int q : {1, 2, 3, 5}) {
    const double f = q * f0 * std::sqrt(1 + B * q * q), W = 2 * M_PI * f;
    const double sigma = 0.5 + 6.25e-9 * W * W;  // the defaults b1, b3 (1/s)
    const long bin = std::lround(f / (kSr / n));
    double sx = 0, sy = 0, sxx = 0, sxy = 0, cnt = 0;
    for (long b = static_cast<long>(0.3 * kSr); b + n <= static_cast<long>(3.8 * kSr); b += hop) {
      const std::vector<double> mag = spectrum(y, b, n);
      double m = 0;
      for (long k = bin - 2; k <= bin + 2; ++k) m = std::max(m, mag[static_cast<size_t>(k)]);
      const double t = (static_cast<double>(b) + n / 2.0) / kSr, l = std::log(m);
      sx += t, sy += l, sxx += t * t, sxy += t * l, cnt += 1;
    }
    const double measured = -(cnt * sxy - sx * sy) / (cnt * sxx - sx * sx);
    EXPECT_NEAR(measured, sigma, 0.05 * sigma) << "partial " << q;
  }
}

TEST(PianoPhysics, ReleaseWithPedalUpShortensT60TenfoldAndThePedalSustains) {
  PianoParams p = PianoParams::concert_grand(kSr, DType::f64);
  const RenderOptions o = dry_options();
  const std::vector<double> held = note(p, 60, 80, 10.0, 2.5, o);
  const std::vector<double> released = note(p, 60, 80, 0.5, 2.5, o);
  const double t60_held = -6.9078 / log_rms_slope(held, 0.6, 2.4);
  const double t60_released = -6.9078 / log_rms_slope(released, 0.53, 0.65);
  EXPECT_GE(t60_held / t60_released, 10.0) << t60_held << " s vs " << t60_released << " s";
  EXPECT_LT(t60_released, 0.4);
  // Pedal down throughout: the release changes nothing.
  const std::vector<double> pedalled = note(p, 60, 80, 0.5, 2.5, o, full({static_cast<int64_t>(2.5 * kSr)}, 1.0, DType::f64));
  double diff = 0, peak = 0;
  for (size_t i = 0; i < held.size(); ++i) diff = std::max(diff, std::fabs(pedalled[i] - held[i])), peak = std::max(peak, std::fabs(held[i]));
  EXPECT_LT(diff, 1e-9 * peak);
  EXPECT_GT(rms(pedalled, static_cast<long>(1.5 * kSr), static_cast<long>(1.6 * kSr)),
            0.3 * rms(pedalled, static_cast<long>(0.4 * kSr), static_cast<long>(0.5 * kSr)));
  // Lifting the pedal at 1.5 s (per-frame pedal at 100 frames/s) damps the note from then on.
  std::vector<double> frames(250, 1.0);
  for (size_t i = 150; i < frames.size(); ++i) frames[i] = 0.0;
  const std::vector<double> lifted = note(p, 60, 80, 0.5, 2.5, o, from_vector(frames));
  EXPECT_GT(rms(lifted, static_cast<long>(1.4 * kSr), static_cast<long>(1.5 * kSr)),
            0.9 * rms(held, static_cast<long>(1.4 * kSr), static_cast<long>(1.5 * kSr)));
  EXPECT_LT(rms(lifted, static_cast<long>(1.8 * kSr), static_cast<long>(1.9 * kSr)),
            1e-3 * rms(held, static_cast<long>(1.8 * kSr), static_cast<long>(1.9 * kSr)));
}

TEST(PianoPhysics, LoudnessAndSpectralCentroidRiseWithVelocity) {
  PianoParams p = PianoParams::concert_grand(kSr, DType::f64);
  double last_rms = 0, last_centroid = 0;
  for (double v : {10.0, 30.0, 50.0, 70.0, 90.0, 110.0, 127.0}) {
    const std::vector<double> y = note(p, 60, v, 10.0, 0.6, dry_options(true));
    const double r = rms(y, 0, static_cast<long>(y.size()));
    const std::vector<double> mag = spectrum(y, 0, 8192);
    double num = 0, den = 0;
    for (size_t k = 0; k < mag.size(); ++k) num += k * (kSr / 8192) * mag[k], den += mag[k];
    const double c = num / den;
    EXPECT_GT(r, last_rms * 1.05) << "velocity " << v;
    EXPECT_GT(c, last_centroid) << "velocity " << v;
    last_rms = r, last_centroid = c;
  }
}

// A discontinuity (a mode starting in cosine phase, a gate that cut the waveform) would be a sample
// step of the order of the amplitude; the sound's own steps are far smaller in the bass and middle.
TEST(PianoPhysics, NoDiscontinuityAtNoteStartOrRelease) {
  PianoParams p = PianoParams::concert_grand(kSr, DType::f64);
  for (bool ir : {false, true}) {
    RenderOptions o = dry_options(true);
    o.body = o.room = ir;
    for (int key : {33, 48, 60, 72}) {
      const std::vector<double> y = note(p, key, 110, 0.3, 0.6, o);
      auto max_step = [&](double t0, double t1) {
        double m = 0;
        // from sample 1: a step needs the sample before it (ASan found the read of y[-1])
        for (long i = std::max(1L, static_cast<long>(t0 * kSr)); i < static_cast<long>(t1 * kSr); ++i)
          m = std::max(m, std::fabs(y[static_cast<size_t>(i)] - y[static_cast<size_t>(i - 1)]));
        return m;
      };
      double peak = 0;
      for (double v : y) peak = std::max(peak, std::fabs(v));
      const long s0 = static_cast<long>(std::ceil(0.01 * kSr));  // the onset sample
      EXPECT_NEAR(y[static_cast<size_t>(s0 - 1)], 0.0, 1e-12 * peak) << "silence before the onset, key " << key;
      EXPECT_LE(std::fabs(y[static_cast<size_t>(s0)]), max_step(0.0101, 0.03)) << "onset, key " << key;
      // In the bass a step of the order of the amplitude stands out; from the middle up, partials near
      // Nyquist make the sound's own steps that large.
      if (key < 60) {
        EXPECT_LT(max_step(0.0, 0.03), 0.3 * peak) << "attack, key " << key;
      }
      EXPECT_LT(max_step(0.29, 0.31), 1.5 * max_step(0.2, 0.29)) << "release, key " << key;
    }
  }
}

TEST(PianoPhysics, PresetsRoundTrip) {
  PianoParams p = PianoParams::concert_grand(22050.0);
  p.freeze(kBodyIr);
  p[kLogB] = add(p[kLogB], 0.25);
  test::TempPath path(".safetensors");
  p.save(path.str());
  const PianoParams q = PianoParams::load(path.str());
  EXPECT_EQ(q.ir_sample_rate, 22050.0);
  EXPECT_TRUE(q.frozen[kBodyIr]);
  EXPECT_FALSE(q.frozen[kLogB]);
  for (int i = 0; i < kNumPianoParams; ++i) {
    EXPECT_EQ(q[i].shape(), p[i].shape()) << piano_param_name(i);
    EXPECT_EQ(q[i].to_vector<float>(), p[i].to_vector<float>()) << piano_param_name(i);
  }
  // Rendering with the loaded preset gives the same audio.
  PianoParams q2 = q;
  RenderOptions o;
  o.sample_rate = 22050.0;
  const Tensor k = from_vector(std::vector<int64_t>{64});
  const Tensor a = render_events(p, k, tensor({0.0}), tensor({0.2}), tensor({70.0}), Tensor(), 8000, o);
  const Tensor b = render_events(q2, k, tensor({0.0}), tensor({0.2}), tensor({70.0}), Tensor(), 8000, o);
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  // A preset missing a tensor, or a file that is not a preset, is refused with a message.
  test::TempPath bad(".safetensors");
  save_safetensors(bad.str(), {{"log_B", p[kLogB]}});
  EXPECT_THROW(PianoParams::load(bad.str()), ValueError);
  EXPECT_THROW(PianoParams::load(bad.str() + ".absent"), FileNotFound);
}

}  // namespace
}  // namespace pianograd
