// Per-element math of the elementwise ops and their derivatives: the scalar reference of the SIMD
// kernels and the body of the CUDA ones.
#pragma once
#include <cmath>

#include "kernels/common/host_device.h"

namespace pianograd::kernels {

enum class BinaryOp : int { add, sub, mul, div, pow, maximum, minimum };
enum class UnaryOp : int { neg, exp, log, sqrt, abs, sin, cos, tanh, sigmoid, relu, gelu, softplus };

template <class T>
PG_HD T binary_scalar(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
    case BinaryOp::pow: return std::pow(a, b);
    case BinaryOp::maximum: return a > b ? a : b;
    case BinaryOp::minimum: return a < b ? a : b;
  }
  return T(0);
}

// gelu, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
template <class T> constexpr T kGeluC = T(0.7978845608028654);
template <class T> constexpr T kGeluA = T(0.044715);

template <class T>
PG_HD T sigmoid_scalar(T x) {
  // Split by sign so exp never overflows.
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

template <class T>
PG_HD T softplus_scalar(T x) {
  // log(1+e^x) = max(x,0) + log1p(e^{-|x|}): exact for large |x|, no overflow.
  return (x > T(0) ? x : T(0)) + std::log1p(std::exp(-std::fabs(x)));
}

template <class T>
PG_HD T unary_scalar(UnaryOp op, T x) {
  switch (op) {
    case UnaryOp::neg: return -x;
    case UnaryOp::exp: return std::exp(x);
    case UnaryOp::log: return std::log(x);
    case UnaryOp::sqrt: return std::sqrt(x);
    case UnaryOp::abs: return std::fabs(x);
    case UnaryOp::sin: return std::sin(x);
    case UnaryOp::cos: return std::cos(x);
    case UnaryOp::tanh: return std::tanh(x);
    case UnaryOp::sigmoid: return sigmoid_scalar(x);
    case UnaryOp::relu: return x > T(0) ? x : T(0);
    case UnaryOp::gelu: return T(0.5) * x * (T(1) + std::tanh(kGeluC<T> * (x + kGeluA<T> * x * x * x)));
    case UnaryOp::softplus: return softplus_scalar(x);
  }
  return T(0);
}

// d gelu / dx for the tanh form.
template <class T>
PG_HD T gelu_grad_scalar(T x) {
  const T u = kGeluC<T> * (x + kGeluA<T> * x * x * x);
  const T t = std::tanh(u);
  const T du = kGeluC<T> * (T(1) + T(3) * kGeluA<T> * x * x);
  return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * du;
}

}  // namespace pianograd::kernels
