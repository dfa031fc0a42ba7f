// Binary elementwise ops with NumPy broadcasting: forward through kernels::cpu::binary over the
// broadcast walker's inner runs; VJPs reduce gradients back to each input's shape with sum_to.
#include "autodiff/ops/elementwise.h"

#include "autodiff/broadcast.h"
#include "autodiff/device.h"
#include "autodiff/dispatch.h"
#include "autodiff/ops/cuda_ops.h"
#include "autodiff/op_registry.h"
#include "autodiff/tape.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/cuda_kernels.h"

namespace pianograd {

using kernels::BinaryOp;
namespace kc = kernels::cpu;

PG_REGISTER_OP(add);
PG_REGISTER_OP(sub);
PG_REGISTER_OP(mul);
PG_REGISTER_OP(div);
PG_REGISTER_OP(pow);
PG_REGISTER_OP(maximum);
PG_REGISTER_OP(minimum);

int64_t normalize_axis(int64_t axis, int64_t ndim, const char* op) {
  const int64_t a = axis < 0 ? axis + ndim : axis;
  if (a < 0 || a >= ndim)
    throw IndexError(std::string(op) + ": axis " + std::to_string(axis) + " out of range for rank " +
                     std::to_string(ndim));
  return a;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw ShapeError(std::string(op) + ": shapes cannot broadcast: " + shape_str(a) + " and " + shape_str(b));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

namespace {

Tensor binary_forward(BinaryOp bop, const Tensor& a, const Tensor& b, const char* name) {
  check_floating(a, name);
  check_floating(b, name);
  check_same_dtype(a, b, name);
  check_same_device(a, b, name);
  const bool same = a.shape() == b.shape();
  if (a.device().type != DeviceType::CPU) [[unlikely]]
    return detail::cuda_binary(bop, a, b, same ? a.shape() : broadcast_shapes(a.shape(), b.shape(), name));
  Tensor y = Tensor::empty(same ? a.shape() : broadcast_shapes(a.shape(), b.shape(), name), a.dtype());
  const Shape& out_shape = y.shape();
  dispatch_floating(a.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* py = y.data<T>();
    if (same) {
      kc::binary<T>(bop, pa, 1, pb, 1, py, static_cast<long>(y.numel()));
      return 0;
    }
    const Strides st[2] = {broadcast_strides(a.shape(), out_shape), broadcast_strides(b.shape(), out_shape)};
    for_each_run<2>(out_shape, st, [&](int64_t o, const int64_t* off, const int64_t* inner, int64_t len) {
      kc::binary<T>(bop, pa + off[0], static_cast<long>(inner[0]), pb + off[1], static_cast<long>(inner[1]),
                    py + o, static_cast<long>(len));
    });
    return 0;
  });
  return y;
}

// Elementwise selection a >= b (maximum) / a <= b (minimum) as a 0/1 mask of the broadcast shape;
// ties send the gradient to `a`, as NumPy-style subgradients usually do (ge/le run on either device).
Tensor choose_a_mask(const Tensor& a, const Tensor& b, bool want_max) { return want_max ? ge(a, b) : le(a, b); }

// gy (op) saved, same shapes (no broadcasting): one kernel call into a fresh tensor, for the
// VJPs of the same-shape fast paths (no dispatch, checks or broadcast walk of a full op).
Tensor binary_raw(BinaryOp bop, const Tensor& gy, const detail::SavedData& s, const char* name) {
  if (gy.device().type != DeviceType::CPU) [[unlikely]] {
    Tensor g = Tensor::empty(gy.shape(), gy.dtype(), gy.device());
    void* stream = cuda_launch_context(gy);
    dispatch_floating(gy.dtype(), name, [&](auto tag) {
      using T = decltype(tag);
      kernels::cuda::binary<T>(bop, gy.device_data<T>(), 1, s.data<T>(), 1, g.device_data<T>(),
                               static_cast<long>(gy.numel()), stream);
      return 0;
    });
    return g;
  }
  Tensor g = Tensor::empty(gy.shape(), gy.dtype());
  dispatch_floating(gy.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    kc::binary<T>(bop, gy.data<T>(), 1, s.data<T>(), 1, g.data<T>(), static_cast<long>(gy.numel()));
    return 0;
  });
  return g;
}

}  // namespace

// add/sub keep an input's shape only when it was broadcast (a shape copy per op otherwise), and
// skip the gradients of inputs that need none.
Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y = binary_forward(BinaryOp::add, a, b, "add");
  const bool ba = a.shape() != y.shape(), bb = b.shape() != y.shape();
  record(y, "add", {a, b}, [ba, bb, ra = a.requires_grad(), rb = b.requires_grad(), sa = ba ? a.shape() : Shape{},
                            sb = bb ? b.shape() : Shape{}](const Tensor& gy) -> Grads {
    return {ra ? (ba ? sum_to(gy, sa) : gy) : Tensor(), rb ? (bb ? sum_to(gy, sb) : gy) : Tensor()};
  });
  return y;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor y = binary_forward(BinaryOp::sub, a, b, "sub");
  const bool ba = a.shape() != y.shape(), bb = b.shape() != y.shape();
  record(y, "sub", {a, b}, [ba, bb, ra = a.requires_grad(), rb = b.requires_grad(), sa = ba ? a.shape() : Shape{},
                            sb = bb ? b.shape() : Shape{}](const Tensor& gy) -> Grads {
    return {ra ? (ba ? sum_to(gy, sa) : gy) : Tensor(), rb ? (bb ? sum_to(neg(gy), sb) : neg(gy)) : Tensor()};
  });
  return y;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = binary_forward(BinaryOp::mul, a, b, "mul");
  if (a.shape() == b.shape()) {  // no broadcasting: the VJP needs the values only, not detached tensors
    record(y, "mul", {a, b}, [as = detail::SavedData(a), bs = detail::SavedData(b), ra = a.requires_grad(),
                              rb = b.requires_grad()](const Tensor& gy) -> Grads {
      return {ra ? binary_raw(BinaryOp::mul, gy, bs, "mul") : Tensor(),
              rb ? binary_raw(BinaryOp::mul, gy, as, "mul") : Tensor()};
    });
    return y;
  }
  record(y, "mul", {a, b}, [ad = a.detach(), bd = b.detach(), ra = a.requires_grad(), rb = b.requires_grad()](
                               const Tensor& gy) -> Grads {
    return {ra ? sum_to(mul(gy, bd), ad.shape()) : Tensor(), rb ? sum_to(mul(gy, ad), bd.shape()) : Tensor()};
  });
  return y;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = binary_forward(BinaryOp::div, a, b, "div");
  record(y, "div", {a, b}, [ad = a.detach(), bd = b.detach(), yd = y.detach(), rb = b.requires_grad()](
                               const Tensor& gy) -> Grads {
    Tensor ga = div(gy, bd);
    // d(a/b)/db = -(a/b)/b = -y/b
    return {sum_to(ga, ad.shape()), rb ? sum_to(neg(mul(ga, yd)), bd.shape()) : Tensor()};
  });
  return y;
}

Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor y = binary_forward(BinaryOp::pow, a, b, "pow");
  record(y, "pow", {a, b}, [ad = a.detach(), bd = b.detach(), yd = y.detach(), rb = b.requires_grad()](
                               const Tensor& gy) -> Grads {
    // d a^b / da = b a^(b-1); d a^b / db = a^b log a (defined for a > 0).
    Tensor ga = mul(gy, mul(bd, pow(ad, add(bd, -1.0))));
    Tensor gb = rb ? sum_to(mul(gy, mul(yd, log(ad))), bd.shape()) : Tensor();
    return {sum_to(ga, ad.shape()), gb};
  });
  return y;
}

Tensor pow(const Tensor& a, double exponent) { return pow(a, scalar(exponent, a.dtype(), a.device())); }

Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor y = binary_forward(BinaryOp::maximum, a, b, "maximum");
  record(y, "maximum", {a, b}, [ad = a.detach(), bd = b.detach()](const Tensor& gy) -> Grads {
    Tensor m = choose_a_mask(ad, bd, true);
    return {sum_to(mul(gy, m), ad.shape()), sum_to(mul(gy, add(neg(m), 1.0)), bd.shape())};
  });
  return y;
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  Tensor y = binary_forward(BinaryOp::minimum, a, b, "minimum");
  record(y, "minimum", {a, b}, [ad = a.detach(), bd = b.detach()](const Tensor& gy) -> Grads {
    Tensor m = choose_a_mask(ad, bd, false);
    return {sum_to(mul(gy, m), ad.shape()), sum_to(mul(gy, add(neg(m), 1.0)), bd.shape())};
  });
  return y;
}

Tensor add(const Tensor& a, double b) {
  check_floating(a, "add");
  return add(a, scalar(b, a.dtype(), a.device()));
}
Tensor mul(const Tensor& a, double b) {
  check_floating(a, "mul");
  return mul(a, scalar(b, a.dtype(), a.device()));
}

}  // namespace pianograd
