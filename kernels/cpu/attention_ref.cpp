// Scalar references of the fused attention: the textbook softmax attention, one query row at a time,
// its tk scores materialised (never a Tq x Tk matrix), in plain loops. The backward recomputes the
// row's softmax from q and k (not from the saved logsumexp) and takes the softmax's VJP in its
// materialised form, sum_j P_ij dP_ij, so it checks the fused kernels' D_i = <dout_i, out_i> shortcut
// rather than repeating it.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/common/attention_math.h"
#include "kernels/cpu/attention.h"

namespace pianograd::kernels::cpu::ref {

namespace {
template <class T>
T dot(const T* a, const T* b, long n) {
  T s = 0;
  for (long i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

// p[j] = softmax_j(scale <q, k_j>) over the row's lim visible keys; returns the row's logsumexp.
template <class T>
T softmax_row(const T* q, const T* k, long lim, long d, T scale, T* p) {
  T m = -INFINITY;
  for (long j = 0; j < lim; ++j) {
    p[j] = scale * dot(q, k + j * d, d);
    m = std::max(m, p[j]);
  }
  T l = 0;
  for (long j = 0; j < lim; ++j) {
    p[j] = std::exp(p[j] - m);
    l += p[j];
  }
  for (long j = 0; j < lim; ++j) p[j] /= l;
  return m + std::log(l);
}
}  // namespace

template <class T>
void attention_forward(const AttentionForward<T>& a) {
  const long d = a.d;
  std::vector<T> p(static_cast<size_t>(a.tk));
  for (long h = 0; h < a.heads; ++h) {
    const T* k = a.k + h * a.tk * d;
    const T* v = a.v + h * a.tk * d;
    for (long i = 0; i < a.tq; ++i) {
      const long row = h * a.tq + i, lim = attn_key_limit(i, a.tq, a.tk, a.causal);
      a.lse[row] = softmax_row(a.q + row * d, k, lim, d, a.scale, p.data());
      T* o = a.o + row * d;
      std::fill(o, o + d, T(0));
      for (long j = 0; j < lim; ++j)
        for (long dd = 0; dd < d; ++dd) o[dd] += p[static_cast<size_t>(j)] * v[j * d + dd];
    }
  }
}

template <class T>
void attention_backward(const AttentionBackward<T>& a) {
  const long d = a.d;
  std::vector<T> p(static_cast<size_t>(a.tk)), dp(p.size());
  std::fill(a.dk, a.dk + a.heads * a.tk * d, T(0));
  std::fill(a.dv, a.dv + a.heads * a.tk * d, T(0));
  for (long h = 0; h < a.heads; ++h) {
    const T* k = a.k + h * a.tk * d;
    const T* v = a.v + h * a.tk * d;
    T* dk = a.dk + h * a.tk * d;
    T* dv = a.dv + h * a.tk * d;
    for (long i = 0; i < a.tq; ++i) {
      const long row = h * a.tq + i, lim = attn_key_limit(i, a.tq, a.tk, a.causal);
      const T* q = a.q + row * d;
      const T* go = a.dout + row * d;
      softmax_row(q, k, lim, d, a.scale, p.data());
      // dP_ij = <dout_i, v_j>; the softmax VJP: dS_ij = P_ij (dP_ij - sum_j' P_ij' dP_ij').
      T sum = 0;
      for (long j = 0; j < lim; ++j) {
        dp[static_cast<size_t>(j)] = dot(go, v + j * d, d);
        sum += p[static_cast<size_t>(j)] * dp[static_cast<size_t>(j)];
      }
      T* dq = a.dq + row * d;
      std::fill(dq, dq + d, T(0));
      for (long j = 0; j < lim; ++j) {
        const T pj = p[static_cast<size_t>(j)], ds = pj * (dp[static_cast<size_t>(j)] - sum);
        for (long dd = 0; dd < d; ++dd) {
          dq[dd] += a.scale * ds * k[j * d + dd];
          dk[j * d + dd] += a.scale * ds * q[dd];
          dv[j * d + dd] += pj * go[dd];
        }
      }
    }
  }
}

template void attention_forward<float>(const AttentionForward<float>&);
template void attention_forward<double>(const AttentionForward<double>&);
template void attention_backward<float>(const AttentionBackward<float>&);
template void attention_backward<double>(const AttentionBackward<double>&);

}  // namespace pianograd::kernels::cpu::ref
