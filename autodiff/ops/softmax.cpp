// softmax and log_softmax along one axis: max-shifted forward kernel, fused VJP kernel
// (softmax: y * (gy - <gy, y>); log_softmax: gy - softmax * sum(gy)), both over the [outer, n, inner] view.
#include <string>

#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops/axis_geom.h"
#include "autodiff/ops/reduce.h"
#include "autodiff/tape.h"
#include "kernels/cpu/reduce.h"

namespace pianograd {

namespace kc = kernels::cpu;

PG_REGISTER_OP(softmax);
PG_REGISTER_OP(log_softmax);

namespace {

Tensor softmax_impl(const Tensor& x, int64_t axis, bool log, const char* name) {
  check_floating(x, name);
  const AxisGeom g = axis_geom(x.shape(), axis, name);
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
