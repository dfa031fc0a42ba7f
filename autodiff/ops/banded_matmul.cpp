// banded_matmul: x @ w over the column bands of w (kernels/cpu/banded_matmul.h). The bands are found on
// every call (one pass over w, ~1% of the dense product's work), so a w that changes between calls (a
// learnable filterbank) is always read as it is now.
#include <string>

#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops/linalg.h"
#include "autodiff/ops/shape_ops.h"
#include "autodiff/tape.h"
#include "kernels/cpu/banded_matmul.h"

namespace pianograd {

PG_REGISTER_OP(banded_matmul);

Tensor banded_matmul(const Tensor& x, const Tensor& w) {
  const char* op = "banded_matmul";
  check_defined(x, op, "x");
  check_defined(w, op, "w");
  check_floating(x, op);
  check_same_dtype(x, w, op);
  if (w.dim() != 2) throw ShapeError(std::string(op) + ": w must be [K, N], got " + shape_str(w.shape()));
  if (x.dim() < 1 || x.size(-1) != w.size(0))
    throw ShapeError(std::string(op) + ": x " + shape_str(x.shape()) + " does not end in K = " +
                     std::to_string(w.size(0)) + " (w " + shape_str(w.shape()) + ")");
  // cuBLAS: dense is what a GPU is fast at. K = 0: nothing to band (and no rows to count).
  if (x.is_cuda() || w.is_cuda() || w.size(0) == 0) return matmul(x, w);
  const long K = w.size(0), N = w.size(1), M = x.numel() / std::max<int64_t>(K, 1);
  Tensor y;
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    auto bands = std::make_shared<const kernels::cpu::ColumnBands<T>>(kernels::cpu::column_bands(w.data<T>(), K, N));
    // Dense enough that the band bookkeeping no longer pays (and the GEMM's blocking wins).
    if (4 * bands->stored() > K * N) return 0;
    Shape ys = x.shape();
    ys.back() = N;
    y = Tensor::empty(ys, x.dtype());
    kernels::cpu::banded_matmul(x.data<T>(), *bands, y.data<T>(), M);
    record(y, op, {x, w}, [bands, xd = x.detach(), rx = x.requires_grad(), rw = w.requires_grad(), K, N,
                           M](const Tensor& gy) -> Grads {
      Tensor gx, gw;
      if (rx) {
        gx = Tensor::empty(xd.shape(), xd.dtype());
        kernels::cpu::banded_matmul_t(gy.data<T>(), *bands, gx.data<T>(), M);
      }
      // d/dw of x @ w is dense even where w is zero.
      if (rw) gw = matmul(transpose(reshape(xd, {M, K}), 0, 1), reshape(gy, {M, N}));
      return {gx, gw};
    });
    return 0;
  });
  return y.defined() ? y : matmul(x, w);
}

}  // namespace pianograd
