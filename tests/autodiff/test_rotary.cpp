// rotary_embedding against the same rotation written as recorded ops (slices, products, concat): the
// values and the gradient, in f32 and f64, from position 0 and from an offset; its argument checks.
#include <gtest/gtest.h>

#include <cmath>

#include "pianograd.h"

namespace pianograd {
namespace {

Tensor chain(const Tensor& x, const Tensor& c, const Tensor& s, int64_t pos0) {
  const int64_t T = x.size(-2), half = x.size(-1) / 2, ax = x.dim() - 1;
  const Tensor cc = slice(c, 0, pos0, pos0 + T), sc = slice(s, 0, pos0, pos0 + T);
  const Tensor x1 = slice(x, ax, 0, half), x2 = slice(x, ax, half, 2 * half);
  return concat({sub(mul(x1, cc), mul(x2, sc)), add(mul(x1, sc), mul(x2, cc))}, ax);
}

Tensor angles(int64_t P, int64_t half, DType dt, bool sine) {
  Tensor t = zeros({P, half}, DType::f64);
  for (int64_t p = 0; p < P; ++p)
    for (int64_t i = 0; i < half; ++i) {
      const double a = static_cast<double>(p) * std::pow(1e4, -static_cast<double>(i) / static_cast<double>(half));
      t.data<double>()[p * half + i] = sine ? std::sin(a) : std::cos(a);
    }
  return t.to(dt);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto x = a.to(DType::f64).to_vector<double>(), y = b.to(DType::f64).to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

TEST(RotaryEmbedding, MatchesTheOpChain) {
  for (DType dt : {DType::f32, DType::f64})
    for (int64_t pos0 : {0, 37}) {
      manual_seed(11);
      const Tensor c = angles(128, 16, dt, false), s = angles(128, 16, dt, true);
      Tensor x = randn({2, 4, 40, 32}, dt);
      const Tensor gy = randn({2, 4, 40, 32}, dt);
      x.requires_grad_(true);
      const Tensor y = rotary_embedding(x, c, s, pos0);
      y.backward(gy);
      const Tensor gx = x.grad().clone();
      x.zero_grad();
      const Tensor want = chain(x, c, s, pos0);
      want.backward(gy);
      const double tol = dt == DType::f32 ? 1e-5 : 1e-12;
      EXPECT_LT(max_abs_diff(y, want), tol) << dtype_name(dt) << " pos0 " << pos0;
      EXPECT_LT(max_abs_diff(gx, x.grad()), tol) << dtype_name(dt) << " pos0 " << pos0;
      // a rotation keeps each pair's length
      const double n0 = sum(mul(x, x)).item(), n1 = sum(mul(y, y)).item();
      EXPECT_NEAR(n1, n0, 1e-4 * n0);
    }
}

TEST(RotaryEmbedding, Errors) {
  const Tensor c = zeros({8, 2}), s = zeros({8, 2});
  EXPECT_THROW(rotary_embedding(zeros({2, 5}), c, s, 0), ShapeError);          // Dh 5 is odd
  EXPECT_THROW(rotary_embedding(zeros({2, 6}), c, s, 0), ShapeError);          // tables hold Dh / 2 = 2 pairs, not 3
  EXPECT_THROW(rotary_embedding(zeros({4}), c, s, 0), ShapeError);             // no T axis
  EXPECT_THROW(rotary_embedding(zeros({3, 4}), c, s, 6), ShapeError);          // positions 6..8 past the tables
  EXPECT_THROW(rotary_embedding(zeros({3, 4}), c, s, -1), ShapeError);
  EXPECT_THROW(rotary_embedding(zeros({3, 4}), c, zeros({8, 3}), 0), ShapeError);
  EXPECT_THROW(rotary_embedding(zeros({3, 4}, DType::f64), c, s, 0), DTypeError);
  try {
    rotary_embedding(zeros({3, 4}), c, s, 6);
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("rotary_embedding"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("pos0 6"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pianograd
