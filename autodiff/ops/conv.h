// Convolutions (cross-correlation, as in every DL framework) and pooling, channels-first.
#pragma once
#include <array>

#include "autodiff/tensor.h"

namespace pianograd {

// x [N,Cin,L], w [Cout,Cin/groups,K], bias [Cout] or undefined.
Tensor conv1d(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor(), int64_t stride = 1,
              int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1);
// x [N,Cin,H,W], w [Cout,Cin/groups,KH,KW]; stride/padding/dilation shared by both axes.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor(), int64_t stride = 1,
              int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1);
// Per-axis {h, w} stride / padding / dilation (PyTorch's tuple arguments), e.g. a [k x 1] time conv
// padded in time only: conv2d(x, w, b, {1, 1}, {p, 0}, {d, 1}). Zero padding inside the conv, so no
// padded copy of x is materialised (nor its gradient sliced back out).
// activation = relu returns relu(conv2d(...)) as one op: the clamp is fused into the conv's store and
// the VJP masks the output gradient by y > 0, saving the separate ReLU pass, its output tensor and its
// backward pass (torch's conv + ReLU pair does both).
using Conv2dPair = std::array<int64_t, 2>;
enum class ConvActivation { none, relu };
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, Conv2dPair stride, Conv2dPair padding,
              Conv2dPair dilation = {1, 1}, int64_t groups = 1, ConvActivation activation = ConvActivation::none);
// conv2d(concat({x, x2}, 1), w, bias, stride, padding, dilation, 1, activation) as one op: x [N,C1,H,W] and
// x2 [N,C2,H,W] are read in place (and their gradients written in place) by the direct kernel when it
// applies (fused ReLU, stride 1, padding along H only: a [k x 1] time conv over [features | context]),
// saving the concatenated copy and the slicing of its gradient; elsewhere it is that concat + conv2d.
Tensor conv2d_concat(const Tensor& x, const Tensor& x2, const Tensor& w, const Tensor& bias, Conv2dPair stride,
                     Conv2dPair padding, Conv2dPair dilation = {1, 1},
                     ConvActivation activation = ConvActivation::none);
// x [N,Cin,L], w [Cin,Cout/groups,K] (PyTorch layout).
Tensor conv_transpose1d(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor(), int64_t stride = 1,
                        int64_t padding = 0, int64_t output_padding = 0, int64_t dilation = 1,
                        int64_t groups = 1);
Tensor max_pool1d(const Tensor& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0);  // stride 0 = kernel
Tensor avg_pool1d(const Tensor& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0);
Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0);
Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0);

}  // namespace pianograd
