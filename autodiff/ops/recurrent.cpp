// gru_recurrence on the CPU: the forward saves the gates r, z (after the sigmoid), n (after the tanh)
// and gh_n = (W_hn h + b_hn) per step, 4 T B H numbers; the VJP walks time backwards (the per-element
// derivative is kernels/common/gru_cell.h) and forms dW_hh and db_hh from all steps at once, one GEMM
// over T B rows, after the loop. The sigmoids and tanhs run through the dispatched SIMD unary kernel.
#include <string>
#include <vector>

#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops/elementwise.h"
#include "autodiff/ops/linalg.h"
#include "autodiff/ops/recurrent.h"
#include "autodiff/ops/shape_ops.h"
#include "autodiff/tape.h"
#include "kernels/common/gru_cell.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm.h"

namespace pianograd {

PG_REGISTER_OP(gru_recurrence);

namespace {

constexpr const char* kOp = "gru_recurrence";
namespace kc = kernels::cpu;

struct Dims {
  long T, B, H;
};

Dims validate(const Tensor& gi, const Tensor& w_hh, const Tensor& b_hh, const Tensor& h0) {
  for (const Tensor* t : {&gi, &w_hh, &h0}) check_floating(*t, kOp);
  check_same_dtype(gi, w_hh, kOp);
  check_same_dtype(gi, h0, kOp);
  check_same_device(gi, w_hh, kOp);
  check_same_device(gi, h0, kOp);
  auto fail = [&](const std::string& what) {
    throw ShapeError(std::string(kOp) + ": " + what + ": gi " + shape_str(gi.shape()) + ", w_hh " +
                     shape_str(w_hh.shape()) + ", h0 " + shape_str(h0.shape()) +
                     (b_hh.defined() ? ", b_hh " + shape_str(b_hh.shape()) : std::string()));
  };
  if (gi.dim() != 3 || w_hh.dim() != 2 || h0.dim() != 2) fail("expected gi [T, B, 3H], w_hh [3H, H], h0 [B, H]");
  const long H = static_cast<long>(w_hh.size(1));
  if (H < 1 || w_hh.size(0) != 3 * H) fail("w_hh must be [3H, H] with H >= 1");
  if (gi.size(2) != 3 * H || h0.size(0) != gi.size(1) || h0.size(1) != H) fail("sizes disagree");
  if (gi.size(0) < 1) fail("empty sequence (T = 0)");
  if (b_hh.defined()) {
    check_same_dtype(gi, b_hh, kOp);
    check_same_device(gi, b_hh, kOp);
    if (b_hh.dim() != 1 || b_hh.size(0) != 3 * H) fail("b_hh must be [3H]");
  }
  return {static_cast<long>(gi.size(0)), static_cast<long>(gi.size(1)), H};
}

// The same recurrence as recorded ops: what the op computes on devices without the fused loop.
Tensor composed(const Tensor& gi, const Tensor& w_hh, const Tensor& b_hh, const Tensor& h0, long T, long H) {
  Tensor h = h0;
  std::vector<Tensor> outs;
  outs.reserve(static_cast<size_t>(T));
  for (long t = 0; t < T; ++t) {
    const Tensor gi_t = gi.select(0, t), gh = linear(h, w_hh, b_hh);
    const Tensor r = sigmoid(add(slice(gi_t, 1, 0, H), slice(gh, 1, 0, H)));
    const Tensor z = sigmoid(add(slice(gi_t, 1, H, 2 * H), slice(gh, 1, H, 2 * H)));
    const Tensor n = tanh(add(slice(gi_t, 1, 2 * H, 3 * H), mul(r, slice(gh, 1, 2 * H, 3 * H))));
    h = add(n, mul(z, sub(h, n)));
    outs.push_back(h);
  }
  return stack(outs, 0);
}

struct Saved {
  Tensor rz, n, ghn;  // [T, B, 2H], [T, B, H], [T, B, H]
};

template <class T>
void forward(const Dims& d, const T* gi, const T* w, const T* b, const T* h0, T* out, Saved& s) {
  const long B = d.B, H = d.H, G = 3 * H;
  T* rz = s.rz.data<T>();
  T* n = s.n.data<T>();
  T* ghn = s.ghn.data<T>();
  std::vector<T> gh(static_cast<size_t>(B * G)), pre(static_cast<size_t>(B * H));
  for (long t = 0; t < d.T; ++t) {
    const T* hp = t ? out + (t - 1) * B * H : h0;
    const T* git = gi + t * B * G;
    T* rzt = rz + t * B * 2 * H;
    T* nt = n + t * B * H;
    T* ghnt = ghn + t * B * H;
    T* ht = out + t * B * H;
    for (long i = 0; i < B; ++i)
      for (long j = 0; j < G; ++j) gh[static_cast<size_t>(i * G + j)] = b ? b[j] : T(0);
    kc::gemm<T>(false, true, B, G, H, T(1), hp, H, w, H, T(1), gh.data(), G);
    for (long i = 0; i < B; ++i)
      for (long j = 0; j < 2 * H; ++j) rzt[i * 2 * H + j] = git[i * G + j] + gh[static_cast<size_t>(i * G + j)];
    kc::unary<T>(kernels::UnaryOp::sigmoid, rzt, rzt, B * 2 * H);
    for (long i = 0; i < B; ++i)
      for (long j = 0; j < H; ++j) {
        const T g = gh[static_cast<size_t>(i * G + 2 * H + j)];
        ghnt[i * H + j] = g;
        pre[static_cast<size_t>(i * H + j)] = git[i * G + 2 * H + j] + rzt[i * 2 * H + j] * g;
      }
    kc::unary<T>(kernels::UnaryOp::tanh, pre.data(), nt, B * H);
    for (long i = 0; i < B; ++i)
      for (long j = 0; j < H; ++j)
        ht[i * H + j] = kernels::gru_output(nt[i * H + j], rzt[i * 2 * H + H + j], hp[i * H + j]);
  }
}

// dgi [T, B, 3H], dw [3H, H], db [3H] (or null), dh0 [B, H] from gout [T, B, H].
template <class T>
void backward(const Dims& d, const T* w, const T* h0, const T* out, const Saved& s, const T* gout, T* dgi, T* dw,
              T* db, T* dh0) {
  const long B = d.B, H = d.H, G = 3 * H, TB = d.T * B;
  const T* rz = s.rz.data<T>();
  const T* n = s.n.data<T>();
  const T* ghn = s.ghn.data<T>();
  std::vector<T> dgh(static_cast<size_t>(TB * G)), dh(static_cast<size_t>(B * H), T(0));
  for (long t = d.T - 1; t >= 0; --t) {
    const T* hp = t ? out + (t - 1) * B * H : h0;
    const T* go = gout + t * B * H;
    T* dgit = dgi + t * B * G;
    T* dght = dgh.data() + t * B * G;
    for (long i = 0; i < B; ++i)
      for (long j = 0; j < H; ++j) {
        const long e = i * H + j, q = (t * B + i) * H + j, rzq = (t * B + i) * 2 * H + j;
        const auto g = kernels::gru_cell_grad(dh[static_cast<size_t>(e)] + go[e], rz[rzq], rz[rzq + H], n[q], ghn[q], hp[e]);
        dgit[i * G + j] = dght[i * G + j] = g.da_r;
        dgit[i * G + H + j] = dght[i * G + H + j] = g.da_z;
        dgit[i * G + 2 * H + j] = g.da_n;
        dght[i * G + 2 * H + j] = g.dgh_n;
        dh[static_cast<size_t>(e)] = g.dh_prev;
      }
    // The part of dh_{t-1} through gh: dgh_t W_hh.
    kc::gemm<T>(false, false, B, H, G, T(1), dght, G, w, H, T(1), dh.data(), H);
  }
  std::copy(dh.begin(), dh.end(), dh0);
  // dW_hh = sum_t dgh_t^T h_{t-1}: the first step against h0, the rest against out[0 .. T-2].
  kc::gemm<T>(true, false, G, H, B, T(1), dgh.data(), G, h0, H, T(0), dw, H);
  if (d.T > 1) kc::gemm<T>(true, false, G, H, TB - B, T(1), dgh.data() + B * G, G, out, H, T(1), dw, H);
  if (db) {
    std::fill(db, db + G, T(0));
    for (long r = 0; r < TB; ++r)
      for (long j = 0; j < G; ++j) db[j] += dgh[static_cast<size_t>(r * G + j)];
  }
}

}  // namespace

Tensor gru_recurrence(const Tensor& gi, const Tensor& w_hh, const Tensor& b_hh, const Tensor& h0) {
  const Dims d = validate(gi, w_hh, b_hh, h0);
  if (gi.is_cuda()) [[unlikely]] return composed(gi, w_hh, b_hh, h0, d.T, d.H);
  const Tensor gic = gi.contiguous(), wc = w_hh.contiguous(), h0c = h0.contiguous();
  const Tensor bc = b_hh.defined() ? b_hh.contiguous() : Tensor();
  const DType dt = gi.dtype();
  Tensor out = Tensor::empty({d.T, d.B, d.H}, dt);
  Saved s{Tensor::empty({d.T, d.B, 2 * d.H}, dt), Tensor::empty({d.T, d.B, d.H}, dt), Tensor::empty({d.T, d.B, d.H}, dt)};
  dispatch_floating(dt, kOp, [&](auto tag) {
    using T = decltype(tag);
    forward<T>(d, gic.data<T>(), wc.data<T>(), bc.defined() ? bc.data<T>() : nullptr, h0c.data<T>(), out.data<T>(), s);
    return 0;
  });
  record(out, kOp, {gi, w_hh, b_hh, h0},
         [d, wd = wc.detach(), h0d = h0c.detach(), od = out.detach(), s, has_b = b_hh.defined()](const Tensor& gy) {
           const DType t = gy.dtype();
           Tensor dgi = Tensor::empty({d.T, d.B, 3 * d.H}, t), dw = Tensor::empty({3 * d.H, d.H}, t);
           Tensor db = has_b ? Tensor::empty({3 * d.H}, t) : Tensor(), dh0 = Tensor::empty({d.B, d.H}, t);
           const Tensor g = gy.contiguous();
           dispatch_floating(t, kOp, [&](auto tag) {
             using T = decltype(tag);
             backward<T>(d, wd.data<T>(), h0d.data<T>(), od.data<T>(), s, g.data<T>(), dgi.data<T>(), dw.data<T>(),
                         has_b ? db.data<T>() : nullptr, dh0.data<T>());
             return 0;
           });
           return Grads{dgi, dw, db, dh0};
         });
  return out;
}

}  // namespace pianograd
