// Per-element math of the STFT magnitude, its adjoint and the multi-resolution spectral loss
// (kernels/cpu/stft.cpp, autodiff/ops/spectral.cpp): framing with reflect padding, the periodic Hann
// window, |X|, the half-spectrum adjoint coefficient and the L1 / log-L1 loss terms. PG_HD so the
// CUDA STFT (kernels/cuda/stft.cu) uses the same formulas; tests/kernels/test_stft_math.cpp checks
// them against the CPU kernels.
#pragma once
#include <cmath>

#include "kernels/common/host_device.h"

namespace pianograd::kernels {

// Reflect padding as numpy.pad(mode="reflect"): index -1 maps to 1, n maps to n-2 (periodic in
// 2(n-1), so any distance from the signal works).
PG_HD long stft_reflect(long i, long n) {
  if (n == 1) return 0;
  const long period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
}

// Sample of signal (length `len`) read by tap t of frame f: frames are centred, start f*hop - n/2.
PG_HD long stft_source(long f, long t, long hop, long n_fft, long len) {
  return stft_reflect(f * hop - n_fft / 2 + t, len);
}

// Periodic Hann window value at t of n, evaluated in double as the CPU's hann_window.
template <class T>
PG_HD T stft_hann(long t, long n) {
  return static_cast<T>(0.5 - 0.5 * std::cos(2 * 3.14159265358979323846 * static_cast<double>(t) /
                                             static_cast<double>(n)));
}

// |z| as sqrt(re^2 + im^2) (no hypot: audio spectra never approach overflow).
template <class T>
PG_HD T stft_mag(T re, T im) { return std::sqrt(re * re + im * im); }

// The coefficient Y_k of the adjoint irfft for bin k of `bins` given dL/d|X_k| = gm: the complex
// gradient G = gm X/|X| (0 where |X| = 0, where |X| is not differentiable), halved inside the
// spectrum and real at DC and Nyquist, so that irfft(Y)[t] = sum_k Re(G_k e^{+2 pi i k t/n}).
template <class T>
PG_HD void stft_adjoint_coeff(T gm, T re, T im, long k, long bins, T& yr, T& yi) {
  const T a = stft_mag(re, im);
  yr = a > T(0) ? gm * re / a : T(0);
  yi = a > T(0) ? gm * im / a : T(0);
  if (k == 0 || k == bins - 1) {
    yi = T(0);
  } else {
    yr *= T(0.5);
    yi *= T(0.5);
  }
}

// One bin of the spectral loss: returns |mp - mt| and |log(mp+eps) - log(mt+eps)| (in d, ld) and
// dLoss/dmp = inv_n (lw sign(d) + gw sign(ld) / (mp + eps)); dLoss/dmt is the mirror with mt.
template <class T>
struct SpectralTerm {
  T d, ld, gp, gt;
};
template <class T>
PG_HD SpectralTerm<T> spectral_l1_term(T mp, T mt, T eps, T inv_n, T lw, T gw) {
  SpectralTerm<T> r;
  r.d = mp - mt;
  r.ld = std::log(mp + eps) - std::log(mt + eps);
  const T sd = static_cast<T>((r.d > 0) - (r.d < 0)), sl = static_cast<T>((r.ld > 0) - (r.ld < 0));
  r.gp = inv_n * (lw * sd + gw * sl / (mp + eps));
  r.gt = -inv_n * (lw * sd + gw * sl / (mt + eps));
  return r;
}

}  // namespace pianograd::kernels
