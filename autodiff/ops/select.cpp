// Comparisons (masks, no gradient), where and clamp.
#include <algorithm>

#include "autodiff/broadcast.h"
#include "autodiff/device.h"
#include "autodiff/dispatch.h"
#include "autodiff/ops/cuda_ops.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops/elementwise.h"
#include "autodiff/tape.h"

namespace pianograd {

PG_REGISTER_OP(where);
PG_REGISTER_OP(clamp);

namespace {

template <class Cmp>
Tensor compare(const Tensor& a, const Tensor& b, const char* name, Cmp cmp, kernels::cuda::CompareOp cop) {
  check_floating(a, name);
  check_floating(b, name);
  check_same_dtype(a, b, name);
  const Shape out = broadcast_shapes(a.shape(), b.shape(), name);
  if (a.is_cuda() || b.is_cuda()) [[unlikely]] {
    check_same_device(a, b, name);
    return detail::cuda_compare(cop, a, b, out);
  }
  Tensor y = Tensor::empty(out, a.dtype());
  dispatch_floating(a.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* py = y.data<T>();
    const Strides st[2] = {broadcast_strides(a.shape(), out), broadcast_strides(b.shape(), out)};
    for_each_run<2>(out, st, [&](int64_t o, const int64_t* off, const int64_t* in, int64_t len) {
      for (int64_t i = 0; i < len; ++i) py[o + i] = cmp(pa[off[0] + i * in[0]], pb[off[1] + i * in[1]]) ? T(1) : T(0);
    });
    return 0;
  });
  return y;
}

}  // namespace

using CmpOp = kernels::cuda::CompareOp;
Tensor eq(const Tensor& a, const Tensor& b) {
  return compare(a, b, "eq", [](auto x, auto y) { return x == y; }, CmpOp::eq);
}
Tensor lt(const Tensor& a, const Tensor& b) {
  return compare(a, b, "lt", [](auto x, auto y) { return x < y; }, CmpOp::lt);
}
Tensor le(const Tensor& a, const Tensor& b) {
  return compare(a, b, "le", [](auto x, auto y) { return x <= y; }, CmpOp::le);
}
Tensor gt(const Tensor& a, const Tensor& b) {
  return compare(a, b, "gt", [](auto x, auto y) { return x > y; }, CmpOp::gt);
}
Tensor ge(const Tensor& a, const Tensor& b) {
  return compare(a, b, "ge", [](auto x, auto y) { return x >= y; }, CmpOp::ge);
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_defined(cond, "where", "cond");
  check_floating(a, "where");
  check_floating(b, "where");
  check_same_dtype(a, b, "where");
  const Shape out = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  if (cond.is_cuda() || a.is_cuda() || b.is_cuda()) [[unlikely]] {
    check_same_device(cond, a, "where");
    check_same_device(a, b, "where");
    auto [yc, mc] = detail::cuda_where(cond, a, b, out);
    // The CPU VJP below, on device tensors (mul, sub, sum_to all route to CUDA).
    record(yc, "where", {a, b}, [mask = mc, sa = a.shape(), sb = b.shape()](const Tensor& gy) -> Grads {
      Tensor ga = mul(gy, mask);
      return {sum_to(ga, sa), sum_to(sub(gy, ga), sb)};
    });
    return yc;
  }
  Tensor y = Tensor::empty(out, a.dtype());
  // The condition as a 0/1 mask in the value dtype, broadcast to `out`: reused by the VJP.
  Tensor mask = Tensor::empty(out, a.dtype());
  dispatch_floating(a.dtype(), "where", [&](auto tag) {
    using T = decltype(tag);
    const Strides st[3] = {broadcast_strides(cond.shape(), out), broadcast_strides(a.shape(), out),
                           broadcast_strides(b.shape(), out)};
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* py = y.data<T>();
    T* pm = mask.data<T>();
    auto run_with = [&](auto ctag) {
      using C = decltype(ctag);
      const C* pc = static_cast<const C*>(cond.raw_data());
      for_each_run<3>(out, st, [&](int64_t o, const int64_t* off, const int64_t* in, int64_t len) {
        for (int64_t i = 0; i < len; ++i) {
          const bool c = pc[off[0] + i * in[0]] != C(0);
          pm[o + i] = c ? T(1) : T(0);
          py[o + i] = c ? pa[off[1] + i * in[1]] : pb[off[2] + i * in[2]];
        }
      });
    };
    switch (cond.dtype()) {
      case DType::f32: run_with(float{}); break;
      case DType::f64: run_with(double{}); break;
      case DType::i32: run_with(int32_t{}); break;
      case DType::i64: run_with(int64_t{}); break;
    }
    return 0;
  });
  record(y, "where", {a, b}, [mask, sa = a.shape(), sb = b.shape()](const Tensor& gy) -> Grads {
    Tensor ga = mul(gy, mask);
    return {sum_to(ga, sa), sum_to(sub(gy, ga), sb)};
  });
  return y;
}

Tensor clamp(const Tensor& x, double lo, double hi) {
  check_floating(x, "clamp");
  if (!(lo <= hi)) throw ValueError("clamp: lo (" + std::to_string(lo) + ") must not exceed hi (" + std::to_string(hi) + ")");
  if (x.is_cuda()) [[unlikely]] {
    Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
    Tensor inside = Tensor::empty(x.shape(), x.dtype(), x.device());
    void* stream = cuda_launch_context(x);
    dispatch_floating(x.dtype(), "clamp", [&](auto tag) {
      using T = decltype(tag);
      kernels::cuda::clamp<T>(x.device_data<T>(), y.device_data<T>(), inside.device_data<T>(),
                              static_cast<long>(x.numel()), static_cast<T>(lo), static_cast<T>(hi), stream);
      return 0;
    });
    record(y, "clamp", {x}, [inside](const Tensor& gy) -> Grads { return {mul(gy, inside)}; });
    return y;
  }
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  Tensor inside = Tensor::empty(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), "clamp", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    T* pm = inside.data<T>();
    const T l = static_cast<T>(lo), h = static_cast<T>(hi);
    for (int64_t i = 0; i < x.numel(); ++i) {
      py[i] = std::clamp(px[i], l, h);
      pm[i] = (px[i] >= l && px[i] <= h) ? T(1) : T(0);
    }
    return 0;
  });
  record(y, "clamp", {x}, [inside](const Tensor& gy) -> Grads { return {mul(gy, inside)}; });
  return y;
}

}  // namespace pianograd
