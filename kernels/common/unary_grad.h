// f'(x) of the unary ops, from x or from y = f(x) where that is cheaper (exp, sqrt, tanh, sigmoid):
// the per-element body of unary_backward, gx = gy * unary_grad_scalar(op, x, y). The CUDA kernel
// calls it; the CPU test checks it against kernels/cpu's unary_backward.
#pragma once
#include <cmath>

#include "kernels/common/elementwise_math.h"
#include "kernels/common/host_device.h"

namespace pianograd::kernels {

template <class T>
PG_HD T unary_grad_scalar(UnaryOp op, T x, T y) {
  switch (op) {
    case UnaryOp::neg: return T(-1);
    case UnaryOp::exp: return y;
    case UnaryOp::log: return T(1) / x;
    case UnaryOp::sqrt: return T(0.5) / y;
    case UnaryOp::abs: return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
    case UnaryOp::sin: return std::cos(x);
    case UnaryOp::cos: return -std::sin(x);
    case UnaryOp::tanh: return T(1) - y * y;
    case UnaryOp::sigmoid: return y * (T(1) - y);
    case UnaryOp::relu: return x > T(0) ? T(1) : T(0);
    case UnaryOp::gelu: return gelu_grad_scalar(x);
    case UnaryOp::softplus: return sigmoid_scalar(x);
  }
  return T(0);
}

}  // namespace pianograd::kernels
