// Matrix products. matmul follows NumPy: 1-D operands are promoted, leading dims broadcast.
#pragma once
#include "autodiff/tensor.h"

namespace pianograd {

Tensor matmul(const Tensor& a, const Tensor& b);
Tensor bmm(const Tensor& a, const Tensor& b);  // [B,M,K] @ [B,K,N] strictly
// x [..., K] @ w^T + b for w [N, K] and b [N] (optional): torch.nn.functional.linear. One GEMM with a
// transposed operand, so the weight is never copied into its transpose (matmul(x, transpose(w)) copies
// it: per token in the motion LM's decoding, most of the time).
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = Tensor());
// x [..., K] @ w [K, N] for a w whose columns are each nonzero on one contiguous band of rows (a
// filterbank): the multiply-adds run over the bands only (kernels/cpu/banded_matmul.h). Same value and
// gradients as matmul(x, w) for any w; when the bands fill more than a quarter of w, or on CUDA, it is
// matmul(x, w). The gradient of w, when wanted, is the dense x^T @ gy.
Tensor banded_matmul(const Tensor& x, const Tensor& w);

}  // namespace pianograd
