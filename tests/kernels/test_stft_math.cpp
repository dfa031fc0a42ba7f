// The STFT's per-element math (kernels/common/stft_math.h), shared with the CUDA STFT, against the CPU
// kernels (kernels/cpu/stft.h): framing + window + |X| through a naive DFT reproduce stft_magnitude,
// the adjoint coefficients through a naive inverse DFT + overlap-add reproduce
// stft_magnitude_backward, and the loss term's gradients match central differences.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <numbers>
#include <vector>

#include "kernels/common/stft_math.h"
#include "kernels/cpu/stft.h"

namespace pk = pianograd::kernels;

namespace {

TEST(StftMath, ReflectIsNumpyReflect) {
  // numpy.pad([0,1,2,3], 5, mode="reflect") = [1,2,3,2,1 | 0,1,2,3 | 2,1,0,1,2]
  const long want_left[] = {1, 2, 3, 2, 1}, want_right[] = {2, 1, 0, 1, 2};
  for (long i = 0; i < 5; ++i) {
    EXPECT_EQ(pk::stft_reflect(i - 5, 4), want_left[i]) << i;
    EXPECT_EQ(pk::stft_reflect(4 + i, 4), want_right[i]) << i;
  }
  for (long i = 0; i < 4; ++i) EXPECT_EQ(pk::stft_reflect(i, 4), i);
  EXPECT_EQ(pk::stft_reflect(-3, 1), 0);
}

TEST(StftMath, HannIsTheCpuWindowExactly) {
  for (long n : {2L, 64L, 2048L}) {
    const auto wf = pk::cpu::hann_window<float>(n);
    const auto wd = pk::cpu::hann_window<double>(n);
    for (long t = 0; t < n; ++t) {
      ASSERT_EQ(pk::stft_hann<float>(t, n), wf[t]) << n << " " << t;
      ASSERT_EQ(pk::stft_hann<double>(t, n), wd[t]) << n << " " << t;
    }
  }
}

struct Case {
  long batch, n_fft, hop, length;
};

std::vector<double> signal(long n, long seed) {
  std::vector<double> x(static_cast<size_t>(n));
  for (long i = 0; i < n; ++i) x[i] = std::sin(0.05 * i * (seed + 1)) + 0.3 * std::cos(0.77 * i + seed);
  return x;
}

// Naive DFT of every frame built from the shared framing math.
std::vector<std::complex<double>> naive_spectra(const std::vector<double>& x, const Case& c) {
  const pk::cpu::StftGeometry g{c.n_fft, c.hop, c.length};
  std::vector<std::complex<double>> X(static_cast<size_t>(c.batch * g.frames() * g.bins()));
  for (long b = 0; b < c.batch; ++b)
    for (long f = 0; f < g.frames(); ++f)
      for (long k = 0; k < g.bins(); ++k) {
        std::complex<double> acc = 0;
        for (long t = 0; t < c.n_fft; ++t) {
          const double v = pk::stft_hann<double>(t, c.n_fft) *
                           x[b * c.length + pk::stft_source(f, t, c.hop, c.n_fft, c.length)];
          acc += v * std::polar(1.0, -2 * std::numbers::pi * k * t / c.n_fft);
        }
        X[(b * g.frames() + f) * g.bins() + k] = acc;
      }
  return X;
}

TEST(StftMath, FramingAndMagnitudeMatchCpuStft) {
  // Short signals (frames reflect on both sides), hop not dividing the length, batch > 1.
  for (const Case c : {Case{2, 16, 4, 50}, Case{1, 8, 3, 5}, Case{3, 32, 8, 100}}) {
    std::vector<double> x;
    for (long b = 0; b < c.batch; ++b) {
      const auto s = signal(c.length, b);
      x.insert(x.end(), s.begin(), s.end());
    }
    const pk::cpu::StftGeometry g{c.n_fft, c.hop, c.length};
    std::vector<double> mag(static_cast<size_t>(c.batch * g.frames() * g.bins()));
    pk::cpu::stft_magnitude<double>(x.data(), c.batch, g, mag.data(), nullptr);
    const auto X = naive_spectra(x, c);
    for (size_t i = 0; i < mag.size(); ++i)
      ASSERT_NEAR(pk::stft_mag(X[i].real(), X[i].imag()), mag[i], 1e-10) << "n_fft " << c.n_fft << " at " << i;
  }
}

TEST(StftMath, AdjointCoefficientsMatchCpuBackward) {
  for (const Case c : {Case{2, 16, 4, 50}, Case{1, 8, 3, 5}}) {
    const pk::cpu::StftGeometry g{c.n_fft, c.hop, c.length};
    std::vector<double> x;
    for (long b = 0; b < c.batch; ++b) {
      const auto s = signal(c.length, b + 3);
      x.insert(x.end(), s.begin(), s.end());
    }
    const long count = c.batch * g.frames() * g.bins();
    std::vector<double> mag(count), gm(count);
    std::vector<std::complex<double>> spec(count);
    pk::cpu::stft_magnitude<double>(x.data(), c.batch, g, mag.data(), spec.data());
    for (long i = 0; i < count; ++i) gm[i] = std::cos(0.3 * i);
    std::vector<double> want(x.size(), 0.0), got(x.size(), 0.0);
    pk::cpu::stft_magnitude_backward<double>(gm.data(), spec.data(), c.batch, g, want.data());
    // The CUDA path: coefficients, an unnormalised inverse real DFT (cuFFT C2R), windowed overlap-add.
    for (long bf = 0; bf < c.batch * g.frames(); ++bf) {
      const long b = bf / g.frames(), f = bf % g.frames();
      std::vector<std::complex<double>> Y(g.bins());
      for (long k = 0; k < g.bins(); ++k) {
        const auto X = spec[bf * g.bins() + k];
        double yr, yi;
        pk::stft_adjoint_coeff(gm[bf * g.bins() + k], X.real(), X.imag(), k, g.bins(), yr, yi);
        Y[k] = {yr, yi};
      }
      for (long t = 0; t < c.n_fft; ++t) {
        double v = 0;  // sum over the full Hermitian spectrum of Y e^{+2 pi i k t/n}
        for (long k = 0; k < c.n_fft; ++k) {
          const auto yk = k < g.bins() ? Y[k] : std::conj(Y[c.n_fft - k]);
          v += (yk * std::polar(1.0, 2 * std::numbers::pi * k * t / c.n_fft)).real();
        }
        got[b * c.length + pk::stft_source(f, t, c.hop, c.n_fft, c.length)] += pk::stft_hann<double>(t, c.n_fft) * v;
      }
    }
    for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-10) << "at " << i;
  }
}

TEST(StftMath, LossTermGradientsMatchCentralDifferences) {
  const double eps = 1e-7, inv_n = 0.25, lw = 0.7, gw = 1.3, h = 1e-6;
  auto loss = [&](double mp, double mt) {
    return inv_n * (lw * std::fabs(mp - mt) + gw * std::fabs(std::log(mp + eps) - std::log(mt + eps)));
  };
  for (const auto& [mp, mt] : {std::pair{0.5, 0.2}, std::pair{0.1, 0.9}, std::pair{3.0, 2.5}}) {
    const auto r = pk::spectral_l1_term(mp, mt, eps, inv_n, lw, gw);
    EXPECT_NEAR(r.d, mp - mt, 1e-15);
    EXPECT_NEAR(inv_n * (lw * std::fabs(r.d) + gw * std::fabs(r.ld)), loss(mp, mt), 1e-15);
    EXPECT_NEAR(r.gp, (loss(mp + h, mt) - loss(mp - h, mt)) / (2 * h), 1e-6);
    EXPECT_NEAR(r.gt, (loss(mp, mt + h) - loss(mp, mt - h)) / (2 * h), 1e-6);
  }
}

}  // namespace
