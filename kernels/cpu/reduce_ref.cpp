// Scalar references of the reduction kernels: the most direct loops over the [outer, n, inner] view,
// one output element at a time. Tests compare every ISA (and the strided path) against these.
#include <cmath>
#include <limits>

#include "kernels/cpu/reduce.h"

namespace pianograd::kernels::cpu::ref {

namespace {
template <class T>
T extremum(const T* x, long n, long inner, bool is_min) {
  T m = x[0];
  for (long k = 1; k < n; ++k) {
    const T v = x[k * inner];
    if (std::isnan(v)) return v;
    if (is_min ? v < m : v > m) m = v;
  }
  return m;
}
}  // namespace

template <class T>
void reduce_sum(const T* x, T* y, long outer, long n, long inner) {
  for (long o = 0; o < outer; ++o)
    for (long i = 0; i < inner; ++i) {
      T s = 0;
      for (long k = 0; k < n; ++k) s += x[(o * n + k) * inner + i];
      y[o * inner + i] = s;
    }
}

template <class T>
void reduce_max(const T* x, T* y, long outer, long n, long inner, bool is_min) {
  for (long o = 0; o < outer; ++o)
    for (long i = 0; i < inner; ++i) y[o * inner + i] = extremum(x + o * n * inner + i, n, inner, is_min);
}

template <class T>
void logsumexp(const T* x, T* y, long outer, long n, long inner) {
  for (long o = 0; o < outer; ++o)
    for (long i = 0; i < inner; ++i) {
      const T* p = x + o * n * inner + i;
      const T m = extremum(p, n, inner, false);
      T s = 0;
      for (long k = 0; k < n; ++k) s += std::exp(p[k * inner] - m);
      y[o * inner + i] = std::isfinite(m) ? m + std::log(s) : m;
    }
}

template <class T>
void softmax(const T* x, T* y, long outer, long n, long inner, bool log) {
  for (long o = 0; o < outer; ++o)
    for (long i = 0; i < inner; ++i) {
      const long base = o * n * inner + i;
      const T m = extremum(x + base, n, inner, false);
      T s = 0;
      for (long k = 0; k < n; ++k) s += std::exp(x[base + k * inner] - m);
      for (long k = 0; k < n; ++k) {
        const T d = x[base + k * inner] - m;
        y[base + k * inner] = log ? d - std::log(s) : std::exp(d) / s;
      }
    }
}

template <class T>
void softmax_backward(const T* y, const T* gy, T* gx, long outer, long n, long inner, bool log) {
  for (long o = 0; o < outer; ++o)
    for (long i = 0; i < inner; ++i) {
      const long base = o * n * inner + i;
      T s = 0;
      for (long k = 0; k < n; ++k) s += log ? gy[base + k * inner] : gy[base + k * inner] * y[base + k * inner];
      for (long k = 0; k < n; ++k) {
        const long j = base + k * inner;
        gx[j] = log ? gy[j] - std::exp(y[j]) * s : y[j] * (gy[j] - s);
      }
    }
}

template <class T>
void layer_norm(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, long rows, long n, T eps) {
  for (long r = 0; r < rows; ++r) {
    const T* xr = x + r * n;
    T mu = 0, ss = 0;
    for (long i = 0; i < n; ++i) mu += xr[i];
    mu /= static_cast<T>(n);
    for (long i = 0; i < n; ++i) ss += (xr[i] - mu) * (xr[i] - mu);
    const T rs = T(1) / std::sqrt(ss / static_cast<T>(n) + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (long i = 0; i < n; ++i) y[r * n + i] = (xr[i] - mu) * rs * (w ? w[i] : T(1)) + (b ? b[i] : T(0));
  }
}

template <class T>
void layer_norm_backward(const T* x, const T* mean, const T* rstd, const T* w, const T* gy, T* gx, T* gw,
                         T* gb, long rows, long n) {
  for (long i = 0; i < n; ++i) {
    if (gw) gw[i] = 0;
    if (gb) gb[i] = 0;
  }
  for (long r = 0; r < rows; ++r) {
    T sg = 0, sgx = 0;
    for (long i = 0; i < n; ++i) {
      const T xh = (x[r * n + i] - mean[r]) * rstd[r];
      const T g = gy[r * n + i] * (w ? w[i] : T(1));
      sg += g;
      sgx += g * xh;
      if (gw) gw[i] += gy[r * n + i] * xh;
      if (gb) gb[i] += gy[r * n + i];
    }
    for (long i = 0; i < n; ++i) {
      const T xh = (x[r * n + i] - mean[r]) * rstd[r];
      const T g = gy[r * n + i] * (w ? w[i] : T(1));
      gx[r * n + i] = rstd[r] * (g - sg / static_cast<T>(n) - xh * sgx / static_cast<T>(n));
    }
  }
}

#define PG_REDUCE_REF_INST(T)                                                                         \
  template void reduce_sum<T>(const T*, T*, long, long, long);                                       \
  template void reduce_max<T>(const T*, T*, long, long, long, bool);                                 \
  template void logsumexp<T>(const T*, T*, long, long, long);                                        \
  template void softmax<T>(const T*, T*, long, long, long, bool);                                    \
  template void softmax_backward<T>(const T*, const T*, T*, long, long, long, bool);                 \
  template void layer_norm<T>(const T*, const T*, const T*, T*, T*, T*, long, long, T);              \
  template void layer_norm_backward<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*, long, long);
PG_REDUCE_REF_INST(float)
PG_REDUCE_REF_INST(double)
#undef PG_REDUCE_REF_INST

}  // namespace pianograd::kernels::cpu::ref
