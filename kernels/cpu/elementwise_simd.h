// The xsimd bodies of the elementwise kernels, templated on the architecture. Included only by the
// per-ISA translation units, each compiled with its own -m flags (xsimd 8.1 requires it).
#pragma once
#include <cmath>
#include <limits>
#include <xsimd/xsimd.hpp>

#include "kernels/common/unary_grad.h"
#include "kernels/cpu/elementwise.h"

namespace pianograd::kernels::cpu::simd {

// Where xsimd 8.1's math departs from <cmath> (the scalar references and the tails), found by
// tests/kernels/simd_primitives_* and the special values of the conformance suite:

// pow: xsimd computes exp(y log|x|) and ignores C99's special cases (pow(0, 0) = 0 and pow(0, -1) = 0
// instead of 1 and inf; pow(1, NaN), pow(NaN, 0) and pow(+-1, inf) NaN instead of 1), and at the ends of
// the range the rounding of y log|x| overflows or underflows exp (pow(FLT_MAX, 1) = inf). Lanes with a
// special operand (x <= 0 or subnormal, whose log xsimd gets wrong, x = 1, y = 0, an infinity or a NaN)
// or an infinite or zero result are
// recomputed with std::pow, as the scalar path computes them; ordinary batches pay a few compares.
template <class B>
B pow_c99(const B& x, const B& y) {
  using T = typename B::value_type;
  constexpr long W = static_cast<long>(B::size);
  const B r = xsimd::pow(x, y), inf(std::numeric_limits<T>::infinity());
  const T min_normal = std::numeric_limits<T>::min();
  const auto special = (x < B(min_normal)) | (x == B(T(1))) | (y == B(T(0))) | (xsimd::abs(x) == inf) |
                       (xsimd::abs(y) == inf) | xsimd::isnan(x) | xsimd::isnan(y) | (xsimd::abs(r) == inf) |
                       (r == B(T(0)));
  if (!xsimd::any(special)) return r;
  alignas(64) T xs[W], ys[W], rs[W];
  x.store_unaligned(xs);
  y.store_unaligned(ys);
  r.store_unaligned(rs);
  for (long i = 0; i < W; ++i) {
    const T a = xs[i], b = ys[i];
    if (a < min_normal || a == T(1) || b == T(0) || std::isinf(a) || std::isinf(b) || std::isnan(a) || std::isnan(b) ||
        std::isinf(rs[i]) || rs[i] == T(0))
      rs[i] = std::pow(a, b);
  }
  return B::load_unaligned(rs);
}

// log: xsimd maps every subnormal double to about -746.5. Subnormals are scaled into the normal range
// first: log(x) = log(x 2^k) - k ln 2, with k the mantissa's digits + 1.
template <class B>
B log_full_range(const B& x) {
  using T = typename B::value_type;
  constexpr int k = std::numeric_limits<T>::digits + 1;
  const auto sub = (x < B(std::numeric_limits<T>::min())) & (x > B(T(0)));
  const B scaled = xsimd::select(sub, x * B(std::ldexp(T(1), k)), x);
  return xsimd::log(scaled) - xsimd::select(sub, B(static_cast<T>(k * 0.69314718055994530942)), B(T(0)));
}

template <class Arch, class T, class F>
inline void binary_loop(const T* a, long sa, const T* b, long sb, T* y, long n, BinaryOp op, F f) {
  using B = xsimd::batch<T, Arch>;
  constexpr long W = static_cast<long>(B::size);
  long i = 0;
  if (sa && sb) {
    for (; i + W <= n; i += W) f(B::load_unaligned(a + i), B::load_unaligned(b + i)).store_unaligned(y + i);
  } else if (sa) {
    const B vb(b[0]);
    for (; i + W <= n; i += W) f(B::load_unaligned(a + i), vb).store_unaligned(y + i);
  } else if (sb) {
    const B va(a[0]);
    for (; i + W <= n; i += W) f(va, B::load_unaligned(b + i)).store_unaligned(y + i);
  }
  for (; i < n; ++i) y[i] = binary_scalar(op, a[i * sa], b[i * sb]);
}

template <class Arch, class T>
void binary(BinaryOp op, const T* a, long sa, const T* b, long sb, T* y, long n) {
  using B = xsimd::batch<T, Arch>;
  switch (op) {
    case BinaryOp::add: return binary_loop<Arch>(a, sa, b, sb, y, n, op, [](B x, B z) { return x + z; });
    case BinaryOp::sub: return binary_loop<Arch>(a, sa, b, sb, y, n, op, [](B x, B z) { return x - z; });
    case BinaryOp::mul: return binary_loop<Arch>(a, sa, b, sb, y, n, op, [](B x, B z) { return x * z; });
    case BinaryOp::div: return binary_loop<Arch>(a, sa, b, sb, y, n, op, [](B x, B z) { return x / z; });
    case BinaryOp::pow: return binary_loop<Arch>(a, sa, b, sb, y, n, op, [](B x, B z) { return pow_c99(x, z); });
    case BinaryOp::maximum:
      return binary_loop<Arch>(a, sa, b, sb, y, n, op, [](B x, B z) { return xsimd::select(x > z, x, z); });
    case BinaryOp::minimum:
      return binary_loop<Arch>(a, sa, b, sb, y, n, op, [](B x, B z) { return xsimd::select(x < z, x, z); });
  }
}

template <class Arch, class T, class F>
inline void unary_loop(const T* x, T* y, long n, UnaryOp op, F f) {
  using B = xsimd::batch<T, Arch>;
  constexpr long W = static_cast<long>(B::size);
  long i = 0;
  for (; i + W <= n; i += W) f(B::load_unaligned(x + i)).store_unaligned(y + i);
  for (; i < n; ++i) y[i] = unary_scalar(op, x[i]);
}

template <class Arch, class T>
void unary(UnaryOp op, const T* x, T* y, long n) {
  using B = xsimd::batch<T, Arch>;
  const B zero(T(0)), one(T(1)), half(T(0.5));
  switch (op) {
    // v * -1, not -v: xsimd 8.1's AVX-512 negation is 0 - v, which turns -(+0) into +0.
    case UnaryOp::neg: return unary_loop<Arch>(x, y, n, op, [](B v) { return v * B(T(-1)); });
    case UnaryOp::exp: return unary_loop<Arch>(x, y, n, op, [](B v) { return xsimd::exp(v); });
    case UnaryOp::log: return unary_loop<Arch>(x, y, n, op, [](B v) { return log_full_range(v); });
    case UnaryOp::sqrt: return unary_loop<Arch>(x, y, n, op, [](B v) { return xsimd::sqrt(v); });
    case UnaryOp::abs: return unary_loop<Arch>(x, y, n, op, [](B v) { return xsimd::abs(v); });
    case UnaryOp::sin: return unary_loop<Arch>(x, y, n, op, [](B v) { return xsimd::sin(v); });
    case UnaryOp::cos: return unary_loop<Arch>(x, y, n, op, [](B v) { return xsimd::cos(v); });
    case UnaryOp::tanh: return unary_loop<Arch>(x, y, n, op, [](B v) { return xsimd::tanh(v); });
    case UnaryOp::sigmoid:
      // exp(-v) may overflow to inf for very negative v; 1/(1+inf) = 0 is the right limit.
      return unary_loop<Arch>(x, y, n, op, [one](B v) { return one / (one + xsimd::exp(-v)); });
    case UnaryOp::relu: return unary_loop<Arch>(x, y, n, op, [zero](B v) { return xsimd::max(v, zero); });
    case UnaryOp::gelu:
      return unary_loop<Arch>(x, y, n, op, [one, half](B v) {
        const B c(kGeluC<T>), k(kGeluA<T>);
        return half * v * (one + xsimd::tanh(c * (v + k * v * v * v)));
      });
    case UnaryOp::softplus:
      return unary_loop<Arch>(x, y, n, op, [zero](B v) {
        return xsimd::max(v, zero) + xsimd::log1p(xsimd::exp(-xsimd::abs(v)));
      });
  }
}

// gx = gy * f'(x) (unary_grad.h's derivatives, from x or from y = f(x)). d(x, y, i) loads what its op
// needs, so the ops that read one input stream one array fewer.
template <class Arch, class T, class D>
inline void unary_backward_loop(const T* x, const T* y, const T* gy, T* gx, long n, UnaryOp op, D d) {
  using B = xsimd::batch<T, Arch>;
  constexpr long W = static_cast<long>(B::size);
  long i = 0;
  for (; i + W <= n; i += W) (B::load_unaligned(gy + i) * d(x, y, i)).store_unaligned(gx + i);
  for (; i < n; ++i) gx[i] = gy[i] * unary_grad_scalar(op, x[i], y[i]);
}

template <class Arch, class T>
void unary_backward(UnaryOp op, const T* x, const T* y, const T* gy, T* gx, long n) {
  using B = xsimd::batch<T, Arch>;
  const B zero(T(0)), one(T(1)), half(T(0.5));
  const auto X = [](const T* p, const T*, long i) { return B::load_unaligned(p + i); };
  const auto Y = [](const T*, const T* p, long i) { return B::load_unaligned(p + i); };
  auto via_x = [&](auto f) { return unary_backward_loop<Arch>(x, y, gy, gx, n, op, [&](const T* a, const T* b, long i) { return f(X(a, b, i)); }); };
  auto via_y = [&](auto f) { return unary_backward_loop<Arch>(x, y, gy, gx, n, op, [&](const T* a, const T* b, long i) { return f(Y(a, b, i)); }); };
  switch (op) {
    case UnaryOp::neg: return via_x([&](B) { return B(T(-1)); });
    case UnaryOp::exp: return via_y([](B v) { return v; });
    case UnaryOp::log: return via_x([&](B u) { return one / u; });
    case UnaryOp::sqrt: return via_y([&](B v) { return half / v; });
    case UnaryOp::abs:
      return via_x([&](B u) { return xsimd::select(u > zero, one, xsimd::select(u < zero, B(T(-1)), zero)); });
    case UnaryOp::sin: return via_x([](B u) { return xsimd::cos(u); });
    case UnaryOp::cos: return via_x([](B u) { return -xsimd::sin(u); });
    case UnaryOp::tanh: return via_y([&](B v) { return one - v * v; });
    case UnaryOp::sigmoid: return via_y([&](B v) { return v * (one - v); });
    case UnaryOp::relu: return via_x([&](B u) { return xsimd::select(u > zero, one, zero); });
    case UnaryOp::gelu:
      // The tanh form's derivative: 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 a x^2), t = tanh(c (x + a x^3)).
      return via_x([&](B u) {
        const B c(kGeluC<T>), a(kGeluA<T>), u2 = u * u;
        const B t = xsimd::tanh(c * (u + a * u2 * u));
        return half * (one + t) + half * u * (one - t * t) * (c * (one + B(T(3)) * a * u2));
      });
    case UnaryOp::softplus:
      // sigmoid(x), from exp(-|x|) so that it never overflows (sigmoid_scalar's split by sign).
      return via_x([&](B u) {
        const B e = xsimd::exp(-xsimd::abs(u));
        return xsimd::select(u >= zero, one / (one + e), e / (one + e));
      });
  }
}

}  // namespace pianograd::kernels::cpu::simd

// Instantiates the ISA namespace's entry points over the templated bodies for one architecture.
#define PG_ELEMENTWISE_ISA_DEFINE(ns, Arch)                                                      \
  namespace pianograd::kernels::cpu::ns {                                                        \
  template <class T> void binary(BinaryOp op, const T* a, long sa, const T* b, long sb, T* y, long n) { \
    simd::binary<Arch, T>(op, a, sa, b, sb, y, n);                                               \
  }                                                                                              \
  template <class T> void unary(UnaryOp op, const T* x, T* y, long n) { simd::unary<Arch, T>(op, x, y, n); } \
  template <class T> void unary_backward(UnaryOp op, const T* x, const T* y, const T* gy, T* gx, long n) { \
    simd::unary_backward<Arch, T>(op, x, y, gy, gx, n);                                          \
  }                                                                                              \
  template void binary<float>(BinaryOp, const float*, long, const float*, long, float*, long);   \
  template void binary<double>(BinaryOp, const double*, long, const double*, long, double*, long); \
  template void unary<float>(UnaryOp, const float*, float*, long);                               \
  template void unary<double>(UnaryOp, const double*, double*, long);                            \
  template void unary_backward<float>(UnaryOp, const float*, const float*, const float*, float*, long); \
  template void unary_backward<double>(UnaryOp, const double*, const double*, const double*, double*, long); \
  }
