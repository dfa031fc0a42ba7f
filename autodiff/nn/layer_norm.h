// Layer normalisation over the trailing dims (Ba et al. 2016; torch.nn.LayerNorm).
#pragma once
#include "autodiff/nn/module.h"

namespace pianograd::nn {

class LayerNorm : public Module {
 public:
  // weight = 1, bias = 0 (PyTorch's defaults) when elementwise_affine.
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true,
                     DType dtype = DType::f32);
  Tensor forward(const Tensor& x) override;  // x [..., *normalized_shape], same shape out
  std::string type_name() const override { return "LayerNorm"; }

  const Shape normalized_shape;
  const double eps;
  Tensor weight, bias;  // normalized_shape, or undefined
};

}  // namespace pianograd::nn
