// Harmonic stacking of a log-frequency spectrogram (kernels/cpu/harmonic_stack.h for the definition).
#pragma once
#include <vector>

#include "autodiff/tensor.h"

namespace pianograd {

// x [B, R, L] -> [B, S, R, L] with channel s = x shifted by shifts[s] along the last axis, zero filled:
// y[b, s, r, j] = x[b, r, j + shifts[s]]. Equal to stack({slice(pad(x, {below, above}), 2, below + shift,
// below + shift + L) for each shift}, 1) without the three intermediate copies.
Tensor harmonic_stack(const Tensor& x, const std::vector<int64_t>& shifts);

}  // namespace pianograd
