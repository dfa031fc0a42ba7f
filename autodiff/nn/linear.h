// y = x W^T + b over the last dim of x (torch.nn.Linear), W [out, in].
#pragma once
#include "autodiff/nn/module.h"

namespace pianograd::nn {

class Linear : public Module {
 public:
  // PyTorch's defaults: W ~ kaiming_uniform(a = sqrt 5) = U(±1/sqrt(in)), b ~ U(±1/sqrt(in)).
  Linear(int64_t in_features, int64_t out_features, bool bias = true, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) override;  // [..., in] -> [..., out]
  std::string type_name() const override { return "Linear"; }

  const int64_t in_features, out_features;
  Tensor weight;  // [out, in]
  Tensor bias;    // [out] or undefined
};

}  // namespace pianograd::nn
