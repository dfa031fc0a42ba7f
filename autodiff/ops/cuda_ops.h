// CUDA paths shared by several ops (internal header): broadcasting binary ops, broadcast copies and
// axis sums on device tensors, over kernels/cuda. Every function expects CUDA inputs of a floating
// dtype that the calling op has already validated.
#pragma once
#include <utility>

#include "autodiff/broadcast.h"
#include "autodiff/tensor.h"
#include "kernels/common/elementwise_math.h"
#include "kernels/cuda/cuda_kernels.h"

namespace pianograd::detail {

// y = op(a, b) with NumPy broadcasting to out_shape (one kernel launch).
Tensor cuda_binary(kernels::BinaryOp op, const Tensor& a, const Tensor& b, const Shape& out_shape);
// x expanded to `shape` (x's shape broadcasts to it), not recorded.
Tensor cuda_broadcast_to(const Tensor& x, const Shape& shape);
// grad summed over the dims where `shape` is 1 or missing (tape.cpp's sum_to for CUDA tensors).
Tensor cuda_sum_to(const Tensor& grad, const Shape& shape);
// A fresh copy of x on its device (no recording).
Tensor cuda_copy(const Tensor& x);

// y = cmp(a, b) ? 1 : 0 broadcast to out_shape, in a's dtype (the comparisons of select.cpp).
Tensor cuda_compare(kernels::cuda::CompareOp op, const Tensor& a, const Tensor& b, const Shape& out_shape);
// Elementwise strided copy between two device buffers of any dtype (src and dst have the same dtype
// and device): dst[dst_offset + i . dst_strides] = src[src_offset + i . src_strides] for i < box,
// strides and offsets in elements. Dims of size 1 are dropped and dims contiguous in both buffers
// merged, so any rank whose box merges to <= kMaxDims dims is one launch.
void cuda_strided_copy(const Tensor& src, int64_t src_offset, const Strides& src_strides, const Tensor& dst,
                       int64_t dst_offset, const Strides& dst_strides, const Shape& box);
// The device counterpart of copy_box (autodiff/ops/copy_box.h): an N-d box between two row-major
// tensors of the same rank, dst[dst_start + i] = src[src_start + i].
void cuda_copy_box(const Tensor& src, const Shape& src_start, const Tensor& dst, const Shape& dst_start,
                   const Shape& box);

// x cast to `to` on its device (Tensor::to(DType) of a CUDA tensor), recorded for float -> float as
// the CPU cast is (the gradient is cast back).
Tensor cuda_cast(const Tensor& x, DType to);
// where's forward on the device: y = cond ? a : b broadcast to out_shape, and the 0/1 mask (a's dtype).
std::pair<Tensor, Tensor> cuda_where(const Tensor& cond, const Tensor& a, const Tensor& b, const Shape& out_shape);
// x (any dtype) expanded to `shape` as a fresh tensor (expand's forward; one strided copy, stride 0
// along broadcast dims), not recorded.
Tensor cuda_expand(const Tensor& x, const Shape& shape);

}  // namespace pianograd::detail
