// The elementwise kernels beyond the conformance suite (which checks every op on every ISA against
// ref::, kernels/cpu/conformance_elementwise.cpp): saturation of the composite activations on every
// ISA, and the fused derivative kernel against central differences.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/conformance_checks.h"
#include "kernels/cpu/conformance_util.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/isa.h"

namespace pianograd::kernels::cpu {
namespace {

const Isa kIsas[] = {Isa::scalar, Isa::sse2, Isa::avx2, Isa::avx512};

template <class T>
class ElementwiseKernels : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(ElementwiseKernels, Types);

// Edge values every ISA must get right: signed zeros, infinities, NaN propagation, saturation.
TYPED_TEST(ElementwiseKernels, SpecialValues) {
  using T = TypeParam;
  const T inf = std::numeric_limits<T>::infinity();
  const std::vector<T> x = {T(0), T(-0.0), T(1e-30), T(-1e4), T(1e4), inf, -inf, T(700), T(-700)};
  const long n = static_cast<long>(x.size());
  for (Isa isa : kIsas) {
    if (!isa_supported(isa)) continue;
    IsaScope scope(isa);
    std::vector<T> y(x.size());
    unary<T>(UnaryOp::sigmoid, x.data(), y.data(), n);
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_GE(y[i], T(0)) << "sigmoid(" << x[i] << ") isa=" << isa_name(isa);
      EXPECT_LE(y[i], T(1)) << "sigmoid(" << x[i] << ") isa=" << isa_name(isa);
    }
    unary<T>(UnaryOp::tanh, x.data(), y.data(), n);
    EXPECT_EQ(y[4], T(1)) << isa_name(isa);
    EXPECT_EQ(y[3], T(-1)) << isa_name(isa);
    unary<T>(UnaryOp::softplus, x.data(), y.data(), n);
    EXPECT_EQ(y[4], T(1e4)) << isa_name(isa);  // no overflow through exp
    EXPECT_EQ(y[3], T(0)) << isa_name(isa);
    unary<T>(UnaryOp::relu, x.data(), y.data(), n);
    EXPECT_EQ(y[5], inf) << isa_name(isa);
    EXPECT_EQ(y[6], T(0)) << isa_name(isa);
    const T nan = std::numeric_limits<T>::quiet_NaN();
    const std::vector<T> a = {nan, T(1), T(2), T(3), T(4), T(5), T(6), T(7), T(8)};
    binary<T>(BinaryOp::add, a.data(), 1, a.data(), 1, y.data(), 9);
    EXPECT_TRUE(std::isnan(y[0])) << isa_name(isa);
    EXPECT_EQ(y[8], T(16)) << isa_name(isa);
  }
}

// The fused derivative kernel against central differences of the reference forward (f64).
TEST(ElementwiseKernels, UnaryBackwardMatchesFiniteDifferences) {
  for (const auto& c : conformance::unary_specs()) {  // the ops and domains of the conformance suite
    if (c.op == UnaryOp::relu || c.op == UnaryOp::abs) continue;  // kinks checked by gradcheck
    const long n = 257;
    auto x = c.x.log_scale ? conformance::detail::log_uniform<double>(n, 9, c.x.lo, c.x.hi, c.x.random_sign)
                           : conformance::detail::uniform<double>(n, 9, c.x.lo, c.x.hi);
    if (c.op == UnaryOp::exp)
      for (auto& v : x) v = std::clamp(v, -5.0, 5.0);
    std::vector<double> y(static_cast<size_t>(n)), gy(static_cast<size_t>(n), 1.0), gx(static_cast<size_t>(n));
    ref::unary<double>(c.op, x.data(), y.data(), n);
    unary_backward<double>(c.op, x.data(), y.data(), gy.data(), gx.data(), n);
    for (long i = 0; i < n; ++i) {
      const double xi = x[static_cast<size_t>(i)];
      // log/sqrt live on (0, inf) down to 1e-4: the step must scale with x there.
      const bool positive = c.op == UnaryOp::log || c.op == UnaryOp::sqrt;
      const double h = 1e-6 * (positive ? xi : std::max(1.0, std::fabs(xi)));
      double p = xi + h, m = xi - h, fp, fm;
      ref::unary<double>(c.op, &p, &fp, 1);
      ref::unary<double>(c.op, &m, &fm, 1);
      const double num = (fp - fm) / (2 * h);
      EXPECT_NEAR(gx[static_cast<size_t>(i)], num, 1e-6 * std::max(1.0, std::fabs(num))) << c.name << " x=" << xi;
    }
  }
}

}  // namespace
}  // namespace pianograd::kernels::cpu
