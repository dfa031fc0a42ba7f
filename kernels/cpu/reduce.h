// Reduction, softmax and layer-norm kernels. A reduction over one axis sees the tensor as
// [outer, n, inner] (row-major): n is the reduced length, inner the stride between its elements.
// inner == 1 (the contiguous last-axis case) runs the xsimd row kernels of the active ISA; inner > 1
// runs a strided path whose inner loop walks contiguous memory (the compiler vectorises it).
#pragma once
#include <cstdint>

namespace pianograd::kernels::cpu {

// y[o, i] = sum_k x[o, k, i]; y has outer*inner elements.
template <class T> void reduce_sum(const T* x, T* y, long outer, long n, long inner);
// y[o, i] = max_k (min_k when is_min) x[o, k, i]; NaN propagates (and is the value when n == 0).
template <class T> void reduce_max(const T* x, T* y, long outer, long n, long inner, bool is_min);
// Values as reduce_max plus idx = the first k attaining them (the first NaN when there is one; -1 when n == 0).
template <class T>
void reduce_arg(const T* x, T* y, int64_t* idx, long outer, long n, long inner, bool is_min);
// y[o, i] = log sum_k exp x[o, k, i], shifted by the max so it never overflows (-inf when n == 0).
template <class T> void logsumexp(const T* x, T* y, long outer, long n, long inner);
// softmax (or log_softmax when log) along k; same shape as x.
template <class T> void softmax(const T* x, T* y, long outer, long n, long inner, bool log);
// gx from the forward output y and gy: softmax: y * (gy - <gy, y>); log_softmax: gy - exp(y) sum(gy).
template <class T>
void softmax_backward(const T* y, const T* gy, T* gx, long outer, long n, long inner, bool log);

// Layer norm over `rows` contiguous rows of length n: mean, rstd = 1/sqrt(biased var + eps),
// y = (x - mean) * rstd * w + b. w, b may be null (identity affine).
template <class T>
void layer_norm(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, long rows, long n, T eps);
// gx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = gy * w, xhat = (x - mean) * rstd;
// gw = sum_rows gy * xhat, gb = sum_rows gy (each written when non-null).
template <class T>
void layer_norm_backward(const T* x, const T* mean, const T* rstd, const T* w, const T* gy, T* gx, T* gw,
                         T* gb, long rows, long n);

// Scalar references: plain loops, single-threaded, used by tests and benchmarks.
namespace ref {
template <class T> void reduce_sum(const T* x, T* y, long outer, long n, long inner);
template <class T> void reduce_max(const T* x, T* y, long outer, long n, long inner, bool is_min);
template <class T> void logsumexp(const T* x, T* y, long outer, long n, long inner);
template <class T> void softmax(const T* x, T* y, long outer, long n, long inner, bool log);
template <class T>
void softmax_backward(const T* y, const T* gy, T* gx, long outer, long n, long inner, bool log);
template <class T>
void layer_norm(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, long rows, long n, T eps);
template <class T>
void layer_norm_backward(const T* x, const T* mean, const T* rstd, const T* w, const T* gy, T* gx, T* gw,
                         T* gb, long rows, long n);
}  // namespace ref

// One namespace per ISA translation unit (reduce_<isa>.cpp): contiguous rows, single-threaded.
// layer_norm_backward_rows accumulates into gw/gb (+=) so the dispatcher can give each thread its own.
#define PG_REDUCE_ISA_DECL(ns)                                                                       \
  namespace ns {                                                                                     \
  template <class T> void sum_rows(const T* x, T* y, long rows, long n);                             \
  template <class T> void max_rows(const T* x, T* y, long rows, long n, bool is_min);                \
  template <class T> void logsumexp_rows(const T* x, T* y, long rows, long n);                       \
  template <class T> void softmax_rows(const T* x, T* y, long rows, long n, bool log);               \
  template <class T> void softmax_backward_rows(const T* y, const T* gy, T* gx, long rows, long n, bool log); \
  template <class T>                                                                                 \
  void layer_norm_rows(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, long rows, long n, T eps); \
  template <class T>                                                                                 \
  void layer_norm_backward_rows(const T* x, const T* mean, const T* rstd, const T* w, const T* gy, T* gx, \
                                T* gw, T* gb, long rows, long n);                                    \
  }
PG_REDUCE_ISA_DECL(sse2)
PG_REDUCE_ISA_DECL(avx2)
PG_REDUCE_ISA_DECL(avx512)
#undef PG_REDUCE_ISA_DECL

}  // namespace pianograd::kernels::cpu
