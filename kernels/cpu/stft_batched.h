// STFT magnitudes of power-of-two n_fft for float, with independent frames batched across SIMD lanes:
// a group of `lanes` frames (the batch<float, Arch> width) is laid out [t][lane], so every butterfly
// of the FFT is one vector operation on `lanes` frames. No library we can use (KissFFT, Eigen's FFT;
// FFTW is GPL) vectorises across transforms, and per-frame KissFFT was ~8% of a transcriber step.
// Same semantics as stft_magnitude (kernels/cpu/stft.h): centred frames, reflect padding, periodic
// Hann window, |X| = sqrt(re^2 + im^2), complex half spectra into `spec` when it is non-null.
#pragma once
#include <complex>
#include <vector>

#include "kernels/cpu/stft.h"

namespace pianograd::kernels::cpu {

// Tables for one n_fft, shared read-only by all threads: the window and e^{-2 pi i k/n} for k < n
// (the real FFT's split step uses k < n/2 of it, the complex FFT of n/2 every other entry).
struct StftBatchedPlan {
  long n = 0;
  std::vector<float> window;  // periodic Hann, n taps
  std::vector<float> wr, wi;  // cos(2 pi k/n), -sin(2 pi k/n), evaluated in double
  // The in-place FFT of size m = n/2 starts from size-4 transforms of z[j + c m/4], c < 4, j < m/4
  // (decimation in time): blockpos[j] is where that transform's four values sit.
  std::vector<long> blockpos;
};

// The plan for n, built once per process under a lock; the reference stays valid for the process
// lifetime (plans are never evicted: only power-of-two sizes exist, a few KB to a few MB each).
const StftBatchedPlan& stft_batched_plan(long n);

// True when the batched path handles n_fft under the active ISA: a power of two >= 16 and a SIMD ISA
// (the scalar ISA keeps the KissFFT path, which is also the reference the tests compare against).
bool stft_batched_supported(long n_fft);

// Same contract as stft_magnitude<float>; throws std::invalid_argument unless stft_batched_supported.
// OpenMP over groups of frames.
void stft_magnitude_batched(const float* x, long batch, const StftGeometry& g, float* mag, std::complex<float>* spec);

// One translation unit per ISA (stft_batched_<isa>.cpp), single-threaded: frames [bf0, bf0 + lanes)
// of the batch (the last group partial), where lanes = stft_lanes().
#define PG_STFT_BATCHED_ISA_DECL(ns)                                                                  \
  namespace ns {                                                                                      \
  long stft_lanes();                                                                                  \
  void stft_group(const float* x, long batch, const StftGeometry& g, const StftBatchedPlan& plan, long bf0, \
                  float* mag, std::complex<float>* spec);                                             \
  }
PG_STFT_BATCHED_ISA_DECL(sse2)
PG_STFT_BATCHED_ISA_DECL(avx2)
#undef PG_STFT_BATCHED_ISA_DECL

}  // namespace pianograd::kernels::cpu
