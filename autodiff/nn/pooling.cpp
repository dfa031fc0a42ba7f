#include "autodiff/nn/pooling.h"

#include "autodiff/dispatch.h"
#include "autodiff/ops.h"

namespace pianograd::nn {

Pool::Pool(PoolKind k, int d, int64_t kern, int64_t s, int64_t p) : kind(k), dims(d), kernel(kern), stride(s), padding(p) {
  if (d != 1 && d != 2) throw ValueError("Pool: dims must be 1 or 2, got " + std::to_string(d));
  if (kern <= 0 || s < 0 || p < 0) throw ValueError(type_name() + ": need kernel > 0, stride >= 0, padding >= 0");
}

std::string Pool::type_name() const {
  return std::string(kind == PoolKind::max ? "MaxPool" : "AvgPool") + (dims == 1 ? "1d" : "2d");
}

Tensor Pool::forward(const Tensor& x) {
  if (dims == 1) return kind == PoolKind::max ? max_pool1d(x, kernel, stride, padding) : avg_pool1d(x, kernel, stride, padding);
  return kind == PoolKind::max ? max_pool2d(x, kernel, stride, padding) : avg_pool2d(x, kernel, stride, padding);
}

Tensor GlobalAvgPool::forward(const Tensor& x) {
  if (!x.defined() || x.dim() < 3)
    throw ShapeError("GlobalAvgPool: expected [N, C, ...] with at least one spatial dim, got " +
                     (x.defined() ? shape_str(x.shape()) : std::string("undefined")));
  Axes axes;
  for (int64_t d = 2; d < x.dim(); ++d) axes.push_back(d);
  return mean(x, axes);
}

Tensor Flatten::forward(const Tensor& x) {
  if (!x.defined()) throw ValueError("Flatten: input is undefined");
  const int64_t s = normalize_axis(start_dim, x.dim(), "Flatten");
  Shape out(x.shape().begin(), x.shape().begin() + s);
  out.push_back(-1);
  return reshape(x, out);
}

}  // namespace pianograd::nn
