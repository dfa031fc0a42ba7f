#include "autodiff/nn/layer_norm.h"

#include "autodiff/ops.h"

namespace pianograd::nn {

LayerNorm::LayerNorm(Shape shape, double eps_, bool affine, DType dtype) : normalized_shape(std::move(shape)), eps(eps_) {
  if (normalized_shape.empty() || shape_numel(normalized_shape) <= 0)
    throw ValueError("LayerNorm: normalized_shape must be non-empty with positive dims, got " + shape_str(normalized_shape));
  if (!(eps > 0.0)) throw ValueError("LayerNorm: eps must be > 0");
  if (affine) {
    weight = register_parameter("weight", ones(normalized_shape, dtype));
    bias = register_parameter("bias", zeros(normalized_shape, dtype));
  }
}

Tensor LayerNorm::forward(const Tensor& x) {
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  bool ok = x.defined() && x.dim() >= k;
  for (int64_t i = 0; ok && i < k; ++i) ok = x.size(x.dim() - k + i) == normalized_shape[static_cast<size_t>(i)];
  if (!ok)
    throw ShapeError("LayerNorm: expected input [..., " + shape_str(normalized_shape).substr(1) + ", got " +
                     (x.defined() ? shape_str(x.shape()) : std::string("undefined")));
  return layer_norm(x, normalized_shape, weight, bias, eps);
}

}  // namespace pianograd::nn
