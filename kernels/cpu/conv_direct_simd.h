// The xsimd bodies of the direct-convolution row kernels (conv_direct.h), templated on the
// architecture. Included only by the per-ISA translation units conv_direct_<isa>.cpp.
//
// Register blocking (AVX2 has 16 vector registers):
//   forward: 4 output channels x 3 vectors of positions = 12 accumulators, 3 input vectors and one
//     broadcast weight; per tap 3 loads + 4 broadcasts feed 12 FMAs.
//   weight:  4 output channels x 3 taps = 12 accumulators (fewer would leave the FMA pipes waiting on
//     their 4-5 cycle latency), 4 output-gradient vectors and the input vector (17 > 16 registers: the
//     compiler re-reads one gradient vector from L1, a cheap load); reduced horizontally once per chunk.
// Positions are processed in chunks so the chunk of every input row (plus the taps' reach) stays in L2
// while all output-channel blocks pass over it.
#pragma once
#include <algorithm>

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

// y[c*ys + p] = sum_{ci,t} w[c*K + ci*ntaps + t] * x[ci*xs + p + off[t]] for c < NC, p in [p0, p1).
// relu: the fused activation epilogue, max(y, 0) applied before the store (no extra pass over y).
template <int NC, class A, class T>
void fwd_block(const CdRows<T>& x, long C, const long* off, long ntaps, const T* w, long K, T* y, long ys, long p0,
               long p1, const T* bias, bool relu) {
  T b0[NC];
  for (int c = 0; c < NC; ++c) b0[c] = bias ? bias[c] : T(0);
  using B = xsimd::batch<T, A>;
  constexpr long W = static_cast<long>(B::size);
  long p = p0;
  for (; p + 3 * W <= p1; p += 3 * W) {
    B acc[NC][3];
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c) acc[c][0] = acc[c][1] = acc[c][2] = B(b0[c]);
    for (long ci = 0; ci < C; ++ci) {
      const T* xr = x.row(ci) + p;
      const T* wr = w + ci * ntaps;
      for (long t = 0; t < ntaps; ++t) {
        const T* xp = xr + off[t];
        const B x0 = cd_ld<A>(xp), x1 = cd_ld<A>(xp + W), x2 = cd_ld<A>(xp + 2 * W);
#pragma GCC unroll 4
        for (int c = 0; c < NC; ++c) {
          const B wv(wr[c * K + t]);
          acc[c][0] = xsimd::fma(wv, x0, acc[c][0]);
          acc[c][1] = xsimd::fma(wv, x1, acc[c][1]);
          acc[c][2] = xsimd::fma(wv, x2, acc[c][2]);
        }
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
  for (; p + W <= p1; p += W) {
    B acc[NC];
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c) acc[c] = B(b0[c]);
    for (long ci = 0; ci < C; ++ci)
      for (long t = 0; t < ntaps; ++t) {
        const B xv = cd_ld<A>(x.row(ci) + p + off[t]);
#pragma GCC unroll 4
        for (int c = 0; c < NC; ++c) acc[c] = xsimd::fma(B(w[c * K + ci * ntaps + t]), xv, acc[c]);
      }
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c) (relu ? xsimd::max(acc[c], B(T(0))) : acc[c]).store_unaligned(y + c * ys + p);
  }
  for (; p < p1; ++p)
    for (int c = 0; c < NC; ++c) {
      T s = b0[c];
      for (long ci = 0; ci < C; ++ci)
        for (long t = 0; t < ntaps; ++t) s += w[c * K + ci * ntaps + t] * x.row(ci)[p + off[t]];
      y[c * ys + p] = relu ? std::max(s, T(0)) : s;
    }
}

// Positions per chunk: a multiple of the 3-vector tile.
template <class A, class T>
constexpr long cd_chunk() {
  return 3 * static_cast<long>(xsimd::batch<T, A>::size) * 40;
}

template <class A, class T>
void taps_forward(const T* x0, long xs, long C, const long* off, long ntaps, const T* w, long Cout, T* y, long ys,
                  long L, const T* bias, bool relu, const T* x2, long c1) {
  const CdRows<T> x{x0, x2, xs, x2 ? c1 : C};
  const long K = C * ntaps;
  for (long p0 = 0; p0 < L; p0 += cd_chunk<A, T>()) {
    const long p1 = std::min(L, p0 + cd_chunk<A, T>());
    for (long co = 0; co < Cout; co += 4) {
      const T* wc = w + co * K;
      T* yc = y + co * ys;
      const T* bc = bias ? bias + co : nullptr;
      switch (std::min(4L, Cout - co)) {
        case 4: fwd_block<4, A>(x, C, off, ntaps, wc, K, yc, ys, p0, p1, bc, relu); break;
        case 3: fwd_block<3, A>(x, C, off, ntaps, wc, K, yc, ys, p0, p1, bc, relu); break;
        case 2: fwd_block<2, A>(x, C, off, ntaps, wc, K, yc, ys, p0, p1, bc, relu); break;
        default: fwd_block<1, A>(x, C, off, ntaps, wc, K, yc, ys, p0, p1, bc, relu); break;
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
  for (long p0 = 0; p0 < L; p0 += cd_chunk<A, T>()) {
    const long p1 = std::min(L, p0 + cd_chunk<A, T>());
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

}  // namespace pianograd::kernels::cpu::simd

#define PG_CONV_DIRECT_ISA_INST(ns, T)                                                                  \
  template void taps_forward<T>(const T*, long, long, const long*, long, const T*, long, T*, long, long, const T*, \
                                bool, const T*, long);                                                  \
  template void taps_weight<T>(const T*, long, long, const long*, long, const T*, long, long, long, T*, const T*, \
                               long);

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
  PG_CONV_DIRECT_ISA_INST(ns, float)                                                                    \
  PG_CONV_DIRECT_ISA_INST(ns, double)                                                                   \
  }
