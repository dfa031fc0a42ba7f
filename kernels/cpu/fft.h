// Real FFTs of any even length, and FFT convolution, from libraries (DESIGN.md §3): KissFFT (BSD) for
// float, Eigen's FFT module (MPL-2, a templated KissFFT) for double. Both are permissive, so the
// library stays MIT; FFTW3 would be faster but GPL. bench/bench_fft.cpp measures the choice.
#pragma once
#include <complex>
#include <cstddef>
#include <memory>

namespace pianograd::kernels::cpu {

// A plan is NOT safe to use from two threads at once (KissFFT keeps scratch space in the plan and
// Eigen's FFT caches twiddles): give each thread its own.
template <class T>
class RealFFT {
 public:
  explicit RealFFT(long n);  // n even, >= 2
  ~RealFFT();
  RealFFT(const RealFFT&) = delete;
  RealFFT& operator=(const RealFFT&) = delete;

  long size() const { return n_; }
  long bins() const { return n_ / 2 + 1; }
  // out[k] = sum_t in[t] e^{-2 pi i k t / n}, k = 0..n/2.
  void forward(const T* in, std::complex<T>* out) const;
  // Unnormalised inverse: out[t] = sum_k c_k X[k] e^{+2 pi i k t / n} over the full Hermitian
  // spectrum, i.e. inverse(forward(x)) = n * x.
  void inverse(const std::complex<T>* in, T* out) const;

 private:
  long n_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// This thread's plan of size n, built on first use and kept for the thread's lifetime (plans cost
// O(n) allocations and twiddle evaluations; renders and losses reuse a handful of sizes). The
// reference is valid on the calling thread only, and the cache is per thread because plans are not
// thread-safe. Do not hold it across a call that may use the same size re-entrantly (none do).
template <class T>
const RealFFT<T>& cached_plan(long n);

// y[0 .. nx+nh-1) = x * h (full linear convolution), by one zero-padded FFT of size >= nx+nh-1.
template <class T>
void fft_convolve(const T* x, long nx, const T* h, long nh, T* y);

// y[i] = (x * h)[first + i] for i in [0, count): a window of the full linear convolution, by one
// circular convolution of size >= max(nx, nh, first+count, nx+nh-1-first). Aliased terms land at
// indices >= nx+nh-1, where the full convolution is zero, so the window is exact; a window away from
// the start needs a smaller FFT than the full result (fft_convolve's gradient wrt the IR reads K taps
// at offset T-1 of a 2T-1 convolution: size T+K-1 instead of 2T-1). Requires 0 <= first and
// first + count <= nx + nh - 1.
template <class T>
void fft_convolve_window(const T* x, long nx, const T* h, long nh, long first, long count, T* y);

// The direct O(nx*nh) convolution: the reference for tests.
template <class T>
void direct_convolve(const T* x, long nx, const T* h, long nh, T* y);

// Smallest n >= min_n with only factors 2, 3, 5 (fast sizes for KissFFT).
long fast_fft_size(long min_n);

}  // namespace pianograd::kernels::cpu
