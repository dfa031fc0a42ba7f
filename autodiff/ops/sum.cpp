// sum and mean over axes: the reduction is sum_to onto the keepdim shape; the VJP broadcasts back.
#include "autodiff/broadcast.h"
#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops/cuda_ops.h"
#include "autodiff/ops/elementwise.h"
#include "autodiff/ops/reduce_util.h"
#include "autodiff/ops/shape_ops.h"
#include "autodiff/tape.h"

namespace pianograd {

PG_REGISTER_OP(sum);
PG_REGISTER_OP(mean);

// Broadcast copy of x to `shape` (no recording): the VJP of every reduction.
Tensor broadcast_to_raw(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  if (x.device().type != DeviceType::CPU) [[unlikely]] return detail::cuda_broadcast_to(x, shape);
  Tensor y = Tensor::empty(shape, x.dtype());
  const Strides st[1] = {broadcast_strides(x.shape(), shape)};
  dispatch_floating(x.dtype(), "broadcast_to", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for_each_run<1>(shape, st, [&](int64_t o, const int64_t* off, const int64_t* in, int64_t len) {
      for (int64_t i = 0; i < len; ++i) py[o + i] = px[off[0] + i * in[0]];
    });
    return 0;
  });
  return y;
}

// keepdim shape for reducing `axes` (empty = all) and the count of reduced elements.
Shape reduced_shape(const Shape& s, const Axes& axes, const char* op, int64_t* count) {
  Shape keep = s;
  int64_t c = 1;
  if (axes.empty()) {
    for (auto& d : keep) {
      c *= d;
      d = 1;
    }
  } else {
    std::vector<bool> seen(s.size(), false);
    for (int64_t a : axes) {
      const auto ax = static_cast<size_t>(normalize_axis(a, static_cast<int64_t>(s.size()), op));
      if (seen[ax]) throw ValueError(std::string(op) + ": axis " + std::to_string(a) + " given twice");
      seen[ax] = true;
      c *= keep[ax];
      keep[ax] = 1;
    }
  }
  if (count) *count = c;
  return keep;
}

Shape squeeze_reduced(const Shape& s, const Axes& axes) {
  Shape out;
  const auto nd = static_cast<int64_t>(s.size());
  for (int64_t i = 0; i < nd; ++i) {
    bool reduced = axes.empty();
    for (int64_t a : axes) reduced = reduced || (a < 0 ? a + nd : a) == i;
    if (!reduced) out.push_back(s[static_cast<size_t>(i)]);
  }
  return out;
}

Tensor sum(const Tensor& x, const Axes& axes, bool keepdim) {
  check_floating(x, "sum");
  const Shape keep = reduced_shape(x.shape(), axes, "sum", nullptr);
  Tensor y;
  {
    NoGrad ng;
    y = sum_to(x, keep).detach();
    if (y.is_same(x)) y = x.device().type == DeviceType::CPU ? x.clone().detach() : detail::cuda_copy(x);
    if (!keepdim) y = reshape(y, squeeze_reduced(x.shape(), axes)).detach();
  }
  record(y, "sum", {x}, [keep, in = x.shape()](const Tensor& gy) -> Grads {
    return {broadcast_to_raw(reshape(gy, keep), in)};
  });
  return y;
}

Tensor mean(const Tensor& x, const Axes& axes, bool keepdim) {
  check_floating(x, "mean");
  int64_t count = 0;
  reduced_shape(x.shape(), axes, "mean", &count);
  if (count == 0) throw ValueError("mean: reducing over zero elements of shape " + shape_str(x.shape()));
  Tensor s;
  {
    NoGrad ng;
    s = mul(sum(x, axes, keepdim), 1.0 / static_cast<double>(count)).detach();
  }
  const Shape keep = reduced_shape(x.shape(), axes, "mean", nullptr);
  record(s, "mean", {x}, [keep, count, in = x.shape()](const Tensor& gy) -> Grads {
    return {broadcast_to_raw(mul(reshape(gy, keep), 1.0 / static_cast<double>(count)), in)};
  });
  return s;
}

}  // namespace pianograd
