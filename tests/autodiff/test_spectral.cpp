// Forward values of the spectral ops: a sine's STFT peak sits at its bin, with the Hann window's
// known peak magnitude; the loss is zero for equal signals and positive otherwise.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "kernels/cpu/isa.h"
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
// max_bins: the first bins of the full magnitudes, exactly, on the batched path (power-of-two n_fft, every
// SIMD ISA, bin counts inside and at the edge of a lane block) and the KissFFT path (scalar ISA, n = 1000);
// the gradient through the kept bins is that of the sliced full STFT.
TEST(StftMagnitude, MaxBinsKeepsTheFirstBinsExactly) {
  manual_seed(9);
  Tensor x = randn({3, 4000});
  for (auto isa : {kernels::cpu::Isa::scalar, kernels::cpu::Isa::sse2, kernels::cpu::Isa::avx2}) {
    if (!kernels::cpu::isa_supported(isa)) continue;
    kernels::cpu::IsaScope scope(isa);
    for (int64_t n : {int64_t{512}, int64_t{1000}})
      for (int64_t k : {int64_t{1}, int64_t{37}, int64_t{64}, int64_t{200}, n / 2 + 1, n}) {
        const Tensor full = stft_magnitude(x, n, 128);
        const Tensor part = stft_magnitude(x, n, 128, k);
        const int64_t kept = std::min(k, n / 2 + 1);
        ASSERT_EQ(part.shape(), (Shape{3, full.size(1), kept}));
        EXPECT_EQ(part.to_vector<float>(), slice(full, -1, 0, kept).to_vector<float>()) << n << " " << k;
      }
  }
  Tensor xa = x.detach().requires_grad_(true), xb = x.detach().requires_grad_(true);
  Tensor r = randn({3, 4000 / 128 + 1, 100});
  sum(stft_magnitude(xa, 512, 128, 100) * r).backward();
  sum(slice(stft_magnitude(xb, 512, 128), -1, 0, 100) * r).backward();
  const auto ga = xa.grad().to_vector<float>(), gb = xb.grad().to_vector<float>();
  for (size_t i = 0; i < ga.size(); ++i) EXPECT_NEAR(ga[i], gb[i], 1e-5f * (1 + std::fabs(gb[i]))) << i;
  EXPECT_THROW(stft_magnitude(x, 512, 128, -1), ValueError);
}

}  // namespace
}  // namespace pianograd
