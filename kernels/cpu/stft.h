// Short-time Fourier transform magnitudes and their adjoint, over raw buffers. Frames are centred
// (reflect padding by n_fft/2, as librosa/torch.stft(center=True)) and windowed by a periodic Hann.
#pragma once
#include <complex>
#include <vector>

namespace pianograd::kernels::cpu {

struct StftGeometry {
  long n_fft = 0, hop = 0, length = 0;  // length = samples per signal
  // > 0: the magnitudes (and their gradient) hold only the first mag_bins bins per frame (a front end
  // whose filterbank stops below Nyquist neither computes nor copies the rest); the spectra stay whole.
  long mag_bins = 0;
  long frames() const { return length / hop + 1; }
  long bins() const { return n_fft / 2 + 1; }
  long out_bins() const { return mag_bins > 0 && mag_bins < bins() ? mag_bins : bins(); }
};

// Periodic Hann window of size n (the STFT convention: sums to a constant under 75% overlap).
template <class T> std::vector<T> hann_window(long n);

// mag[b][f][k] = |sum_t w[t] xpad[b][f*hop + t] e^{-2 pi i k t / n}| for k < g.out_bins(), + computed
// spectra kept in `spec` (complex, [b][f][g.bins()]) when non-null, for the backward pass.
template <class T>
void stft_magnitude(const T* x, long batch, const StftGeometry& g, T* mag, std::complex<T>* spec);

// Adjoint: given dL/dmag ([b][f][g.out_bins()]; the bins beyond have none) and the forward's spectra, accumulates dL/dx (gx must be zeroed by the
// caller or hold a gradient to add to). |X| is not differentiable at 0: those bins pass no gradient.
template <class T>
void stft_magnitude_backward(const T* gmag, const std::complex<T>* spec, long batch, const StftGeometry& g, T* gx);

}  // namespace pianograd::kernels::cpu
