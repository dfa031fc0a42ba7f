// rotary_embedding on the CPU: one loop over rows of x, the pair arithmetic written so that the
// compiler vectorises it over i (contiguous in x, y and the tables). CUDA tensors run the equivalent
// chain of recorded ops (slices, products, concat), which the CUDA backend already has.
#include <string>

#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops/elementwise.h"
#include "autodiff/ops/rotary.h"
#include "autodiff/ops/shape_ops.h"
#include "autodiff/tape.h"

namespace pianograd {

PG_REGISTER_OP(rotary_embedding);

namespace {

constexpr const char* kOp = "rotary_embedding";

// Rotates rows [rows, T, 2 half] by the table angles of positions pos0 .. pos0 + T - 1; sign -1 rotates
// back (the VJP: the transpose of a rotation is the rotation by the negative angle).
template <class T>
void rotate_rows(const T* x, const T* c, const T* s, T* y, long rows, long len, long half, long pos0, T sign) {
  for (long r = 0; r < rows; ++r)
    for (long t = 0; t < len; ++t) {
      const T* xr = x + (r * len + t) * 2 * half;
      T* yr = y + (r * len + t) * 2 * half;
      const T* cr = c + (pos0 + t) * half;
      const T* sr = s + (pos0 + t) * half;
      for (long i = 0; i < half; ++i) {
        const T x1 = xr[i], x2 = xr[half + i], ci = cr[i], si = sign * sr[i];
        yr[i] = x1 * ci - x2 * si;
        yr[half + i] = x1 * si + x2 * ci;
      }
    }
}

Tensor composed(const Tensor& x, const Tensor& cos, const Tensor& sin, int64_t pos0, int64_t len, int64_t half) {
  const int64_t ax = x.dim() - 1;
  const Tensor c = slice(cos, 0, pos0, pos0 + len), s = slice(sin, 0, pos0, pos0 + len);
  const Tensor x1 = slice(x, ax, 0, half), x2 = slice(x, ax, half, 2 * half);
  return concat({sub(mul(x1, c), mul(x2, s)), add(mul(x1, s), mul(x2, c))}, ax);
}

}  // namespace

Tensor rotary_embedding(const Tensor& x, const Tensor& cos, const Tensor& sin, int64_t pos0) {
  check_floating(x, kOp);
  check_defined(cos, kOp, "cos");
  check_defined(sin, kOp, "sin");
  check_same_dtype(x, cos, kOp);
  check_same_dtype(x, sin, kOp);
  check_same_device(x, cos, kOp);
  check_same_device(x, sin, kOp);
  auto fail = [&](const std::string& what) {
    throw ShapeError(std::string(kOp) + ": " + what + ": x " + shape_str(x.shape()) + ", cos " + shape_str(cos.shape()) +
                     ", sin " + shape_str(sin.shape()) + ", pos0 " + std::to_string(pos0));
  };
  if (x.dim() < 2) fail("x must be [..., T, Dh]");
  const int64_t len = x.size(-2), dh = x.size(-1), half = dh / 2;
  if (dh % 2 != 0 || dh == 0) fail("the last axis must be even and non-empty (it rotates pairs)");
  if (cos.dim() != 2 || cos.shape() != sin.shape() || cos.size(1) != half) fail("cos and sin must both be [P, Dh / 2]");
  if (pos0 < 0 || pos0 + len > cos.size(0)) fail("positions pos0 .. pos0 + T - 1 must lie in the tables");
  if (x.is_cuda()) [[unlikely]] return composed(x, cos, sin, pos0, len, half);
  const Tensor xc = x.contiguous(), cc = cos.contiguous(), sc = sin.contiguous();
  const long rows = static_cast<long>(x.numel() / (len * dh > 0 ? len * dh : 1));
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), kOp, [&](auto tag) {
    using T = decltype(tag);
    rotate_rows<T>(xc.data<T>(), cc.data<T>(), sc.data<T>(), y.data<T>(), rows, len, half, pos0, T(1));
    return 0;
  });
  record(y, kOp, {x}, [cd = cc.detach(), sd = sc.detach(), rows, len, half, pos0](const Tensor& gy) {
    const Tensor g = gy.contiguous();
    Tensor gx = Tensor::empty(gy.shape(), gy.dtype());
    dispatch_floating(gy.dtype(), kOp, [&](auto tag) {
      using T = decltype(tag);
      rotate_rows<T>(g.data<T>(), cd.data<T>(), sd.data<T>(), gx.data<T>(), rows, len, half, pos0, T(-1));
      return 0;
    });
    return Grads{gx};
  });
  return y;
}

}  // namespace pianograd
