// Every elementwise kernel on every ISA this CPU supports, through the dispatcher (so runs above
// kParallelGrain go through the OpenMP chunking), against the scalar reference ref::. Errors are
// measured in units of the type's epsilon relative to max(|ref|, floor): a few ulps for SIMD
// polynomial approximations (xsimd's exp/log/tanh...), exact for the arithmetic that IEEE rounds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/isa.h"

namespace pianograd::kernels::cpu {
namespace {

const long kSizes[] = {0, 1, 7, 8, 9, 31, 1000, 100003};
const Isa kIsas[] = {Isa::scalar, Isa::sse2, Isa::avx2, Isa::avx512};

struct Domain {
  double lo, hi;
  bool log_uniform = false;  // for log/sqrt/pow bases: cover many binades
  bool random_sign = false;  // |x| in [lo, hi), either sign (divisors away from zero)
};

template <class T>
std::vector<T> sample(long n, Domain d, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<T> v(static_cast<size_t>(std::max(n, 1L)));
  for (auto& x : v) {
    double t = d.log_uniform ? d.lo * std::pow(d.hi / d.lo, u(rng)) : d.lo + (d.hi - d.lo) * u(rng);
    if (d.random_sign && u(rng) < 0.5) t = -t;
    x = static_cast<T>(t);
  }
  return v;
}

// Max error over the run in epsilons relative to max(|ref|, floor); NaN mismatches count as infinite.
template <class T>
double max_ulps(const std::vector<T>& got, const std::vector<T>& want, long n, double floor, long* worst) {
  double m = 0;
  for (long i = 0; i < n; ++i) {
    const double g = got[static_cast<size_t>(i)], w = want[static_cast<size_t>(i)];
    double e;
    if (std::isnan(w) || std::isnan(g)) e = (std::isnan(w) && std::isnan(g)) ? 0 : INFINITY;
    else if (std::isinf(w) || std::isinf(g)) e = g == w ? 0 : INFINITY;
    else e = std::fabs(g - w) / (std::numeric_limits<T>::epsilon() * std::max(std::fabs(w), floor));
    if (e > m) {
      m = e;
      *worst = i;
    }
  }
  return m;
}

struct BinaryCase {
  BinaryOp op;
  const char* name;
  Domain a, b;
  double ulps;  // allowed error
};
const BinaryCase kBinary[] = {
    {BinaryOp::add, "add", {-3, 3}, {-3, 3}, 0},
    {BinaryOp::sub, "sub", {-3, 3}, {-3, 3}, 0},
    {BinaryOp::mul, "mul", {-3, 3}, {-3, 3}, 0},
    {BinaryOp::div, "div", {-3, 3}, {0.25, 4, false, true}, 1},  // SIMD division is IEEE; 1 for safety
    // xsimd's pow is exp(b log a): the rounding of b log a (up to ~14 here) is amplified by exp, so
    // the error grows like |b ln a| ulps — measured <= 10 on this domain.
    {BinaryOp::pow, "pow", {1e-2, 1e2, true}, {-3, 3}, 16},
    {BinaryOp::maximum, "maximum", {-3, 3}, {-3, 3}, 0},
    {BinaryOp::minimum, "minimum", {-3, 3}, {-3, 3}, 0},
};

struct UnaryCase {
  UnaryOp op;
  const char* name;
  Domain x;
  double ulps;
  double floor;  // below this |ref| the error is measured absolutely (in eps): zeros of sin/cos etc.
};
const UnaryCase kUnary[] = {
    {UnaryOp::neg, "neg", {-3, 3}, 0, 1e-30},
    {UnaryOp::exp, "exp", {-30, 30}, 4, 1e-30},
    {UnaryOp::log, "log", {1e-4, 1e4, true}, 4, 1},
    {UnaryOp::sqrt, "sqrt", {1e-4, 1e4, true}, 1, 1e-30},
    {UnaryOp::abs, "abs", {-3, 3}, 0, 1e-30},
    {UnaryOp::sin, "sin", {-10, 10}, 4, 1},
    {UnaryOp::cos, "cos", {-10, 10}, 4, 1},
    {UnaryOp::tanh, "tanh", {-10, 10}, 4, 1},
    {UnaryOp::sigmoid, "sigmoid", {-30, 30}, 8, 1e-30},
    {UnaryOp::relu, "relu", {-3, 3}, 0, 1e-30},
    {UnaryOp::gelu, "gelu", {-6, 6}, 8, 1},
    {UnaryOp::softplus, "softplus", {-30, 30}, 8, 1e-30},
};

template <class T>
class ElementwiseKernels : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(ElementwiseKernels, Types);

TYPED_TEST(ElementwiseKernels, BinaryMatchesReferenceOnEveryIsa) {
  using T = TypeParam;
  const std::pair<long, long> strides[] = {{1, 1}, {0, 1}, {1, 0}};
  int checked = 0;
  for (Isa isa : kIsas) {
    if (!isa_supported(isa)) continue;
    IsaScope scope(isa);
    for (const auto& c : kBinary)
      for (auto [sa, sb] : strides)
        for (long n : kSizes) {
          const auto a = sample<T>(sa ? n : 1, c.a, 11), b = sample<T>(sb ? n : 1, c.b, 23);
          std::vector<T> got(static_cast<size_t>(std::max(n, 1L)), T(-7)), want = got;
          binary<T>(c.op, a.data(), sa, b.data(), sb, got.data(), n);
          ref::binary<T>(c.op, a.data(), sa, b.data(), sb, want.data(), n);
          long worst = -1;
          const double e = max_ulps(got, want, n, 1e-30, &worst);
          EXPECT_LE(e, c.ulps) << c.name << " isa=" << isa_name(isa) << " n=" << n << " strides=(" << sa << ","
                               << sb << ") worst at " << worst;
          if (n == 0) {
            EXPECT_EQ(got[0], T(-7)) << c.name << ": wrote past n=0";
          }
          ++checked;
        }
  }
  EXPECT_GE(checked, 7 * 3 * 8);  // at least the scalar ISA ran
}

TYPED_TEST(ElementwiseKernels, UnaryMatchesReferenceOnEveryIsa) {
  using T = TypeParam;
  for (Isa isa : kIsas) {
    if (!isa_supported(isa)) continue;
    IsaScope scope(isa);
    for (const auto& c : kUnary)
      for (long n : kSizes) {
        const auto x = sample<T>(n, c.x, 5);
        std::vector<T> got(static_cast<size_t>(std::max(n, 1L)), T(-7)), want = got;
        unary<T>(c.op, x.data(), got.data(), n);
        ref::unary<T>(c.op, x.data(), want.data(), n);
        long worst = -1;
        const double e = max_ulps(got, want, n, c.floor, &worst);
        EXPECT_LE(e, c.ulps) << c.name << " isa=" << isa_name(isa) << " n=" << n << " worst x="
                             << (worst >= 0 ? x[static_cast<size_t>(worst)] : T(0));
        if (n == 0) {
          EXPECT_EQ(got[0], T(-7)) << c.name << ": wrote past n=0";
        }
      }
  }
}

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
  for (const auto& c : kUnary) {
    if (c.op == UnaryOp::relu || c.op == UnaryOp::abs) continue;  // kinks checked by gradcheck
    const long n = 257;
    auto x = sample<double>(n, c.x, 9);
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
