// Forward values of the spectral ops: a sine's STFT peak sits at its bin, with the Hann window's
// known peak magnitude; the loss is zero for equal signals and positive otherwise.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "pianograd.h"

namespace pianograd {
namespace {

TEST(StftMagnitude, SinePeaksAtItsBinWithHannGain) {
  const int64_t n = 4096, n_fft = 256;
  const int bin = 20;
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t t = 0; t < n; ++t) v[static_cast<size_t>(t)] = std::sin(2 * std::numbers::pi * bin * static_cast<double>(t) / n_fft);
  Tensor S = stft_magnitude(from_vector(v, {n}), n_fft);
  ASSERT_EQ(S.shape(), (Shape{n / (n_fft / 4) + 1, n_fft / 2 + 1}));
  const int64_t f = 10;  // a frame well inside the signal
  Tensor row = S.select(0, f);
  const auto r = row.to_vector<double>();
  const auto peak = std::max_element(r.begin(), r.end()) - r.begin();
  EXPECT_EQ(peak, bin);
  // Hann's coherent gain is 1/2: a unit sine gives n_fft/2 * 1/2 = n_fft/4 at its bin.
  EXPECT_NEAR(r[static_cast<size_t>(bin)], n_fft / 4.0, 1e-6 * n_fft);
}

TEST(StftMagnitude, RejectsBadArguments) {
  EXPECT_THROW(stft_magnitude(zeros({2, 3, 4}), 8), ShapeError);
  EXPECT_THROW(stft_magnitude(zeros({64}), 7), ValueError);
  EXPECT_THROW(stft_magnitude(zeros({64}, DType::i64), 8), DTypeError);
}

TEST(SpectralLoss, ZeroForEqualPositiveOtherwise) {
  manual_seed(7);
  Tensor a = randn({2, 3000});
  Tensor b = randn({2, 3000});
  EXPECT_NEAR(multi_resolution_stft_loss(a, a).item(), 0.0, 1e-9);
  EXPECT_GT(multi_resolution_stft_loss(a, b).item(), 0.1);
  EXPECT_THROW(multi_resolution_stft_loss(a, randn({2, 2999})), ShapeError);
}

TEST(SpectralLoss, GradientDescentMovesPredTowardTarget) {
  manual_seed(3);
  Tensor target = randn({2048}, DType::f64);
  Tensor pred = mul(randn({2048}, DType::f64), 0.1).detach().requires_grad_();
  SpectralLossOptions o;
  o.fft_sizes = {256, 64};
  const double before = multi_resolution_stft_loss(pred, target, o).item();
  for (int i = 0; i < 30; ++i) {
    Tensor l = multi_resolution_stft_loss(pred, target, o);
    pred.zero_grad();
    l.backward();
    NoGrad ng;
    pred = sub(pred, mul(pred.grad(), 20.0)).detach().requires_grad_();
  }
  EXPECT_LT(multi_resolution_stft_loss(pred, target, o).item(), 0.8 * before);
}

}  // namespace
}  // namespace pianograd

namespace pianograd {
namespace {
TEST(FftConvolve, MatchesDirectCausalConvolution) {
  manual_seed(11);
  Tensor x = randn({3, 500});
  Tensor h = randn({200});
  Tensor y = fft_convolve(x, h);
  const auto xv = x.to_vector<float>(), hv = h.to_vector<float>(), yv = y.to_vector<float>();
  for (int b = 0; b < 3; ++b)
    for (int n = 0; n < 500; n += 37) {
      double ref = 0;
      for (int j = 0; j <= std::min(n, 199); ++j) ref += hv[static_cast<size_t>(j)] * xv[static_cast<size_t>(b * 500 + n - j)];
      EXPECT_NEAR(yv[static_cast<size_t>(b * 500 + n)], ref, 1e-3) << b << "," << n;
    }
  EXPECT_THROW(fft_convolve(x, randn({2, 3})), ShapeError);
}
}  // namespace
}  // namespace pianograd

namespace pianograd {
namespace {
// Regression: one FFT plan was shared by OpenMP threads, and KissFFT's plan holds scratch space,
// so two transforms of one signal differed.
TEST(StftMagnitude, DeterministicAcrossThreads) {
  manual_seed(5);
  Tensor x = randn({4, 8000});
  const auto a = stft_magnitude(x, 512).to_vector<float>();
  for (int rep = 0; rep < 3; ++rep) EXPECT_EQ(stft_magnitude(x, 512).to_vector<float>(), a);
  EXPECT_EQ(multi_resolution_stft_loss(x, x).item(), 0.0);
}
}  // namespace
}  // namespace pianograd
