// CTC (Graves et al., ICML 2006) negative log-likelihood and its gradient over raw buffers: the log-space
// alpha-beta recursion on the extended label sequence l' = (blank, l1, blank, l2, ..., lS, blank), with
// log_softmax over the classes fused in, so the gradient w.r.t. the logits is softmax - gamma, gamma(t, c)
// the posterior probability that frame t emits class c (Graves 2006, eq. 16 in logit form).
// One sequence per task, OpenMP over the batch; all accumulation in double whatever T is.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace pianograd::kernels::cpu {

// ln(e^a + e^b) shifted by the maximum, so no term overflows and the largest is exact; -inf is the
// log of zero probability. Shared by the loss's recursions and the beam search (models/ctc_decode.cpp).
inline double log_add(double a, double b) {
  const double m = std::max(a, b);
  if (m == -std::numeric_limits<double>::infinity()) return m;
  return m + std::log1p(std::exp(std::min(a, b) - m));
}

struct CtcSizes {
  long batch = 0, time = 0, classes = 0, max_target = 0;  // B, T, C, S of the padded buffers
  int64_t blank = 0;
};

// logits [B,T,C] row-major; targets [B,S] (padded, only the first target_lengths[b] read); lengths [B],
// already validated (0 <= input_lengths[b] <= T, 0 <= target_lengths[b] <= S, labels in [0,C) and != blank).
// nll[b] = -ln p(target_b | logits_b), +inf when no alignment fits in input_lengths[b] frames.
// grad (nullable) [B,T,C] receives d nll[b] / d logits[b] (softmax - gamma); zero at t >= input_lengths[b]
// and for an infeasible sequence (whose loss is +inf: there is no finite gradient to give).
template <class T>
void ctc_loss(const T* logits, const int64_t* targets, const int64_t* input_lengths, const int64_t* target_lengths,
              const CtcSizes& n, double* nll, T* grad);

// Frames needed by a target: one per label plus one blank between each pair of equal neighbours.
long ctc_min_frames(const int64_t* target, long len);

}  // namespace pianograd::kernels::cpu
