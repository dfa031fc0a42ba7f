// Pointwise losses: mse_loss, l1_loss and bce_with_logits. One pass computes each element's loss and,
// when a gradient is wanted, its partial derivatives; the VJP scales those by the incoming gradient
// (a scalar for mean/sum). The mean/sum of the losses is the kernels' SIMD row sum.
#include <cmath>
#include <string>

#include "autodiff/device.h"
#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops/elementwise.h"
#include "autodiff/ops/nn_ops.h"
#include "autodiff/ops/reduce_util.h"
#include "autodiff/tape.h"
#include "kernels/common/elementwise_math.h"
#include "kernels/common/loss_math.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cpu/pointwise_loss.h"
#include "kernels/cpu/reduce.h"

namespace pianograd {

namespace kc = kernels::cpu;

PG_REGISTER_OP(mse_loss);
PG_REGISTER_OP(l1_loss);
PG_REGISTER_OP(bce_with_logits);

namespace {

// Reduces per-element losses: none keeps them, sum/mean is the kernel row sum (mean over all elements).
Tensor reduce_loss(const Tensor& elems, Reduction r, const char* name) {
  if (r == Reduction::none) return elems;
  if (elems.is_cuda()) [[unlikely]] {  // the device row sum; the mean's division stays on the device
    Tensor out = Tensor::empty({}, elems.dtype(), elems.device());
    const long n = static_cast<long>(elems.numel());
    void* stream = cuda_launch_context(elems);
    dispatch_floating(elems.dtype(), name, [&](auto tag) {
      using T = decltype(tag);
      kernels::cuda::reduce_sum<T>(elems.device_data<T>(), out.device_data<T>(), 1L, n, 1L, stream);
      return 0;
    });
    return r == Reduction::mean ? mul(out, 1.0 / static_cast<double>(n)) : out;  // n == 0: 0 * inf = NaN, as torch
  }
  Tensor out = Tensor::empty({}, elems.dtype());
  dispatch_floating(elems.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    const long n = static_cast<long>(elems.numel());
    kc::reduce_sum<T>(elems.data<T>(), out.data<T>(), 1L, n, 1L);
    // An empty mean is 0/0 = NaN, as in torch.
    if (r == Reduction::mean) out.data<T>()[0] /= static_cast<T>(n);
    return 0;
  });
  return out;
}

// Gradient of input k from its stored partials: gy broadcasts (0-d for mean/sum), mean divides by N.
Tensor scale_partial(const Tensor& partial, const Tensor& gy, Reduction r) {
  // mean: gy / N folded first (gy is 0-d for mean), so the full-size partial is multiplied once.
  if (r == Reduction::mean && partial.numel() > 0) return mul(partial, mul(gy, 1.0 / static_cast<double>(partial.numel())));
  return mul(partial, gy);
}

void check_pair(const Tensor& a, const Tensor& b, const char* name, const char* an, const char* bn) {
  check_floating(a, name);
  check_floating(b, name);
  check_same_dtype(a, b, name);
  if (a.shape() != b.shape())
    throw ShapeError(std::string(name) + ": " + an + " shape " + shape_str(a.shape()) + " differs from " + bn +
                     " shape " + shape_str(b.shape()));
}

// The losses of `kind` (kernels/common/loss_math.h) and their partials, on either backend; w is 1 when no
// third operand is given.
Tensor pointwise_loss(const char* name, kernels::PointwiseLoss kind, const Tensor& a, const Tensor& b,
                      const Tensor& w, Reduction r) {
  const bool want = grad_enabled() && detail::any_requires_grad({a, b, w});
  const bool on_cuda = a.is_cuda() || b.is_cuda() || (w.defined() && w.is_cuda());
  if (on_cuda) [[unlikely]] {
    check_same_device(a, b, name);
    if (w.defined()) check_same_device(a, w, name);
  }
  const Shape& s = a.shape();
  // One weight for all (a scalar pos_weight) is read with stride 0 on the CPU, not broadcast to a copy.
  const bool w_scalar = w.defined() && w.numel() == 1 && !on_cuda;
  const Tensor wb = w.defined() && !w_scalar ? broadcast_to_raw(w, s) : w;
  Tensor elems = Tensor::empty(s, a.dtype(), a.device());
  Tensor da, db, dw;
  // Partials only for the inputs that want a gradient (a target or pos_weight seldom does): no buffer,
  // store or VJP product for the others.
  if (want) {
    if (a.requires_grad()) da = Tensor::empty(s, a.dtype(), a.device());
    if (b.requires_grad()) db = Tensor::empty(s, a.dtype(), a.device());
    if (w.defined() && w.requires_grad()) dw = Tensor::empty(s, a.dtype(), a.device());
  }
  if (on_cuda) [[unlikely]] {
    void* stream = cuda_launch_context(a);
    dispatch_floating(a.dtype(), name, [&](auto tag) {
      using T = decltype(tag);
      auto ptr = [](const Tensor& t) { return t.defined() ? t.device_data<T>() : nullptr; };
      kernels::cuda::pointwise_loss<T>(kind, a.device_data<T>(), b.device_data<T>(), ptr(wb), elems.device_data<T>(),
                                       ptr(da), ptr(db), ptr(dw), static_cast<long>(a.numel()), stream);
      return 0;
    });
  } else {
    dispatch_floating(a.dtype(), name, [&](auto tag) {
      using T = decltype(tag);
      auto ptr = [](const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
      kernels::cpu::pointwise_loss<T>(kind, a.data<T>(), b.data<T>(), ptr(wb), w_scalar ? 0L : 1L, elems.data<T>(),
                                      ptr(da), ptr(db), ptr(dw), static_cast<long>(a.numel()));
      return 0;
    });
  }
  Tensor y = reduce_loss(elems, r, name);
  if (!want) return y;
  std::vector<Tensor> inputs = {a, b};
  if (w.defined()) inputs.push_back(w);
  record_many(y, name, inputs, [da, db, dw, r, hw = w.defined(), ws = w.defined() ? w.shape() : Shape{}](const Tensor& gy) -> Grads {
    Grads g = {da.defined() ? scale_partial(da, gy, r) : Tensor(), db.defined() ? scale_partial(db, gy, r) : Tensor()};
    if (hw) g.push_back(dw.defined() ? sum_to(scale_partial(dw, gy, r), ws) : Tensor());
    return g;
  });
  return y;
}

}  // namespace

Tensor mse_loss(const Tensor& pred, const Tensor& target, Reduction r) {
  check_pair(pred, target, "mse_loss", "pred", "target");
  return pointwise_loss("mse_loss", kernels::PointwiseLoss::mse, pred, target, Tensor(), r);
}

Tensor l1_loss(const Tensor& pred, const Tensor& target, Reduction r) {
  check_pair(pred, target, "l1_loss", "pred", "target");
  return pointwise_loss("l1_loss", kernels::PointwiseLoss::l1, pred, target, Tensor(), r);
}

Tensor bce_with_logits(const Tensor& logits, const Tensor& target, Reduction r, const Tensor& pos_weight) {
  check_pair(logits, target, "bce_with_logits", "logits", "target");
  if (pos_weight.defined()) {
    check_floating(pos_weight, "bce_with_logits");
    check_same_dtype(logits, pos_weight, "bce_with_logits");
    const Shape b = broadcast_shapes(logits.shape(), pos_weight.shape(), "bce_with_logits");
    if (b != logits.shape())
      throw ShapeError("bce_with_logits: pos_weight shape " + shape_str(pos_weight.shape()) +
                       " does not broadcast to logits shape " + shape_str(logits.shape()));
  }
  // loss = (1 - t) x + lw * softplus(-x), lw = 1 + (pw - 1) t (kernels/common/loss_math.h); with pw = 1
  // this is the stable max(x, 0) - x t + log1p(exp(-|x|)).
  return pointwise_loss("bce_with_logits", kernels::PointwiseLoss::bce_with_logits, logits, target, pos_weight, r);
}

}  // namespace pianograd
