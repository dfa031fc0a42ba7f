// The FFT wrappers against a direct DFT and the FFT convolution against direct convolution.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>
#include <vector>

#include "kernels/cpu/fft.h"

namespace pianograd::kernels::cpu {
namespace {

template <class T>
std::vector<std::complex<double>> direct_dft(const std::vector<T>& x) {
  const long n = static_cast<long>(x.size());
  std::vector<std::complex<double>> out(static_cast<size_t>(n / 2 + 1));
  for (long k = 0; k <= n / 2; ++k)
    for (long t = 0; t < n; ++t)
      out[static_cast<size_t>(k)] += static_cast<double>(x[static_cast<size_t>(t)]) *
                                     std::polar(1.0, -2 * std::numbers::pi * static_cast<double>(k * t) / static_cast<double>(n));
  return out;
}

template <class T>
void check_roundtrip(long n, double tol) {
  std::mt19937 rng(static_cast<unsigned>(n));
  std::normal_distribution<double> dist;
  std::vector<T> x(static_cast<size_t>(n));
  for (auto& v : x) v = static_cast<T>(dist(rng));
  RealFFT<T> plan(n);
  std::vector<std::complex<T>> X(static_cast<size_t>(plan.bins()));
  plan.forward(x.data(), X.data());
  const auto ref = direct_dft(x);
  for (size_t k = 0; k < X.size(); ++k) {
    EXPECT_NEAR(X[k].real(), ref[k].real(), tol * std::sqrt(static_cast<double>(n))) << "n=" << n << " k=" << k;
    EXPECT_NEAR(X[k].imag(), ref[k].imag(), tol * std::sqrt(static_cast<double>(n))) << "n=" << n << " k=" << k;
  }
  std::vector<T> back(static_cast<size_t>(n));
  plan.inverse(X.data(), back.data());
  for (long t = 0; t < n; ++t)
    EXPECT_NEAR(back[static_cast<size_t>(t)] / static_cast<T>(n), x[static_cast<size_t>(t)], tol) << "n=" << n;
}

TEST(RealFFT, FloatMatchesDirectDFT) {
  for (long n : {2L, 8L, 30L, 64L, 250L, 1024L}) check_roundtrip<float>(n, 2e-5);
}

TEST(RealFFT, DoubleMatchesDirectDFT) {
  for (long n : {2L, 8L, 30L, 64L, 250L, 1024L}) check_roundtrip<double>(n, 1e-11);
}

TEST(RealFFT, RejectsOddOrTinySizes) {
  EXPECT_THROW(RealFFT<float>(7), std::invalid_argument);
  EXPECT_THROW(RealFFT<double>(0), std::invalid_argument);
}

TEST(FFTConvolve, MatchesDirectConvolution) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist;
  for (auto [nx, nh] : {std::pair{5L, 3L}, std::pair{1000L, 300L}, std::pair{4000L, 1L}, std::pair{777L, 2049L}}) {
    std::vector<float> x(static_cast<size_t>(nx)), h(static_cast<size_t>(nh));
    for (auto& v : x) v = dist(rng);
    for (auto& v : h) v = dist(rng);
    std::vector<float> y(static_cast<size_t>(nx + nh - 1)), r(y.size());
    fft_convolve(x.data(), nx, h.data(), nh, y.data());
    direct_convolve(x.data(), nx, h.data(), nh, r.data());
    for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], r[i], 2e-3) << nx << "x" << nh << " at " << i;
  }
}

TEST(FFTSize, OnlySmallPrimeFactors) {
  EXPECT_EQ(fast_fft_size(1), 2);
  EXPECT_EQ(fast_fft_size(7), 8);
  EXPECT_EQ(fast_fft_size(1001), 1024);
  EXPECT_EQ(fast_fft_size(97), 100);
}

}  // namespace
}  // namespace pianograd::kernels::cpu
