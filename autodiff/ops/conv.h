// Convolutions (cross-correlation, as in every DL framework) and pooling, channels-first.
#pragma once
#include "autodiff/tensor.h"

namespace pianograd {

// x [N,Cin,L], w [Cout,Cin/groups,K], bias [Cout] or undefined.
Tensor conv1d(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor(), int64_t stride = 1,
              int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1);
// x [N,Cin,H,W], w [Cout,Cin/groups,KH,KW]; stride/padding/dilation shared by both axes.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor(), int64_t stride = 1,
              int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1);
// x [N,Cin,L], w [Cin,Cout/groups,K] (PyTorch layout).
Tensor conv_transpose1d(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor(), int64_t stride = 1,
                        int64_t padding = 0, int64_t output_padding = 0, int64_t dilation = 1,
                        int64_t groups = 1);
Tensor max_pool1d(const Tensor& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0);  // stride 0 = kernel
Tensor avg_pool1d(const Tensor& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0);
Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0);
Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0);

}  // namespace pianograd
