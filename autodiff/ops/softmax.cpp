// softmax and log_softmax along one axis: max-shifted forward kernel, fused VJP kernel
// (softmax: y * (gy - <gy, y>); log_softmax: gy - softmax * sum(gy)), both over the [outer, n, inner] view.
#include <string>

#include "autodiff/device.h"
#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops/axis_geom.h"
#include "autodiff/ops/reduce.h"
#include "autodiff/ops/shape_ops.h"
#include "autodiff/tape.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cuda/cuda_kernels.h"

namespace pianograd {

namespace kc = kernels::cpu;

PG_REGISTER_OP(softmax);
PG_REGISTER_OP(log_softmax);

namespace {

// The CUDA kernels take contiguous rows: the last axis (or any axis followed only by size-1 dims).
// Another axis is moved last by a permute copy ([outer, n, inner] -> [outer, inner, n]), reduced as
// rows and moved back; the tape chains the permutes' VJPs around the row kernel's. Two extra copies,
// but the row kernel's coalesced reads beat a strided kernel reading n elements inner apart.
Tensor softmax_cuda(const Tensor& x, const AxisGeom& g, bool log, const char* name) {
  if (g.inner != 1) {
    Tensor rows = permute(reshape(x, {g.outer, g.n, g.inner}), {0, 2, 1});
    Tensor y = log ? log_softmax(rows, -1) : softmax(rows, -1);
    return reshape(permute(y, {0, 2, 1}), x.shape());
  }
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  void* stream = cuda_launch_context(x);
  const long rows = g.outer;
  dispatch_floating(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    kernels::cuda::softmax_rows<T>(x.device_data<T>(), y.device_data<T>(), rows, g.n, log, stream);
    return 0;
  });
  record(y, name, {x}, [rows, n = g.n, log, name, yd = y.detach()](const Tensor& gy) -> Grads {
    Tensor gx = Tensor::empty(yd.shape(), yd.dtype(), yd.device());
    void* st = cuda_launch_context(yd);
    dispatch_floating(yd.dtype(), name, [&](auto tag) {
      using T = decltype(tag);
      kernels::cuda::softmax_backward_rows<T>(yd.device_data<T>(), gy.device_data<T>(), gx.device_data<T>(), rows, n,
                                              log, st);
      return 0;
    });
    return {gx};
  });
  return y;
}

Tensor softmax_impl(const Tensor& x, int64_t axis, bool log, const char* name) {
  check_floating(x, name);
  const AxisGeom g = axis_geom(x.shape(), axis, name);
  if (x.device().type != DeviceType::CPU) [[unlikely]] return softmax_cuda(x, g, log, name);
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    kc::softmax<T>(x.data<T>(), y.data<T>(), g.outer, g.n, g.inner, log);
    return 0;
  });
  // The VJP needs only the output (exp of it, for log_softmax), not x.
  record(y, name, {x}, [g, log, name, yd = y.detach()](const Tensor& gy) -> Grads {
    Tensor gx = Tensor::empty(yd.shape(), yd.dtype());
    dispatch_floating(yd.dtype(), name, [&](auto tag) {
      using T = decltype(tag);
      kc::softmax_backward<T>(yd.data<T>(), gy.data<T>(), gx.data<T>(), g.outer, g.n, g.inner, log);
      return 0;
    });
    return {gx};
  });
  return y;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t axis) { return softmax_impl(x, axis, false, "softmax"); }
Tensor log_softmax(const Tensor& x, int64_t axis) { return softmax_impl(x, axis, true, "log_softmax"); }

}  // namespace pianograd
