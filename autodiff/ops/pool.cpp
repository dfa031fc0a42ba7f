// Max and average pooling, 1-D and 2-D, over kernels/cpu/pool.h. stride 0 means stride = kernel.
// Max pooling remembers its argmax positions (i64) for the VJP; average pooling divides by the full
// window, padding included (PyTorch's count_include_pad=True).
#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops/conv.h"
#include "autodiff/tape.h"
#include "kernels/cpu/pool.h"

namespace pianograd {

PG_REGISTER_OP(max_pool1d);
PG_REGISTER_OP(avg_pool1d);
PG_REGISTER_OP(max_pool2d);
PG_REGISTER_OP(avg_pool2d);

namespace {
namespace kc = kernels::cpu;
using std::to_string;

int64_t pool_len(const char* op, int64_t in, int64_t k, int64_t s, int64_t p, const Tensor& x) {
  if (in + 2 * p < k)
    throw ShapeError(std::string(op) + ": kernel larger than padded input: kernel " + to_string(k) + " > input " +
                     to_string(in) + " + 2*padding " + to_string(p) + " (input " + shape_str(x.shape()) + ")");
  return (in + 2 * p - k) / s + 1;
}

kc::PoolGeom pool_geom(const char* op, int64_t rank, const Tensor& x, int64_t kernel, int64_t& stride,
                       int64_t padding) {
  check_floating(x, op);
  if (x.dim() != rank)
    throw ShapeError(std::string(op) + ": expected a " + to_string(rank) + "-D input " +
                     (rank == 3 ? "[N,C,L]" : "[N,C,H,W]") + ", got " + shape_str(x.shape()));
  if (stride == 0) stride = kernel;
  if (kernel < 1 || stride < 1 || padding < 0)
    throw ValueError(std::string(op) + ": expected kernel >= 1, stride >= 0, padding >= 0, got kernel=" +
                     to_string(kernel) + " stride=" + to_string(stride) + " padding=" + to_string(padding));
  // As in PyTorch: a window may never lie entirely in the padding (its max would be -inf).
  if (2 * padding > kernel)
    throw ValueError(std::string(op) + ": padding " + to_string(padding) + " exceeds half the kernel " +
                     to_string(kernel));
  kc::PoolGeom g;
  g.planes = x.size(0) * x.size(1);
  g.W = x.size(-1);
  g.KW = kernel;
  g.sw = stride;
  g.pw = padding;
  g.OW = pool_len(op, g.W, kernel, stride, padding, x);
  if (rank == 4) {
    g.H = x.size(2);
    g.KH = kernel;
    g.sh = stride;
    g.ph = padding;
    g.OH = pool_len(op, g.H, kernel, stride, padding, x);
  }
  return g;
}

Shape out_shape(const Tensor& x, const kc::PoolGeom& g) {
  return x.dim() == 3 ? Shape{x.size(0), x.size(1), g.OW} : Shape{x.size(0), x.size(1), g.OH, g.OW};
}

Tensor max_pool(const char* op, int64_t rank, const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  const kc::PoolGeom g = pool_geom(op, rank, x, kernel, stride, padding);
  Tensor y = Tensor::empty(out_shape(x, g), x.dtype());
  Tensor idx = Tensor::empty(y.shape(), DType::i64);
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    kc::max_pool_forward<T>(x.data<T>(), g, y.data<T>(), idx.data<int64_t>());
    return 0;
  });
  record(y, op, {x}, [idx, g, xs = x.shape(), op](const Tensor& gy) -> Grads {
    Tensor gx = Tensor::empty(xs, gy.dtype());
    dispatch_floating(gy.dtype(), op, [&](auto tag) {
      using T = decltype(tag);
      kc::max_pool_backward<T>(gy.data<T>(), idx.data<int64_t>(), g, gx.data<T>());
      return 0;
    });
    return {gx};
  });
  return y;
}

Tensor avg_pool(const char* op, int64_t rank, const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  const kc::PoolGeom g = pool_geom(op, rank, x, kernel, stride, padding);
  Tensor y = Tensor::empty(out_shape(x, g), x.dtype());
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    kc::avg_pool_forward<T>(x.data<T>(), g, y.data<T>());
    return 0;
  });
  record(y, op, {x}, [g, xs = x.shape(), op](const Tensor& gy) -> Grads {
    Tensor gx = Tensor::empty(xs, gy.dtype());
    dispatch_floating(gy.dtype(), op, [&](auto tag) {
      using T = decltype(tag);
      kc::avg_pool_backward<T>(gy.data<T>(), g, gx.data<T>());
      return 0;
    });
    return {gx};
  });
  return y;
}

}  // namespace

Tensor max_pool1d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  return max_pool("max_pool1d", 3, x, kernel, stride, padding);
}
Tensor avg_pool1d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  return avg_pool("avg_pool1d", 3, x, kernel, stride, padding);
}
Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  return max_pool("max_pool2d", 4, x, kernel, stride, padding);
}
Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  return avg_pool("avg_pool2d", 4, x, kernel, stride, padding);
}

}  // namespace pianograd
