// 1-D convolution layer over [N, Cin, L] (torch.nn.Conv1d; cross-correlation).
#pragma once
#include "autodiff/nn/module.h"

namespace pianograd::nn {

struct Conv1dOptions {
  int64_t stride = 1, padding = 0, dilation = 1, groups = 1;
  bool bias = true;
  DType dtype = DType::f32;
};

class Conv1d : public Module {
 public:
  // PyTorch's defaults: W ~ U(±1/sqrt(fan_in)), b ~ U(±1/sqrt(fan_in)), fan_in = Cin/groups * K.
  Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, const Conv1dOptions& options = {});
  Tensor forward(const Tensor& x) override;  // [N, Cin, L] -> [N, Cout, L']
  std::string type_name() const override { return "Conv1d"; }

  const int64_t in_channels, out_channels, kernel_size;
  const Conv1dOptions options;
  Tensor weight;  // [Cout, Cin/groups, K]
  Tensor bias;    // [Cout] or undefined
};

}  // namespace pianograd::nn
