// Matrix products. matmul follows NumPy: 1-D operands are promoted, leading dims broadcast.
#pragma once
#include "autodiff/tensor.h"

namespace pianograd {

Tensor matmul(const Tensor& a, const Tensor& b);
Tensor bmm(const Tensor& a, const Tensor& b);  // [B,M,K] @ [B,K,N] strictly
// x [..., K] @ w [K, N] for a w whose columns are each nonzero on one contiguous band of rows (a
// filterbank): the multiply-adds run over the bands only (kernels/cpu/banded_matmul.h). Same value and
// gradients as matmul(x, w) for any w; when the bands fill more than a quarter of w, or on CUDA, it is
// matmul(x, w). The gradient of w, when wanted, is the dense x^T @ gy.
Tensor banded_matmul(const Tensor& x, const Tensor& w);

}  // namespace pianograd
