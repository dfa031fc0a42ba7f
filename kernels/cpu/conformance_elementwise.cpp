// Conformance cases of the elementwise kernels (kernels/cpu/elementwise.h): every binary op with both
// operands strided and either one broadcast, every unary op, against ref:: on the same inputs. Bounds
// in ulps: exact for the arithmetic IEEE rounds, a few for xsimd's polynomial exp/log/sin/cos/tanh,
// more where an approximation feeds another (pow = exp(b log a), sigmoid, gelu, softplus).
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/conformance_checks.h"
#include "kernels/cpu/conformance_util.h"
#include "kernels/cpu/elementwise.h"

namespace pianograd::kernels::cpu::conformance {

const std::vector<BinarySpec>& binary_specs() {
  static const std::vector<BinarySpec> specs = {
    {BinaryOp::add, "add", {-3, 3}, {-3, 3}, 0},
    {BinaryOp::sub, "sub", {-3, 3}, {-3, 3}, 0},
    {BinaryOp::mul, "mul", {-3, 3}, {-3, 3}, 0},
    {BinaryOp::div, "div", {-3, 3}, {0.25, 4, true, true}, 1},
    // exp(b log a): the rounding of b log a (|b ln a| up to ~14) is amplified by exp.
    {BinaryOp::pow, "pow", {1e-2, 1e2, true}, {-3, 3}, 16},
    {BinaryOp::maximum, "maximum", {-3, 3}, {-3, 3}, 0},
    {BinaryOp::minimum, "minimum", {-3, 3}, {-3, 3}, 0},
  };
  return specs;
}

// Bounds in ulps: 0 for what IEEE rounds; a few for xsimd's polynomials; more where one feeds another.
const std::vector<UnarySpec>& unary_specs() {
  static const std::vector<UnarySpec> specs = {
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
  return specs;
}

}  // namespace pianograd::kernels::cpu::conformance

namespace pianograd::kernels::cpu::conformance::detail {
namespace {

template <class T>
std::vector<T> sample(long n, const Domain& d, std::uint64_t seed) {
  return d.log_scale ? log_uniform<T>(n, seed, d.lo, d.hi, d.random_sign) : uniform<T>(n, seed, d.lo, d.hi);
}

// Special values: signed zeros, infinities, NaN, subnormals, +-1, integers (odd and even powers of a
// negative base), the edges of exp's range. Each visits every lane: element i takes value i mod S.
template <class T>
std::vector<T> specials() {
  const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
  const T den = std::numeric_limits<T>::denorm_min(), tiny = std::numeric_limits<T>::min() / T(1000);
  return {T(0), T(-0.0), T(1), T(-1), T(2), T(-2), T(3), T(-3), T(0.5), inf, -inf, nan, den, tiny, -tiny,
          T(88), T(-88), T(700), T(-700), T(1e-3), std::numeric_limits<T>::max(), T(1e30)};
}

// Zeros must keep the reference's sign (1/x tells them apart): an error where they differ.
template <class T>
Outcome zero_signs(const T* got, const T* want, long n, const char* what) {
  for (long i = 0; i < n; ++i)
    if (want[i] == T(0) && got[i] == T(0) && std::signbit(got[i]) != std::signbit(want[i]))
      return broken(at(what, i, got[i], want[i]) + " (sign of zero)");
  return {};
}

// Every pair of special values, a grid of S x S elements after `size` shifted ones (tails at every lane).
template <class T>
Outcome binary_specials(const BinarySpec& s, long size, const BinaryFn<T>& fn) {
  const auto v = specials<T>();
  const long S = static_cast<long>(v.size()), n = size + S * S;
  std::vector<T> a(static_cast<size_t>(n)), b(a.size());
  for (long i = 0; i < n; ++i) {
    const long k = i < size ? i * 7 : i - size;
    a[static_cast<size_t>(i)] = v[static_cast<size_t>(k % S)];
    b[static_cast<size_t>(i)] = v[static_cast<size_t>((k / S) % S)];
  }
  Guarded<T> got(n);
  std::vector<T> want(static_cast<size_t>(n));
  fn(s.op, a.data(), 1, b.data(), 1, got.data(), n);
  ref::binary<T>(s.op, a.data(), 1, b.data(), 1, want.data(), n);
  Outcome o = ulps_each(got.data(), want.data(), n, 1e-30, s.ulps, "y");
  if (s.op == BinaryOp::pow) {  // exp(y log x) amplifies the rounding of y log x: ulps per (1 + |y ln x|)
    o = {};
    for (long i = 0; i < n; ++i) {
      const double amp = 1 + std::fabs(static_cast<double>(b[i]) * std::log(std::fabs(static_cast<double>(a[i]))));
      Outcome e = ulps_each(got.data() + i, want.data() + i, 1, 1e-30, s.ulps, "y");
      e.error /= std::isfinite(amp) ? amp : 1;
      if (!e.ok()) e.detail = at("y", i, got.data()[i], want[static_cast<size_t>(i)]) + " for pow(" +
                              std::to_string(a[i]) + ", " + std::to_string(b[i]) + ")";
      o = worst(o, e);
    }
  }
  return worst(worst(o, zero_signs(got.data(), want.data(), n, "y")), guards(got, "y"));
}

template <class T>
Outcome unary_specials(const UnarySpec& s, long size, const UnaryFn<T>& fn) {
  const auto v = specials<T>();
  const long S = static_cast<long>(v.size()), n = size + S;
  std::vector<T> x(static_cast<size_t>(n));
  for (long i = 0; i < n; ++i) x[static_cast<size_t>(i)] = v[static_cast<size_t>((i < size ? i * 7 : i) % S)];
  Guarded<T> got(n);
  std::vector<T> want(static_cast<size_t>(n));
  fn(s.op, x.data(), got.data(), n);
  ref::unary<T>(s.op, x.data(), want.data(), n);
  Outcome o = ulps_each(got.data(), want.data(), n, s.floor, s.ulps, "y");
  return worst(worst(o, zero_signs(got.data(), want.data(), n, "y")), guards(got, "y"));
}

template <class T>
Outcome binary_case(const BinarySpec& s, long n, const BinaryFn<T>& fn) {
  Outcome o = binary_specials(s, n, fn);
  // Both strided, a broadcast, b broadcast: the three loops of the SIMD body.
  for (const auto& [sa, sb] : {std::pair<long, long>{1, 1}, {0, 1}, {1, 0}}) {
    const auto a = sample<T>(sa ? n : 1, s.a, 11 + n), b = sample<T>(sb ? n : 1, s.b, 23 + n);
    Guarded<T> got(n);
    std::vector<T> want(static_cast<size_t>(n));
    fn(s.op, a.data(), sa, b.data(), sb, got.data(), n);
    ref::binary<T>(s.op, a.data(), sa, b.data(), sb, want.data(), n);
    o = worst(o, ulps_each(got.data(), want.data(), n, 1e-30, s.ulps, sa && sb ? "y" : sa ? "y (b broadcast)" : "y (a broadcast)"));
    o = worst(o, guards(got, "y"));
  }
  return o;
}

template <class T>
Outcome unary_case(const UnarySpec& s, long n, const UnaryFn<T>& fn) {
  const auto x = sample<T>(n, s.x, 5 + n);
  Guarded<T> got(n);
  std::vector<T> want(static_cast<size_t>(n));
  fn(s.op, x.data(), got.data(), n);
  ref::unary<T>(s.op, x.data(), want.data(), n);
  return worst(worst(ulps_each(got.data(), want.data(), n, s.floor, s.ulps, "y"), guards(got, "y")),
               unary_specials(s, n, fn));
}

// The derivative's bound: the op's own (sin, cos, tanh and exp inside gelu' and softplus') plus the
// product with gy; its floor 1 covers gelu''s zero near x = -0.75 and sin/cos's zeros.
template <class T>
Outcome unary_backward_case(const UnarySpec& s, long n, const UnaryBwdFn<T>& fn) {
  const auto x = sample<T>(n, s.x, 7 + n), gy = uniform<T>(n, 13 + n, -2, 2);
  std::vector<T> y(static_cast<size_t>(n)), want(static_cast<size_t>(n));
  ref::unary<T>(s.op, x.data(), y.data(), n);
  Guarded<T> got(n);
  fn(s.op, x.data(), y.data(), gy.data(), got.data(), n);
  ref::unary_backward<T>(s.op, x.data(), y.data(), gy.data(), want.data(), n);
  return worst(ulps_each(got.data(), want.data(), n, 1.0, s.ulps + 2, "gx"), guards(got, "gx"));
}

}  // namespace

void add_elementwise_cases(std::vector<Case>& out) {
  const std::vector<long> large = {1000, 100003};  // the second is split over threads (kParallelGrain)
  for (const BinarySpec& s : binary_specs())
    out.push_back(make_case("binary", s.name, [&s](auto t, long n) {
      using T = decltype(t);
      return binary_case<T>(s, n, &binary<T>);
    }, large));
  for (const UnarySpec& s : unary_specs())
    out.push_back(make_case("unary", s.name, [&s](auto t, long n) {
      using T = decltype(t);
      return unary_case<T>(s, n, &unary<T>);
    }, large));
  for (const UnarySpec& s : unary_specs())
    out.push_back(make_case("unary_backward", s.name, [&s](auto t, long n) {
      using T = decltype(t);
      return unary_backward_case<T>(s, n, &unary_backward<T>);
    }, large));
}

}  // namespace pianograd::kernels::cpu::conformance::detail

namespace pianograd::kernels::cpu::conformance {

template <class T>
Outcome check_binary(BinaryOp op, long n, const BinaryFn<T>& fn) {
  for (const auto& s : binary_specs())
    if (s.op == op) return detail::binary_case<T>(s, n, fn);
  return detail::broken("no binary spec");
}
template <class T>
Outcome check_unary(UnaryOp op, long n, const UnaryFn<T>& fn) {
  for (const auto& s : unary_specs())
    if (s.op == op) return detail::unary_case<T>(s, n, fn);
  return detail::broken("no unary spec");
}
template <class T>
Outcome check_unary_backward(UnaryOp op, long n, const UnaryBwdFn<T>& fn) {
  for (const auto& s : unary_specs())
    if (s.op == op) return detail::unary_backward_case<T>(s, n, fn);
  return detail::broken("no unary spec");
}
template Outcome check_binary<float>(BinaryOp, long, const BinaryFn<float>&);
template Outcome check_binary<double>(BinaryOp, long, const BinaryFn<double>&);
template Outcome check_unary<float>(UnaryOp, long, const UnaryFn<float>&);
template Outcome check_unary<double>(UnaryOp, long, const UnaryFn<double>&);
template Outcome check_unary_backward<float>(UnaryOp, long, const UnaryBwdFn<float>&);
template Outcome check_unary_backward<double>(UnaryOp, long, const UnaryBwdFn<double>&);

}  // namespace pianograd::kernels::cpu::conformance
