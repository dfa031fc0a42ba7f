// The per-element Adam/AdamW update shared by the CPU scalar reference (kernels/cpu/optim.cpp) and
// the CUDA kernel (kernels/cuda/optim.cu), so both backends follow one formula (PyTorch's, see
// kernels/cpu/optim.h). The step's constants are folded once per step on the host, in double.
#pragma once
#include <cmath>

#include "kernels/common/host_device.h"

namespace pianograd::kernels {

template <class T>
struct AdamCoeffs {
  T b1, b2, one_b1, one_b2;  // beta1, beta2, 1 - beta1, 1 - beta2
  T step_size;               // lr / (1 - beta1^t)
  T inv_sqrt_bc2;            // 1 / sqrt(1 - beta2^t)
  T eps;
  T decay;                   // AdamW: 1 - lr wd (decoupled decay of the weights); Adam: 1
  T l2;                      // Adam: wd (L2 added to the gradient); AdamW: 0
};

// bc1 = 1 - beta1^t, bc2 = 1 - beta2^t (the caller knows t).
template <class T>
inline AdamCoeffs<T> adam_coeffs(double lr, double beta1, double beta2, double eps, double weight_decay,
                                 bool decoupled, double bc1, double bc2) {
  AdamCoeffs<T> c;
  c.b1 = static_cast<T>(beta1);
  c.b2 = static_cast<T>(beta2);
  c.one_b1 = static_cast<T>(1.0 - beta1);
  c.one_b2 = static_cast<T>(1.0 - beta2);
  c.step_size = static_cast<T>(lr / bc1);
  c.inv_sqrt_bc2 = static_cast<T>(1.0 / std::sqrt(bc2));
  c.eps = static_cast<T>(eps);
  c.decay = static_cast<T>(decoupled ? 1.0 - lr * weight_decay : 1.0);
  c.l2 = static_cast<T>(decoupled ? 0.0 : weight_decay);
  return c;
}

// One element: g <- g + l2 p; p <- p decay; m, v moments; p <- p - step m / (sqrt(v) / sqrt(bc2) + eps).
template <class T>
PG_HD void adam_element(T& p, T g, T& m, T& v, const AdamCoeffs<T>& c) {
  const T gi = g + c.l2 * p;
  const T pi = p * c.decay;
  const T mi = c.b1 * m + c.one_b1 * gi;
  const T vi = c.b2 * v + c.one_b2 * (gi * gi);
  const T denom = std::sqrt(vi) * c.inv_sqrt_bc2 + c.eps;
  m = mi;
  v = vi;
  p = pi - c.step_size * (mi / denom);
}

}  // namespace pianograd::kernels
