// The xsimd bodies of the elementwise kernels, templated on the architecture. Included only by the
// per-ISA translation units, each compiled with its own -m flags (xsimd 8.1 requires it).
#pragma once
#include <xsimd/xsimd.hpp>

#include "kernels/cpu/elementwise.h"

namespace pianograd::kernels::cpu::simd {

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
    case BinaryOp::pow: return binary_loop<Arch>(a, sa, b, sb, y, n, op, [](B x, B z) { return xsimd::pow(x, z); });
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
    case UnaryOp::neg: return unary_loop<Arch>(x, y, n, op, [](B v) { return -v; });
    case UnaryOp::exp: return unary_loop<Arch>(x, y, n, op, [](B v) { return xsimd::exp(v); });
    case UnaryOp::log: return unary_loop<Arch>(x, y, n, op, [](B v) { return xsimd::log(v); });
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

}  // namespace pianograd::kernels::cpu::simd

// Instantiates the ISA namespace's entry points over the templated bodies for one architecture.
#define PG_ELEMENTWISE_ISA_DEFINE(ns, Arch)                                                      \
  namespace pianograd::kernels::cpu::ns {                                                        \
  template <class T> void binary(BinaryOp op, const T* a, long sa, const T* b, long sb, T* y, long n) { \
    simd::binary<Arch, T>(op, a, sa, b, sb, y, n);                                               \
  }                                                                                              \
  template <class T> void unary(UnaryOp op, const T* x, T* y, long n) { simd::unary<Arch, T>(op, x, y, n); } \
  template void binary<float>(BinaryOp, const float*, long, const float*, long, float*, long);   \
  template void binary<double>(BinaryOp, const double*, long, const double*, long, double*, long); \
  template void unary<float>(UnaryOp, const float*, float*, long);                               \
  template void unary<double>(UnaryOp, const double*, double*, long);                            \
  }
