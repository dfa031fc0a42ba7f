// matmul / bmm forward values: hand-computed products, NumPy's 1-D promotion and batch broadcasting
// against per-matrix products, the result shapes, and the errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "pianograd.h"

namespace pianograd {
namespace {

// Naive product of x[b] (r x k) and y[b] (k x c) read from flat vectors at the given matrix offsets.
std::vector<double> naive(const std::vector<double>& x, size_t xo, const std::vector<double>& y, size_t yo, int64_t r,
                          int64_t k, int64_t c) {
  std::vector<double> out(static_cast<size_t>(r * c), 0.0);
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j)
      for (int64_t p = 0; p < k; ++p)
        out[static_cast<size_t>(i * c + j)] += x[xo + static_cast<size_t>(i * k + p)] * y[yo + static_cast<size_t>(p * c + j)];
  return out;
}

TEST(MatmulValues, HandComputed) {
  Tensor a = tensor({1, 2, 3, 4, 5, 6}).reshape({2, 3});
  Tensor b = tensor({7, 8, 9, 10, 11, 12}).reshape({3, 2});
  Tensor c = matmul(a, b);
  EXPECT_EQ(c.shape(), (Shape{2, 2}));
  EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{58, 64, 139, 154}));
  EXPECT_EQ(matmul(tensor({1, 2, 3}), tensor({4, 5, 6})).shape(), Shape{});
  EXPECT_EQ(matmul(tensor({1, 2, 3}), tensor({4, 5, 6})).item(), 32.0);
  Tensor v = matmul(tensor({1, 1}), a);  // [1,1] @ a: column sums
  EXPECT_EQ(v.shape(), (Shape{3}));
  EXPECT_EQ(v.to_vector<float>(), (std::vector<float>{5, 7, 9}));
  Tensor w = matmul(a, tensor({1, 0, -1}));
  EXPECT_EQ(w.shape(), (Shape{2}));
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{-2, -2}));
}

TEST(MatmulValues, BroadcastBatchesMatchPerMatrixProducts) {
  manual_seed(11);
  Tensor a = randn({2, 1, 5, 4}, DType::f64), b = randn({3, 4, 6}, DType::f64);
  Tensor c = matmul(a, b);
  ASSERT_EQ(c.shape(), (Shape{2, 3, 5, 6}));
  const auto av = a.to_vector<double>(), bv = b.to_vector<double>(), cv = c.to_vector<double>();
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j) {
      const auto want = naive(av, static_cast<size_t>(i * 20), bv, static_cast<size_t>(j * 24), 5, 4, 6);
      for (size_t e = 0; e < want.size(); ++e)
        ASSERT_NEAR(cv[static_cast<size_t>((i * 3 + j) * 30) + e], want[e], 1e-12);
    }
  // Shared right operand (folded into one GEMM) and shared left operand.
  Tensor s = randn({4, 6}, DType::f64);
  Tensor c2 = matmul(randn({3, 2, 5, 4}, DType::f64), s);
  EXPECT_EQ(c2.shape(), (Shape{3, 2, 5, 6}));
  Tensor l = randn({5, 4}, DType::f64), bb = randn({3, 4, 6}, DType::f64);
  const auto c3 = matmul(l, bb).to_vector<double>(), lv = l.to_vector<double>(), bbv = bb.to_vector<double>();
  for (int64_t j = 0; j < 3; ++j) {
    const auto want = naive(lv, 0, bbv, static_cast<size_t>(j * 24), 5, 4, 6);
    for (size_t e = 0; e < want.size(); ++e) ASSERT_NEAR(c3[static_cast<size_t>(j * 30) + e], want[e], 1e-12);
  }
}

TEST(MatmulValues, LargeFloatProductMatchesDouble) {
  manual_seed(5);
  Tensor a = randn({130, 257}, DType::f64), b = randn({257, 70}, DType::f64);
  const auto want = matmul(a, b).to_vector<double>();
  const auto got = matmul(a.to(DType::f32), b.to(DType::f32)).to_vector<float>();
  for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-3);
}

TEST(MatmulValues, Bmm) {
  manual_seed(2);
  Tensor a = randn({3, 2, 4}, DType::f64), b = randn({3, 4, 5}, DType::f64);
  const auto c = bmm(a, b).to_vector<double>(), av = a.to_vector<double>(), bv = b.to_vector<double>();
  for (int64_t i = 0; i < 3; ++i) {
    const auto want = naive(av, static_cast<size_t>(i * 8), bv, static_cast<size_t>(i * 20), 2, 4, 5);
    for (size_t e = 0; e < want.size(); ++e) ASSERT_NEAR(c[static_cast<size_t>(i * 10) + e], want[e], 1e-12);
  }
}

TEST(MatmulValues, Errors) {
  EXPECT_THROW(matmul(zeros({8, 16}), zeros({15, 4})), ShapeError);
  try {
    matmul(zeros({8, 16}), zeros({15, 4}));
  } catch (const ShapeError& e) {
    EXPECT_EQ(std::string(e.what()), "matmul: inner dims differ: [8,16] @ [15,4]");
  }
  EXPECT_THROW(matmul(zeros({2, 3, 4}), zeros({3, 4, 5})), ShapeError);  // batch 2 vs 3
  EXPECT_THROW(matmul(scalar(1.0), zeros({3})), ShapeError);
  EXPECT_THROW(matmul(zeros({3}), zeros({3}, DType::f64)), DTypeError);
  EXPECT_THROW(matmul(zeros({3}, DType::i64), zeros({3}, DType::i64)), DTypeError);
  EXPECT_THROW(bmm(zeros({2, 3}), zeros({3, 2})), ShapeError);
  EXPECT_THROW(bmm(zeros({2, 3, 4}), zeros({3, 4, 2})), ShapeError);
  EXPECT_THROW(bmm(zeros({2, 3, 4}), zeros({2, 5, 2})), ShapeError);
}

// banded_matmul against matmul on a filterbank-shaped matrix (overlapping triangular bands, growing
// widths, an empty column) with a row count that is not a multiple of the kernel's 8-row blocks:
// values and the input gradient agree to float rounding.
TEST(BandedMatmul, MatchesMatmulOnAFilterbank) {
  const int64_t K = 57, N = 20, M = 19;
  std::vector<float> w(static_cast<size_t>(K * N), 0.0f);
  for (int64_t j = 0; j < N; ++j) {
    if (j == 7) continue;
    const int64_t c = 2 * j + j * j / 20, half = 1 + j / 5;
    for (int64_t i = std::max<int64_t>(0, c - half); i <= std::min(K - 1, c + half); ++i)
      w[static_cast<size_t>(i * N + j)] = 1.0f - static_cast<float>(std::abs(i - c)) / static_cast<float>(half + 1);
  }
  Tensor wt = from_vector(w, {K, N});
  Tensor x = randn({M, K}).requires_grad_(true);
  Tensor x2 = x.detach().requires_grad_(true);
  Tensor y = banded_matmul(x, wt), y_ref = matmul(x2, wt);
  ASSERT_EQ(y.shape(), y_ref.shape());
  const std::vector<float> a = y.to_vector<float>(), b = y_ref.to_vector<float>();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5f * (1 + std::fabs(b[i]))) << i;
  Tensor gy = randn({M, N});
  sum(y * gy).backward();
  sum(y_ref * gy).backward();
  const std::vector<float> ga = x.grad().to_vector<float>(), gb = x2.grad().to_vector<float>();
  for (size_t i = 0; i < ga.size(); ++i) EXPECT_NEAR(ga[i], gb[i], 1e-5f * (1 + std::fabs(gb[i]))) << i;
}

TEST(BandedMatmul, Errors) {
  EXPECT_THROW(banded_matmul(randn({3, 4}), randn({5, 2})), ShapeError);
  EXPECT_THROW(banded_matmul(randn({3, 4}), randn({4})), ShapeError);
  EXPECT_THROW(banded_matmul(randn({3, 4}), randn({4, 2}).to(DType::f64)), DTypeError);
}

}  // namespace
}  // namespace pianograd
