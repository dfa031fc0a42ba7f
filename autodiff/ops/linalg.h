// Matrix products. matmul follows NumPy: 1-D operands are promoted, leading dims broadcast.
#pragma once
#include "autodiff/tensor.h"

namespace pianograd {

Tensor matmul(const Tensor& a, const Tensor& b);
Tensor bmm(const Tensor& a, const Tensor& b);  // [B,M,K] @ [B,K,N] strictly

}  // namespace pianograd
