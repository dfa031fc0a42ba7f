// var, max/min (along an axis with indices, and over everything), argmax and logsumexp. The axis
// reductions run the kernels/cpu/reduce.h kernels on the [outer, n, inner] view of the input.
#include <string>

#include "autodiff/device.h"
#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops/axis_geom.h"
#include "autodiff/ops/elementwise.h"
#include "autodiff/ops/reduce_util.h"
#include "autodiff/ops/shape_ops.h"
#include "autodiff/tape.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cuda/cuda_kernels.h"

namespace pianograd {

namespace kc = kernels::cpu;

PG_REGISTER_OP(var);
PG_REGISTER_OP(max);
PG_REGISTER_OP(min);
PG_REGISTER_OP(logsumexp);

Tensor var(const Tensor& x, const Axes& axes, bool keepdim, int64_t correction) {
  check_floating(x, "var");
  int64_t count = 0;
  const Shape keep = reduced_shape(x.shape(), axes, "var", &count);
  if (correction < 0) throw ValueError("var: correction must be >= 0, got " + std::to_string(correction));
  if (count - correction <= 0)
    throw ValueError("var: " + std::to_string(count) + " reduced elements of shape " + shape_str(x.shape()) +
                     " leave no degrees of freedom with correction " + std::to_string(correction));
  const double inv = 1.0 / static_cast<double>(count - correction);
  // Two-pass: deviations from the mean first, so float does not cancel as E[x^2] - E[x]^2 would.
  Tensor d, v;
  {
    NoGrad ng;
    d = sub(x, mean(x, axes, true)).detach();
    v = mul(sum(mul(d, d), axes, keepdim), inv).detach();
  }
  record(v, "var", {x}, [keep, inv, d](const Tensor& gy) -> Grads {
    // d var / dx_i = 2 (x_i - mean) / (N - correction); the mean's own dependence on x_i cancels
    // because the deviations sum to zero.
    return {mul(mul(reshape(gy, keep), d), 2.0 * inv)};
  });
  return v;
}

namespace {

// Values and i64 indices of the first extremum along g's axis; records the values' VJP, which routes
// each output gradient to the input element that attained it.
std::pair<Tensor, Tensor> extremum(const Tensor& x, const AxisGeom& g, const Shape& out_shape, bool is_min,
                                   const char* name) {
  check_floating(x, name);
  if (g.n == 0)
    throw ValueError(std::string(name) + ": reducing an axis of size 0 in shape " + shape_str(x.shape()));
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  Tensor idx = Tensor::empty(out_shape, DType::i64, x.device());
  if (x.device().type != DeviceType::CPU) [[unlikely]] {
    void* stream = cuda_launch_context(x);
    dispatch_floating(x.dtype(), name, [&](auto tag) {
      using T = decltype(tag);
      kernels::cuda::reduce_arg<T>(x.device_data<T>(), y.device_data<T>(), idx.device_data<int64_t>(), g.outer, g.n,
                                   g.inner, is_min, stream);
      return 0;
    });
    record(y, name, {x}, [g, idx, in = x.shape(), name](const Tensor& gy) -> Grads {
      Tensor gx = Tensor::empty(in, gy.dtype(), gy.device());
      void* st = cuda_launch_context(gy);
      dispatch_floating(gy.dtype(), name, [&](auto tag) {
        using T = decltype(tag);
        kernels::cuda::arg_scatter<T>(gy.device_data<T>(), idx.device_data<int64_t>(), gx.device_data<T>(), g.outer,
                                      g.n, g.inner, st);
        return 0;
      });
      return {gx};
    });
    return {y, idx};
  }
  dispatch_floating(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    kc::reduce_arg<T>(x.data<T>(), y.data<T>(), idx.data<int64_t>(), g.outer, g.n, g.inner, is_min);
    return 0;
  });
  record(y, name, {x}, [g, idx, in = x.shape(), name](const Tensor& gy) -> Grads {
    Tensor gx = zeros(in, gy.dtype());
    dispatch_floating(gy.dtype(), name, [&](auto tag) {
      using T = decltype(tag);
      const T* pg = gy.data<T>();
      const int64_t* pi = idx.data<int64_t>();
      T* px = gx.data<T>();
      for (long o = 0; o < g.outer; ++o)
        for (long i = 0; i < g.inner; ++i) {
          const long w = o * g.inner + i;
          px[(o * g.n + pi[w]) * g.inner + i] = pg[w];
        }
      return 0;
    });
    return {gx};
  });
  return {y, idx};
}

std::pair<Tensor, Tensor> extremum_axis(const Tensor& x, int64_t axis, bool keepdim, bool is_min, const char* name) {
  check_defined(x, name);
  const AxisGeom g = axis_geom(x.shape(), axis, name);
  return extremum(x, g, axis_reduced_shape(x.shape(), g, keepdim), is_min, name);
}

Tensor extremum_all(const Tensor& x, bool is_min, const char* name) {
  check_defined(x, name);
  AxisGeom g;
  g.n = static_cast<long>(x.numel());
  return extremum(x, g, Shape{}, is_min, name).first;
}

}  // namespace

std::pair<Tensor, Tensor> max(const Tensor& x, int64_t axis, bool keepdim) {
  return extremum_axis(x, axis, keepdim, false, "max");
}
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t axis, bool keepdim) {
  return extremum_axis(x, axis, keepdim, true, "min");
}
Tensor max(const Tensor& x) { return extremum_all(x, false, "max"); }
Tensor min(const Tensor& x) { return extremum_all(x, true, "min"); }

Tensor argmax(const Tensor& x, int64_t axis, bool keepdim) {
  NoGrad ng;  // indices carry no gradient; skip recording the values' VJP
  return extremum_axis(x, axis, keepdim, false, "argmax").second;
}

Tensor logsumexp(const Tensor& x, int64_t axis, bool keepdim) {
  check_floating(x, "logsumexp");
  const AxisGeom g = axis_geom(x.shape(), axis, "logsumexp");
  if (g.n == 0)
    throw ValueError("logsumexp: reducing an axis of size 0 in shape " + shape_str(x.shape()));
  Tensor y = Tensor::empty(axis_reduced_shape(x.shape(), g, keepdim), x.dtype(), x.device());
  dispatch_floating(x.dtype(), "logsumexp", [&](auto tag) {
    using T = decltype(tag);
    if (x.is_cuda()) [[unlikely]]  // the same max-shifted form in one kernel (kernels/cuda/logsumexp.cu)
      kernels::cuda::logsumexp<T>(x.device_data<T>(), y.device_data<T>(), g.outer, g.n, g.inner,
                                  cuda_launch_context(x));
    else
      kc::logsumexp<T>(x.data<T>(), y.data<T>(), g.outer, g.n, g.inner);
    return 0;
  });
  const Shape keep = axis_reduced_shape(x.shape(), g, true);
  record(y, "logsumexp", {x}, [keep, xd = x.detach(), yd = y.detach()](const Tensor& gy) -> Grads {
    // d lse / dx = softmax(x) = exp(x - lse).
    return {mul(reshape(gy, keep), exp(sub(xd, reshape(yd, keep))))};
  });
  return y;
}

}  // namespace pianograd
