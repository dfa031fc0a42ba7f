// Unary math ops: SIMD forward, fused derivative kernel in the VJP (one pass, not an op chain).
#include "autodiff/device.h"
#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops/elementwise.h"
#include "autodiff/tape.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/cuda_kernels.h"

namespace pianograd {

using kernels::UnaryOp;
namespace kc = kernels::cpu;

PG_REGISTER_OP(neg);
PG_REGISTER_OP(exp);
PG_REGISTER_OP(log);
PG_REGISTER_OP(sqrt);
PG_REGISTER_OP(abs);
PG_REGISTER_OP(sin);
PG_REGISTER_OP(cos);
PG_REGISTER_OP(tanh);
PG_REGISTER_OP(sigmoid);
PG_REGISTER_OP(relu);
PG_REGISTER_OP(gelu);
PG_REGISTER_OP(softplus);

namespace {

// gy has x's shape and dtype (backward() checks and casts gradients), so gx is made like gy.
Tensor unary_backward_tensor(UnaryOp op, const detail::SavedData& x, const detail::SavedData& y, const Tensor& gy,
                             const char* name) {
  if (gy.device().type != DeviceType::CPU) [[unlikely]] {
    Tensor gx = Tensor::empty(gy.shape(), gy.dtype(), gy.device());
    void* stream = cuda_launch_context(gy);
    dispatch_floating(gy.dtype(), name, [&](auto tag) {
      using T = decltype(tag);
      kernels::cuda::unary_backward<T>(op, x.data<T>(), y.data<T>(), gy.device_data<T>(), gx.device_data<T>(),
                                       static_cast<long>(gy.numel()), stream);
      return 0;
    });
    return gx;
  }
  Tensor gx = Tensor::empty(gy.shape(), gy.dtype());
  dispatch_floating(gy.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    kc::unary_backward<T>(op, x.data<T>(), y.data<T>(), gy.data<T>(), gx.data<T>(), static_cast<long>(gy.numel()));
    return 0;
  });
  return gx;
}

Tensor unary_op(UnaryOp op, const Tensor& x, const char* name) {
  check_floating(x, name);
  const Device dev = x.device();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), dev);
  if (dev.type != DeviceType::CPU) [[unlikely]] {
    void* stream = cuda_launch_context(x);
    dispatch_floating(x.dtype(), name, [&](auto tag) {
      using T = decltype(tag);
      kernels::cuda::unary<T>(op, x.device_data<T>(), y.device_data<T>(), static_cast<long>(x.numel()), stream);
      return 0;
    });
  } else {
    dispatch_floating(x.dtype(), name, [&](auto tag) {
      using T = decltype(tag);
      kc::unary<T>(op, x.data<T>(), y.data<T>(), static_cast<long>(x.numel()));
      return 0;
    });
  }
  record(y, name, {x}, [op, name, xd = detail::SavedData(x), yd = detail::SavedData(y)](const Tensor& gy) -> Grads {
    return {unary_backward_tensor(op, xd, yd, gy, name)};
  });
  return y;
}

}  // namespace

Tensor neg(const Tensor& x) { return unary_op(UnaryOp::neg, x, "neg"); }
Tensor exp(const Tensor& x) { return unary_op(UnaryOp::exp, x, "exp"); }
Tensor log(const Tensor& x) { return unary_op(UnaryOp::log, x, "log"); }
Tensor sqrt(const Tensor& x) { return unary_op(UnaryOp::sqrt, x, "sqrt"); }
Tensor abs(const Tensor& x) { return unary_op(UnaryOp::abs, x, "abs"); }
Tensor sin(const Tensor& x) { return unary_op(UnaryOp::sin, x, "sin"); }
Tensor cos(const Tensor& x) { return unary_op(UnaryOp::cos, x, "cos"); }
Tensor tanh(const Tensor& x) { return unary_op(UnaryOp::tanh, x, "tanh"); }
Tensor sigmoid(const Tensor& x) { return unary_op(UnaryOp::sigmoid, x, "sigmoid"); }
Tensor relu(const Tensor& x) { return unary_op(UnaryOp::relu, x, "relu"); }
Tensor gelu(const Tensor& x) { return unary_op(UnaryOp::gelu, x, "gelu"); }
Tensor softplus(const Tensor& x) { return unary_op(UnaryOp::softplus, x, "softplus"); }

}  // namespace pianograd
