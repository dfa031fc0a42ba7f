// Per-element math of the reductions, shared by the CUDA block reductions (kernels/cuda/reduce.cu)
// and checked on the CPU against kernels/cpu/reduce.h's conventions.
#pragma once
#include <cmath>

#include "kernels/common/host_device.h"

namespace pianograd::kernels {

// max (min when is_min) that propagates NaN, as the CPU reduce_max does: once a NaN is seen it is the
// result. Associative and commutative up to which NaN payload wins, so a tree reduction agrees with
// the sequential one.
template <class T>
PG_HD T nan_extremum(T a, T b, bool is_min) {
  if (a != a) return a;
  if (b != b) return b;
  return (is_min ? b < a : b > a) ? b : a;
}

struct NanMaxOp {
  template <class T>
  PG_HD T operator()(T a, T b) const { return nan_extremum(a, b, false); }
};
struct NanMinOp {
  template <class T>
  PG_HD T operator()(T a, T b) const { return nan_extremum(a, b, true); }
};

// softmax_backward's per-element gradient given s = sum_k gy (log) or sum_k gy y (softmax).
template <class T>
PG_HD T softmax_grad_element(T y, T gy, T s, bool log) {
  return log ? gy - std::exp(y) * s : y * (gy - s);
}

// layer norm: gx = rstd (g - sg/n - xhat sgx/n), g = gy w, sg = sum g, sgx = sum g xhat.
template <class T>
PG_HD T layer_norm_grad_element(T g, T xhat, T rstd, T sg, T sgx, T inv_n) {
  return rstd * (g - sg * inv_n - xhat * sgx * inv_n);
}

}  // namespace pianograd::kernels
