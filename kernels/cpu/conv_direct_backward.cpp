// Backward batch drivers of the direct convolution (conv_direct.h): input gradient, weight gradient and
// the fused-ReLU backward that produces both (plus the bias gradient) from one masked output gradient.
// Each is a per-image body (input_image / weight_image) run over the batch.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/conv_direct_plan.h"
#include "kernels/cpu/kernel_registry.h"

namespace pianograd::kernels::cpu {

using namespace cd_detail;

namespace {

// The input gradient as a forward pass: gxp[ci, q] = sum_{co,t} w[co,ci,t] * gy'[co, q - off[t]], over gy'
// placed after a zero margin of maxoff, with offsets maxoff - off[t] and the transposed weight.
template <class T>
struct Transposed {
  std::vector<T> wt;
  std::vector<long> off2;
  // w null: not wanted (a ReLU backward without the input gradient), left empty.
  Transposed(const T* w, const ConvGeom& g, const Plan& pl) {
    if (!w) return;
    wt.resize(static_cast<size_t>(g.C * g.Cout * pl.ntaps));
    for (long co = 0; co < g.Cout; ++co)
      for (long ci = 0; ci < g.C; ++ci)
        for (long t = 0; t < pl.ntaps; ++t)
          wt[static_cast<size_t>((ci * g.Cout + co) * pl.ntaps + t)] = w[(co * g.C + ci) * pl.ntaps + t];
    off2.resize(pl.off.size());
    for (size_t t = 0; t < off2.size(); ++t) off2[t] = pl.maxoff - pl.off[t];
  }
};

// The wide path's margined output gradient, row length rg = maxoff + xs: G[co*rg + maxoff + oh*Wp + ow] =
// gy[co, oh, ow] (masked by y > 0 when y is given, gb[co] = the masked sum), zeros in the leading margin,
// the discarded columns and after the last row. The input pass reads G, the weight pass G + maxoff (its
// zero discarded columns add nothing): one copy shared by both, written from gy (or y, gy) directly.
template <class T>
void wide_grad(const T* y, const T* gy, const ConvGeom& g, const Plan& pl, T* G, T* gb) {
  const long M = pl.maxoff, rg = M + pl.xs, OW = g.OW, Wp = pl.Wp;
  for (long co = 0; co < g.Cout; ++co) {
    T* Gc = G + co * rg;
    std::fill(Gc, Gc + M, T(0));
    T s = T(0);
    for (long oh = 0; oh < g.OH; ++oh) {
      T* row = Gc + M + oh * Wp;
      const long i = (co * g.OH + oh) * OW;
      if (y)
        s += relu_mask<T>(y + i, gy + i, row, OW);
      else
        std::memcpy(row, gy + i, sizeof(T) * OW);
      std::fill(row + OW, row + Wp, T(0));
    }
    std::fill(Gc + M + g.OH * Wp, Gc + rg, T(0));
    if (gb) gb[co] = s;
  }
}

// Input gradient of one image. gyn: the output gradient [Cout, OH*OW]; G (wide plans only): its margined
// copy from wide_grad, or null to build it here. Input channels [0, c1) go to gxn, [c1, C) to gx2n when
// that is given (the input was [x | x2], rows_only plans only).
template <class T>
void input_image(const T* gyn, const T* G, T* gxn, T* gx2n, long c1, const ConvGeom& g, const Plan& pl,
                 const Transposed<T>& tr) {
  const long M = pl.maxoff, L = pl.L;
  const T* wt = tr.wt.data();
  const long* off2 = tr.off2.data();
  // The interior outputs read gy in place; only the first and last M outputs reach into the zero margins,
  // and those come from two small margined copies E instead of a copy of all of gy.
  auto edges = [&](auto&& taps_out, long lo_at, long lo_len, long hi_at, long hi_len) {
    T* E = scratch<T>(0, static_cast<size_t>(g.Cout * 2 * M));
    for (long co = 0; co < g.Cout; ++co) {
      std::fill(E + co * 2 * M, E + co * 2 * M + M, T(0));
      std::memcpy(E + co * 2 * M + M, gyn + co * L, sizeof(T) * M);
    }
    if (lo_len > 0) taps_out(E + (M - lo_len), lo_at, lo_len);
    for (long co = 0; co < g.Cout; ++co) {
      std::memcpy(E + co * 2 * M, gyn + co * L + L - M, sizeof(T) * M);
      std::fill(E + co * 2 * M + M, E + (co + 1) * 2 * M, T(0));
    }
    if (hi_len > 0) taps_out(E, hi_at, hi_len);
  };
  if (pl.rows_only) {
    // Only the unpadded rows q in [P, P + H*W) of the padded-plane gradient are wanted: written straight
    // into gx (row stride H*W), from gy in place for q in [M, L) and from E for [P, M) and [L, L + M - P).
    const long hw = g.H * g.W, P = pl.P;
    auto taps_out = [&](const T* src, long src_stride, long at, long len) {
      if (!gx2n) return taps_forward<T>(src, src_stride, g.Cout, off2, pl.ntaps, wt, g.C, gxn + at, hw, len);
      taps_forward<T>(src, src_stride, g.Cout, off2, pl.ntaps, wt, c1, gxn + at, hw, len);
      taps_forward<T>(src, src_stride, g.Cout, off2, pl.ntaps, wt + c1 * g.Cout * pl.ntaps, g.C - c1, gx2n + at, hw,
                      len);
    };
    taps_out(gyn, L, M - P, L - M);
    edges([&](const T* e, long at, long len) { taps_out(e, 2 * M, at, len); }, 0, M - P, L - P, M - P);
    return;
  }
  T* gxp = pl.padded ? scratch<T>(1, static_cast<size_t>(g.C * pl.xs)) : gxn;
  if (!pl.wide && L >= M) {  // gy already is gy' (no discarded columns, xs = L + M)
    taps_forward<T>(gyn, L, g.Cout, off2, pl.ntaps, wt, g.C, gxp + M, pl.xs, L - M);
    edges([&](const T* e, long at, long len) { taps_forward<T>(e, 2 * M, g.Cout, off2, pl.ntaps, wt, g.C, gxp + at,
                                                               pl.xs, len); },
          0, M, L, M);
  } else {
    if (!G) {
      T* Gb = scratch<T>(0, static_cast<size_t>(g.Cout * (M + pl.xs)));
      if (pl.wide) {
        wide_grad<T>(nullptr, gyn, g, pl, Gb, nullptr);
      } else {  // L < M: a short plane, copied whole after its margin
        std::fill(Gb, Gb + g.Cout * (M + pl.xs), T(0));
        if (L > 0)  // memcpy from a null gy of an empty plane is undefined (UBSan), even for 0 bytes
          for (long co = 0; co < g.Cout; ++co) std::memcpy(Gb + co * (M + pl.xs) + M, gyn + co * L, sizeof(T) * L);
      }
      G = Gb;
    }
    if (pl.padded) {
      // One call per unpadded input row, written straight into gx: no padded-plane gradient to unpad, and
      // the padding columns are not computed (conv0's backward_relu -4%, the key conv's -1.5%).
      for (long h = 0; h < g.H; ++h)
        taps_forward<T>(G + (h + g.ph) * pl.Wp + g.pw, M + pl.xs, g.Cout, off2, pl.ntaps, wt, g.C, gxn + h * g.W,
                        g.H * g.W, g.W);
      return;
    }
    taps_forward<T>(G, M + pl.xs, g.Cout, off2, pl.ntaps, wt, g.C, gxp, pl.xs, pl.xs);
  }
  if (pl.padded)  // drop the padding: the unpadded rows of the padded-plane gradient
    for (long c = 0; c < g.C; ++c)
      for (long h = 0; h < g.H; ++h)
        std::memcpy(gxn + (c * g.H + h) * g.W, gxp + c * pl.xs + (h + g.ph) * pl.Wp + g.pw, sizeof(T) * g.W);
}

// Weight gradient of one image, accumulated into part. G as for input_image.
template <class T>
void weight_image(const T* xn, const T* x2n, long c1, const T* gyn, const T* G, const ConvGeom& g, const Plan& pl,
                  T* part) {
  const long* off = pl.off.data();
  if (pl.rows_only) {  // the forward's split: interior in place, edges from the strips
    const long len = pl.P + pl.maxoff, ys = pl.L;
    const T* e = edge_strips(xn, g, pl, scratch<T>(0, static_cast<size_t>(2 * g.C * len)), x2n, c1);
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
  long ys = pl.L;
  if (pl.wide) {  // gy' with zeroed discarded columns, so they add nothing
    if (!G) {
      T* Gb = scratch<T>(1, static_cast<size_t>(g.Cout * (pl.maxoff + pl.xs)));
      wide_grad<T>(nullptr, gyn, g, pl, Gb, nullptr);
      G = Gb;
    }
    gyn = G + pl.maxoff;
    ys = pl.maxoff + pl.xs;
  }
  taps_weight<T>(xn, pl.xs, g.C, off, pl.ntaps, gyn, ys, g.Cout, pl.L, part);
}

// Per-thread partial sums, added in thread order: no races, and no dependence on scheduling.
template <class T>
void reduce_parts(const std::vector<std::vector<T>>& parts, long lo, long n, T* out) {
  for (long i = 0; i < n; ++i) {
    T s = parts[0][static_cast<size_t>(lo + i)];
    for (size_t t = 1; t < parts.size(); ++t) s += parts[t][static_cast<size_t>(lo + i)];
    out[i] = s;
  }
}

}  // namespace

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
  const Transposed<T> tr(w, g, pl);
  const long in_img = (gx2 ? c1 : g.C) * g.H * g.W, in_img2 = (g.C - c1) * g.H * g.W, out_img = g.Cout * g.OH * g.OW;
  over_batch(g.N, [&](long n, int) {
    input_image<T>(gy + n * out_img, nullptr, gx + n * in_img, gx2 ? gx2 + n * in_img2 : nullptr, c1, g, pl, tr);
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
    reduce_parts(parts, 0, g.Cout * K, gw);
    return;
  }
  const Plan pl(g);
  const long in_img = (x2 ? c1 : g.C) * g.H * g.W, in_img2 = (g.C - c1) * g.H * g.W;
  const long out_img = g.Cout * g.OH * g.OW, wsize = g.Cout * g.C * pl.ntaps;
  std::vector<std::vector<T>> parts(static_cast<size_t>(batch_threads(g.N)),
                                    std::vector<T>(static_cast<size_t>(wsize), T(0)));
  over_batch(g.N, [&](long n, int t) {
    weight_image<T>(x + n * in_img, x2 ? x2 + n * in_img2 : nullptr, c1, gy + n * out_img, nullptr, g, pl,
                    parts[static_cast<size_t>(t)].data());
  });
  reduce_parts(parts, 0, wsize, gw);
}

template <class T>
void conv_direct_backward_relu(const T* x, const T* w, const T* y, const T* gy, T* gx, T* gw, T* gb,
                               const ConvGeom& g, const T* x2, T* gx2, long c1) {
  const bool cat = x2 != nullptr;
  const long in_img = (cat ? c1 : g.C) * g.H * g.W, in_img2 = (g.C - c1) * g.H * g.W;
  const long hw = g.OH * g.OW, out_img = g.Cout * hw;
  const long wsize = g.Cout * g.C * g.KH * g.KW;
  const bool want_gx = gx || (cat && gx2);
  const int nt = batch_threads(g.N);
  // Per-thread partial sums [gw | gb], added in thread order (deterministic for a given thread count).
  std::vector<std::vector<T>> parts(static_cast<size_t>(nt), std::vector<T>(static_cast<size_t>(wsize + g.Cout), T(0)));
  if (full_width(g)) {  // rare (the readout has no ReLU): mask, then the plain drivers one image at a time
    ConvGeom g1 = g;
    g1.N = 1;
    over_batch(g.N, [&](long n, int t) {
      T* m = scratch<T>(2, static_cast<size_t>(out_img + wsize));
      T* gwn = m + out_img;
      T* part = parts[static_cast<size_t>(t)].data();
      for (long co = 0; co < g.Cout; ++co)
        part[wsize + co] += relu_mask<T>(y + n * out_img + co * hw, gy + n * out_img + co * hw, m + co * hw, hw);
      if (gx) conv_direct_backward_input<T>(m, w, gx + n * in_img, g1);
      if (gw) {
        conv_direct_backward_weight<T>(x + n * in_img, m, gwn, g1);
        for (long i = 0; i < wsize; ++i) part[i] += gwn[i];
      }
    });
  } else {
    const Plan pl(g);
    const Transposed<T> tr(want_gx ? w : nullptr, g, pl);
    // The masked gradient, one image at a time in a per-thread buffer that both passes then read while it
    // is cache-hot; wide plans write it straight into the margined layout both passes read (wide_grad).
    const long mlen = pl.wide ? g.Cout * (pl.maxoff + pl.xs) : out_img;
    over_batch(g.N, [&](long n, int t) {
      T* m = scratch<T>(2, static_cast<size_t>(mlen + g.Cout));
      T* gbn = m + mlen;
      const T* yn = y + n * out_img;
      const T* gyn = gy + n * out_img;
      const T* G = nullptr;
      if (pl.wide) {
        wide_grad<T>(yn, gyn, g, pl, m, gbn);
        G = m;
      } else {
        for (long co = 0; co < g.Cout; ++co) gbn[co] = relu_mask<T>(yn + co * hw, gyn + co * hw, m + co * hw, hw);
      }
      if (want_gx) {
        // With two inputs one split pass writes both gradients; an unwanted one goes to scratch slot 1,
        // which the rows_only input pass (the only one taking two inputs) does not use.
        T* a = gx ? gx + n * in_img : scratch<T>(1, static_cast<size_t>(in_img));
        T* b = !cat ? nullptr : gx2 ? gx2 + n * in_img2 : scratch<T>(1, static_cast<size_t>(in_img2));
        input_image<T>(m, G, a, b, c1, g, pl, tr);
      }
      T* part = parts[static_cast<size_t>(t)].data();
      if (gw) weight_image<T>(x + n * in_img, cat ? x2 + n * in_img2 : nullptr, c1, m, G, g, pl, part);
      for (long co = 0; co < g.Cout; ++co) part[wsize + co] += gbn[co];
    });
  }
  if (gw) reduce_parts(parts, 0, wsize, gw);
  if (gb) reduce_parts(parts, wsize, g.Cout, gb);
}

#define PG_CONV_DIRECT_BWD_INST(T)                                                                      \
  template void conv_direct_backward_input<T>(const T*, const T*, T*, const ConvGeom&, T*, long);        \
  template void conv_direct_backward_weight<T>(const T*, const T*, T*, const ConvGeom&, const T*, long); \
  template void conv_direct_backward_relu<T>(const T*, const T*, const T*, const T*, T*, T*, T*, const ConvGeom&, \
                                             const T*, T*, long);
PG_CONV_DIRECT_BWD_INST(float)
PG_CONV_DIRECT_BWD_INST(double)
#undef PG_CONV_DIRECT_BWD_INST

// Covered by the conformance suite (kernels/cpu/conformance_*.cpp; kernel_registry.h).
PG_CPU_KERNEL(conv_direct_backward_input);
PG_CPU_KERNEL(conv_direct_backward_weight);
PG_CPU_KERNEL(conv_direct_backward_relu);

}  // namespace pianograd::kernels::cpu
