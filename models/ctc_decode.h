// Decoders for CTC-trained models (autodiff/ops/ctc.h): best path (greedy) and prefix beam search
// (Graves 2012, ch. 7; Hannun et al., arXiv:1408.2873, with the token-level prior of their eq. 3 as a hook).
// Plain C++ over logits; no autodiff. Logits may be raw scores or log-probabilities: both decoders
// normalise with log_softmax per frame, which leaves log-probabilities unchanged.
#pragma once
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "autodiff/tensor.h"

namespace pianograd {

// logits [B,T,C] f32/f64, input_lengths [B] i32/i64 (0..T). Per sequence: the argmax class of each of its
// first input_lengths[b] frames, repeats collapsed, blanks dropped.
std::vector<std::vector<int64_t>> ctc_greedy_decode(const Tensor& logits, const Tensor& input_lengths,
                                                    int64_t blank = 0);
// One sequence over a raw row-major [T,C] buffer (the first `length` frames).
std::vector<int64_t> ctc_greedy_decode(const float* logits, int64_t length, int64_t classes, int64_t blank = 0);

struct CtcBeamOptions {
  int beam = 8;           // prefixes kept after each frame
  int64_t blank = 0;
  float prior_weight = 0;  // the prior is consulted only when this is nonzero and `prior` is set
  // Token-level log-prior (e.g. a language model's ln p(next | prefix)), added to a prefix's score as
  // prior_weight * prior(prefix, next) when the prefix is extended by `next`; called once per new prefix.
  std::function<float(const std::vector<int64_t>& prefix, int64_t next)> prior;
  // Labels whose log-probability at a frame is below this are not tried as extensions there (the frame's
  // best label always is); -inf disables the pruning.
  float prune_log_prob = -20.f;
};

// CTC prefix beam search over one sequence: logits [T,C] f32/f64, its first `length` frames (-1: all T).
// Each prefix carries the log-probabilities of its alignments ending in a blank and in a label, summed over
// every alignment that collapses to it (equal prefixes merge); its score is their log-sum plus its
// accumulated prior. Returns up to `beam` (prefix, score) pairs, best first, ties broken by the prefix.
// With prior_weight 0 a score is ln p(prefix | logits), i.e. -ctc_loss(reduction none) of that prefix.
std::vector<std::pair<std::vector<int64_t>, double>> ctc_beam_decode(const Tensor& logits, int64_t length,
                                                                     const CtcBeamOptions& options = {});
// The same over a raw row-major [T,C] buffer of `length` frames.
std::vector<std::pair<std::vector<int64_t>, double>> ctc_beam_decode(const float* logits, int64_t length,
                                                                     int64_t classes,
                                                                     const CtcBeamOptions& options = {});

}  // namespace pianograd
