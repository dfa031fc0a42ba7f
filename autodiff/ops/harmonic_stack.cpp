// harmonic_stack: forward gather with per-channel shift and zero fill, VJP = scatter-add back
// (kernels/cpu/harmonic_stack.h).
#include "autodiff/ops/harmonic_stack.h"

#include "autodiff/device.h"
#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/tape.h"
#include "kernels/cpu/harmonic_stack.h"
#include "kernels/cuda/cuda_kernels.h"

namespace pianograd {

PG_REGISTER_OP(harmonic_stack);

namespace {
// The CUDA gather and its VJP (kernels/cuda/model_ops.cu): the backward is a gather per input element
// over the channels, so it needs no atomics and is deterministic.
Tensor harmonic_stack_cuda(const Tensor& x, std::vector<long> sh) {
  const char* op = "harmonic_stack";
  const long S = static_cast<long>(sh.size());
  if (S > kernels::cuda::kMaxHarmonicShifts)
    throw ValueError(std::string(op) + ": at most " + std::to_string(kernels::cuda::kMaxHarmonicShifts) +
                     " shifts on CUDA, got " + std::to_string(S));
  Tensor y = Tensor::empty({x.size(0), S, x.size(1), x.size(2)}, x.dtype(), x.device());
  void* stream = cuda_launch_context(x);
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    kernels::cuda::harmonic_stack_forward<T>(x.device_data<T>(), x.size(0), x.size(1), x.size(2), sh.data(), S,
                                             y.device_data<T>(), stream);
    return 0;
  });
  record(y, op, {x}, [xs = x.shape(), dt = x.dtype(), dev = x.device(), sh = std::move(sh)](const Tensor& gy) -> Grads {
    Tensor gx = Tensor::empty(xs, dt, dev);
    void* st = cuda_launch_context(gy);
    dispatch_floating(dt, "harmonic_stack backward", [&](auto tag) {
      using T = decltype(tag);
      kernels::cuda::harmonic_stack_backward<T>(gy.device_data<T>(), xs[0], xs[1], xs[2], sh.data(),
                                                static_cast<long>(sh.size()), gx.device_data<T>(), st);
      return 0;
    });
    return {gx};
  });
  return y;
}
}  // namespace

Tensor harmonic_stack(const Tensor& x, const std::vector<int64_t>& shifts) {
  const char* op = "harmonic_stack";
  check_defined(x, op);
  check_floating(x, op);
  if (x.dim() != 3) throw ShapeError(std::string(op) + ": expected input [B, R, L], got " + shape_str(x.shape()));
  if (shifts.empty()) throw ValueError(std::string(op) + ": expected at least one shift, got none");
  const int64_t B = x.size(0), R = x.size(1), L = x.size(2), S = static_cast<int64_t>(shifts.size());
  std::vector<long> sh(shifts.begin(), shifts.end());
  if (x.is_cuda()) [[unlikely]] return harmonic_stack_cuda(x, std::move(sh));
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
