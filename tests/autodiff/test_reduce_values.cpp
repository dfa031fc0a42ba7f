// Forward values of the reductions, softmaxes, layer_norm, dropout and losses against hand-computed
// cases; argument errors; ignore_index; numerical stability with large logits (gradients:
// gradcheck_reduce.cpp and gradcheck_nn_ops.cpp).
#include <gtest/gtest.h>

#include <cmath>

#include "pianograd.h"

namespace pianograd {
namespace {

using VD = std::vector<double>;
using VI = std::vector<int64_t>;

Tensor t64(const VD& v, const Shape& s) { return from_vector<double>(v, s); }

void expect_near(const Tensor& t, const VD& want, double tol = 1e-12) {
  const VD got = t.to_vector<double>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "at " << i;
}

TEST(Var, HandComputed) {
  Tensor x = t64({1, 2, 3, 4, 2, 4, 6, 8}, {2, 4});
  expect_near(var(x, {1}), {1.25, 5.0});
  expect_near(var(x, {-1}, false, 1), {5.0 / 3, 20.0 / 3});
  EXPECT_EQ(var(x, {1}, true).shape(), (Shape{2, 1}));
  expect_near(var(x), {37.5 / 8});
  EXPECT_EQ(var(x).shape(), Shape{});
  // A large offset must not cancel (two-pass in f32).
  Tensor big = add(from_vector<float>({1, 2, 3, 4}), 1e4);
  EXPECT_NEAR(var(big).item(), 1.25, 1e-3);
  EXPECT_THROW(var(x, {1}, false, 4), ValueError);
  EXPECT_THROW(var(x, {2}), IndexError);
  EXPECT_THROW(var(x, {1, -1}), ValueError);
  EXPECT_THROW(var(from_vector<int64_t>({1, 2})), DTypeError);
}

TEST(MaxMin, ValuesIndicesAndTies) {
  Tensor x = t64({3, 7, 7, 2, -1, 2}, {2, 3});
  auto [mv, mi] = max(x, 1);
  expect_near(mv, {7, 2});
  EXPECT_EQ(mi.dtype(), DType::i64);
  EXPECT_EQ(mi.to_vector<int64_t>(), (VI{1, 0}));  // first of the tied maxima
  auto [nv, ni] = min(x, -2, true);
  EXPECT_EQ(nv.shape(), (Shape{1, 3}));
  expect_near(nv, {2, -1, 2});
  EXPECT_EQ(ni.to_vector<int64_t>(), (VI{1, 1, 1}));
  EXPECT_EQ(argmax(x, 0).to_vector<int64_t>(), (VI{0, 0, 0}));
  EXPECT_EQ(argmax(x, -1, true).shape(), (Shape{2, 1}));
  EXPECT_EQ(max(x).item(), 7.0);
  EXPECT_EQ(min(x).item(), -1.0);
  EXPECT_EQ(max(scalar(4.0, DType::f64), 0).first.item(), 4.0);  // 0-d behaves as [1]
  EXPECT_TRUE(std::isnan(max(t64({1, NAN, 3}, {3})).item()));
  EXPECT_THROW(max(x, 2), IndexError);
  EXPECT_THROW(min(zeros({2, 0}), 1), ValueError);
  EXPECT_THROW(max(zeros({0})), ValueError);
  EXPECT_THROW(argmax(from_vector<int64_t>({1, 2}), 0), DTypeError);
}

TEST(MaxMin, GradientGoesToFirstArgExtremum) {
  Tensor x = t64({3, 7, 7, 2, -1, 2}, {2, 3});
  x.requires_grad_(true);
  sum(max(x, 1).first).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (VD{0, 1, 0, 1, 0, 0}));
  x.zero_grad();
  max(x).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (VD{0, 1, 0, 0, 0, 0}));
}

TEST(LogSumExp, HandComputedAndStable) {
  expect_near(logsumexp(t64({0, std::log(2.0), std::log(3.0)}, {3}), 0), {std::log(6.0)});
  // exp(1000) overflows both f32 and f64; the max shift does not.
  EXPECT_NEAR(logsumexp(from_vector<float>({1000, 1000}), 0).item(), 1000 + std::log(2.0), 1e-3);
  expect_near(logsumexp(t64({1000, -1e300, 1000, 0}, {2, 2}), 0), {1000 + std::log(2.0), 0});  // strided path
  EXPECT_EQ(logsumexp(t64({1, 2}, {1, 2}), 0, true).shape(), (Shape{1, 2}));
  EXPECT_EQ(logsumexp(from_vector<float>({-INFINITY, -INFINITY}), 0).item(), -INFINITY);
  EXPECT_THROW(logsumexp(zeros({3, 0}), 1), ValueError);
}

TEST(Softmax, HandComputedAlongEachAxis) {
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  expect_near(softmax(t64({1, 2, 3}, {3})), {std::exp(1.0) / z, std::exp(2.0) / z, std::exp(3.0) / z});
  expect_near(log_softmax(t64({1, 2, 3}, {3})), {1 - std::log(z), 2 - std::log(z), 3 - std::log(z)});
  // Along axis 0 of [2,3]: each column is a 2-way softmax of (x0, x1).
  Tensor x = t64({0, 1, 2, 0, 0, 0}, {2, 3});
  const double s1 = 1 / (1 + std::exp(-1.0)), s2 = 1 / (1 + std::exp(-2.0));
  expect_near(softmax(x, 0), {0.5, s1, s2, 0.5, 1 - s1, 1 - s2});
  expect_near(softmax(x, -2), softmax(x, 0).to_vector<double>());
  EXPECT_THROW(softmax(x, 2), IndexError);
  // Empty axes and empty outer dims are no-ops, not reads past the end.
  EXPECT_EQ(softmax(zeros({3, 0})).shape(), (Shape{3, 0}));
  EXPECT_EQ(log_softmax(zeros({0, 4}), 0).shape(), (Shape{0, 4}));
  EXPECT_THROW(log_softmax(from_vector<int64_t>({1, 2})), DTypeError);
}

TEST(Softmax, LargeLogitsStayFinite) {
  Tensor x = from_vector<float>({1000, 0, -1000, 999}, {1, 4});
  const VD s = softmax(x).to_vector<double>(), ls = log_softmax(x).to_vector<double>();
  EXPECT_NEAR(s[0], 1 / (1 + std::exp(-1.0)), 1e-6);
  EXPECT_EQ(s[1], 0.0);
  EXPECT_NEAR(ls[1], -1000 - std::log1p(std::exp(-1.0)), 1e-3);
  EXPECT_NEAR(ls[2], -2000 - std::log1p(std::exp(-1.0)), 1e-3);
  for (double v : ls) EXPECT_TRUE(std::isfinite(v));
}

TEST(LayerNorm, HandComputed) {
  Tensor x = t64({1, 2, 3, 4, 10, 10, 10, 10}, {2, 4});
  const double r = 1 / std::sqrt(1.25 + 1e-5);
  expect_near(layer_norm(x, {4}), {-1.5 * r, -0.5 * r, 0.5 * r, 1.5 * r, 0, 0, 0, 0}, 1e-9);
  Tensor w = t64({1, 2, 1, 2}, {4}), b = t64({0, 0, 1, 1}, {4});
  expect_near(layer_norm(x, {4}, w, b), {-1.5 * r, -1.0 * r, 0.5 * r + 1, 3.0 * r + 1, 0, 0, 1, 1}, 1e-9);
  // Normalising over two trailing dims equals normalising the flattened rows.
  Tensor y = randn({3, 2, 5}, DType::f64);
  expect_near(layer_norm(y, {2, 5}), layer_norm(y.reshape({3, 10}), {10}).to_vector<double>());
  EXPECT_THROW(layer_norm(x, {3}), ShapeError);
  EXPECT_THROW(layer_norm(x, {2, 4, 1}), ShapeError);
  EXPECT_THROW(layer_norm(x, {}), ValueError);
  EXPECT_THROW(layer_norm(x, {4}, t64({1, 2}, {2})), ShapeError);
  EXPECT_THROW(layer_norm(x, {4}, ones({4})), DTypeError);
  EXPECT_THROW(layer_norm(x, {4}, Tensor(), Tensor(), -1.0), ValueError);
}

TEST(Dropout, InvertedScaleAndDeterminism) {
  Tensor x = ones({100000}, DType::f64);
  EXPECT_TRUE(dropout(x, 0.5, false, 1).is_same(x));
  EXPECT_TRUE(dropout(x, 0.0, true, 1).is_same(x));
  const VD a = dropout(x, 0.25, true, 7).to_vector<double>();
  EXPECT_EQ(a, dropout(x, 0.25, true, 7).to_vector<double>());
  EXPECT_NE(a, dropout(x, 0.25, true, 8).to_vector<double>());
  double kept = 0;
  for (double v : a) {
    EXPECT_TRUE(v == 0.0 || std::fabs(v - 1 / 0.75) < 1e-12);
    kept += v != 0.0;
  }
  EXPECT_NEAR(kept / 100000, 0.75, 0.01);  // binomial sd is 0.0014
  expect_near(dropout(x, 1.0, true, 3), VD(100000, 0.0));
  EXPECT_THROW(dropout(x, 1.5, true, 1), ValueError);
  EXPECT_THROW(dropout(x, -0.1, true, 1), ValueError);
}

TEST(Losses, MseAndL1) {
  Tensor p = t64({1, 2, 3}, {3}), t = t64({1, 0, 0}, {3});
  expect_near(mse_loss(p, t), {13.0 / 3});
  expect_near(mse_loss(p, t, Reduction::sum), {13});
  expect_near(mse_loss(p, t, Reduction::none), {0, 4, 9});
  expect_near(l1_loss(p, t), {5.0 / 3});
  expect_near(l1_loss(p, t, Reduction::none), {0, 2, 3});
  EXPECT_THROW(mse_loss(p, t64({1, 2}, {2})), ShapeError);
  EXPECT_THROW(l1_loss(p, from_vector<float>({1, 2, 3})), DTypeError);
}

TEST(Losses, BceWithLogitsStable) {
  const double l2 = std::log(2.0);
  expect_near(bce_with_logits(t64({0}, {1}), t64({1}, {1})), {l2});
  // |x| = 100 would overflow exp(-x) in a naive f32 formula.
  Tensor x = from_vector<float>({100, -100, 100, -100}), t = from_vector<float>({1, 1, 0, 0});
  const VD v = bce_with_logits(x, t, Reduction::none).to_vector<double>();
  EXPECT_NEAR(v[0], 0, 1e-6);
  EXPECT_NEAR(v[1], 100, 1e-4);
  EXPECT_NEAR(v[2], 100, 1e-4);
  EXPECT_NEAR(v[3], 0, 1e-6);
  // pos_weight multiplies the positive term only: t=1 -> 3 log 2; t=0 -> log 2.
  expect_near(bce_with_logits(t64({0, 0}, {1, 2}), t64({1, 0}, {1, 2}), Reduction::none, t64({3, 3}, {2})),
              {3 * l2, l2});
  EXPECT_THROW(bce_with_logits(t64({0}, {1}), t64({0}, {1}), Reduction::mean, t64({1, 1}, {2})), ShapeError);
}

TEST(CrossEntropy, HandComputedWithIgnoreIndex) {
  Tensor logits = t64({0, 0, std::log(3.0), 0, 5, 5}, {3, 2});
  const double a = std::log(2.0), b = std::log(4.0 / 3);
  expect_near(cross_entropy(logits, from_vector<int64_t>({0, 0, -100})), {(a + b) / 2});
  expect_near(cross_entropy(logits, from_vector<int64_t>({0, 0, -100}), -100, Reduction::sum), {a + b});
  expect_near(cross_entropy(logits, from_vector<int64_t>({1, 5, 1}), 5, Reduction::none), {a, 0, a});
  EXPECT_TRUE(std::isnan(cross_entropy(logits, from_vector<int64_t>({-1, -1, -1}), -1).item()));
  // Ignored rows get no gradient; the others get (softmax - onehot) / count.
  Tensor l = logits.detach().requires_grad_(true);
  cross_entropy(l, from_vector<int64_t>({0, -100, 1})).backward();
  expect_near(l.grad(), {-0.25, 0.25, 0, 0, 0.25, -0.25});
  // [N,C,d]: the class axis is 1.
  Tensor l3 = t64({0, 1, 0, 1}, {1, 2, 2});
  expect_near(cross_entropy(l3, from_vector<int64_t>({0, 1}, {1, 2}), -100, Reduction::none), {a, a});
}

TEST(CrossEntropy, LargeLogitsAndErrors) {
  Tensor logits = from_vector<float>({1000, 0, -1000}, {1, 3});
  EXPECT_NEAR(cross_entropy(logits, from_vector<int64_t>({1})).item(), 1000, 1e-3);
  EXPECT_NEAR(cross_entropy(logits, from_vector<int64_t>({0})).item(), 0, 1e-6);
  EXPECT_THROW(cross_entropy(logits, from_vector<int64_t>({3})), IndexError);
  EXPECT_THROW(cross_entropy(logits, from_vector<int64_t>({-2})), IndexError);
  EXPECT_THROW(cross_entropy(logits, from_vector<float>({1})), DTypeError);
  EXPECT_THROW(cross_entropy(logits, from_vector<int64_t>({1, 1})), ShapeError);
  EXPECT_THROW(cross_entropy(scalar(1.0), from_vector<int64_t>({0})), ShapeError);
  EXPECT_THROW(cross_entropy(from_vector<int64_t>({1, 2}, {1, 2}), from_vector<int64_t>({0})), DTypeError);
}

}  // namespace
}  // namespace pianograd
