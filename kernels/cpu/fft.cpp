#include "kernels/cpu/fft.h"

#include <kiss_fftr.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <unordered_map>
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
const RealFFT<T>& cached_plan(long n) {
  // Bounded so that a caller sweeping many sizes cannot grow a thread's memory without limit;
  // clearing is safe because no caller keeps a plan reference past its own call.
  constexpr size_t kMaxPlans = 32;
  thread_local std::unordered_map<long, std::unique_ptr<RealFFT<T>>> cache;
  auto it = cache.find(n);
  if (it != cache.end()) return *it->second;
  if (cache.size() >= kMaxPlans) cache.clear();
  return *cache.emplace(n, std::make_unique<RealFFT<T>>(n)).first->second;
}

namespace {
// Per-thread scratch reused across calls: a render's convolutions are ~50k points, and fresh
// vectors of that size cost page faults on every call.
template <class T>
struct ConvScratch {
  std::vector<T> a, b;
  std::vector<std::complex<T>> fa, fb;
};
template <class T>
ConvScratch<T>& conv_scratch() {
  thread_local ConvScratch<T> s;
  return s;
}
}  // namespace

template <class T>
void fft_convolve(const T* x, long nx, const T* h, long nh, T* y) {
  if (nx <= 0 || nh <= 0) return;
  fft_convolve_window(x, nx, h, nh, 0, nx + nh - 1, y);
}

template <class T>
void fft_convolve_window(const T* x, long nx, const T* h, long nh, long first, long count, T* y) {
  if (nx <= 0 || nh <= 0 || count <= 0) return;
  const long ny = nx + nh - 1;
  if (first < 0 || first + count > ny)
    throw std::invalid_argument("fft_convolve_window: window [" + std::to_string(first) + ", " +
                                std::to_string(first + count) + ") outside [0, " + std::to_string(ny) + ")");
  if (nx * nh <= 4096) {  // below this the FFT costs more: direct sums over the window only
    for (long i = first; i < first + count; ++i) {
      T acc(0);
      for (long j = std::max(0L, i - nx + 1); j <= std::min(i, nh - 1); ++j) acc += x[i - j] * h[j];
      y[i - first] = acc;
    }
    return;
  }
  const long n = fast_fft_size(std::max({nx, nh, first + count, ny - first}));
  const RealFFT<T>& plan = cached_plan<T>(n);
  ConvScratch<T>& s = conv_scratch<T>();
  const size_t un = static_cast<size_t>(n), ubins = static_cast<size_t>(plan.bins());
  s.a.resize(un);
  s.b.resize(un);
  s.fa.resize(ubins);
  s.fb.resize(ubins);
  std::copy(x, x + nx, s.a.begin());
  std::fill(s.a.begin() + nx, s.a.begin() + n, T(0));
  std::copy(h, h + nh, s.b.begin());
  std::fill(s.b.begin() + nh, s.b.begin() + n, T(0));
  plan.forward(s.a.data(), s.fa.data());
  plan.forward(s.b.data(), s.fb.data());
  for (size_t k = 0; k < ubins; ++k) s.fa[k] *= s.fb[k];
  plan.inverse(s.fa.data(), s.a.data());
  const T scale = T(1) / static_cast<T>(n);
  for (long i = 0; i < count; ++i) y[i] = s.a[static_cast<size_t>(first + i)] * scale;
}

template class RealFFT<float>;
template class RealFFT<double>;
template const RealFFT<float>& cached_plan<float>(long);
template const RealFFT<double>& cached_plan<double>(long);
template void fft_convolve<float>(const float*, long, const float*, long, float*);
template void fft_convolve<double>(const double*, long, const double*, long, double*);
template void fft_convolve_window<float>(const float*, long, const float*, long, long, long, float*);
template void fft_convolve_window<double>(const double*, long, const double*, long, long, long, double*);
template void direct_convolve<float>(const float*, long, const float*, long, float*);
template void direct_convolve<double>(const double*, long, const double*, long, double*);

}  // namespace pianograd::kernels::cpu
