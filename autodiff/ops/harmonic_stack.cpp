// harmonic_stack: forward gather with per-channel shift and zero fill, VJP = scatter-add back
// (kernels/cpu/harmonic_stack.h).
#include "autodiff/ops/harmonic_stack.h"

#include "autodiff/device.h"
#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/tape.h"
#include "kernels/cpu/harmonic_stack.h"

namespace pianograd {

PG_REGISTER_OP(harmonic_stack);

Tensor harmonic_stack(const Tensor& x, const std::vector<int64_t>& shifts) {
  const char* op = "harmonic_stack";
  check_defined(x, op);
  check_floating(x, op);
  check_cpu(x, op);
  if (x.dim() != 3) throw ShapeError(std::string(op) + ": expected input [B, R, L], got " + shape_str(x.shape()));
  if (shifts.empty()) throw ValueError(std::string(op) + ": expected at least one shift, got none");
  const int64_t B = x.size(0), R = x.size(1), L = x.size(2), S = static_cast<int64_t>(shifts.size());
  std::vector<long> sh(shifts.begin(), shifts.end());
  Tensor y = Tensor::empty({B, S, R, L}, x.dtype());
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::harmonic_stack_forward<T>(x.data<T>(), B, R, L, sh.data(), S, y.data<T>());
    return 0;
  });
  record(y, op, {x}, [xs = x.shape(), dt = x.dtype(), sh = std::move(sh)](const Tensor& gy) -> Grads {
    Tensor gx = Tensor::empty(xs, dt);
    dispatch_floating(dt, "harmonic_stack backward", [&](auto tag) {
      using T = decltype(tag);
      kernels::cpu::harmonic_stack_backward<T>(gy.data<T>(), xs[0], xs[1], xs[2], sh.data(),
                                                static_cast<long>(sh.size()), gx.data<T>());
      return 0;
    });
    return {gx};
  });
  return y;
}

}  // namespace pianograd
