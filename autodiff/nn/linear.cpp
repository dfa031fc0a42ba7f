#include "autodiff/nn/linear.h"

#include <cmath>

#include "autodiff/nn/init.h"
#include "autodiff/ops.h"

namespace pianograd::nn {

Linear::Linear(int64_t in, int64_t out, bool with_bias, DType dtype) : in_features(in), out_features(out) {
  if (in <= 0 || out <= 0)
    throw ValueError("Linear: in_features and out_features must be positive, got " + std::to_string(in) + ", " +
                     std::to_string(out));
  Tensor w = Tensor::empty({out, in}, dtype);
  init::kaiming_uniform_(w, std::sqrt(5.0));
  weight = register_parameter("weight", w);
  if (with_bias) {
    Tensor b = Tensor::empty({out}, dtype);
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    init::uniform_(b, -bound, bound);
    bias = register_parameter("bias", b);
  }
}

Tensor Linear::forward(const Tensor& x) {
  if (!x.defined() || x.dim() < 1 || x.size(-1) != in_features)
    throw ShapeError("Linear: expected input [..., " + std::to_string(in_features) + "], got " +
                     (x.defined() ? shape_str(x.shape()) : std::string("undefined")));
  return linear(x, weight, bias);
}

}  // namespace pianograd::nn
