// Fused scaled dot-product attention (FlashAttention-2 style on both backends: kernels/cpu/attention.h,
// kernels/cuda/attention.h).
#pragma once
#include "autodiff/tensor.h"

namespace pianograd {

// softmax(scale * q k^T + mask) v over the last two dims, without a [Tq, Tk] matrix in memory (nor in
// the backward, which recomputes the probabilities from q, k and the saved per-row logsumexp).
//   q [..., Tq, D], k and v [..., Tk, D] with identical leading dims (e.g. [B, H]; no broadcasting),
//   f32 or f64, one device; returns [..., Tq, D].
//   scale: 0 means 1 / sqrt(D).
//   causal: query i attends key j iff j <= i + (Tk - Tq) (aligned to the END, so Tq = 1 against a
//   Tk-long KV cache sees every key, and Tq == Tk is the usual lower triangle); Tq > Tk is a
//   ShapeError then (the first rows would see no key). Not causal: every query sees every key.
// Errors: ShapeError (ranks, leading dims, D, no keys), DTypeError, DeviceError, ValueError (scale;
// D > 128 on CUDA). Differentiable in q, k and v (first order).
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal = true,
                                    double scale = 0.0);

}  // namespace pianograd
