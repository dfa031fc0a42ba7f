// Per-element math of the pointwise losses (mse, l1, bce_with_logits) and their partial derivatives:
// the body of the CUDA loss kernel (kernels/cuda/model_ops.cu), written to match the CPU lambdas of
// autodiff/ops/losses.cpp term for term (tests/kernels/test_loss_math.cpp checks them against the op).
#pragma once
#include <cmath>

#include "kernels/common/elementwise_math.h"
#include "kernels/common/host_device.h"

namespace pianograd::kernels {

enum class PointwiseLoss : int { mse, l1, bce_with_logits };

// Returns the loss of one element; da, db, dw receive d loss / d(a, b, w). w is 1 without a weight.
template <class T>
PG_HD T pointwise_loss_element(PointwiseLoss kind, T a, T b, T w, T& da, T& db, T& dw) {
  switch (kind) {
    case PointwiseLoss::mse: {
      const T d = a - b;
      da = T(2) * d;
      db = T(-2) * d;
      dw = T(0);
      return d * d;
    }
    case PointwiseLoss::l1: {
      const T d = a - b;
      da = d > T(0) ? T(1) : (d < T(0) ? T(-1) : T(0));  // subgradient 0 at the kink, as torch
      db = -da;
      dw = T(0);
      return std::fabs(d);
    }
    case PointwiseLoss::bce_with_logits: {
      // loss = (1 - t) x + lw softplus(-x), lw = 1 + (pw - 1) t: stable for any |x| (softplus never
      // overflows), and with pw = 1 the familiar max(x, 0) - x t + log1p(exp(-|x|)).
      const T sp = softplus_scalar(-a);
      const T lw = T(1) + (w - T(1)) * b;
      da = (T(1) - b) - lw * sigmoid_scalar(-a);
      db = -a + (w - T(1)) * sp;
      dw = b * sp;
      return (T(1) - b) * a + lw * sp;
    }
  }
  da = db = dw = T(0);
  return T(0);
}

}  // namespace pianograd::kernels
