// Max and average pooling over [planes, H, W] (planes = N*C), windows KH x KW with stride and
// zero/-inf padding; 1-D pooling is H = KH = 1, ph = 0.
#pragma once
#include <cstdint>

namespace pianograd::kernels::cpu {

struct PoolGeom {
  long planes = 1, H = 1, W = 1, KH = 1, KW = 1, OH = 1, OW = 1;
  long sh = 1, sw = 1, ph = 0, pw = 0;
};

// Padding counts as -inf: the max is over the in-bounds part of each window. argmax receives the
// flat index (ih*W + iw) of the first maximum in each window, for the backward pass.
template <class T> void max_pool_forward(const T* x, const PoolGeom& g, T* y, int64_t* argmax);
// gx (overwritten) = scatter-add of gy onto the argmax positions.
template <class T> void max_pool_backward(const T* gy, const int64_t* argmax, const PoolGeom& g, T* gx);
// Padding counts as zeros in the mean (PyTorch count_include_pad=True): divisor always KH*KW.
template <class T> void avg_pool_forward(const T* x, const PoolGeom& g, T* y);
// gx (overwritten): every in-bounds position of a window receives gy / (KH*KW).
template <class T> void avg_pool_backward(const T* gy, const PoolGeom& g, T* gx);

}  // namespace pianograd::kernels::cpu
