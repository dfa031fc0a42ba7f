// Connectionist temporal classification loss (Graves et al., ICML 2006) as one fused op: log_softmax over
// the classes, the alpha-beta recursion and the gradient softmax - gamma in one kernel pass
// (kernels/cpu/ctc.h). Conventions follow torch.nn.functional.ctc_loss.
#pragma once
#include <cstdint>

#include "autodiff/ops/nn_ops.h"
#include "autodiff/tensor.h"

namespace pianograd {

// logits [B,T,C] f32/f64 (raw scores: the op normalises them itself; log-probabilities also work, as
// log_softmax is idempotent); targets [B,S] i32/i64, row b padded after target_lengths[b]; input_lengths,
// target_lengths [B] i32/i64, 0 <= input_lengths[b] <= T, 0 <= target_lengths[b] <= S. Labels lie in
// [0,C) and differ from blank. CPU only (DeviceError for CUDA tensors).
// Result: Reduction::none -> [B] per-sequence -ln p(target | logits); sum -> their sum; mean -> the batch
// mean of loss_b / max(target_lengths[b], 1). A target that cannot fit in its input frames (each label
// one frame, plus a blank between equal neighbours) has loss +inf, or 0 when zero_infinity; its gradient
// is zero either way. Differentiable in logits; frames t >= input_lengths[b] get zero gradient.
Tensor ctc_loss(const Tensor& logits, const Tensor& targets, const Tensor& input_lengths,
                const Tensor& target_lengths, int64_t blank = 0, Reduction reduction = Reduction::mean,
                bool zero_infinity = false);

}  // namespace pianograd
