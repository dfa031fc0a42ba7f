// Per-element math of the fused causal attention (kernels/cpu/attention.h, kernels/cuda/attention.cu),
// shared by the CPU kernels and the CUDA ones so both mask, rescale and differentiate alike.
//
// Notation of FlashAttention-2 (Dao 2023), per query row i, keys j, s_ij = scale * <q_i, k_j>:
//   forward  (online softmax, Milakov & Gimelshein 2018): over key tiles, m' = max(m, max_j s_ij),
//            l' = l * exp(m - m') + sum_j exp(s_ij - m'), o' = o * exp(m - m') + sum_j exp(s_ij - m') v_j;
//            finally o_i = o / l and the row's logsumexp L_i = m + log l (saved for the backward).
//   backward P_ij = exp(s_ij - L_i) (recomputed, no Tq x Tk matrix), D_i = <dout_i, out_i>,
//            dP_ij = <dout_i, v_j>, dS_ij = P_ij (dP_ij - D_i);
//            dv_j = sum_i P_ij dout_i, dk_j = scale sum_i dS_ij q_i, dq_i = scale sum_j dS_ij k_j.
// Templates only (no plain inline functions): the CPU's ISA units include this header too.
#pragma once
#include <cmath>

#include "kernels/common/host_device.h"

namespace pianograd::kernels {

// The number of keys query row i sees: keys j < attn_key_limit. Causal masking is aligned to the END
// of the key sequence (j <= i + (tk - tq)), so one query with tk keys of history (KV-cache decoding)
// sees them all, and tq == tk is the usual lower triangle. The caller guarantees tq <= tk when
// causal, so every row sees at least key 0.
template <class L>
PG_HD L attn_key_limit(L i, L tq, L tk, bool causal) {
  if (!causal) return tk;
  const L lim = i + (tk - tq) + 1;
  return lim < tk ? lim : tk;
}

// The first query row that sees key j (rows before it have it masked): the backward's start row.
template <class L>
PG_HD L attn_first_row(L j, L tq, L tk, bool causal) {
  if (!causal) return 0;
  const L r = j - (tk - tq);
  return r > 0 ? r : 0;
}

// The running state of one row's online softmax: the max m of the scores seen so far and the sum l of
// exp(s - m). Starts at m = -inf, l = 0.
template <class T>
struct OnlineSoftmax {
  T m, l;
  // Folds in a tile whose largest (unmasked) score is tile_max; returns the factor exp(m_old - m_new)
  // by which l and the output accumulator are rescaled. The tile's exp(s - m) terms are added to l by
  // the caller (add()). A first tile (m = -inf) gives exp(-inf) = 0: nothing to rescale.
  PG_HD T rescale(T tile_max) {
    const T mn = tile_max > m ? tile_max : m;
    const T alpha = m == mn ? T(1) : std::exp(m - mn);  // m == mn also covers -inf == -inf
    m = mn;
    l *= alpha;
    return alpha;
  }
  PG_HD void add(T tile_sum) { l += tile_sum; }
  // L = m + log l, the row's logsumexp of the scores.
  PG_HD T lse() const { return m + std::log(l); }
};

template <class T>
PG_HD OnlineSoftmax<T> online_softmax_init() {
  return OnlineSoftmax<T>{-INFINITY, T(0)};
}

// exp(s - shift), exactly 0 for a masked key: P_ij with shift = the saved logsumexp L_i (backward), or
// the unnormalised tile term with shift = the running max m (forward).
template <class T>
PG_HD T attn_prob(T s, T shift, bool visible) {
  return visible ? std::exp(s - shift) : T(0);
}

// dS_ij = P_ij (dP_ij - D_i): the softmax's VJP row by row, with D_i = <dout_i, out_i> standing in for
// sum_j P_ij dP_ij (equal, since out_i = sum_j P_ij v_j), which needs no pass over the keys.
template <class T>
PG_HD T attn_dscore(T p, T dp, T d_i) {
  return p * (dp - d_i);
}

}  // namespace pianograd::kernels
