// CUDA paths shared by several ops (internal header): broadcasting binary ops, broadcast copies and
// axis sums on device tensors, over kernels/cuda. Every function expects CUDA inputs of a floating
// dtype that the calling op has already validated.
#pragma once
#include "autodiff/broadcast.h"
#include "autodiff/tensor.h"
#include "kernels/common/elementwise_math.h"

namespace pianograd::detail {

// y = op(a, b) with NumPy broadcasting to out_shape (one kernel launch).
Tensor cuda_binary(kernels::BinaryOp op, const Tensor& a, const Tensor& b, const Shape& out_shape);
// x expanded to `shape` (x's shape broadcasts to it), not recorded.
Tensor cuda_broadcast_to(const Tensor& x, const Shape& shape);
// grad summed over the dims where `shape` is 1 or missing (tape.cpp's sum_to for CUDA tensors).
Tensor cuda_sum_to(const Tensor& grad, const Shape& shape);
// A fresh copy of x on its device (no recording).
Tensor cuda_copy(const Tensor& x);

}  // namespace pianograd::detail
