// The backward body of the fused attention, included by attention_simd.h (FlashAttention-2's
// Algorithm 2, Dao 2023). A work item owns a set of key tiles of one head, so it owns their dK and dV
// rows outright; per key tile it walks every query row that sees the tile, kAttnRows at a time:
//   S = Q (scale K)^T, P = exp(S - L) (masked: 0), dP = dO V^T, dS = P (dP - D)     (vectorised over keys)
//   dV^T += dO^T P, dK^T += Q^T dS                                               (vectorised over keys)
//   dQ += dS (scale K)                                                            (vectorised over d)
// with D_i = <dout_i, out_i> computed once per item. dQ sums over every key tile of the head, which
// several items may share: each item adds into its own [tq, dp] slice of dq_partial (zeroed by the
// driver, which sums the slices in a fixed order, so the result does not depend on the schedule).
#pragma once

namespace pianograd::kernels::cpu::simd {

// The backward's scratch (attn_backward_scratch elements): packed tiles, dK^T / dV^T accumulators,
// the row block's scores/P and dP/dS, the head's D_i, a zero row (query rows past tq) and a sink row
// (their dq).
template <class T>
struct AttnBackwardScratch {
  T *kt, *vt, *ks, *dkt, *dvt, *sp, *dpr, *dsum, *zero, *sink;
};

template <class A, class T>
AttnBackwardScratch<T> attn_backward_layout(T* s, long tq, long d) {
  const long dp = attn_round_up(d, kAttnDPad), tile = kAttnKeyTile;
  AttnBackwardScratch<T> l;
  l.kt = s;
  l.vt = l.kt + d * tile;
  l.ks = l.vt + d * tile;
  l.dkt = l.ks + tile * dp;
  l.dvt = l.dkt + d * tile;
  l.sp = l.dvt + d * tile;
  l.dpr = l.sp + kAttnRows * tile;
  l.dsum = l.dpr + kAttnRows * tile;
  l.zero = l.dsum + tq;
  l.sink = l.zero + dp;
  return l;
}

template <class A, class T>
void attn_backward_tile(const AttentionBackward<T>& a, long h, long j0, T* dq, const AttnBackwardScratch<T>& s) {
  using B = xsimd::batch<T, A>;
  constexpr long W = static_cast<long>(B::size), R = kAttnRows, tile = kAttnKeyTile;
  static_assert(tile % (kAttnKeyBatches * W) == 0 && kAttnDPad % W == 0, "tile sizes must be multiples of the lanes");
  const long d = a.d, dp = attn_round_up(d, kAttnDPad), tq = a.tq, tk = a.tk;
  T *kt = s.kt, *vt = s.vt, *ks = s.ks, *dkt = s.dkt, *dvt = s.dvt, *zero = s.zero, *sink = s.sink;
  T* sp = s.sp;    // scores, then P
  T* dpr = s.dpr;  // dP, then dS
  const T* dsum = s.dsum;
  const T* q = a.q + h * tq * d;
  const T* dout = a.dout + h * tq * d;
  const T* lse = a.lse + h * tq;
  const long n = std::min(tile, tk - j0);
  attn_pack_transposed<A>(a.k + (h * tk + j0) * d, n, d, a.scale, kt);
  attn_pack_transposed<A>(a.v + (h * tk + j0) * d, n, d, T(1), vt);
  attn_pack_rows<A>(a.k + (h * tk + j0) * d, n, d, dp, a.scale, ks);
  std::fill(dkt, dkt + 2 * d * tile, T(0));  // dkt and dvt are adjacent
  std::fill(zero, zero + dp, T(0));
  const B iota = attn_iota<A, T>(), zb(T(0));
  for (long i = attn_first_row(j0, tq, tk, a.causal); i < tq; i += R) {
    const T* qr[R];
    const T* dor[R];
    T* dqr[R];
    long vis[R], maxvis = 0;
    for (long r = 0; r < R; ++r) {
      const bool real = i + r < tq;
      qr[r] = real ? q + (i + r) * d : zero;
      dor[r] = real ? dout + (i + r) * d : zero;
      dqr[r] = real ? dq + (i + r) * dp : sink;
      vis[r] = real ? std::clamp(attn_key_limit(i + r, tq, tk, a.causal) - j0, 0L, n) : 0;
      maxvis = std::max(maxvis, vis[r]);
    }
    const long nprod = attn_round_up(maxvis, kAttnKeyBatches * W), ncols = attn_round_up(maxvis, W);
    attn_row_products<A>(qr, kt, d, nprod, sp);
    attn_row_products<A>(dor, vt, d, nprod, dpr);
    for (long r = 0; r < R; ++r) {
      T* pr = sp + r * tile;
      T* gr = dpr + r * tile;
      const bool real = i + r < tq;
      const B lim(static_cast<T>(vis[r])), l(real ? lse[i + r] : T(0)), di(real ? dsum[i + r] : T(0));
      for (long c = 0; c < ncols; c += W) {
        const B p = xsimd::select(iota + B(T(c)) < lim, xsimd::exp(attn_ld<A>(pr + c) - l), zb);
        p.store_unaligned(pr + c);
        (p * (attn_ld<A>(gr + c) - di)).store_unaligned(gr + c);  // attn_dscore, a batch at a time
      }
    }
    // dV^T[dd][c] += sum_r dout[r][dd] P[r][c], dK^T[dd][c] += sum_r q[r][dd] dS[r][c]: a column batch
    // of P and dS stays in registers while dd runs.
    for (long c = 0; c < ncols; c += W) {
      B pb[R], sb[R];
      for (long r = 0; r < R; ++r) {
        pb[r] = attn_ld<A>(sp + r * tile + c);
        sb[r] = attn_ld<A>(dpr + r * tile + c);
      }
      for (long dd = 0; dd < d; ++dd) {
        B av = attn_ld<A>(dvt + dd * tile + c), ak = attn_ld<A>(dkt + dd * tile + c);
        for (long r = 0; r < R; ++r) {
          av = xsimd::fma(B(dor[r][dd]), pb[r], av);
          ak = xsimd::fma(B(qr[r][dd]), sb[r], ak);
        }
        av.store_unaligned(dvt + dd * tile + c);
        ak.store_unaligned(dkt + dd * tile + c);
      }
    }
    attn_accumulate_rows<A>(dpr, ks, ncols, dp, dqr);
  }
  // dk = scale * (dK^T)^T, dv = (dV^T)^T for the tile's n keys.
  T* dk = a.dk + (h * tk + j0) * d;
  T* dv = a.dv + (h * tk + j0) * d;
  for (long jj = 0; jj < n; ++jj)
    for (long dd = 0; dd < d; ++dd) {
      dk[jj * d + dd] = a.scale * dkt[dd * tile + jj];
      dv[jj * d + dd] = dvt[dd * tile + jj];
    }
}

// Backward items [lo, hi): item = head * groups + g owns the head's key tiles g, g + groups, ...
// (interleaved, so under a causal mask, where later tiles are seen by fewer rows, groups stay even).
template <class A, class T>
void attention_backward_items(const AttentionBackward<T>& a, long groups, long lo, long hi, T* dq_partial,
                              T* scratch) {
  const long d = a.d, dp = attn_round_up(d, kAttnDPad), tq = a.tq;
  const AttnBackwardScratch<T> s = attn_backward_layout<A>(scratch, tq, d);
  T* dsum = s.dsum;
  for (long it = lo; it < hi; ++it) {
    const long h = it / groups, g = it % groups;
    // D_i = <dout_i, out_i> (= sum_j P_ij dP_ij), for every row of the head.
    for (long i = 0; i < tq; ++i) {
      const T* o = a.o + (h * tq + i) * d;
      const T* go = a.dout + (h * tq + i) * d;
      T acc = 0;
      for (long dd = 0; dd < d; ++dd) acc += go[dd] * o[dd];
      dsum[i] = acc;
    }
    for (long t = g; t < attn_key_tiles(a.tk); t += groups)
      attn_backward_tile<A>(a, h, t * kAttnKeyTile, dq_partial + it * tq * dp, s);
  }
}

}  // namespace pianograd::kernels::cpu::simd
