// The xsimd bodies of the fused attention (kernels/cpu/attention.h), templated on the architecture.
// Included only by the per-ISA translation units (attention_<isa>.cpp, each compiled with its -m flags)
// and by the emulated-width test; every function takes the Arch as a template parameter, so no copy
// compiled with one ISA's flags can stand in for another's (ODR across ISA units).
//
// Two products dominate, and each is vectorised along the axis that needs no horizontal sum:
//  * scores S = Q (scale K)^T and, in the backward, dP = dO V^T: vectorised over KEYS, against a key
//    tile packed transposed ([d][kAttnKeyTile], scale folded in), kAttnRows query rows x 2 batches of
//    keys in registers, each query element broadcast;
//  * O += P V and dQ += dS (scale K): vectorised over the HEAD DIM, against a key tile packed row-major
//    with d padded to kAttnDPad (zeros), so no d tail exists; the probabilities are broadcast.
// dK^T and dV^T accumulate per key tile in the transposed layout (vectorised over keys again) and are
// transposed once when the tile is done. The keys of a tile past tk, and those a causal row must not
// see, are masked with selects: -inf for the row max, exactly 0 for the probabilities, so an output
// row never depends on a key it cannot see (0 times any finite v adds exactly nothing).
#pragma once
#include <algorithm>
#include <cmath>
#include <limits>

#include <xsimd/xsimd.hpp>

#include "kernels/common/attention_math.h"
#include "kernels/cpu/attention.h"

namespace pianograd::kernels::cpu::simd {

template <class A, class T>
inline xsimd::batch<T, A> attn_ld(const T* p) {
  return xsimd::batch<T, A>::load_unaligned(p);
}

// Key batches per register block of the score products (with kAttnRows rows: 8 accumulators, which
// fit the 16 registers of SSE2/AVX2 next to the loads).
inline constexpr long kAttnKeyBatches = 2;

// kt[dd][jj] = scale * k[j0 + jj][dd] for jj < n, 0 for n <= jj < kAttnKeyTile.
template <class A, class T>
void attn_pack_transposed(const T* k, long n, long d, T scale, T* kt) {
  constexpr long tile = kAttnKeyTile;
  for (long dd = 0; dd < d; ++dd) {
    T* row = kt + dd * tile;
    for (long jj = 0; jj < n; ++jj) row[jj] = scale * k[jj * d + dd];
    std::fill(row + n, row + tile, T(0));
  }
}

// vp[jj][0:dp] = scale * v[j0 + jj][0:d], zero-padded to dp and to kAttnKeyTile rows.
template <class A, class T>
void attn_pack_rows(const T* v, long n, long d, long dp, T scale, T* vp) {
  for (long jj = 0; jj < kAttnKeyTile; ++jj) {
    T* row = vp + jj * dp;
    long dd = 0;
    if (jj < n)
      for (; dd < d; ++dd) row[dd] = scale * v[jj * d + dd];
    std::fill(row + dd, row + dp, T(0));
  }
}

// out[r][c] = sum_dd rows[r][dd] * kt[dd][c] for the kAttnRows rows and columns [0, ncols), ncols a
// multiple of kAttnKeyBatches batches.
template <class A, class T>
void attn_row_products(const T* const* rows, const T* kt, long d, long ncols, T* out) {
  using B = xsimd::batch<T, A>;
  constexpr long W = static_cast<long>(B::size), R = kAttnRows, NB = kAttnKeyBatches;
  for (long c0 = 0; c0 < ncols; c0 += NB * W) {
    B acc[R][NB];
    for (long r = 0; r < R; ++r)
      for (long b = 0; b < NB; ++b) acc[r][b] = B(T(0));
    for (long dd = 0; dd < d; ++dd) {
      const T* kr = kt + dd * kAttnKeyTile + c0;
      B kb[NB];
      for (long b = 0; b < NB; ++b) kb[b] = attn_ld<A>(kr + b * W);
      for (long r = 0; r < R; ++r) {
        const B qv(rows[r][dd]);
        for (long b = 0; b < NB; ++b) acc[r][b] = xsimd::fma(qv, kb[b], acc[r][b]);
      }
    }
    for (long r = 0; r < R; ++r)
      for (long b = 0; b < NB; ++b) acc[r][b].store_unaligned(out + r * kAttnKeyTile + c0 + b * W);
  }
}

// acc[r][0:dp] += sum_{c < ncols} p[r][c] * rows[c][0:dp] (rows: a packed [tile][dp] key tile).
// NB batches of d at a time (each broadcast probability feeds NB FMAs); dp is a multiple of the lanes.
template <class A, long NB, class T>
void attn_accumulate_rows_nb(const T* p, const T* rows, long ncols, long dp, long db, T* const* acc) {
  using B = xsimd::batch<T, A>;
  constexpr long W = static_cast<long>(B::size), R = kAttnRows;
  B a[R][NB];
  for (long r = 0; r < R; ++r)
    for (long b = 0; b < NB; ++b) a[r][b] = attn_ld<A>(acc[r] + db + b * W);
  for (long c = 0; c < ncols; ++c) {
    B vb[NB];
    for (long b = 0; b < NB; ++b) vb[b] = attn_ld<A>(rows + c * dp + db + b * W);
    for (long r = 0; r < R; ++r) {
      const B pb(p[r * kAttnKeyTile + c]);
      for (long b = 0; b < NB; ++b) a[r][b] = xsimd::fma(pb, vb[b], a[r][b]);
    }
  }
  for (long r = 0; r < R; ++r)
    for (long b = 0; b < NB; ++b) a[r][b].store_unaligned(acc[r] + db + b * W);
}

template <class A, class T>
void attn_accumulate_rows(const T* p, const T* rows, long ncols, long dp, T* const* acc) {
  constexpr long W = static_cast<long>(xsimd::batch<T, A>::size);
  long db = 0;
  for (; db + 2 * W <= dp; db += 2 * W) attn_accumulate_rows_nb<A, 2>(p, rows, ncols, dp, db, acc);
  if (db < dp) attn_accumulate_rows_nb<A, 1>(p, rows, ncols, dp, db, acc);
}

// Lanes 0, 1, ..., W-1: compared with the number of visible keys to mask a batch.
template <class A, class T>
xsimd::batch<T, A> attn_iota() {
  using B = xsimd::batch<T, A>;
  T lanes[B::size];
  for (std::size_t i = 0; i < B::size; ++i) lanes[i] = static_cast<T>(i);
  return attn_ld<A>(lanes);
}

template <class A, class T>
T attn_hmax(const xsimd::batch<T, A>& v) {
  T lanes[xsimd::batch<T, A>::size];
  v.store_unaligned(lanes);
  T m = lanes[0];
  for (std::size_t i = 1; i < xsimd::batch<T, A>::size; ++i) m = lanes[i] > m ? lanes[i] : m;
  return m;
}

// One forward work item: query rows [i0, i0 + rows) of head h against every key they may see.
// Loop order: key tile outer (packed once per item), blocks of kAttnRows rows inner, so the packed tile
// stays in L1 while all the item's rows pass over it; each row's online-softmax state lives in scratch.
template <class A, class T>
void attn_forward_item(const AttentionForward<T>& a, long h, long i0, long rows, T* scratch) {
  using B = xsimd::batch<T, A>;
  constexpr long W = static_cast<long>(B::size), R = kAttnRows, tile = kAttnKeyTile;
  static_assert(tile % (kAttnKeyBatches * W) == 0 && kAttnDPad % W == 0, "tile sizes must be multiples of the lanes");
  const long d = a.d, dp = attn_round_up(d, kAttnDPad), tq = a.tq, tk = a.tk;
  T* kt = scratch;
  T* vp = kt + d * tile;
  T* acc = vp + tile * dp;
  T* mrow = acc + kAttnQueryBlock * dp;
  T* lrow = mrow + kAttnQueryBlock;
  T* sp = lrow + kAttnQueryBlock;
  T* zero = sp + R * tile;
  const T* q = a.q + h * tq * d;
  const T* k = a.k + h * tk * d;
  const T* v = a.v + h * tk * d;
  const long padded_rows = attn_round_up(rows, R);
  std::fill(acc, acc + padded_rows * dp, T(0));
  std::fill(zero, zero + dp, T(0));
  for (long r = 0; r < padded_rows; ++r) {
    const OnlineSoftmax<T> st = online_softmax_init<T>();
    mrow[r] = st.m;
    lrow[r] = st.l;
  }
  const B iota = attn_iota<A, T>(), ninf(-std::numeric_limits<T>::infinity()), zb(T(0));
  const long kend = attn_key_limit(i0 + rows - 1, tq, tk, a.causal);
  for (long j0 = 0; j0 < kend; j0 += tile) {
    const long n = std::min(tile, tk - j0);
    attn_pack_transposed<A>(k + j0 * d, n, d, a.scale, kt);
    attn_pack_rows<A>(v + j0 * d, n, d, dp, T(1), vp);
    for (long r0 = 0; r0 < rows; r0 += R) {
      const T* qr[R];
      T* accr[R];
      long vis[R], maxvis = 0;
      for (long r = 0; r < R; ++r) {
        const bool real = r0 + r < rows;
        qr[r] = real ? q + (i0 + r0 + r) * d : zero;
        accr[r] = acc + (r0 + r) * dp;
        // A row past the item sees nothing: its state stays as initialised and is never written out.
        const long lim = real ? attn_key_limit(i0 + r0 + r, tq, tk, a.causal) : 0;
        vis[r] = std::clamp(lim - j0, 0L, n);
        maxvis = std::max(maxvis, vis[r]);
      }
      if (maxvis == 0) continue;  // the whole tile is in these rows' future
      attn_row_products<A>(qr, kt, d, attn_round_up(maxvis, kAttnKeyBatches * W), sp);
      const long ncols = attn_round_up(maxvis, W);
      for (long r = 0; r < R; ++r) {
        T* pr = sp + r * tile;
        if (vis[r] == 0) {
          std::fill(pr, pr + ncols, T(0));
          continue;
        }
        const B lim(static_cast<T>(vis[r]));
        B vm = ninf;
        for (long c = 0; c < ncols; c += W) vm = xsimd::max(vm, xsimd::select(iota + B(T(c)) < lim, attn_ld<A>(pr + c), ninf));
        OnlineSoftmax<T> st{mrow[r0 + r], lrow[r0 + r]};
        const T alpha = st.rescale(attn_hmax<A>(vm));
        const B m(st.m);
        B sum = zb;
        for (long c = 0; c < ncols; c += W) {
          const B p = xsimd::select(iota + B(T(c)) < lim, xsimd::exp(attn_ld<A>(pr + c) - m), zb);
          p.store_unaligned(pr + c);
          sum += p;
        }
        st.add(xsimd::hadd(sum));
        mrow[r0 + r] = st.m;
        lrow[r0 + r] = st.l;
        if (alpha != T(1)) {
          const B va(alpha);
          for (long db = 0; db < dp; db += W) (attn_ld<A>(accr[r] + db) * va).store_unaligned(accr[r] + db);
        }
      }
      attn_accumulate_rows<A>(sp, vp, ncols, dp, accr);
    }
  }
  // o = acc / l, lse = m + log l.
  for (long r = 0; r < rows; ++r) {
    const OnlineSoftmax<T> st{mrow[r], lrow[r]};
    const T inv = T(1) / st.l;
    T* orow = a.o + (h * tq + i0 + r) * d;
    for (long dd = 0; dd < d; ++dd) orow[dd] = acc[r * dp + dd] * inv;
    a.lse[h * tq + i0 + r] = st.lse();
  }
}

// Forward items [lo, hi): item = head * blocks + b, the head's query blocks taken last first (the
// causal ones see the most keys), so a dynamic schedule starts the longest items early.
template <class A, class T>
void attention_forward_items(const AttentionForward<T>& a, long lo, long hi, T* scratch) {
  const long blocks = (a.tq + kAttnQueryBlock - 1) / kAttnQueryBlock;
  for (long it = lo; it < hi; ++it) {
    const long h = it / blocks, b = blocks - 1 - it % blocks;
    const long i0 = b * kAttnQueryBlock;
    attn_forward_item<A>(a, h, i0, std::min(kAttnQueryBlock, a.tq - i0), scratch);
  }
}

}  // namespace pianograd::kernels::cpu::simd

#include "kernels/cpu/attention_simd_backward.h"

#define PG_ATTENTION_ISA_INST(T)                                                                        \
  template void attention_forward_items<T>(const AttentionForward<T>&, long, long, T*);                \
  template void attention_backward_items<T>(const AttentionBackward<T>&, long, long, long, T*, T*);

#define PG_ATTENTION_ISA_DEFINE(ns, Arch)                                                               \
  namespace pianograd::kernels::cpu::ns {                                                               \
  template <class T>                                                                                    \
  void attention_forward_items(const AttentionForward<T>& a, long lo, long hi, T* scratch) {            \
    simd::attention_forward_items<Arch>(a, lo, hi, scratch);                                            \
  }                                                                                                     \
  template <class T>                                                                                    \
  void attention_backward_items(const AttentionBackward<T>& a, long groups, long lo, long hi, T* dq_partial, \
                                T* scratch) {                                                           \
    simd::attention_backward_items<Arch>(a, groups, lo, hi, dq_partial, scratch);                       \
  }                                                                                                     \
  PG_ATTENTION_ISA_INST(float)                                                                          \
  PG_ATTENTION_ISA_INST(double)                                                                         \
  }
