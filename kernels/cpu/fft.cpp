#include "kernels/cpu/fft.h"

#include <kiss_fftr.h>

#include <stdexcept>
#include <string>
#include <unsupported/Eigen/FFT>
#include <vector>

namespace pianograd::kernels::cpu {

long fast_fft_size(long min_n) {
  long n = std::max(2L, min_n);
  for (;; ++n) {
    long m = n;
    for (long p : {2L, 3L, 5L})
      while (m % p == 0) m /= p;
    if (m == 1 && n % 2 == 0) return n;
  }
}

template <>
struct RealFFT<float>::Impl {
  kiss_fftr_cfg fwd = nullptr, inv = nullptr;
  ~Impl() {
    kiss_fftr_free(fwd);
    kiss_fftr_free(inv);
  }
};

template <>
struct RealFFT<double>::Impl {
  // Eigen::FFT keeps per-size twiddle caches that it mutates: one object per plan, guarded by
  // the contract that a plan is used from one thread at a time for double (tests and gradchecks).
  mutable Eigen::FFT<double> fft;
  mutable std::vector<std::complex<double>> full;
  mutable std::vector<double> buf;
};

template <class T>
RealFFT<T>::RealFFT(long n) : n_(n), impl_(std::make_unique<Impl>()) {
  if (n < 2 || n % 2 != 0) throw std::invalid_argument("RealFFT: size must be even and >= 2, got " + std::to_string(n));
  if constexpr (std::is_same_v<T, float>) {
    impl_->fwd = kiss_fftr_alloc(static_cast<int>(n), 0, nullptr, nullptr);
    impl_->inv = kiss_fftr_alloc(static_cast<int>(n), 1, nullptr, nullptr);
    if (!impl_->fwd || !impl_->inv) throw std::runtime_error("RealFFT: kissfft could not plan size " + std::to_string(n));
  } else {
    impl_->fft.SetFlag(Eigen::FFT<double>::HalfSpectrum);
    impl_->fft.SetFlag(Eigen::FFT<double>::Unscaled);
  }
}

template <class T>
RealFFT<T>::~RealFFT() = default;

template <class T>
void RealFFT<T>::forward(const T* in, std::complex<T>* out) const {
  if constexpr (std::is_same_v<T, float>) {
    // kiss_fft_cpx is {float r, i}: layout-compatible with std::complex<float>.
    kiss_fftr(impl_->fwd, in, reinterpret_cast<kiss_fft_cpx*>(out));
  } else {
    impl_->fft.fwd(out, in, static_cast<int>(n_));
  }
}

template <class T>
void RealFFT<T>::inverse(const std::complex<T>* in, T* out) const {
  if constexpr (std::is_same_v<T, float>) {
    kiss_fftri(impl_->inv, reinterpret_cast<const kiss_fft_cpx*>(in), out);
  } else {
    impl_->fft.inv(out, in, static_cast<int>(n_));
  }
}

template <class T>
void direct_convolve(const T* x, long nx, const T* h, long nh, T* y) {
  for (long i = 0; i < nx + nh - 1; ++i) y[i] = T(0);
  for (long i = 0; i < nx; ++i)
    for (long j = 0; j < nh; ++j) y[i + j] += x[i] * h[j];
}

template <class T>
void fft_convolve(const T* x, long nx, const T* h, long nh, T* y) {
  if (nx <= 0 || nh <= 0) return;
  const long ny = nx + nh - 1;
  if (nx * nh <= 4096) return direct_convolve(x, nx, h, nh, y);  // below this the FFT costs more
  const long n = fast_fft_size(ny);
  RealFFT<T> plan(n);
  std::vector<T> a(static_cast<size_t>(n), T(0)), b(static_cast<size_t>(n), T(0));
  std::copy(x, x + nx, a.begin());
  std::copy(h, h + nh, b.begin());
  std::vector<std::complex<T>> fa(static_cast<size_t>(plan.bins())), fb(fa.size());
  plan.forward(a.data(), fa.data());
  plan.forward(b.data(), fb.data());
  for (size_t k = 0; k < fa.size(); ++k) fa[k] *= fb[k];
  plan.inverse(fa.data(), a.data());
  const T scale = T(1) / static_cast<T>(n);
  for (long i = 0; i < ny; ++i) y[i] = a[static_cast<size_t>(i)] * scale;
}

template class RealFFT<float>;
template class RealFFT<double>;
template void fft_convolve<float>(const float*, long, const float*, long, float*);
template void fft_convolve<double>(const double*, long, const double*, long, double*);
template void direct_convolve<float>(const float*, long, const float*, long, float*);
template void direct_convolve<double>(const double*, long, const double*, long, double*);

}  // namespace pianograd::kernels::cpu
