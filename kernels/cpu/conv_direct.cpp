// Batch drivers of the direct convolution (see conv_direct.h for the flattened-plane formulation),
// the ISA dispatch of its row kernels, and their scalar references.
#include "kernels/cpu/conv_direct.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/conv_direct_plan.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/kernel_registry.h"

namespace pianograd::kernels::cpu {

using namespace cd_detail;

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

// AVX-512 hosts run the AVX2 row kernels. Measured on the one AVX-512 CPU we had (AMD EPYC Zen 4, which
// executes 512-bit operations as two 256-bit halves), the 16-lane bodies were never faster and up to 4x
// slower on the transcriber's layers (key conv input gradient 34.7 vs 8.6 ms, conv0 11.3 vs 6.1 ms per
// pass; bench/conv_direct_bench.cpp), and the whole training step 27% slower (235 vs 185 ms; with the
// AVX2 bodies 182 ms). Their 16-lane logic stays tested (tests/kernels/emulated_gemm_conv_test.cpp) for
// a host where it would pay.
template <class T>
void taps_forward(const T* x, long xs, long C, const long* off, long ntaps, const T* w, long Cout, T* y, long ys,
                  long L, const T* bias, bool relu, const T* x2, long c1) {
  switch (active_isa()) {
    case Isa::avx512:
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
    case Isa::avx512:
    case Isa::avx2: return avx2::taps_weight<T>(x, xs, C, off, ntaps, gy, ys, Cout, L, gw, x2, c1);
    case Isa::sse2: return sse2::taps_weight<T>(x, xs, C, off, ntaps, gy, ys, Cout, L, gw, x2, c1);
    case Isa::scalar: break;
  }
  ref::taps_weight<T>(x, xs, C, off, ntaps, gy, ys, Cout, L, gw, x2, c1);
}

template <class T>
T relu_mask(const T* y, const T* gy, T* m, long n) {
  switch (active_isa()) {
    case Isa::avx512:
    case Isa::avx2: return avx2::relu_mask<T>(y, gy, m, n);
    case Isa::sse2: return sse2::relu_mask<T>(y, gy, m, n);
    case Isa::scalar: break;
  }
  return ref::relu_mask<T>(y, gy, m, n);
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
    // Long rows: one call per output row, written straight into y (no wide plane, no copy dropping its
    // discarded columns). Per call the weights are repacked and each channel block's partial sums parked
    // once, which short rows do not amortise: conv0 (264 columns) +10%, the key conv (88) -5%.
    if (pl.wide && g.OW >= 160) {
      for (long oh = 0; oh < g.OH; ++oh)
        taps_forward<T>(xn + oh * pl.Wp, pl.xs, g.C, pl.off.data(), pl.ntaps, w, g.Cout, yn + oh * g.OW, g.OH * g.OW,
                        g.OW, bias, relu);
      return;
    }
    T* yw = pl.wide ? scratch<T>(1, static_cast<size_t>(g.Cout * ys)) : yn;
    taps_forward<T>(xn, pl.xs, g.C, pl.off.data(), pl.ntaps, w, g.Cout, yw, ys, pl.L, bias, relu);
    if (pl.wide)  // drop the discarded columns
      for (long co = 0; co < g.Cout; ++co)
        for (long oh = 0; oh < g.OH; ++oh)
          std::memcpy(yn + (co * g.OH + oh) * g.OW, yw + co * ys + oh * pl.Wp, sizeof(T) * g.OW);
  });
}

namespace ref {
namespace {
template <class T>
const T* input_row(const T* x, const T* x2, long c1, long xs, long ci) {
  return x2 && ci >= c1 ? x2 + (ci - c1) * xs : x + ci * xs;
}
}  // namespace

template <class T>
T relu_mask(const T* y, const T* gy, T* m, long n) {
  T s = T(0);
  for (long i = 0; i < n; ++i) s += m[i] = y[i] > T(0) ? gy[i] : T(0);
  return s;
}

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
  template T relu_mask<T>(const T*, const T*, T*, long);                                              \
  template T ref::relu_mask<T>(const T*, const T*, T*, long);                                         \
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

// Covered by the conformance suite (kernels/cpu/conformance_*.cpp; kernel_registry.h).
PG_CPU_KERNEL(conv_direct_forward);
PG_CPU_KERNEL(taps_forward);
PG_CPU_KERNEL(taps_weight);
PG_CPU_KERNEL(relu_mask);

}  // namespace pianograd::kernels::cpu
