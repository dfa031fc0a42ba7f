// Normalisation, dropout and losses.
#pragma once
#include <cstdint>

#include "autodiff/tensor.h"

namespace pianograd {

// Normalises over the trailing dims of size normalized_numel (= weight.numel() when given).
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);
// Inverted dropout; identity when !training or p == 0. Deterministic from `seed`.
Tensor dropout(const Tensor& x, double p, bool training, uint64_t seed);

enum class Reduction { mean, sum, none };
Tensor mse_loss(const Tensor& pred, const Tensor& target, Reduction r = Reduction::mean);
Tensor l1_loss(const Tensor& pred, const Tensor& target, Reduction r = Reduction::mean);
// Optional pos_weight multiplies the positive term (Onsets&Frames-style class balance).
Tensor bce_with_logits(const Tensor& logits, const Tensor& target, Reduction r = Reduction::mean,
                       const Tensor& pos_weight = Tensor());
// logits [N,C] or [N,C,d...]; target i64 [N] or [N,d...]; entries equal to ignore_index are skipped
// and the mean is over the rest.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index = -100,
                     Reduction r = Reduction::mean);

}  // namespace pianograd
