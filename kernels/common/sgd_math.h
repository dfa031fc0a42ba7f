// The per-element SGD step (torch.optim.SGD: momentum, dampening, Nesterov, L2 weight decay) shared by
// the CUDA kernel (kernels/cuda/model_ops.cu) and checked against the CPU kernel kernels/cpu/optim.cpp
// on the host (tests/kernels/test_loss_math.cpp): the same formula on both backends.
#pragma once
#include "kernels/common/host_device.h"

namespace pianograd::kernels {

template <class T>
struct SgdCoeffs {
  T lr, mu, damp, wd;  // damp = 1 - dampening
  bool nesterov, first, momentum;
};

template <class T>
inline SgdCoeffs<T> sgd_coeffs(double lr, double momentum, double dampening, double weight_decay, bool nesterov,
                               bool first) {
  return {static_cast<T>(lr),           static_cast<T>(momentum), static_cast<T>(1.0 - dampening),
          static_cast<T>(weight_decay), nesterov,                 first,
          momentum != 0.0};
}

// g <- g + wd p; buf <- first ? g : mu buf + damp g; p <- p - lr (nesterov ? g + mu buf : buf).
// Without momentum (or buf == nullptr) p <- p - lr g and buf is untouched.
template <class T>
PG_HD void sgd_element(T& p, T g, T* buf, const SgdCoeffs<T>& c) {
  const T gi = g + c.wd * p;
  if (!c.momentum || buf == nullptr) {
    p -= c.lr * gi;
    return;
  }
  const T b = c.first ? gi : c.mu * *buf + c.damp * gi;
  *buf = b;
  p -= c.lr * (c.nesterov ? gi + c.mu * b : b);
}

}  // namespace pianograd::kernels
