// The host-device math added for the CUDA kernels (kernels/common/unary_grad.h, reduce_math.h),
// checked on the CPU against the CPU kernels whose semantics the CUDA kernels promise.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/common/reduce_math.h"
#include "kernels/common/unary_grad.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/reduce.h"

namespace pk = pianograd::kernels;

namespace {

std::vector<double> random_vec(long n, uint64_t seed, double lo, double hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

TEST(CommonMath, UnaryGradMatchesCpuBackward) {
  const long n = 301;
  const auto x = random_vec(n, 3, 0.05, 3.0);  // positive: log and sqrt are defined
  const auto gy = random_vec(n, 4, -1, 1);
  using U = pk::UnaryOp;
  for (U op : {U::neg, U::exp, U::log, U::sqrt, U::abs, U::sin, U::cos, U::tanh, U::sigmoid, U::relu, U::gelu,
               U::softplus}) {
    std::vector<double> xs = x;
    if (op == U::abs || op == U::relu || op == U::gelu || op == U::sin)  // both signs for the kinks
      for (long i = 0; i < n; i += 2) xs[i] = -xs[i];
    std::vector<double> y(n), want(n);
    pk::cpu::unary(op, xs.data(), y.data(), n);
    // the scalar reference: the dispatched SIMD bodies round differently per ISA and are held to it
    // by the conformance suite
    pk::cpu::ref::unary_backward(op, xs.data(), y.data(), gy.data(), want.data(), n);
    for (long i = 0; i < n; ++i)
      ASSERT_DOUBLE_EQ(gy[i] * pk::unary_grad_scalar(op, xs[i], y[i]), want[i]) << "op " << int(op) << " i " << i;
  }
}

TEST(CommonMath, NanExtremumTreeFoldMatchesCpuReduceMax) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (bool is_min : {false, true}) {
    for (int with_nan = 0; with_nan < 2; ++with_nan) {
      auto x = random_vec(257, 5 + with_nan, -10, 10);
      if (with_nan) x[100] = nan;
      double want = 0;
      pk::cpu::ref::reduce_max(x.data(), &want, 1, 257, 1, is_min);
      // A pairwise tree fold, the shape of a block reduction, from the identity of the operation.
      std::vector<double> level = x;
      while (level.size() > 1) {
        std::vector<double> next;
        for (size_t i = 0; i < level.size(); i += 2)
          next.push_back(i + 1 < level.size() ? pk::nan_extremum(level[i], level[i + 1], is_min) : level[i]);
        level = next;
      }
      const double id = is_min ? INFINITY : -INFINITY;
      const double got = pk::nan_extremum(id, level[0], is_min);
      if (with_nan) {
        EXPECT_TRUE(std::isnan(got) && std::isnan(want));
      } else {
        EXPECT_EQ(got, want);
      }
    }
  }
}

TEST(CommonMath, SoftmaxAndLayerNormGradElementsMatchCpuReference) {
  const long n = 37;
  const auto x = random_vec(n, 8, -2, 2), gy = random_vec(n, 9, -1, 1), w = random_vec(n, 10, 0.5, 1.5);
  for (bool log : {false, true}) {
    std::vector<double> y(n), want(n);
    pk::cpu::ref::softmax(x.data(), y.data(), 1, n, 1, log);
    pk::cpu::ref::softmax_backward(y.data(), gy.data(), want.data(), 1, n, 1, log);
    double s = 0;
    for (long k = 0; k < n; ++k) s += log ? gy[k] : gy[k] * y[k];
    for (long k = 0; k < n; ++k) EXPECT_NEAR(pk::softmax_grad_element(y[k], gy[k], s, log), want[k], 1e-14);
  }
  std::vector<double> y(n), gx(n);
  double mean = 0, rstd = 0;
  const double* no_bias = nullptr;
  pk::cpu::ref::layer_norm(x.data(), w.data(), no_bias, y.data(), &mean, &rstd, 1L, n, 1e-5);
  double* no_grad = nullptr;
  pk::cpu::ref::layer_norm_backward(x.data(), &mean, &rstd, w.data(), gy.data(), gx.data(), no_grad, no_grad, 1L, n);
  double sg = 0, sgx = 0;
  for (long k = 0; k < n; ++k) {
    sg += gy[k] * w[k];
    sgx += gy[k] * w[k] * (x[k] - mean) * rstd;
  }
  for (long k = 0; k < n; ++k)
    EXPECT_NEAR(pk::layer_norm_grad_element(gy[k] * w[k], (x[k] - mean) * rstd, rstd, sg, sgx, 1.0 / n), gx[k], 1e-13);
}

}  // namespace
