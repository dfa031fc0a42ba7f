// scaled_dot_product_attention: one fused kernel per direction and device. The forward saves only its
// output and the per-row logsumexp L_i ([heads, Tq]); the VJP (FlashAttention-2's backward,
// kernels/common/attention_math.h) recomputes P_ij = exp(scale <q_i, k_j> - L_i) tile by tile and
// returns dq, dk and dv from one kernel. The VJP runs kernels, not ops: no second-order gradients.
#include <cmath>
#include <string>

#include "autodiff/device.h"
#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops/attention.h"
#include "autodiff/tape.h"
#include "kernels/cpu/attention.h"
#include "kernels/cuda/attention.h"

namespace pianograd {

PG_REGISTER_OP(scaled_dot_product_attention);

namespace {

constexpr const char* kOp = "scaled_dot_product_attention";

struct Geometry {
  long heads, tq, tk, d;
  bool causal;
  double scale;
};

[[noreturn]] void shape_error(const std::string& what, const Tensor& q, const Tensor& k, const Tensor& v) {
  throw ShapeError(std::string(kOp) + ": " + what + ": q " + shape_str(q.shape()) + ", k " + shape_str(k.shape()) +
                   ", v " + shape_str(v.shape()));
}

Geometry validate(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, double scale) {
  check_floating(q, kOp);
  check_floating(k, kOp);
  check_floating(v, kOp);
  check_same_dtype(q, k, kOp);
  check_same_dtype(q, v, kOp);
  check_same_device(q, k, kOp);
  check_same_device(q, v, kOp);
  if (q.dim() < 2 || k.dim() != q.dim() || v.dim() != q.dim())
    shape_error("expected q [..., Tq, D], k and v [..., Tk, D] of one rank >= 2", q, k, v);
  const Shape& qs = q.shape();
  const Shape lead(qs.begin(), qs.end() - 2);
  if (Shape(k.shape().begin(), k.shape().end() - 2) != lead || Shape(v.shape().begin(), v.shape().end() - 2) != lead)
    shape_error("leading (batch, head) dims differ", q, k, v);
  if (k.shape() != v.shape()) shape_error("k and v differ in shape", q, k, v);
  Geometry g{static_cast<long>(shape_numel(lead)), static_cast<long>(q.size(-2)), static_cast<long>(k.size(-2)),
             static_cast<long>(q.size(-1)), causal, scale};
  if (k.size(-1) != g.d) shape_error("head dims differ", q, k, v);
  if (g.d < 1) shape_error("head dim D must be >= 1", q, k, v);
  if (g.tk < 1) shape_error("no keys (Tk = 0)", q, k, v);
  if (causal && g.tq > g.tk)
    shape_error("causal attention needs Tq <= Tk (the first " + std::to_string(g.tq - g.tk) + " queries would see no key)",
                q, k, v);
  if (!std::isfinite(scale)) throw ValueError(std::string(kOp) + ": scale must be finite, got " + std::to_string(scale));
  if (scale == 0.0) g.scale = 1.0 / std::sqrt(static_cast<double>(g.d));
  if (q.device().type != DeviceType::CPU && g.d > kernels::cuda::kAttnCudaMaxHeadDim)
    throw ValueError(std::string(kOp) + ": head dim " + std::to_string(g.d) + " exceeds the CUDA kernel's " +
                     std::to_string(kernels::cuda::kAttnCudaMaxHeadDim) + " (q " + shape_str(qs) + ")");
  return g;
}

void forward(const Geometry& g, const Tensor& q, const Tensor& k, const Tensor& v, Tensor& o, Tensor& lse) {
  dispatch_floating(q.dtype(), kOp, [&](auto tag) {
    using T = decltype(tag);
    if (q.device().type != DeviceType::CPU) {
      kernels::cuda::attention_forward<T>(q.device_data<T>(), k.device_data<T>(), v.device_data<T>(), o.device_data<T>(),
                                          lse.device_data<T>(), g.heads, g.tq, g.tk, g.d, g.causal,
                                          static_cast<T>(g.scale), cuda_launch_context(q));
    } else {
      kernels::cpu::attention_forward<T>({q.data<T>(), k.data<T>(), v.data<T>(), o.data<T>(), lse.data<T>(), g.heads,
                                          g.tq, g.tk, g.d, g.causal, static_cast<T>(g.scale)});
    }
    return 0;
  });
}

Grads backward(const Geometry& g, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& o,
               const Tensor& lse, const Tensor& go) {
  const Device dev = q.device();
  Tensor gq = Tensor::empty(q.shape(), q.dtype(), dev), gk = Tensor::empty(k.shape(), k.dtype(), dev);
  Tensor gv = Tensor::empty(v.shape(), v.dtype(), dev);
  dispatch_floating(q.dtype(), kOp, [&](auto tag) {
    using T = decltype(tag);
    if (dev.type != DeviceType::CPU) {
      kernels::cuda::attention_backward<T>(q.device_data<T>(), k.device_data<T>(), v.device_data<T>(), o.device_data<T>(),
                                           lse.device_data<T>(), go.device_data<T>(), gq.device_data<T>(),
                                           gk.device_data<T>(), gv.device_data<T>(), g.heads, g.tq, g.tk, g.d, g.causal,
                                           static_cast<T>(g.scale), cuda_launch_context(q));
    } else {
      kernels::cpu::attention_backward<T>({q.data<T>(), k.data<T>(), v.data<T>(), o.data<T>(), lse.data<T>(),
                                           go.data<T>(), gq.data<T>(), gk.data<T>(), gv.data<T>(), g.heads, g.tq, g.tk,
                                           g.d, g.causal, static_cast<T>(g.scale)});
    }
    return 0;
  });
  return {gq, gk, gv};
}

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, double scale) {
  const Geometry g = validate(q, k, v, causal, scale);
  const Device dev = q.device();
  Tensor o = Tensor::empty(q.shape(), q.dtype(), dev);
  Tensor lse = Tensor::empty({g.heads * g.tq}, q.dtype(), dev);
  forward(g, q, k, v, o, lse);
  record(o, kOp, {q, k, v}, [g, qd = q.detach(), kd = k.detach(), vd = v.detach(), od = o.detach(), lse](const Tensor& go) {
    return backward(g, qd, kd, vd, od, lse, go);
  });
  return o;
}

}  // namespace pianograd
