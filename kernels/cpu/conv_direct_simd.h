// The xsimd bodies of the direct-convolution row kernels (conv_direct.h), templated on the
// architecture. Included only by the per-ISA translation units conv_direct_<isa>.cpp.
//
// Register blocking (AVX2 has 16 vector registers):
//   forward: 4 output channels x 3 vectors of positions = 12 accumulators, 3 input vectors and one
//     broadcast weight; per tap 3 loads + 4 broadcasts feed 12 FMAs. Input channels go in blocks of 8
//     (partial sums parked in y) so one tile's input windows and weights stay in L1; the weights are
//     repacked per output-channel block in the order the tile reads them.
//   weight:  4 output channels x 3 taps = 12 accumulators (fewer would leave the FMA pipes waiting on
//     their 4-5 cycle latency), 4 output-gradient vectors and the input vector (17 > 16 registers: the
//     compiler re-reads one gradient vector from L1, a cheap load); reduced horizontally once per chunk.
// Positions are processed in chunks so the chunk of every input row (plus the taps' reach) stays in L2
// while all output-channel blocks pass over it (the weight kernel: longer chunks, see taps_weight).
#pragma once
#include <algorithm>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "kernels/cpu/conv_direct.h"

namespace pianograd::kernels::cpu::simd {

// The input rows: channels [0, split) at a + c*stride, the rest at b + (c - split)*stride (a conv over the
// channel concatenation of two tensors, read in place).
template <class T>
struct CdRows {
  const T* a;
  const T* b;
  long stride, split;
  const T* row(long c) const { return c < split ? a + c * stride : b + (c - split) * stride; }
};

template <class A, class T>
inline xsimd::batch<T, A> cd_ld(const T* p) {
  return xsimd::batch<T, A>::load_unaligned(p);
}

// y[c*ys + p] = sum_{ci,t} wp[(ci*ntaps + t)*NC + c] * rows[ci][p + off[t]] for c < NC, p in [p0, p1).
// wp is the block's weight repacked in the order the inner loop reads it (one pointer walking forward: the
// NC broadcasts per tap come from one cache line), rows[ci] the input row pointers (no per-channel branch
// between the two inputs). NT > 0 fixes ntaps at compile time, so the tap loop unrolls with its offsets
// hoisted into registers (the transcriber's 3- and 5-tap time convs); NT = 0 loops over ntaps.
// relu: the fused activation epilogue, max(y, 0) applied before the store (no extra pass over y).
template <int NC, int NT, class A, class T>
void fwd_block(const T* const* rows, long C, const long* off_, long ntaps, const T* wp, T* y, long ys, long p0,
               long p1, const T* bias, bool relu, bool acc_y) {
  using B = xsimd::batch<T, A>;
  constexpr long W = static_cast<long>(B::size);
  const long nt = NT > 0 ? NT : ntaps;
  long offs[NT > 0 ? NT : 1];
  if constexpr (NT > 0)
    for (int t = 0; t < NT; ++t) offs[t] = off_[t];
  const long* off = NT > 0 ? offs : off_;
  T b0[NC];
  for (int c = 0; c < NC; ++c) b0[c] = bias ? bias[c] : T(0);
  long p = p0;
  for (; p + 3 * W <= p1; p += 3 * W) {
    B acc[NC][3];
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c)
      for (int v = 0; v < 3; ++v) acc[c][v] = acc_y ? cd_ld<A>(y + c * ys + p + v * W) : B(b0[c]);
    const T* wc = wp;
    for (long ci = 0; ci < C; ++ci) {
      const T* xr = rows[ci] + p;
#pragma GCC unroll 8
      for (long t = 0; t < nt; ++t) {
        const T* xp = xr + off[t];
        const B x0 = cd_ld<A>(xp), x1 = cd_ld<A>(xp + W), x2 = cd_ld<A>(xp + 2 * W);
#pragma GCC unroll 4
        for (int c = 0; c < NC; ++c) {
          const B wv(wc[c]);
          acc[c][0] = xsimd::fma(wv, x0, acc[c][0]);
          acc[c][1] = xsimd::fma(wv, x1, acc[c][1]);
          acc[c][2] = xsimd::fma(wv, x2, acc[c][2]);
        }
        wc += NC;
      }
    }
    if (relu) {
#pragma GCC unroll 4
      for (int c = 0; c < NC; ++c)
        for (int v = 0; v < 3; ++v) acc[c][v] = xsimd::max(acc[c][v], B(T(0)));
    }
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c) {
      acc[c][0].store_unaligned(y + c * ys + p);
      acc[c][1].store_unaligned(y + c * ys + p + W);
      acc[c][2].store_unaligned(y + c * ys + p + 2 * W);
    }
  }
  // A 2-vector tile for the remainder (e.g. 88 = 3 x 24 + 16 positions per key row): 2*NC independent
  // chains instead of the single-vector loop's NC, which leaves the FMA pipes waiting on latency.
  for (; p + 2 * W <= p1; p += 2 * W) {
    B acc[NC][2];
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c)
      for (int v = 0; v < 2; ++v) acc[c][v] = acc_y ? cd_ld<A>(y + c * ys + p + v * W) : B(b0[c]);
    const T* wc = wp;
    for (long ci = 0; ci < C; ++ci) {
      const T* xr = rows[ci] + p;
      for (long t = 0; t < nt; ++t, wc += NC) {
        const B x0 = cd_ld<A>(xr + off[t]), x1 = cd_ld<A>(xr + off[t] + W);
#pragma GCC unroll 4
        for (int c = 0; c < NC; ++c) {
          const B wv(wc[c]);
          acc[c][0] = xsimd::fma(wv, x0, acc[c][0]);
          acc[c][1] = xsimd::fma(wv, x1, acc[c][1]);
        }
      }
    }
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c)
      for (int v = 0; v < 2; ++v)
        (relu ? xsimd::max(acc[c][v], B(T(0))) : acc[c][v]).store_unaligned(y + c * ys + p + v * W);
  }
  for (; p + W <= p1; p += W) {
    B acc[NC];
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c) acc[c] = acc_y ? cd_ld<A>(y + c * ys + p) : B(b0[c]);
    const T* wc = wp;
    for (long ci = 0; ci < C; ++ci)
      for (long t = 0; t < nt; ++t, wc += NC) {
        const B xv = cd_ld<A>(rows[ci] + p + off[t]);
#pragma GCC unroll 4
        for (int c = 0; c < NC; ++c) acc[c] = xsimd::fma(B(wc[c]), xv, acc[c]);
      }
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c) (relu ? xsimd::max(acc[c], B(T(0))) : acc[c]).store_unaligned(y + c * ys + p);
  }
  for (; p < p1; ++p)
    for (int c = 0; c < NC; ++c) {
      T s = acc_y ? y[c * ys + p] : b0[c];
      const T* wc = wp + c;
      for (long ci = 0; ci < C; ++ci)
        for (long t = 0; t < nt; ++t, wc += NC) s += *wc * rows[ci][p + off[t]];
      y[c * ys + p] = relu ? std::max(s, T(0)) : s;
    }
}

// Positions per chunk: a multiple of the 3-vector tile. (Measured: 24 to 2400 positions change the
// transcriber's layers by < 10%; the taps' reach keeps the rows in L2 either way.)
template <class A, class T>
constexpr long cd_chunk() {
  return 3 * static_cast<long>(xsimd::batch<T, A>::size) * 40;
}

// Per-thread scratch of the row kernels (repacked weights, row pointers), reused across calls.
template <class T>
T* cd_scratch(size_t n) {
  thread_local std::vector<T> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

template <int NC, class A, class T>
void fwd_ntaps(const T* const* rows, long C, const long* off, long ntaps, const T* wp, T* y, long ys, long p0,
               long p1, const T* bias, bool relu, bool acc_y) {
  switch (ntaps) {
    case 3: return fwd_block<NC, 3, A>(rows, C, off, ntaps, wp, y, ys, p0, p1, bias, relu, acc_y);
    case 5: return fwd_block<NC, 5, A>(rows, C, off, ntaps, wp, y, ys, p0, p1, bias, relu, acc_y);
    default: return fwd_block<NC, 0, A>(rows, C, off, ntaps, wp, y, ys, p0, p1, bias, relu, acc_y);
  }
}

template <class A, class T>
void taps_forward(const T* x0, long xs, long C, const long* off, long ntaps, const T* w, long Cout, T* y, long ys,
                  long L, const T* bias, bool relu, const T* x2, long c1) {
  const CdRows<T> x{x0, x2, xs, x2 ? c1 : C};
  const long K = C * ntaps;
  // Repack w[co][ci][t] per block of NC = min(4, Cout - co) output channels into [ci][t][NC] (block co
  // starts at co*K, as before): C*Cout*ntaps values, negligible next to the L*C*Cout*ntaps MACs.
  T* wp = cd_scratch<T>(static_cast<size_t>(Cout * K));
  for (long co = 0; co < Cout; co += 4) {
    const long nc = std::min(4L, Cout - co);
    for (long c = 0; c < nc; ++c)
      for (long k = 0; k < K; ++k) wp[co * K + k * nc + c] = w[(co + c) * K + k];
  }
  thread_local std::vector<const T*> rowbuf;
  rowbuf.resize(static_cast<size_t>(C));
  for (long ci = 0; ci < C; ++ci) rowbuf[static_cast<size_t>(ci)] = x.row(ci);
  const T* const* rows = rowbuf.data();
  // Input channels in blocks of CB, the partial sums parked in y between blocks (the same additions in the
  // same order: results unchanged). Why: one 3-vector tile over all C = 32 channels of a 5-tap conv streams
  // 160 input windows plus 2.5 KB of weights through L1, which then evicts the weights the broadcasts
  // wait on; with 8 channels per pass the 5-tap time convs went from 70 / 48 GFLOP/s (forward / input
  // gradient) to ~85 on this Zen 3 core (CB 4: ~78, 16: ~79, all C: ~65-70).
  constexpr long CB = 8;
  const long chunk = cd_chunk<A, T>();
  for (long p0 = 0; p0 < L; p0 += chunk) {
    const long p1 = std::min(L, p0 + chunk);
    for (long cb = 0; cb < C; cb += CB) {
      const long nb = std::min(CB, C - cb);
      const bool first = cb == 0, last = cb + nb == C;
      for (long co = 0; co < Cout; co += 4) {
        const long nc = std::min(4L, Cout - co);
        const T* wc = wp + co * K + cb * ntaps * nc;
        T* yc = y + co * ys;
        const T* bc = bias ? bias + co : nullptr;
        const T* const* rb = rows + cb;
        switch (nc) {
          case 4: fwd_ntaps<4, A>(rb, nb, off, ntaps, wc, yc, ys, p0, p1, bc, relu && last, !first); break;
          case 3: fwd_ntaps<3, A>(rb, nb, off, ntaps, wc, yc, ys, p0, p1, bc, relu && last, !first); break;
          case 2: fwd_ntaps<2, A>(rb, nb, off, ntaps, wc, yc, ys, p0, p1, bc, relu && last, !first); break;
          default: fwd_ntaps<1, A>(rb, nb, off, ntaps, wc, yc, ys, p0, p1, bc, relu && last, !first); break;
        }
      }
    }
  }
}

// gw[c*K + t] += sum_{p in [p0,p1)} gy[c*ys + p] * x[p + off[t]] for c < NC, t < NT (x at one input row).
template <int NC, int NT, class A, class T>
void wgt_block(const T* x, const long* off, const T* gy, long ys, long p0, long p1, T* gw, long K) {
  using B = xsimd::batch<T, A>;
  constexpr long W = static_cast<long>(B::size);
  B acc[NC][NT];
#pragma GCC unroll 4
  for (int c = 0; c < NC; ++c)
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) acc[c][t] = B(T(0));
  long p = p0;
  for (; p + W <= p1; p += W) {
    B g[NC];
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c) g[c] = cd_ld<A>(gy + c * ys + p);
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) {
      const B xv = cd_ld<A>(x + p + off[t]);
#pragma GCC unroll 4
      for (int c = 0; c < NC; ++c) acc[c][t] = xsimd::fma(g[c], xv, acc[c][t]);
    }
  }
  for (int c = 0; c < NC; ++c)
    for (int t = 0; t < NT; ++t) {
      T s = xsimd::hadd(acc[c][t]);
      for (long q = p; q < p1; ++q) s += gy[c * ys + q] * x[q + off[t]];
      gw[c * K + t] += s;
    }
}

template <int NC, class A, class T>
void wgt_taps(const T* x, const long* off, long ntaps, const T* gy, long ys, long p0, long p1, T* gw, long K) {
  long t = 0;
  for (; t + 3 <= ntaps; t += 3) wgt_block<NC, 3, A>(x, off + t, gy, ys, p0, p1, gw + t, K);
  if (ntaps - t == 2) wgt_block<NC, 2, A>(x, off + t, gy, ys, p0, p1, gw + t, K);
  if (ntaps - t == 1) wgt_block<NC, 1, A>(x, off + t, gy, ys, p0, p1, gw + t, K);
}

template <class A, class T>
void taps_weight(const T* x0, long xs, long C, const long* off, long ntaps, const T* gy, long ys, long Cout, long L,
                 T* gw, const T* x2, long c1) {
  const CdRows<T> x{x0, x2, xs, x2 ? c1 : C};
  const long K = C * ntaps;
  // Long chunks (the transcriber's 201 x 88 planes in 1-2 pieces): each wgt_block ends in NC x NT
  // horizontal sums and scalar read-modify-writes, which at the forward's 960-position chunks cost ~7%
  // (73 -> 78 GFLOP/s on the time convs); 12288 positions keep the block's 4 + 1 rows (240 KB) in L2.
  // Not when the taps are far apart (the full-width readout: each tap its own row, 24 rows per chunk):
  // there the short chunk keeps the taps' rows in L2 across output-channel blocks (37 vs 33 GFLOP/s).
  const long long_chunk = 3 * static_cast<long>(xsimd::batch<T, A>::size) * 512;
  const long chunk = off[ntaps - 1] < long_chunk ? long_chunk : cd_chunk<A, T>();
  for (long p0 = 0; p0 < L; p0 += chunk) {
    const long p1 = std::min(L, p0 + chunk);
    for (long co = 0; co < Cout; co += 4)
      for (long ci = 0; ci < C; ++ci) {
        const T* xr = x.row(ci);
        const T* g = gy + co * ys;
        T* out = gw + co * K + ci * ntaps;
        switch (std::min(4L, Cout - co)) {
          case 4: wgt_taps<4, A>(xr, off, ntaps, g, ys, p0, p1, out, K); break;
          case 3: wgt_taps<3, A>(xr, off, ntaps, g, ys, p0, p1, out, K); break;
          case 2: wgt_taps<2, A>(xr, off, ntaps, g, ys, p0, p1, out, K); break;
          default: wgt_taps<1, A>(xr, off, ntaps, g, ys, p0, p1, out, K); break;
        }
      }
  }
}

// m = select(y > 0, gy, 0), returning the sum of m: two independent vector sums (the add latency), one
// horizontal sum at the end.
template <class A, class T>
T relu_mask(const T* y, const T* gy, T* m, long n) {
  using B = xsimd::batch<T, A>;
  constexpr long W = static_cast<long>(B::size);
  const B zero(T(0));
  B s0 = zero, s1 = zero;
  long i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    const B a = xsimd::select(cd_ld<A>(y + i) > zero, cd_ld<A>(gy + i), zero);
    const B b = xsimd::select(cd_ld<A>(y + i + W) > zero, cd_ld<A>(gy + i + W), zero);
    a.store_unaligned(m + i);
    b.store_unaligned(m + i + W);
    s0 += a;
    s1 += b;
  }
  for (; i + W <= n; i += W) {
    const B a = xsimd::select(cd_ld<A>(y + i) > zero, cd_ld<A>(gy + i), zero);
    a.store_unaligned(m + i);
    s0 += a;
  }
  T s = xsimd::hadd(s0 + s1);
  for (; i < n; ++i) {
    const T v = y[i] > T(0) ? gy[i] : T(0);
    m[i] = v;
    s += v;
  }
  return s;
}

}  // namespace pianograd::kernels::cpu::simd

#define PG_CONV_DIRECT_ISA_INST(ns, T)                                                                  \
  template void taps_forward<T>(const T*, long, long, const long*, long, const T*, long, T*, long, long, const T*, \
                                bool, const T*, long);                                                  \
  template void taps_weight<T>(const T*, long, long, const long*, long, const T*, long, long, long, T*, const T*, \
                               long);                                                                   \
  template T relu_mask<T>(const T*, const T*, T*, long);

#define PG_CONV_DIRECT_ISA_DEFINE(ns, Arch)                                                             \
  namespace pianograd::kernels::cpu::ns {                                                               \
  template <class T>                                                                                    \
  void taps_forward(const T* x, long xs, long C, const long* off, long ntaps, const T* w, long Cout, T* y, \
                    long ys, long L, const T* bias, bool relu, const T* x2, long c1) {                  \
    simd::taps_forward<Arch>(x, xs, C, off, ntaps, w, Cout, y, ys, L, bias, relu, x2, c1);              \
  }                                                                                                     \
  template <class T>                                                                                    \
  void taps_weight(const T* x, long xs, long C, const long* off, long ntaps, const T* gy, long ys, long Cout, \
                   long L, T* gw, const T* x2, long c1) {                                              \
    simd::taps_weight<Arch>(x, xs, C, off, ntaps, gy, ys, Cout, L, gw, x2, c1);                         \
  }                                                                                                     \
  template <class T>                                                                                    \
  T relu_mask(const T* y, const T* gy, T* m, long n) {                                                  \
    return simd::relu_mask<Arch>(y, gy, m, n);                                                          \
  }                                                                                                     \
  PG_CONV_DIRECT_ISA_INST(ns, float)                                                                    \
  PG_CONV_DIRECT_ISA_INST(ns, double)                                                                   \
  }
