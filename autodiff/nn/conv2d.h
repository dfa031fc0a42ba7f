// 2-D convolution layer over [N, Cin, H, W] (torch.nn.Conv2d with square kernels; cross-correlation).
#pragma once
#include "autodiff/nn/conv1d.h"

namespace pianograd::nn {

using Conv2dOptions = Conv1dOptions;  // stride/padding/dilation shared by both axes

class Conv2d : public Module {
 public:
  // PyTorch's defaults: W ~ U(±1/sqrt(fan_in)), b ~ U(±1/sqrt(fan_in)), fan_in = Cin/groups * K * K.
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, const Conv2dOptions& options = {});
  Tensor forward(const Tensor& x) override;  // [N, Cin, H, W] -> [N, Cout, H', W']
  std::string type_name() const override { return "Conv2d"; }

  const int64_t in_channels, out_channels, kernel_size;
  const Conv2dOptions options;
  Tensor weight;  // [Cout, Cin/groups, K, K]
  Tensor bias;    // [Cout] or undefined
};

}  // namespace pianograd::nn
