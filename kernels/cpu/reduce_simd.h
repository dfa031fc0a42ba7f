// The xsimd bodies of the row-wise reduction kernels, templated on the architecture. Included only by
// the per-ISA translation units (reduce_<isa>.cpp), each compiled with its own -m flags.
#pragma once
#include <cmath>
#include <limits>

#include <xsimd/xsimd.hpp>

#include "kernels/cpu/reduce.h"

namespace pianograd::kernels::cpu::simd {

template <class T, class A>
inline xsimd::batch<T, A> ld(const T* p) {
  return xsimd::batch<T, A>::load_unaligned(p);
}

// Sum of a row. Four independent accumulators hide the add latency and, as a side effect, make the
// float rounding error grow with n / (4W) rather than n.
template <class A, class T>
inline T row_sum(const T* x, long n) {
  using B = xsimd::batch<T, A>;
  constexpr long W = static_cast<long>(B::size);
  B a0(T(0)), a1(T(0)), a2(T(0)), a3(T(0));
  long i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    a0 += ld<T, A>(x + i);
    a1 += ld<T, A>(x + i + W);
    a2 += ld<T, A>(x + i + 2 * W);
    a3 += ld<T, A>(x + i + 3 * W);
  }
  for (; i + W <= n; i += W) a0 += ld<T, A>(x + i);
  T s = xsimd::hadd((a0 + a1) + (a2 + a3));
  for (; i < n; ++i) s += x[i];
  return s;
}

// max (or min) of a row of n >= 1 elements; any NaN makes the result NaN (as torch.max), which the
// plain select-based lane max would otherwise drop depending on operand order.
template <class A, bool IsMin, class T>
inline T row_extremum(const T* x, long n) {
  using B = xsimd::batch<T, A>;
  constexpr long W = static_cast<long>(B::size);
  auto better = [](T a, T b) { return IsMin ? a < b : a > b; };
  T m = x[0];
  long i = 0;
  bool nan = false;
  if (n >= W) {
    B vm = ld<T, A>(x);
    // xsimd::isnan, not v != v: xsimd 8.1's AVX neq uses the ordered predicate (NaN != NaN is false).
    auto vnan = xsimd::isnan(vm);
    for (i = W; i + W <= n; i += W) {
      const B v = ld<T, A>(x + i);
      vnan = vnan | xsimd::isnan(v);
      vm = IsMin ? xsimd::select(v < vm, v, vm) : xsimd::select(v > vm, v, vm);
    }
    nan = xsimd::any(vnan);
    T lanes[W];
    vm.store_unaligned(lanes);
    m = lanes[0];
    for (long k = 1; k < W; ++k)
      if (better(lanes[k], m)) m = lanes[k];
  }
  for (; i < n; ++i) {
    nan = nan || std::isnan(x[i]);
    if (better(x[i], m)) m = x[i];
  }
  return nan ? std::numeric_limits<T>::quiet_NaN() : m;
}

// sum_k exp(x_k - m): the stable core of softmax and logsumexp. When y is given it also stores the
// exponentials (softmax reuses them instead of computing exp twice).
template <class A, class T>
inline T row_sum_exp(const T* x, T m, T* y, long n) {
  using B = xsimd::batch<T, A>;
  constexpr long W = static_cast<long>(B::size);
  const B vm(m);
  B a0(T(0)), a1(T(0));
  long i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    const B e0 = xsimd::exp(ld<T, A>(x + i) - vm), e1 = xsimd::exp(ld<T, A>(x + i + W) - vm);
    if (y) {
      e0.store_unaligned(y + i);
      e1.store_unaligned(y + i + W);
    }
    a0 += e0;
    a1 += e1;
  }
  for (; i + W <= n; i += W) {
    const B e = xsimd::exp(ld<T, A>(x + i) - vm);
    if (y) e.store_unaligned(y + i);
    a0 += e;
  }
  T s = xsimd::hadd(a0 + a1);
  for (; i < n; ++i) {
    const T e = std::exp(x[i] - m);
    if (y) y[i] = e;
    s += e;
  }
  return s;
}

template <class A, class T>
void sum_rows(const T* x, T* y, long rows, long n) {
  for (long r = 0; r < rows; ++r) y[r] = row_sum<A>(x + r * n, n);
}

template <class A, class T>
void max_rows(const T* x, T* y, long rows, long n, bool is_min) {
  for (long r = 0; r < rows; ++r) y[r] = is_min ? row_extremum<A, true>(x + r * n, n) : row_extremum<A, false>(x + r * n, n);
}

template <class A, class T>
void logsumexp_rows(const T* x, T* y, long rows, long n) {
  for (long r = 0; r < rows; ++r) {
    const T* xr = x + r * n;
    const T m = row_extremum<A, false>(xr, n);
    // +-inf and NaN maxima are already the answer (and would turn x - m into NaN).
    y[r] = std::isfinite(m) ? m + std::log(row_sum_exp<A>(xr, m, static_cast<T*>(nullptr), n)) : m;
  }
}

template <class A, class T>
void softmax_rows(const T* x, T* y, long rows, long n, bool log) {
  using B = xsimd::batch<T, A>;
  constexpr long W = static_cast<long>(B::size);
  for (long r = 0; r < rows; ++r) {
    const T* xr = x + r * n;
    T* yr = y + r * n;
    const T m = row_extremum<A, false>(xr, n);
    long i = 0;
    if (log) {
      // (x - m) - log s keeps the small differences exact even when m is large.
      const T ls = std::log(row_sum_exp<A>(xr, m, static_cast<T*>(nullptr), n));
      const B vm(m), vls(ls);
      for (; i + W <= n; i += W) ((ld<T, A>(xr + i) - vm) - vls).store_unaligned(yr + i);
      for (; i < n; ++i) yr[i] = (xr[i] - m) - ls;
    } else {
      const T inv = T(1) / row_sum_exp<A>(xr, m, yr, n);
      const B vinv(inv);
      for (; i + W <= n; i += W) (ld<T, A>(yr + i) * vinv).store_unaligned(yr + i);
      for (; i < n; ++i) yr[i] *= inv;
    }
  }
}

template <class A, class T>
void softmax_backward_rows(const T* y, const T* gy, T* gx, long rows, long n, bool log) {
  using B = xsimd::batch<T, A>;
  constexpr long W = static_cast<long>(B::size);
  for (long r = 0; r < rows; ++r) {
    const T* yr = y + r * n;
    const T* gr = gy + r * n;
    T* o = gx + r * n;
    long i = 0;
    if (log) {  // d log_softmax: gx = gy - softmax * sum(gy), softmax = exp(y)
      const T s = row_sum<A>(gr, n);
      const B vs(s);
      for (; i + W <= n; i += W) (ld<T, A>(gr + i) - xsimd::exp(ld<T, A>(yr + i)) * vs).store_unaligned(o + i);
      for (; i < n; ++i) o[i] = gr[i] - std::exp(yr[i]) * s;
    } else {  // d softmax: gx = y * (gy - <gy, y>)
      B acc(T(0));
      for (; i + W <= n; i += W) acc = xsimd::fma(ld<T, A>(gr + i), ld<T, A>(yr + i), acc);
      T dot = xsimd::hadd(acc);
      for (; i < n; ++i) dot += gr[i] * yr[i];
      const B vd(dot);
      for (i = 0; i + W <= n; i += W) (ld<T, A>(yr + i) * (ld<T, A>(gr + i) - vd)).store_unaligned(o + i);
      for (; i < n; ++i) o[i] = yr[i] * (gr[i] - dot);
    }
  }
}

template <class A, class T>
void layer_norm_rows(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, long rows, long n, T eps) {
  using B = xsimd::batch<T, A>;
  constexpr long W = static_cast<long>(B::size);
  for (long r = 0; r < rows; ++r) {
    const T* xr = x + r * n;
    T* yr = y + r * n;
    // Two passes (mean, then squared deviations) rather than E[x^2] - E[x]^2, which cancels
    // catastrophically in float when |mean| >> std.
    const T mu = row_sum<A>(xr, n) / static_cast<T>(n);
    const B vmu(mu);
    B acc(T(0));
    long i = 0;
    for (; i + W <= n; i += W) {
      const B d = ld<T, A>(xr + i) - vmu;
      acc = xsimd::fma(d, d, acc);
    }
    T ss = xsimd::hadd(acc);
    for (; i < n; ++i) ss += (xr[i] - mu) * (xr[i] - mu);
    const T rs = T(1) / std::sqrt(ss / static_cast<T>(n) + eps);
    mean[r] = mu;
    rstd[r] = rs;
    const B vrs(rs);
    for (i = 0; i + W <= n; i += W) {
      B v = (ld<T, A>(xr + i) - vmu) * vrs;
      if (w) v *= ld<T, A>(w + i);
      if (b) v += ld<T, A>(b + i);
      v.store_unaligned(yr + i);
    }
    for (; i < n; ++i) {
      T v = (xr[i] - mu) * rs;
      if (w) v *= w[i];
      if (b) v += b[i];
      yr[i] = v;
    }
  }
}

template <class A, class T>
void layer_norm_backward_rows(const T* x, const T* mean, const T* rstd, const T* w, const T* gy, T* gx, T* gw,
                              T* gb, long rows, long n) {
  using B = xsimd::batch<T, A>;
  constexpr long W = static_cast<long>(B::size);
  const T inv_n = T(1) / static_cast<T>(n);
  for (long r = 0; r < rows; ++r) {
    const T* xr = x + r * n;
    const T* gr = gy + r * n;
    T* o = gx + r * n;
    const T mu = mean[r], rs = rstd[r];
    const B vmu(mu), vrs(rs);
    // Pass 1: sum g and sum g*xhat (g = gy*w), and the weight/bias gradients.
    B sg(T(0)), sgx(T(0));
    long i = 0;
    for (; i + W <= n; i += W) {
      const B xh = (ld<T, A>(xr + i) - vmu) * vrs;
      const B g0 = ld<T, A>(gr + i);
      const B g = w ? g0 * ld<T, A>(w + i) : g0;
      sg += g;
      sgx = xsimd::fma(g, xh, sgx);
      if (gw) xsimd::fma(g0, xh, ld<T, A>(gw + i)).store_unaligned(gw + i);
      if (gb) (ld<T, A>(gb + i) + g0).store_unaligned(gb + i);
    }
    T s_g = xsimd::hadd(sg), s_gx = xsimd::hadd(sgx);
    for (; i < n; ++i) {
      const T xh = (xr[i] - mu) * rs;
      const T g = w ? gr[i] * w[i] : gr[i];
      s_g += g;
      s_gx += g * xh;
      if (gw) gw[i] += gr[i] * xh;
      if (gb) gb[i] += gr[i];
    }
    // Pass 2: gx = rstd * (g - mean(g) - xhat * mean(g xhat)).
    const T mg = s_g * inv_n, mgx = s_gx * inv_n;
    const B vmg(mg), vmgx(mgx);
    for (i = 0; i + W <= n; i += W) {
      const B xh = (ld<T, A>(xr + i) - vmu) * vrs;
      const B g = w ? ld<T, A>(gr + i) * ld<T, A>(w + i) : ld<T, A>(gr + i);
      (vrs * (g - vmg - xh * vmgx)).store_unaligned(o + i);
    }
    for (; i < n; ++i) {
      const T xh = (xr[i] - mu) * rs;
      const T g = w ? gr[i] * w[i] : gr[i];
      o[i] = rs * (g - mg - xh * mgx);
    }
  }
}

}  // namespace pianograd::kernels::cpu::simd

// Instantiates one ISA namespace's entry points for float and double.
#define PG_REDUCE_ISA_INST(ns, T)                                                                    \
  template void sum_rows<T>(const T*, T*, long, long);                                              \
  template void max_rows<T>(const T*, T*, long, long, bool);                                        \
  template void logsumexp_rows<T>(const T*, T*, long, long);                                        \
  template void softmax_rows<T>(const T*, T*, long, long, bool);                                    \
  template void softmax_backward_rows<T>(const T*, const T*, T*, long, long, bool);                 \
  template void layer_norm_rows<T>(const T*, const T*, const T*, T*, T*, T*, long, long, T);        \
  template void layer_norm_backward_rows<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*, long, long);

#define PG_REDUCE_ISA_DEFINE(ns, Arch)                                                               \
  namespace pianograd::kernels::cpu::ns {                                                            \
  template <class T> void sum_rows(const T* x, T* y, long rows, long n) { simd::sum_rows<Arch>(x, y, rows, n); } \
  template <class T> void max_rows(const T* x, T* y, long rows, long n, bool is_min) {               \
    simd::max_rows<Arch>(x, y, rows, n, is_min);                                                     \
  }                                                                                                  \
  template <class T> void logsumexp_rows(const T* x, T* y, long rows, long n) {                      \
    simd::logsumexp_rows<Arch>(x, y, rows, n);                                                       \
  }                                                                                                  \
  template <class T> void softmax_rows(const T* x, T* y, long rows, long n, bool log) {              \
    simd::softmax_rows<Arch>(x, y, rows, n, log);                                                    \
  }                                                                                                  \
  template <class T> void softmax_backward_rows(const T* y, const T* gy, T* gx, long rows, long n, bool log) { \
    simd::softmax_backward_rows<Arch>(y, gy, gx, rows, n, log);                                      \
  }                                                                                                  \
  template <class T>                                                                                 \
  void layer_norm_rows(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, long rows, long n, T eps) { \
    simd::layer_norm_rows<Arch>(x, w, b, y, mean, rstd, rows, n, eps);                               \
  }                                                                                                  \
  template <class T>                                                                                 \
  void layer_norm_backward_rows(const T* x, const T* mean, const T* rstd, const T* w, const T* gy, T* gx, \
                                T* gw, T* gb, long rows, long n) {                                   \
    simd::layer_norm_backward_rows<Arch>(x, mean, rstd, w, gy, gx, gw, gb, rows, n);                 \
  }                                                                                                  \
  PG_REDUCE_ISA_INST(ns, float)                                                                      \
  PG_REDUCE_ISA_INST(ns, double)                                                                     \
  }
