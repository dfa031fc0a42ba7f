#include "kernels/cpu/stft.h"

#include <omp.h>

#include <cmath>
#include <numbers>
#include <type_traits>
#include <unordered_map>

#include "kernels/cpu/fft.h"
#include "kernels/cpu/stft_batched.h"

namespace pianograd::kernels::cpu {
namespace {

// Reflect padding as numpy.pad(mode="reflect"): index -1 maps to 1, length maps to length-2.
inline long reflect(long i, long n) {
  if (n == 1) return 0;
  const long period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
}

// |z| as sqrt(re^2 + im^2): std::abs calls hypot, which guards against overflow that audio spectra
// never reach and costs several times more; the two agree to float rounding.
template <class T>
inline T magnitude(const std::complex<T>& z) {
  return std::sqrt(z.real() * z.real() + z.imag() * z.imag());
}

}  // namespace

template <class T>
std::vector<T> hann_window(long n) {
  std::vector<T> w(static_cast<size_t>(n));
  for (long t = 0; t < n; ++t)
    w[static_cast<size_t>(t)] = static_cast<T>(0.5 - 0.5 * std::cos(2 * std::numbers::pi * static_cast<double>(t) / static_cast<double>(n)));
  return w;
}

namespace {
// This thread's Hann window of size n, computed once (n cosines per call otherwise).
template <class T>
const std::vector<T>& cached_hann(long n) {
  thread_local std::unordered_map<long, std::vector<T>> cache;
  auto it = cache.find(n);
  if (it != cache.end()) return it->second;
  if (cache.size() >= 32) cache.clear();  // bounded; no caller keeps the reference past its call
  return cache.emplace(n, hann_window<T>(n)).first->second;
}
}  // namespace

template <class T>
void stft_magnitude(const T* x, long batch, const StftGeometry& g, T* mag, std::complex<T>* spec) {
  // Power-of-two float transforms take the frames-across-lanes kernel (~4x KissFFT per frame); the
  // per-frame KissFFT path below serves other sizes, double, the scalar ISA, and is its reference.
  if constexpr (std::is_same_v<T, float>) {
    if (stft_batched_supported(g.n_fft)) return stft_magnitude_batched(x, batch, g, mag, spec);
  }
  const std::vector<T>& w = cached_hann<T>(g.n_fft);
  const long frames = g.frames(), bins = g.bins(), ob = g.out_bins(), half = g.n_fft / 2;
  // Double plans mutate Eigen's caches: keep them single-threaded (they serve tests, not speed).
  const bool parallel = std::is_same_v<T, float> && batch * frames > 8;
#pragma omp parallel if (parallel)
  {
    // One plan per thread (cached): KissFFT's plan holds scratch space that a transform writes.
    const RealFFT<T>& plan = cached_plan<T>(g.n_fft);
    thread_local std::vector<T> frame;
    thread_local std::vector<std::complex<T>> X;
    frame.resize(static_cast<size_t>(g.n_fft));
    X.resize(static_cast<size_t>(bins));
#pragma omp for schedule(static)
    for (long bf = 0; bf < batch * frames; ++bf) {
      const long b = bf / frames, f = bf % frames;
      const T* xb = x + b * g.length;
      const long start = f * g.hop - half;
      if (start >= 0 && start + g.n_fft <= g.length) {  // interior frame: no reflection, no modulo
        for (long t = 0; t < g.n_fft; ++t) frame[static_cast<size_t>(t)] = w[static_cast<size_t>(t)] * xb[start + t];
      } else {
        for (long t = 0; t < g.n_fft; ++t)
          frame[static_cast<size_t>(t)] = w[static_cast<size_t>(t)] * xb[reflect(start + t, g.length)];
      }
      plan.forward(frame.data(), X.data());
      T* m = mag + bf * ob;
      for (long k = 0; k < ob; ++k) m[k] = magnitude(X[static_cast<size_t>(k)]);
      if (spec) std::copy(X.begin(), X.end(), spec + bf * bins);
    }
  }
}

template <class T>
void stft_magnitude_backward(const T* gmag, const std::complex<T>* spec, long batch, const StftGeometry& g, T* gx) {
  const RealFFT<T>& plan = cached_plan<T>(g.n_fft);
  const std::vector<T>& w = cached_hann<T>(g.n_fft);
  const long frames = g.frames(), bins = g.bins(), ob = g.out_bins(), half = g.n_fft / 2;
  thread_local std::vector<std::complex<T>> Y;
  thread_local std::vector<T> frame;
  Y.resize(static_cast<size_t>(bins));
  frame.resize(static_cast<size_t>(g.n_fft));
  // Frames overlap, so accumulation into gx is serial per signal; the FFTs dominate anyway.
  for (long bf = 0; bf < batch * frames; ++bf) {
    const long b = bf / frames, f = bf % frames;
    const std::complex<T>* X = spec + bf * bins;
    const T* gm = gmag + bf * ob;
    // d|X|/dX as the complex gradient G = gm X/|X|; the adjoint of the half-spectrum real DFT is
    // sum_k Re(G_k e^{+2 pi i k t/n}) = irfft(Y) with Y_k = G_k/2 inside, Re G at DC and Nyquist.
    for (long k = 0; k < bins; ++k) {
      const T a = magnitude(X[k]);
      std::complex<T> G = a > T(0) && k < ob ? gm[k] * X[k] / a : std::complex<T>(0);
      if (k == 0 || k == bins - 1) G = std::complex<T>(G.real(), 0);
      else G *= T(0.5);
      Y[static_cast<size_t>(k)] = G;
    }
    plan.inverse(Y.data(), frame.data());
    T* gb = gx + b * g.length;
    const long start = f * g.hop - half;
    if (start >= 0 && start + g.n_fft <= g.length) {
      for (long t = 0; t < g.n_fft; ++t) gb[start + t] += w[static_cast<size_t>(t)] * frame[static_cast<size_t>(t)];
    } else {
      for (long t = 0; t < g.n_fft; ++t)
        gb[reflect(start + t, g.length)] += w[static_cast<size_t>(t)] * frame[static_cast<size_t>(t)];
    }
  }
}

template std::vector<float> hann_window<float>(long);
template std::vector<double> hann_window<double>(long);
template void stft_magnitude<float>(const float*, long, const StftGeometry&, float*, std::complex<float>*);
template void stft_magnitude<double>(const double*, long, const StftGeometry&, double*, std::complex<double>*);
template void stft_magnitude_backward<float>(const float*, const std::complex<float>*, long, const StftGeometry&, float*);
template void stft_magnitude_backward<double>(const double*, const std::complex<double>*, long, const StftGeometry&, double*);

}  // namespace pianograd::kernels::cpu
