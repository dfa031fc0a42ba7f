// Convolution as GEMM (Chellapilla et al. 2006): im2col unrolls every receptive field of one image
// into a column, so a (grouped) convolution is W[Cout/g, Cin/g*KH*KW] @ cols[Cin/g*KH*KW, OH*OW] per
// group; col2im is its adjoint (scatter-add), used for the input gradient and conv_transpose.
// 1-D convolution is the H = KH = 1, sh = 1, ph = 0 case.
#pragma once

namespace pianograd::kernels::cpu {

struct ConvGeom {
  long N = 1;                        // batch
  long C = 1, H = 1, W = 1;          // input channels and spatial size
  long Cout = 1, groups = 1;
  long KH = 1, KW = 1;
  long OH = 1, OW = 1;               // output spatial size (the caller computes it)
  long sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  long col_rows() const { return C * KH * KW; }  // all groups; group g owns a contiguous row block
  long out_hw() const { return OH * OW; }
};

// One image x[C,H,W] -> cols[C*KH*KW, OH*OW]; positions in the padding read as 0.
template <class T> void im2col(const T* x, const ConvGeom& g, T* cols);
// Adjoint: x[C,H,W] += scatter of cols (x is accumulated into, not cleared).
template <class T> void col2im(const T* cols, const ConvGeom& g, T* x);

// Whole-batch drivers over im2col + gemm, threaded over the batch (or inside gemm for N = 1).
// y[N,Cout,OH,OW] = conv(x[N,C,H,W], w[Cout,C/groups,KH,KW]) + bias[Cout] (bias may be null).
template <class T> void conv_forward(const T* x, const T* w, const T* bias, T* y, const ConvGeom& g);
// gx[N,C,H,W] = conv^T(gy) (overwritten): per group W^T @ gy, then col2im.
template <class T> void conv_backward_input(const T* gy, const T* w, T* gx, const ConvGeom& g);
// gw[Cout,C/groups,KH,KW] = sum_n gy_n @ cols_n^T (overwritten).
template <class T> void conv_backward_weight(const T* x, const T* gy, T* gw, const ConvGeom& g);

namespace ref {
// Element-by-element with a bounds test per entry: the reference for the tests.
template <class T> void im2col(const T* x, const ConvGeom& g, T* cols);
template <class T> void col2im(const T* cols, const ConvGeom& g, T* x);
}  // namespace ref

}  // namespace pianograd::kernels::cpu
