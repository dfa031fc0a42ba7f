#include "autodiff/nn/conv1d.h"

#include "autodiff/nn/conv_init.h"
#include "autodiff/ops.h"

namespace pianograd::nn {

Conv1d::Conv1d(int64_t cin, int64_t cout, int64_t k, const Conv1dOptions& o)
    : in_channels(cin), out_channels(cout), kernel_size(k), options(o) {
  detail::check_conv_args("Conv1d", cin, cout, k, o);
  Tensor w = Tensor::empty({cout, cin / o.groups, k}, o.dtype);
  Tensor b = o.bias ? Tensor::empty({cout}, o.dtype) : Tensor();
  detail::init_conv(w, o.bias ? &b : nullptr);
  weight = register_parameter("weight", w);
  if (o.bias) bias = register_parameter("bias", b);
}

Tensor Conv1d::forward(const Tensor& x) {
  if (!x.defined() || x.dim() != 3 || x.size(1) != in_channels)
    throw ShapeError("Conv1d: expected input [N, " + std::to_string(in_channels) + ", L], got " +
                     (x.defined() ? shape_str(x.shape()) : std::string("undefined")));
  return conv1d(x, weight, bias, options.stride, options.padding, options.dilation, options.groups);
}

}  // namespace pianograd::nn
