// The CUDA paths of conv1d / conv2d / conv_transpose1d (issue 6): forward and both backward passes
// over kernels/cuda/conv.cu (im2col + cuBLAS GEMM). autodiff/ops/conv.cpp validates the inputs and
// builds the geometry, then hands CUDA inputs here, so both backends share every check and message.
#include "autodiff/device.h"
#include "autodiff/dispatch.h"
#include "autodiff/ops/cuda_ops.h"
#include "autodiff/ops/shape_ops.h"
#include "autodiff/tape.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cuda/cuda_kernels.h"

namespace pianograd::detail {

Tensor conv_cuda(const char* op, const Tensor& x, const Tensor& w, const Tensor& bias,
                 const kernels::cpu::ConvGeom& g, const Shape& ys) {
  namespace kcu = kernels::cuda;
  if (bias.defined()) check_same_device(x, bias, op);
  const Device dev = x.device();
  Tensor y = Tensor::empty(ys, x.dtype(), dev);
  void* stream = cuda_launch_context(x);
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    kcu::conv_forward<T>(x.device_data<T>(), w.device_data<T>(), bias.defined() ? bias.device_data<T>() : nullptr,
                         y.device_data<T>(), g, stream);
    return 0;
  });
  const bool has_bias = bias.defined();
  auto vjp = [xd = x.detach(), wd = w.detach(), g, op, has_bias, rx = x.requires_grad(), rw = w.requires_grad(),
              rb = has_bias && bias.requires_grad()](const Tensor& gy) -> Grads {
    Tensor gx, gw, gb;
    void* st = cuda_launch_context(gy);
    dispatch_floating(gy.dtype(), op, [&](auto tag) {
      using T = decltype(tag);
      if (rx) {
        gx = Tensor::empty(xd.shape(), xd.dtype(), xd.device());
        kcu::conv_backward_input<T>(gy.device_data<T>(), wd.device_data<T>(), gx.device_data<T>(), g, st);
      }
      if (rw) {
        gw = Tensor::empty(wd.shape(), wd.dtype(), wd.device());
        kcu::conv_backward_weight<T>(xd.device_data<T>(), gy.device_data<T>(), gw.device_data<T>(), g, st);
      }
      if (rb) {
        gb = Tensor::empty({g.Cout}, gy.dtype(), gy.device());
        kcu::conv_bias_backward<T>(gy.device_data<T>(), gb.device_data<T>(), g.N, g.Cout, g.out_hw(), st);
      }
      return 0;
    });
    if (has_bias) return {gx, gw, gb};
    return {gx, gw};
  };
  if (has_bias) record(y, op, {x, w, bias}, std::move(vjp));
  else record(y, op, {x, w}, std::move(vjp));
  return y;
}

// conv_transpose1d is the adjoint of the conv1d of geometry g (conv.cpp): its forward is that conv's
// input gradient, its input gradient that conv's forward, its weight gradient that conv's weight
// gradient with the roles of input and output gradient swapped.
Tensor conv_transpose_cuda(const char* op, const Tensor& x, const Tensor& w, const Tensor& bias,
                           const kernels::cpu::ConvGeom& g, const Shape& ys) {
  namespace kcu = kernels::cuda;
  if (bias.defined()) check_same_device(x, bias, op);
  const Device dev = x.device();
  Tensor y = Tensor::empty(ys, x.dtype(), dev);
  void* stream = cuda_launch_context(x);
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    kcu::conv_backward_input<T>(x.device_data<T>(), w.device_data<T>(), y.device_data<T>(), g, stream);
    return 0;
  });
  if (bias.defined())  // y + bias[c] broadcast over the batch and time (not recorded: the VJP below covers it)
    y = cuda_binary(kernels::BinaryOp::add, y, reshape(bias.detach(), {g.C, 1}), ys);
  const bool has_bias = bias.defined();
  auto vjp = [xd = x.detach(), wd = w.detach(), g, op, has_bias, rx = x.requires_grad(), rw = w.requires_grad(),
              rb = has_bias && bias.requires_grad()](const Tensor& gy) -> Grads {
    Tensor gx, gw, gb;
    void* st = cuda_launch_context(gy);
    dispatch_floating(gy.dtype(), op, [&](auto tag) {
      using T = decltype(tag);
      if (rx) {
        gx = Tensor::empty(xd.shape(), xd.dtype(), xd.device());
        kcu::conv_forward<T>(gy.device_data<T>(), wd.device_data<T>(), nullptr, gx.device_data<T>(), g, st);
      }
      if (rw) {
        gw = Tensor::empty(wd.shape(), wd.dtype(), wd.device());
        kcu::conv_backward_weight<T>(gy.device_data<T>(), xd.device_data<T>(), gw.device_data<T>(), g, st);
      }
      if (rb) {
        gb = Tensor::empty({g.C}, gy.dtype(), gy.device());
        kcu::conv_bias_backward<T>(gy.device_data<T>(), gb.device_data<T>(), g.N, g.C, g.W, st);
      }
      return 0;
    });
    if (has_bias) return {gx, gw, gb};
    return {gx, gw};
  };
  if (has_bias) record(y, op, {x, w, bias}, std::move(vjp));
  else record(y, op, {x, w}, std::move(vjp));
  return y;
}

}  // namespace pianograd::detail
