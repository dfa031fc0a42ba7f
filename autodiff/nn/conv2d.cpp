#include "autodiff/nn/conv2d.h"

#include "autodiff/nn/conv_init.h"
#include "autodiff/ops.h"

namespace pianograd::nn {

Conv2d::Conv2d(int64_t cin, int64_t cout, int64_t k, const Conv2dOptions& o)
    : in_channels(cin), out_channels(cout), kernel_size(k), options(o) {
  detail::check_conv_args("Conv2d", cin, cout, k, o);
  Tensor w = Tensor::empty({cout, cin / o.groups, k, k}, o.dtype);
  Tensor b = o.bias ? Tensor::empty({cout}, o.dtype) : Tensor();
  detail::init_conv(w, o.bias ? &b : nullptr);
  weight = register_parameter("weight", w);
  if (o.bias) bias = register_parameter("bias", b);
}

Tensor Conv2d::forward(const Tensor& x) {
  if (!x.defined() || x.dim() != 4 || x.size(1) != in_channels)
    throw ShapeError("Conv2d: expected input [N, " + std::to_string(in_channels) + ", H, W], got " +
                     (x.defined() ? shape_str(x.shape()) : std::string("undefined")));
  return conv2d(x, weight, bias, options.stride, options.padding, options.dilation, options.groups);
}

}  // namespace pianograd::nn
