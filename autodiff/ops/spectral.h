// Spectral ops: STFT magnitude and the fused multi-resolution spectral loss (DDSP convention:
// L1 on linear and log magnitudes over FFT sizes 2048…64, Engel et al. ICLR 2020; Renault et al.
// DAFx 2022 use the same for DDSP-Piano).
#pragma once
#include <vector>

#include "autodiff/tensor.h"

namespace pianograd {

// x [T] or [B,T] -> |STFT| [frames, bins] or [B, frames, bins]; centred frames (reflect padding),
// periodic Hann window; hop 0 means n_fft/4. n_fft even. max_bins > 0 keeps only the first
// min(max_bins, n_fft/2 + 1) bins (what a filterbank below Nyquist reads), without computing the rest.
Tensor stft_magnitude(const Tensor& x, int64_t n_fft, int64_t hop = 0, int64_t max_bins = 0);

struct SpectralLossOptions {
  std::vector<int64_t> fft_sizes{2048, 1024, 512, 256, 128, 64};
  double overlap = 0.75;       // hop = n_fft * (1 - overlap)
  double linear_weight = 1.0;
  double log_weight = 1.0;
  double eps = 1e-7;           // inside log(|X| + eps)
};

// sum over sizes of  linear_weight * mean|S_p - S_t| + log_weight * mean|log(S_p+eps) - log(S_t+eps)|
// for pred/target [T] or [B,T] of one shape. Fused: one pass over the spectra forward, one backward.
Tensor multi_resolution_stft_loss(const Tensor& pred, const Tensor& target, const SpectralLossOptions& opt = {});

}  // namespace pianograd

namespace pianograd {
// Causal FFT convolution truncated to the input length: y[b][n] = sum_j h[j] x[b][n-j], n < T.
// x [T] or [B,T], h [K] (an impulse response shared by the batch: soundboard/body, room).
Tensor fft_convolve(const Tensor& x, const Tensor& h);
}  // namespace pianograd
