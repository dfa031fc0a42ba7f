// matmul (NumPy semantics) and bmm over kernels::cpu::gemm. Operands are viewed as batches of
// row-major matrices; broadcast batch dims become repeated offsets into the smaller operand, so nothing
// is materialised. VJPs: dA = dC @ B^T, dB = A^T @ dC, summed over broadcast batch dims (sum_to).
#include "autodiff/ops/linalg.h"

#include "autodiff/broadcast.h"
#include "autodiff/device.h"
#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops/elementwise.h"
#include "autodiff/tape.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cuda/cuda_kernels.h"

namespace pianograd {

PG_REGISTER_OP(matmul);
PG_REGISTER_OP(bmm);
PG_REGISTER_OP(linear);

namespace {
namespace kc = kernels::cpu;

Shape batch_of(const Shape& s) { return Shape(s.begin(), s.end() - 2); }

// The cuBLAS path: strided-batched GEMM, so each operand's batch is either the whole batch (stride
// M*K) or one matrix shared by all entries (stride 0). Partial broadcasts ([2,1,..] @ [1,3,..]) would
// need an offset table (cublasGemmBatchedEx); they are not routed yet.
Tensor product_cuda(const Tensor& a, bool ta, const Tensor& b, bool tb, int64_t M, int64_t N, int64_t K, int64_t nb,
                    const Shape& out) {
  const int64_t na = shape_numel(batch_of(a.shape())), nbb = shape_numel(batch_of(b.shape()));
  if ((na != nb && na != 1) || (nbb != nb && nbb != 1))
    throw_no_cuda_kernel("matmul", "batch dims broadcast partially: " + shape_str(a.shape()) + " @ " +
                                       shape_str(b.shape()));
  Tensor y = Tensor::empty(out, a.dtype(), a.device());
  void* stream = cuda_launch_context(a);
  dispatch_floating(a.dtype(), "matmul", [&](auto tag) {
    using T = decltype(tag);
    kernels::cuda::matmul<T>(a.device_data<T>(), b.device_data<T>(), y.device_data<T>(), static_cast<long>(M),
                             static_cast<long>(N), static_cast<long>(K), ta, tb, static_cast<long>(nb),
                             na == 1 ? 0L : static_cast<long>(M * K), nbb == 1 ? 0L : static_cast<long>(K * N),
                             static_cast<long>(M * N), stream);
    return 0;
  });
  return y;
}

// C[batch, M, N] = op(a) @ op(b) for a [..., r, c] and b [..., r, c] (each with >= 2 dims), where op
// transposes the last two dims when t is set; the batch dims broadcast against `batch`.
Tensor batched_product(const Tensor& a, bool ta, const Tensor& b, bool tb, const Shape& batch) {
  const int64_t ar = a.size(-2), ac = a.size(-1), br = b.size(-2), bc = b.size(-1);
  const int64_t M = ta ? ac : ar, K = ta ? ar : ac, N = tb ? br : bc;
  Shape out = batch;
  out.push_back(M);
  out.push_back(N);
  const int64_t nb = shape_numel(batch);
  const Shape a_batch = batch_of(a.shape()), b_batch = batch_of(b.shape());
  if (a.device().type != DeviceType::CPU) [[unlikely]] return product_cuda(a, ta, b, tb, M, N, K, nb, out);
  Tensor y = Tensor::empty(out, a.dtype());
  dispatch_floating(a.dtype(), "matmul", [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* py = y.data<T>();
    if (shape_numel(b_batch) == 1 && !ta && nb > 1) {
      // b is one matrix shared by every batch entry: fold a's batch into its rows (one big GEMM).
      kc::gemm<T>(false, tb, nb * M, N, K, T(1), pa, ac, pb, bc, T(0), py, N);
      return 0;
    }
    // Offsets of each batch entry's matrix, 0-stride where an operand is broadcast.
    std::vector<long> ao(static_cast<size_t>(nb)), bo(static_cast<size_t>(nb));
    const Strides st[2] = {broadcast_strides(a_batch, batch), broadcast_strides(b_batch, batch)};
    if (batch.empty()) {
      ao[0] = bo[0] = 0;
    } else {
      for_each_run<2>(batch, st, [&](int64_t o, const int64_t* off, const int64_t* inner, int64_t len) {
        for (int64_t i = 0; i < len; ++i) {
          ao[static_cast<size_t>(o + i)] = static_cast<long>((off[0] + i * inner[0]) * ar * ac);
          bo[static_cast<size_t>(o + i)] = static_cast<long>((off[1] + i * inner[1]) * br * bc);
        }
      });
    }
    kc::gemm_batched<T>(nb, ta, tb, M, N, K, T(1), pa, ao.data(), ac, pb, bo.data(), bc, T(0), py, N);
    return 0;
  });
  return y;
}

void check_operands(const Tensor& a, const Tensor& b, const char* op) {
  check_floating(a, op);
  check_floating(b, op);
  check_same_dtype(a, b, op);
  check_same_device(a, b, op);
}

[[noreturn]] void inner_mismatch(const Tensor& a, const Tensor& b, const char* op) {
  throw ShapeError(std::string(op) + ": inner dims differ: " + shape_str(a.shape()) + " @ " + shape_str(b.shape()));
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_operands(a, b, "matmul");
  if (a.dim() == 0 || b.dim() == 0)
    throw ShapeError("matmul: operands must have at least 1 dim, got " + shape_str(a.shape()) + " @ " +
                     shape_str(b.shape()));
  // NumPy promotion: a 1-D left operand is a row [1,K], a 1-D right operand a column [K,1]; the
  // added dim is dropped from the result.
  Shape as = a.shape(), bs = b.shape();
  if (a.dim() == 1) as.insert(as.begin(), 1);
  if (b.dim() == 1) bs.push_back(1);
  if (as.back() != bs[bs.size() - 2]) inner_mismatch(a, b, "matmul");
  const Shape batch = broadcast_shapes(batch_of(as), batch_of(bs), "matmul");
  const Tensor a2 = a.detach().reshape(as), b2 = b.detach().reshape(bs);
  Tensor y = batched_product(a2, false, b2, false, batch);
  Shape ys = batch;
  if (a.dim() > 1) ys.push_back(as[as.size() - 2]);
  if (b.dim() > 1) ys.push_back(bs.back());
  y = y.reshape(ys);
  record(y, "matmul", {a, b},
         [a2, b2, batch, sa = a.shape(), sb = b.shape(), ra = a.requires_grad(), rb = b.requires_grad()](
             const Tensor& gy) -> Grads {
           Shape gs = batch;
           gs.push_back(a2.size(-2));
           gs.push_back(b2.size(-1));
           const Tensor g = gy.reshape(gs);
           Tensor ga, gb;
           if (ra) ga = sum_to(batched_product(g, false, b2, true, batch), a2.shape()).reshape(sa);
           if (rb) {
             if (b2.dim() == 2 && a2.dim() > 2) {
               // b shared across a's batch: A^T @ dC with the batch folded into K, one GEMM.
               const int64_t K = a2.size(-1), rows = a2.numel() / K;
               gb = batched_product(a2.reshape({rows, K}), true, g.reshape({rows, b2.size(-1)}), false, {});
             } else {
               gb = sum_to(batched_product(a2, true, g, false, batch), b2.shape());
             }
             gb = gb.reshape(sb);
           }
           return {ga, gb};
         });
  return y;
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  check_operands(a, b, "bmm");
  if (a.dim() != 3 || b.dim() != 3)
    throw ShapeError("bmm: expected 3-D operands [B,M,K] @ [B,K,N], got " + shape_str(a.shape()) + " @ " +
                     shape_str(b.shape()));
  if (a.size(0) != b.size(0))
    throw ShapeError("bmm: batch sizes differ: " + shape_str(a.shape()) + " @ " + shape_str(b.shape()));
  if (a.size(2) != b.size(1)) inner_mismatch(a, b, "bmm");
  const Shape batch{a.size(0)};
  Tensor y = batched_product(a, false, b, false, batch);
  record(y, "bmm", {a, b},
         [ad = a.detach(), bd = b.detach(), batch, ra = a.requires_grad(), rb = b.requires_grad()](
             const Tensor& gy) -> Grads {
           return {ra ? batched_product(gy, false, bd, true, batch) : Tensor(),
                   rb ? batched_product(ad, true, gy, false, batch) : Tensor()};
         });
  return y;
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  check_operands(x, w, "linear");
  if (x.dim() < 1 || w.dim() != 2 || x.size(-1) != w.size(1))
    throw ShapeError("linear: expected x [..., K] and w [N, K], got " + shape_str(x.shape()) + " and " +
                     shape_str(w.shape()));
  const int64_t K = w.size(1), N = w.size(0), rows = x.numel() / std::max<int64_t>(K, 1);
  const Tensor x2 = x.detach().reshape({rows, K}), wd = w.detach();
  Shape ys = x.shape();
  ys.back() = N;
  Tensor y = batched_product(x2, false, wd, true, {}).reshape(ys);
  record(y, "linear", {x, w},
         [x2, wd, sx = x.shape(), rx = x.requires_grad(), rw = w.requires_grad()](const Tensor& gy) -> Grads {
           const Tensor g = gy.reshape({x2.size(0), wd.size(0)});
           return {rx ? batched_product(g, false, wd, false, {}).reshape(sx) : Tensor(),   // dx = dy W
                   rw ? batched_product(g, true, x2, false, {}) : Tensor()};              // dW = dy^T x
         });
  if (!b.defined()) return y;
  if (b.dim() != 1 || b.size(0) != N)
    throw ShapeError("linear: bias must be [" + std::to_string(N) + "], got " + shape_str(b.shape()));
  return add(y, b);
}

}  // namespace pianograd
