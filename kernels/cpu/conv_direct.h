// Direct (no im2col) convolution for stride 1, groups 1 and small channel counts — the transcriber's
// 3x3 conv2d with 8 channels and its [k x 1] / [1 x k] per-key convs with 16-48 channels. At these sizes
// im2col + GEMM spends more time copying (im2col, packing, col2im) than multiplying.
//
// The trick ("flattened padded planes"): with the input zero-padded to Hp x Wp and stride 1, output
// (oh, ow) reads input (oh + kh*dh, ow + kw*dw), i.e. flat index p + off[kh,kw] with p = oh*Wp + ow and
// off = kh*dh*Wp + kw*dw. Computing every p in [0, L), L = (OH-1)*Wp + OW, turns the conv into a 1-D
// multi-tap correlation over one long row per channel; the (KW-1)*dw columns per row with ow >= OW are
// computed and discarded (none when KW = 1). All three passes reduce to two kernels over such rows:
//   taps_forward:  y[co, p]        = sum_{ci,t} w[co, ci, t] * x[ci, p + off[t]]
//   taps_weight:   gw[co, ci, t]  += sum_p gy[co, p] * x[ci, p + off[t]]
// (the input gradient is taps_forward on the zero-margined output gradient with the transposed weight
// and mirrored offsets). Both are register-blocked (4 output channels x 3 vectors / x 3 taps) xsimd
// bodies in conv_direct_simd.h, one TU per ISA, with scalar references in namespace ref.
#pragma once

#include "kernels/cpu/im2col.h"

namespace pianograd::kernels::cpu {

// True when the direct path applies and is expected to beat im2col + GEMM (few channels: the GEMM's
// M = Cout and K = C*KH*KW are too small to amortise packing; a 1x1 conv only with <= 4 outputs).
bool conv_direct_preferred(const ConvGeom& g);
bool conv_direct_applicable(const ConvGeom& g);  // stride 1 (or the full-width readout), groups 1

// Same contracts as conv_forward / conv_backward_input / conv_backward_weight (im2col.h); require
// conv_direct_applicable(g). Threaded over the batch.
// relu = true fuses the activation into the store: y = max(conv, 0).
//
// Two inputs: with x2 (gx2) non-null the input is the channel concatenation [x | x2] of x [N, c1, H, W] and
// x2 [N, C - c1, H, W], read (and its gradient written) in place, without the concatenated copy and the
// slices of its gradient. Requires conv_direct_concat_applicable(g): padding along H only, the
// transcriber's [k x 1] time convs over [key features | cross-key features] and [features | onset gate].
bool conv_direct_concat_applicable(const ConvGeom& g);
template <class T>
void conv_direct_forward(const T* x, const T* w, const T* bias, T* y, const ConvGeom& g, bool relu = false,
                         const T* x2 = nullptr, long c1 = 0);
template <class T>
void conv_direct_backward_input(const T* gy, const T* w, T* gx, const ConvGeom& g, T* gx2 = nullptr, long c1 = 0);
template <class T>
void conv_direct_backward_weight(const T* x, const T* gy, T* gw, const ConvGeom& g, const T* x2 = nullptr,
                                 long c1 = 0);
// Backward of the conv with fused ReLU (y = max(conv, 0)): the output gradient masked by y > 0 one image
// at a time into a per-thread buffer that both passes then read while it is cache-hot (no full-size
// masked gradient). gx, gw, gb (the bias gradient, [Cout]) may each be null = not wanted; so may gx2.
template <class T>
void conv_direct_backward_relu(const T* x, const T* w, const T* y, const T* gy, T* gx, T* gw, T* gb,
                               const ConvGeom& g, const T* x2 = nullptr, T* gx2 = nullptr, long c1 = 0);

// The row kernels, dispatched by active_isa(). x rows have stride xs, y / gy rows stride ys; w is
// [Cout][C][ntaps]; every x[ci*xs + p + off[t]] for p < L must be readable. taps_forward starts each
// output channel's sums at bias[co] (0 when bias is null): no separate pass over y to add it; relu
// clamps the sums at 0 before the store.
// x2 non-null: input channels ci >= c1 are rows of x2 instead, x2[(ci - c1)*xs + ...] (a conv over the
// channel concatenation of two tensors, read in place).
template <class T>
void taps_forward(const T* x, long xs, long C, const long* off, long ntaps, const T* w, long Cout, T* y, long ys,
                  long L, const T* bias = nullptr, bool relu = false, const T* x2 = nullptr, long c1 = 0);
template <class T>
void taps_weight(const T* x, long xs, long C, const long* off, long ntaps, const T* gy, long ys, long Cout, long L,
                 T* gw, const T* x2 = nullptr, long c1 = 0);

// The ReLU backward's mask: m[i] = y[i] > 0 ? gy[i] : 0 (0 where y is NaN), returning sum_i m[i] (the bias
// gradient's share of these elements, from the same pass). Branch-free SIMD: a scalar loop here branches
// on the sign of y, mispredicted half the time (~36% of the fused backward's time on random signs).
template <class T>
T relu_mask(const T* y, const T* gy, T* m, long n);

namespace ref {
template <class T>
T relu_mask(const T* y, const T* gy, T* m, long n);
template <class T>
void taps_forward(const T* x, long xs, long C, const long* off, long ntaps, const T* w, long Cout, T* y, long ys,
                  long L, const T* bias = nullptr, bool relu = false, const T* x2 = nullptr, long c1 = 0);
template <class T>
void taps_weight(const T* x, long xs, long C, const long* off, long ntaps, const T* gy, long ys, long Cout, long L,
                 T* gw, const T* x2 = nullptr, long c1 = 0);
}  // namespace ref

#define PG_CONV_DIRECT_ISA_DECL(ns)                                                                    \
  namespace ns {                                                                                       \
  template <class T>                                                                                   \
  void taps_forward(const T* x, long xs, long C, const long* off, long ntaps, const T* w, long Cout, T* y, \
                    long ys, long L, const T* bias, bool relu, const T* x2, long c1);                 \
  template <class T>                                                                                   \
  void taps_weight(const T* x, long xs, long C, const long* off, long ntaps, const T* gy, long ys, long Cout, \
                   long L, T* gw, const T* x2, long c1);                                               \
  template <class T>                                                                                   \
  T relu_mask(const T* y, const T* gy, T* m, long n);                                                  \
  }
PG_CONV_DIRECT_ISA_DECL(sse2)
PG_CONV_DIRECT_ISA_DECL(avx2)
#undef PG_CONV_DIRECT_ISA_DECL

}  // namespace pianograd::kernels::cpu
