// layer_norm (Ba, Kiros & Hinton 2016) over the trailing normalized_shape: one fused kernel computes
// the per-row mean and rstd = 1/sqrt(var + eps) and applies the affine; the VJP is the analytic one,
//   gx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = gy * weight,  xhat = (x - mean) * rstd,
//   gweight = sum_rows gy * xhat,  gbias = sum_rows gy.
#include <algorithm>
#include <string>

#include "autodiff/device.h"
#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops/nn_ops.h"
#include "autodiff/tape.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cuda/cuda_kernels.h"

namespace pianograd {

namespace kc = kernels::cpu;

PG_REGISTER_OP(layer_norm);

namespace {
void check_affine(const Tensor& p, const Tensor& x, const Shape& ns, const char* what) {
  if (!p.defined()) return;
  if (p.dtype() != x.dtype())
    throw DTypeError(std::string("layer_norm: ") + what + " dtype " + dtype_name(p.dtype()) + " differs from input " +
                     dtype_name(x.dtype()));
  if (p.shape() != ns)
    throw ShapeError(std::string("layer_norm: ") + what + " shape " + shape_str(p.shape()) +
                     " differs from normalized_shape " + shape_str(ns));
}
}  // namespace

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  check_floating(x, "layer_norm");
  const Shape& ns = normalized_shape;
  const Shape& xs = x.shape();
  if (ns.empty()) throw ValueError("layer_norm: normalized_shape is empty");
  if (ns.size() > xs.size() || !std::equal(ns.begin(), ns.end(), xs.end() - static_cast<long>(ns.size())))
    throw ShapeError("layer_norm: normalized_shape " + shape_str(ns) + " is not the trailing dims of input " +
                     shape_str(xs));
  check_affine(weight, x, ns, "weight");
  check_affine(bias, x, ns, "bias");
  if (!(eps >= 0.0)) throw ValueError("layer_norm: eps must be >= 0, got " + std::to_string(eps));
  const long n = static_cast<long>(shape_numel(ns));
  if (n == 0) throw ValueError("layer_norm: normalized_shape " + shape_str(ns) + " has no elements");
  const long rows = static_cast<long>(x.numel()) / n;

  const Device dev = x.device();
  const bool on_cuda = dev.type != DeviceType::CPU;
  if (on_cuda) [[unlikely]] {
    if (weight.defined()) check_same_device(x, weight, "layer_norm");
    if (bias.defined()) check_same_device(x, bias, "layer_norm");
  }
  Tensor y = Tensor::empty(xs, x.dtype(), dev);
  Tensor mean = Tensor::empty({rows}, x.dtype(), dev), rstd = Tensor::empty({rows}, x.dtype(), dev);
  if (on_cuda) [[unlikely]] {
    void* stream = cuda_launch_context(x);
    dispatch_floating(x.dtype(), "layer_norm", [&](auto tag) {
      using T = decltype(tag);
      kernels::cuda::layer_norm<T>(x.device_data<T>(), weight.defined() ? weight.device_data<T>() : nullptr,
                                   bias.defined() ? bias.device_data<T>() : nullptr, y.device_data<T>(),
                                   mean.device_data<T>(), rstd.device_data<T>(), rows, n, static_cast<T>(eps), stream);
      return 0;
    });
  } else {
    dispatch_floating(x.dtype(), "layer_norm", [&](auto tag) {
      using T = decltype(tag);
      kc::layer_norm<T>(x.data<T>(), weight.defined() ? weight.data<T>() : nullptr,
                        bias.defined() ? bias.data<T>() : nullptr, y.data<T>(), mean.data<T>(), rstd.data<T>(), rows,
                        n, static_cast<T>(eps));
      return 0;
    });
  }

  // Only defined tensors may be recorded as inputs; the VJP returns one gradient per recorded input.
  std::vector<Tensor> inputs = {x};
  if (weight.defined()) inputs.push_back(weight);
  if (bias.defined()) inputs.push_back(bias);
  const bool want_w = weight.defined() && weight.requires_grad();
  const bool want_b = bias.defined() && bias.requires_grad();
  if (!grad_enabled()) return y;
  record_many(y, "layer_norm", inputs,
              [xd = x.detach(), wd = weight.defined() ? weight.detach() : Tensor(), has_b = bias.defined(), mean,
               rstd, rows, n, want_w, want_b, ns](const Tensor& gy) -> Grads {
                const Device d = xd.device();
                Tensor gx = Tensor::empty(xd.shape(), xd.dtype(), d);
                Tensor gw = want_w ? Tensor::empty(ns, xd.dtype(), d) : Tensor();
                Tensor gb = want_b ? Tensor::empty(ns, xd.dtype(), d) : Tensor();
                if (d.type != DeviceType::CPU) {
                  void* stream = cuda_launch_context(xd);
                  dispatch_floating(xd.dtype(), "layer_norm", [&](auto tag) {
                    using T = decltype(tag);
                    kernels::cuda::layer_norm_backward<T>(
                        xd.device_data<T>(), mean.device_data<T>(), rstd.device_data<T>(),
                        wd.defined() ? wd.device_data<T>() : nullptr, gy.device_data<T>(), gx.device_data<T>(),
                        want_w ? gw.device_data<T>() : nullptr, want_b ? gb.device_data<T>() : nullptr, rows, n,
                        stream);
                    return 0;
                  });
                  Grads g = {gx};
                  if (wd.defined()) g.push_back(gw);
                  if (has_b) g.push_back(gb);
                  return g;
                }
                dispatch_floating(xd.dtype(), "layer_norm", [&](auto tag) {
                  using T = decltype(tag);
                  kc::layer_norm_backward<T>(xd.data<T>(), mean.data<T>(), rstd.data<T>(),
                                             wd.defined() ? wd.data<T>() : nullptr, gy.data<T>(), gx.data<T>(),
                                             want_w ? gw.data<T>() : nullptr, want_b ? gb.data<T>() : nullptr,
                                             rows, n);
                  return 0;
                });
                Grads g = {gx};
                if (wd.defined()) g.push_back(gw);
                if (has_b) g.push_back(gb);
                return g;
              });
  return y;
}

}  // namespace pianograd
