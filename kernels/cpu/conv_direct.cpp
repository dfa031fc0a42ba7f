// Batch drivers of the direct convolution (see conv_direct.h for the flattened-plane formulation),
// the ISA dispatch of its row kernels, and their scalar references.
#include "kernels/cpu/conv_direct.h"

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/reduce.h"

namespace pianograd::kernels::cpu {

namespace {
// The kernel spans the whole unpadded width: one output per row (the transcriber's [1 x 3] readout
// over [.., F*88, 3]). Handled by transposing each channel's [H, KW] rows to [KW, H] (a cheap im2col)
// and a 1-tap direct pass over the C*KW rows; the strided wide-row trick would discard 2 of 3 columns.
bool full_width(const ConvGeom& g) {
  return g.KH == 1 && g.ph == 0 && g.pw == 0 && g.dw == 1 && g.KW == g.W && g.KW > 1;
}
}  // namespace

bool conv_direct_applicable(const ConvGeom& g) {
  return g.sh == 1 && g.groups == 1 && (g.sw == 1 || full_width(g));
}

bool conv_direct_preferred(const ConvGeom& g) {
  // On the transcriber's layers (8-48 channels) the direct kernels run at 45-58 GFLOP/s per pass on one
  // AVX2 core; with im2col + packed GEMM (M = Cout, K = C*KH*KW too small to amortise the copies and
  // packing) the whole training step ran at 14-17 GFLOP/s, now 36-41. The 64-channel cap is conservative (not measured beyond 48): wide layers
  // stay on the GEMM, whose cache blocking pays off there.
  // Rows whose discarded columns exceed a third of the computed ones (e.g. a [1 x 3] kernel over a
  // width of 3) waste more than the im2col copy costs.
  // A 1x1 conv is a plain GEMM, left to it, except with a handful of output channels (the transcriber's
  // heads, 32 -> 3 and 16 -> 1): there M = Cout is below one register tile and the GEMM's packing costs
  // more than the multiply-adds (2.7% of a training step, against ~0.5% direct).
  if (g.KH * g.KW == 1 && g.Cout > 4) return false;
  const long wp = g.W + 2 * g.pw;
  return conv_direct_applicable(g) && g.Cout <= 64 && g.C <= 64 && (full_width(g) || 2 * wp <= 3 * g.OW);
}

namespace {

// Flattened padded-plane geometry of one image.
struct Plan {
  long Hp, Wp, xs, L, ntaps, maxoff;
  bool padded, wide;  // wide: output rows carry (KW-1)*dw discarded columns (KW > 1)
  std::vector<long> off;
  explicit Plan(const ConvGeom& g)
      : Hp(g.H + 2 * g.ph), Wp(g.W + 2 * g.pw), xs(Hp * Wp), L((g.OH - 1) * Wp + g.OW), ntaps(g.KH * g.KW),
        maxoff(0), padded(g.ph > 0 || g.pw > 0), wide(Wp != g.OW) {
    off.resize(static_cast<size_t>(ntaps));
    for (long kh = 0; kh < g.KH; ++kh)
      for (long kw = 0; kw < g.KW; ++kw) off[static_cast<size_t>(kh * g.KW + kw)] = kh * g.dh * Wp + kw * g.dw;
    maxoff = off.back();
    P = g.ph * Wp;
    rows_only = padded && g.pw == 0 && !wide && P <= maxoff && L >= 2 * P && L >= maxoff;
  }
  // Padding along H only (the transcriber's [k x 1] time convs): the padded plane is the unpadded one
  // with P = ph*W zeros before and after, so every output p in [P, L - P) reads x in place (shifted by
  // P); only the first and last P outputs, whose taps reach into the zeros, need padded copies, of
  // maxoff + P elements per channel (pad_image copies all of it, and that copy cost 4% of a step).
  long P = 0;
  bool rows_only = false;
};

// The two edge strips of the padded plane of one image, for a rows_only plan: rows [0, P + maxoff) and
// [L - P, xs) of every channel, each C x (P + maxoff), in one scratch buffer (left strips first).
// Channels c >= c1 come from x2 when it is given (a conv over the channel concatenation [x | x2]).
template <class T>
T* edge_strips(const T* x, const ConvGeom& g, const Plan& pl, T* buf, const T* x2 = nullptr, long c1 = 0) {
  const long len = pl.P + pl.maxoff, hw = g.H * g.W;
  for (long c = 0; c < g.C; ++c) {
    T* left = buf + c * len;
    T* right = buf + (g.C + c) * len;
    const T* xc = x2 && c >= c1 ? x2 + (c - c1) * hw : x + c * hw;
    std::fill(left, left + pl.P, T(0));
    std::memcpy(left + pl.P, xc, sizeof(T) * pl.maxoff);
    std::memcpy(right, xc + hw - pl.maxoff, sizeof(T) * pl.maxoff);
    std::fill(right + pl.maxoff, right + len, T(0));
  }
  return buf;
}

// Per-thread scratch that survives across calls (OpenMP threads persist), so a training loop does not
// re-fault fresh pages for its padded planes every step.
template <class T>
T* scratch(int slot, size_t n) {
  thread_local std::vector<unsigned char> bufs[3];
  auto& b = bufs[slot];
  if (b.size() < n * sizeof(T) + 64) b.resize(n * sizeof(T) + 64);
  return reinterpret_cast<T*>((reinterpret_cast<uintptr_t>(b.data()) + 63) & ~uintptr_t{63});
}

// Zero-padded copy of one image x[C,H,W] into xp[C,Hp,Wp].
template <class T>
void pad_image(const T* x, const ConvGeom& g, const Plan& pl, T* xp) {
  std::fill(xp, xp + g.C * pl.xs, T(0));
  for (long c = 0; c < g.C; ++c)
    for (long h = 0; h < g.H; ++h)
      std::memcpy(xp + c * pl.xs + (h + g.ph) * pl.Wp + g.pw, x + (c * g.H + h) * g.W, sizeof(T) * g.W);
}

template <class F>
void over_batch(long N, F&& body) {
  if (N <= 1 || omp_in_parallel() || omp_get_max_threads() == 1) {
    for (long n = 0; n < N; ++n) body(n, 0);
    return;
  }
#pragma omp parallel for schedule(static)
  for (long n = 0; n < N; ++n) body(n, omp_get_thread_num());
}

int batch_threads(long N) { return (N <= 1 || omp_in_parallel()) ? 1 : std::max(1, omp_get_max_threads()); }

// Full-width case: x[C, H, KW] <-> cols[C*KW, H]. The K = C*KW rows of cols are passed to the row
// kernels as the K taps of ONE row (tap k at offset k*H): same sums, but the weight kernel then blocks
// 4 channels x 3 taps instead of running a latency-bound 4 x 1 block.
std::vector<long> row_offsets(long K, long H) {
  std::vector<long> off(static_cast<size_t>(K));
  for (long k = 0; k < K; ++k) off[static_cast<size_t>(k)] = k * H;
  return off;
}

template <class T>
void rows_to_cols(const T* x, long C, long H, long KW, T* cols) {
  for (long c = 0; c < C; ++c)
    for (long h = 0; h < H; ++h)
      for (long k = 0; k < KW; ++k) cols[(c * KW + k) * H + h] = x[(c * H + h) * KW + k];
}
template <class T>
void cols_to_rows(const T* cols, long C, long H, long KW, T* x) {
  for (long c = 0; c < C; ++c)
    for (long h = 0; h < H; ++h)
      for (long k = 0; k < KW; ++k) x[(c * H + h) * KW + k] = cols[(c * KW + k) * H + h];
}

}  // namespace

template <class T>
void taps_forward(const T* x, long xs, long C, const long* off, long ntaps, const T* w, long Cout, T* y, long ys,
                  long L, const T* bias, bool relu, const T* x2, long c1) {
  switch (active_isa()) {
    case Isa::avx512: return avx512::taps_forward<T>(x, xs, C, off, ntaps, w, Cout, y, ys, L, bias, relu, x2, c1);
    case Isa::avx2: return avx2::taps_forward<T>(x, xs, C, off, ntaps, w, Cout, y, ys, L, bias, relu, x2, c1);
    case Isa::sse2: return sse2::taps_forward<T>(x, xs, C, off, ntaps, w, Cout, y, ys, L, bias, relu, x2, c1);
    case Isa::scalar: break;
  }
  ref::taps_forward<T>(x, xs, C, off, ntaps, w, Cout, y, ys, L, bias, relu, x2, c1);
}

template <class T>
void taps_weight(const T* x, long xs, long C, const long* off, long ntaps, const T* gy, long ys, long Cout, long L,
                 T* gw, const T* x2, long c1) {
  switch (active_isa()) {
    case Isa::avx512: return avx512::taps_weight<T>(x, xs, C, off, ntaps, gy, ys, Cout, L, gw, x2, c1);
    case Isa::avx2: return avx2::taps_weight<T>(x, xs, C, off, ntaps, gy, ys, Cout, L, gw, x2, c1);
    case Isa::sse2: return sse2::taps_weight<T>(x, xs, C, off, ntaps, gy, ys, Cout, L, gw, x2, c1);
    case Isa::scalar: break;
  }
  ref::taps_weight<T>(x, xs, C, off, ntaps, gy, ys, Cout, L, gw, x2, c1);
}

bool conv_direct_concat_applicable(const ConvGeom& g) {
  return conv_direct_preferred(g) && !full_width(g) && Plan(g).rows_only;
}

template <class T>
void conv_direct_forward(const T* x, const T* w, const T* bias, T* y, const ConvGeom& g, bool relu, const T* x2,
                         long c1) {
  if (full_width(g)) {  // y[co, h] = sum_{(c,k)} w[co, (c,k)] * cols[(c,k), h]
    const long H = g.H, K = g.C * g.KW;
    const std::vector<long> off = row_offsets(K, H);
    over_batch(g.N, [&](long n, int) {
      T* cols = scratch<T>(0, static_cast<size_t>(K * H));
      rows_to_cols(x + n * g.C * H * g.KW, g.C, H, g.KW, cols);
      T* yn = y + n * g.Cout * H;
      taps_forward<T>(cols, K * H, 1, off.data(), K, w, g.Cout, yn, H, H, bias, relu);
    });
    return;
  }
  const Plan pl(g);
  const long hw = g.H * g.W, in_img = (x2 ? c1 : g.C) * hw, in_img2 = (g.C - c1) * hw;
  const long out_img = g.Cout * g.OH * g.OW, ys = pl.wide ? g.OH * pl.Wp : pl.L;
  over_batch(g.N, [&](long n, int) {
    const T* xn = x + n * in_img;
    const T* x2n = x2 ? x2 + n * in_img2 : nullptr;
    T* yn = y + n * out_img;
    if (pl.rows_only) {  // interior in place, the two edges from their strips (see Plan)
      const long len = pl.P + pl.maxoff;
      const T* e = edge_strips(xn, g, pl, scratch<T>(0, static_cast<size_t>(2 * g.C * len)), x2n, c1);
      const long* off = pl.off.data();
      taps_forward<T>(xn, hw, g.C, off, pl.ntaps, w, g.Cout, yn + pl.P, ys, pl.L - 2 * pl.P, bias, relu, x2n, c1);
      taps_forward<T>(e, len, g.C, off, pl.ntaps, w, g.Cout, yn, ys, pl.P, bias, relu);
      taps_forward<T>(e + g.C * len, len, g.C, off, pl.ntaps, w, g.Cout, yn + pl.L - pl.P, ys, pl.P, bias, relu);
      return;
    }
    if (pl.padded) {
      T* xp = scratch<T>(0, static_cast<size_t>(g.C * pl.xs));
      pad_image(xn, g, pl, xp);
      xn = xp;
    }
    T* yw = pl.wide ? scratch<T>(1, static_cast<size_t>(g.Cout * ys)) : yn;
    taps_forward<T>(xn, pl.xs, g.C, pl.off.data(), pl.ntaps, w, g.Cout, yw, ys, pl.L, bias, relu);
    if (pl.wide)  // drop the discarded columns
      for (long co = 0; co < g.Cout; ++co)
        for (long oh = 0; oh < g.OH; ++oh)
          std::memcpy(yn + (co * g.OH + oh) * g.OW, yw + co * ys + oh * pl.Wp, sizeof(T) * g.OW);
  });
}

template <class T>
void conv_direct_backward_input(const T* gy, const T* w, T* gx, const ConvGeom& g, T* gx2, long c1) {
  if (full_width(g)) {  // gcols[(c,k), h] = sum_co w[co, (c,k)] * gy[co, h], then back to rows
    const long H = g.H, K = g.C * g.KW;
    std::vector<T> wt(static_cast<size_t>(K * g.Cout));
    for (long co = 0; co < g.Cout; ++co)
      for (long k = 0; k < K; ++k) wt[static_cast<size_t>(k * g.Cout + co)] = w[co * K + k];
    const std::vector<long> off = row_offsets(g.Cout, H);
    over_batch(g.N, [&](long n, int) {
      T* gcols = scratch<T>(0, static_cast<size_t>(K * H));
      taps_forward<T>(gy + n * g.Cout * H, g.Cout * H, 1, off.data(), g.Cout, wt.data(), K, gcols, H, H);
      cols_to_rows(gcols, g.C, H, g.KW, gx + n * g.C * H * g.KW);
    });
    return;
  }
  const Plan pl(g);
  const long in_img = (gx2 ? c1 : g.C) * g.H * g.W, in_img2 = (g.C - c1) * g.H * g.W, out_img = g.Cout * g.OH * g.OW;
  // gxp[ci, q] = sum_{co,t} w[co,ci,t] * gy'[co, q - off[t]]: a forward pass over gy' placed after a
  // zero margin of maxoff (row length rg), with offsets maxoff - off[t] and the transposed weight.
  const long rg = pl.maxoff + pl.xs;
  std::vector<T> wt(static_cast<size_t>(g.C * g.Cout * pl.ntaps));
  for (long co = 0; co < g.Cout; ++co)
    for (long ci = 0; ci < g.C; ++ci)
      for (long t = 0; t < pl.ntaps; ++t)
        wt[static_cast<size_t>((ci * g.Cout + co) * pl.ntaps + t)] = w[(co * g.C + ci) * pl.ntaps + t];
  std::vector<long> off2(pl.off.size());
  for (size_t t = 0; t < off2.size(); ++t) off2[t] = pl.maxoff - pl.off[t];
  over_batch(g.N, [&](long n, int) {
    const T* gyn = gy + n * out_img;
    T* gxn = gx + n * in_img;
    const long M = pl.maxoff, L = pl.L;
    if (pl.rows_only) {
      // Only the unpadded rows q in [P, P + H*W) of the padded-plane gradient are wanted: written
      // straight into gx (row stride H*W), from gy in place for q in [M, L) and from the margined
      // copies of the first / last M outputs for [P, M) and [L, L + M - P).
      const long hw = g.H * g.W, P = pl.P;
      // Input channels [0, c1) go to gx, [c1, C) to gx2 when it is given (the input was [x | x2]).
      T* gx2n = gx2 ? gx2 + n * in_img2 : nullptr;
      auto taps_out = [&](const T* src, long src_stride, long at, long len) {
        const T* wt0 = wt.data();
        if (!gx2n) return taps_forward<T>(src, src_stride, g.Cout, off2.data(), pl.ntaps, wt0, g.C, gxn + at, hw, len);
        taps_forward<T>(src, src_stride, g.Cout, off2.data(), pl.ntaps, wt0, c1, gxn + at, hw, len);
        taps_forward<T>(src, src_stride, g.Cout, off2.data(), pl.ntaps, wt0 + c1 * g.Cout * pl.ntaps, g.C - c1,
                        gx2n + at, hw, len);
      };
      taps_out(gyn, L, M - P, L - M);
      T* E = scratch<T>(0, static_cast<size_t>(g.Cout * 2 * M));
      for (long co = 0; co < g.Cout; ++co) {
        std::fill(E + co * 2 * M, E + co * 2 * M + M, T(0));
        std::memcpy(E + co * 2 * M + M, gyn + co * L, sizeof(T) * M);
      }
      if (M > P) taps_out(E + P, 2 * M, 0, M - P);
      for (long co = 0; co < g.Cout; ++co) {
        std::memcpy(E + co * 2 * M, gyn + co * L + L - M, sizeof(T) * M);
        std::fill(E + co * 2 * M + M, E + (co + 1) * 2 * M, T(0));
      }
      if (M > P) taps_out(E, 2 * M, L - P, M - P);
      return;
    }
    T* gxp = pl.padded ? scratch<T>(1, static_cast<size_t>(g.C * pl.xs)) : gxn;
    if (!pl.wide && L >= M) {
      // gy already is gy' (no discarded columns, xs = L + M): the interior outputs [M, L) read it in
      // place; only the first and last M outputs of a row reach into the zero margins, and those come
      // from two small margined copies instead of a copy of all of gy.
      taps_forward<T>(gyn, L, g.Cout, off2.data(), pl.ntaps, wt.data(), g.C, gxp + M, pl.xs, L - M);
      T* E = scratch<T>(0, static_cast<size_t>(g.Cout * 2 * M));
      for (long co = 0; co < g.Cout; ++co) {
        std::fill(E + co * 2 * M, E + co * 2 * M + M, T(0));
        std::memcpy(E + co * 2 * M + M, gyn + co * L, sizeof(T) * M);
      }
      taps_forward<T>(E, 2 * M, g.Cout, off2.data(), pl.ntaps, wt.data(), g.C, gxp, pl.xs, M);
      for (long co = 0; co < g.Cout; ++co) {
        std::memcpy(E + co * 2 * M, gyn + co * L + L - M, sizeof(T) * M);
        std::fill(E + co * 2 * M + M, E + (co + 1) * 2 * M, T(0));
      }
      taps_forward<T>(E, 2 * M, g.Cout, off2.data(), pl.ntaps, wt.data(), g.C, gxp + L, pl.xs, M);
    } else {
      T* G = scratch<T>(0, static_cast<size_t>(g.Cout * rg));
      std::fill(G, G + g.Cout * rg, T(0));
      for (long co = 0; co < g.Cout; ++co)
        for (long oh = 0; oh < g.OH; ++oh)
          std::memcpy(G + co * rg + M + oh * pl.Wp, gyn + (co * g.OH + oh) * g.OW, sizeof(T) * g.OW);
      taps_forward<T>(G, rg, g.Cout, off2.data(), pl.ntaps, wt.data(), g.C, gxp, pl.xs, pl.xs);
    }
    if (pl.padded)
      for (long c = 0; c < g.C; ++c)
        for (long h = 0; h < g.H; ++h)
          std::memcpy(gxn + (c * g.H + h) * g.W, gxp + c * pl.xs + (h + g.ph) * pl.Wp + g.pw, sizeof(T) * g.W);
  });
}

template <class T>
void conv_direct_backward_weight(const T* x, const T* gy, T* gw, const ConvGeom& g, const T* x2, long c1) {
  if (full_width(g)) {  // gw[co, (c,k)] = sum_h gy[co, h] * cols[(c,k), h]
    const long H = g.H, K = g.C * g.KW;
    const std::vector<long> off = row_offsets(K, H);
    std::vector<std::vector<T>> parts(static_cast<size_t>(batch_threads(g.N)),
                                      std::vector<T>(static_cast<size_t>(g.Cout * K), T(0)));
    over_batch(g.N, [&](long n, int t) {
      T* cols = scratch<T>(0, static_cast<size_t>(K * H));
      rows_to_cols(x + n * g.C * H * g.KW, g.C, H, g.KW, cols);
      taps_weight<T>(cols, K * H, 1, off.data(), K, gy + n * g.Cout * H, H, g.Cout, H,
                     parts[static_cast<size_t>(t)].data());
    });
    std::copy(parts[0].begin(), parts[0].end(), gw);
    for (size_t t = 1; t < parts.size(); ++t)
      for (size_t i = 0; i < parts[t].size(); ++i) gw[i] += parts[t][i];
    return;
  }
  const Plan pl(g);
  const long in_img = (x2 ? c1 : g.C) * g.H * g.W, in_img2 = (g.C - c1) * g.H * g.W;
  const long out_img = g.Cout * g.OH * g.OW, wsize = g.Cout * g.C * pl.ntaps;
  const long ys = pl.wide ? g.OH * pl.Wp : pl.L;
  // Per-thread partial sums, added in thread order: no races, and no dependence on scheduling.
  std::vector<std::vector<T>> parts(static_cast<size_t>(batch_threads(g.N)),
                                    std::vector<T>(static_cast<size_t>(wsize), T(0)));
  over_batch(g.N, [&](long n, int t) {
    const T* xn = x + n * in_img;
    const T* x2n = x2 ? x2 + n * in_img2 : nullptr;
    const T* gyn = gy + n * out_img;
    if (pl.rows_only) {  // the forward's split: interior in place, edges from the strips
      const long len = pl.P + pl.maxoff;
      const T* e = edge_strips(xn, g, pl, scratch<T>(0, static_cast<size_t>(2 * g.C * len)), x2n, c1);
      const long* off = pl.off.data();
      T* part = parts[static_cast<size_t>(t)].data();
      taps_weight<T>(xn, g.H * g.W, g.C, off, pl.ntaps, gyn + pl.P, ys, g.Cout, pl.L - 2 * pl.P, part, x2n, c1);
      taps_weight<T>(e, len, g.C, off, pl.ntaps, gyn, ys, g.Cout, pl.P, part);
      taps_weight<T>(e + g.C * len, len, g.C, off, pl.ntaps, gyn + pl.L - pl.P, ys, g.Cout, pl.P, part);
      return;
    }
    if (pl.padded) {
      T* xp = scratch<T>(0, static_cast<size_t>(g.C * pl.xs));
      pad_image(xn, g, pl, xp);
      xn = xp;
    }
    if (pl.wide) {  // gy' with zeroed discarded columns, so they add nothing
      T* gw_rows = scratch<T>(1, static_cast<size_t>(g.Cout * ys));
      std::fill(gw_rows, gw_rows + g.Cout * ys, T(0));
      for (long co = 0; co < g.Cout; ++co)
        for (long oh = 0; oh < g.OH; ++oh)
          std::memcpy(gw_rows + co * ys + oh * pl.Wp, gyn + (co * g.OH + oh) * g.OW, sizeof(T) * g.OW);
      gyn = gw_rows;
    }
    taps_weight<T>(xn, pl.xs, g.C, pl.off.data(), pl.ntaps, gyn, ys, g.Cout, pl.L,
                   parts[static_cast<size_t>(t)].data());
  });
  std::copy(parts[0].begin(), parts[0].end(), gw);
  for (size_t t = 1; t < parts.size(); ++t)
    for (long i = 0; i < wsize; ++i) gw[i] += parts[t][static_cast<size_t>(i)];
}

template <class T>
void conv_direct_backward_relu(const T* x, const T* w, const T* y, const T* gy, T* gx, T* gw, T* gb,
                               const ConvGeom& g, const T* x2, T* gx2, long c1) {
  ConvGeom g1 = g;  // one image: the drivers then run serially inside this batch loop
  g1.N = 1;
  const bool cat = x2 != nullptr;
  const long in_img = (cat ? c1 : g.C) * g.H * g.W, in_img2 = (g.C - c1) * g.H * g.W;
  const long hw = g.OH * g.OW, out_img = g.Cout * hw;
  const long wsize = g.Cout * g.C * g.KH * g.KW;
  const int nt = batch_threads(g.N);
  // Per-thread partial sums [gw | gb], added in thread order (deterministic for a given thread count).
  std::vector<std::vector<T>> parts(static_cast<size_t>(nt), std::vector<T>(static_cast<size_t>(wsize + g.Cout), T(0)));
  over_batch(g.N, [&](long n, int t) {
    T* m = scratch<T>(2, static_cast<size_t>(out_img + wsize + g.Cout));
    T* gwn = m + out_img;
    T* gbn = gwn + wsize;
    const T* yn = y + n * out_img;
    const T* gyn = gy + n * out_img;
    for (long i = 0; i < out_img; ++i) m[i] = yn[i] > T(0) ? gyn[i] : T(0);
    if (gx || (cat && gx2)) {
      // With two inputs one split pass writes both gradients; an unwanted one goes to scratch slot 1,
      // which the rows_only input pass (the only one taking two inputs) does not use.
      T* a = gx ? gx + n * in_img : scratch<T>(1, static_cast<size_t>(in_img));
      T* b = !cat ? nullptr : gx2 ? gx2 + n * in_img2 : scratch<T>(1, static_cast<size_t>(in_img2));
      conv_direct_backward_input<T>(m, w, a, g1, b, c1);
    }
    T* part = parts[static_cast<size_t>(t)].data();
    if (gw) {
      conv_direct_backward_weight<T>(x + n * in_img, m, gwn, g1, cat ? x2 + n * in_img2 : nullptr, c1);
      for (long i = 0; i < wsize; ++i) part[i] += gwn[i];
    }
    if (gb) {  // SIMD row sums (a scalar loop here is a latency-bound add chain: 6% of a step)
      reduce_sum<T>(m, gbn, g.Cout, hw, 1);
      for (long co = 0; co < g.Cout; ++co) part[wsize + co] += gbn[co];
    }
  });
  for (size_t t = 1; t < parts.size(); ++t)
    for (size_t i = 0; i < parts[0].size(); ++i) parts[0][i] += parts[t][i];
  if (gw) std::copy(parts[0].begin(), parts[0].begin() + wsize, gw);
  if (gb) std::copy(parts[0].begin() + wsize, parts[0].end(), gb);
}

namespace ref {
namespace {
template <class T>
const T* input_row(const T* x, const T* x2, long c1, long xs, long ci) {
  return x2 && ci >= c1 ? x2 + (ci - c1) * xs : x + ci * xs;
}
}  // namespace

template <class T>
void taps_forward(const T* x, long xs, long C, const long* off, long ntaps, const T* w, long Cout, T* y, long ys,
                  long L, const T* bias, bool relu, const T* x2, long c1) {
  for (long co = 0; co < Cout; ++co)
    for (long p = 0; p < L; ++p) {
      T s = bias ? bias[co] : T(0);
      for (long ci = 0; ci < C; ++ci)
        for (long t = 0; t < ntaps; ++t) s += w[(co * C + ci) * ntaps + t] * input_row(x, x2, c1, xs, ci)[p + off[t]];
      y[co * ys + p] = relu && s < T(0) ? T(0) : s;
    }
}

template <class T>
void taps_weight(const T* x, long xs, long C, const long* off, long ntaps, const T* gy, long ys, long Cout, long L,
                 T* gw, const T* x2, long c1) {
  for (long co = 0; co < Cout; ++co)
    for (long ci = 0; ci < C; ++ci)
      for (long t = 0; t < ntaps; ++t) {
        T s = T(0);
        for (long p = 0; p < L; ++p) s += gy[co * ys + p] * input_row(x, x2, c1, xs, ci)[p + off[t]];
        gw[(co * C + ci) * ntaps + t] += s;
      }
}
}  // namespace ref

#define PG_CONV_DIRECT_INST(T)                                                                          \
  template void conv_direct_forward<T>(const T*, const T*, const T*, T*, const ConvGeom&, bool, const T*, long); \
  template void conv_direct_backward_input<T>(const T*, const T*, T*, const ConvGeom&, T*, long);        \
  template void conv_direct_backward_weight<T>(const T*, const T*, T*, const ConvGeom&, const T*, long); \
  template void conv_direct_backward_relu<T>(const T*, const T*, const T*, const T*, T*, T*, T*, const ConvGeom&, \
                                             const T*, T*, long);                                       \
  template void taps_forward<T>(const T*, long, long, const long*, long, const T*, long, T*, long, long, const T*, \
                                bool, const T*, long);                                                  \
  template void taps_weight<T>(const T*, long, long, const long*, long, const T*, long, long, long, T*, const T*, \
                               long);                                                                   \
  template void ref::taps_forward<T>(const T*, long, long, const long*, long, const T*, long, T*, long, long, \
                                     const T*, bool, const T*, long);                                   \
  template void ref::taps_weight<T>(const T*, long, long, const long*, long, const T*, long, long, long, T*, \
                                    const T*, long);
PG_CONV_DIRECT_INST(float)
PG_CONV_DIRECT_INST(double)
#undef PG_CONV_DIRECT_INST

}  // namespace pianograd::kernels::cpu
