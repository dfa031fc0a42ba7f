// cross_entropy = NLL of log_softmax over the class axis, fused: the forward keeps log_softmax (from
// the max-shifted kernel, so large logits never overflow) and the VJP is (softmax - onehot) scaled by
// the incoming gradient; positions whose target equals ignore_index contribute neither loss nor count.
#include <cmath>
#include <limits>
#include <string>

#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops/nn_ops.h"
#include "autodiff/tape.h"
#include "kernels/cpu/reduce.h"

namespace pianograd {

namespace kc = kernels::cpu;

PG_REGISTER_OP(cross_entropy);

namespace {
// logits [C] / [N,C] / [N,C,d...] seen as [outer, C, inner]; target is the shape without the C axis.
struct CeGeom {
  long outer = 1, c = 1, inner = 1;
};

CeGeom ce_geom(const Tensor& logits, const Tensor& target) {
  const Shape& ls = logits.shape();
  if (ls.empty()) throw ShapeError("cross_entropy: logits must have a class dim, got shape []");
  const size_t axis = ls.size() == 1 ? 0 : 1;
  Shape want = ls;
  want.erase(want.begin() + static_cast<long>(axis));
  if (target.shape() != want)
    throw ShapeError("cross_entropy: target shape " + shape_str(target.shape()) + " does not match logits " +
                     shape_str(ls) + " (expected " + shape_str(want) + ")");
  CeGeom g;
  g.c = static_cast<long>(ls[axis]);
  if (axis == 1) g.outer = static_cast<long>(ls[0]);
  for (size_t i = axis + 1; i < ls.size(); ++i) g.inner *= static_cast<long>(ls[i]);
  if (g.c == 0) throw ShapeError("cross_entropy: logits " + shape_str(ls) + " have no classes");
  return g;
}

// Target class of position w as i64, whatever the index dtype.
inline int64_t target_at(const Tensor& t, long w) {
  return t.dtype() == DType::i64 ? t.data<int64_t>()[w] : static_cast<int64_t>(t.data<int32_t>()[w]);
}
}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index, Reduction r) {
  check_floating(logits, "cross_entropy");
  check_index_dtype(target, "cross_entropy");
  const CeGeom g = ce_geom(logits, target);
  const long positions = g.outer * g.inner;
  // Validate every target before any work: an out-of-range class is an IndexError, never a wild read.
  long count = 0;
  for (long w = 0; w < positions; ++w) {
    const int64_t t = target_at(target, w);
    if (t == ignore_index) continue;
    if (t < 0 || t >= g.c)
      throw IndexError("cross_entropy: target " + std::to_string(t) + " out of range for " + std::to_string(g.c) +
                       " classes (ignore_index " + std::to_string(ignore_index) + ")");
    ++count;
  }
  Tensor lsm = Tensor::empty(logits.shape(), logits.dtype());
  Tensor y = Tensor::empty(r == Reduction::none ? target.shape() : Shape{}, logits.dtype());
  dispatch_floating(logits.dtype(), "cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    kc::softmax<T>(logits.data<T>(), lsm.data<T>(), g.outer, g.c, g.inner, true);
    const T* pl = lsm.data<T>();
    T* py = y.data<T>();
    T total = 0;
    for (long w = 0; w < positions; ++w) {
      const int64_t t = target_at(target, w);
      const long o = w / g.inner, i = w % g.inner;
      const T nll = t == ignore_index ? T(0) : -pl[(o * g.c + t) * g.inner + i];
      if (r == Reduction::none) py[w] = nll;
      else total += nll;
    }
    // mean over the non-ignored positions; all ignored gives 0/0 = NaN, as torch.
    if (r == Reduction::sum) py[0] = total;
    if (r == Reduction::mean) py[0] = count > 0 ? total / static_cast<T>(count) : std::numeric_limits<T>::quiet_NaN();
    return 0;
  });
  record(y, "cross_entropy", {logits},
         [g, r, count, ignore_index, lsm, td = target.detach()](const Tensor& gy) -> Grads {
           Tensor gx = Tensor::empty(lsm.shape(), lsm.dtype());
           dispatch_floating(lsm.dtype(), "cross_entropy", [&](auto tag) {
             using T = decltype(tag);
             const T* pl = lsm.data<T>();
             const T* pg = gy.data<T>();
             T* px = gx.data<T>();
             const T scale = r == Reduction::mean ? (count > 0 ? T(1) / static_cast<T>(count) : T(0)) : T(1);
             for (long w = 0; w < g.outer * g.inner; ++w) {
               const int64_t t = target_at(td, w);
               const long o = w / g.inner, i = w % g.inner;
               const T gw = t == ignore_index ? T(0) : (r == Reduction::none ? pg[w] : pg[0]) * scale;
               // d NLL / d logits = softmax - onehot(t), softmax = exp(log_softmax).
               for (long k = 0; k < g.c; ++k) {
                 const long j = (o * g.c + k) * g.inner + i;
                 px[j] = gw == T(0) ? T(0) : gw * (std::exp(pl[j]) - (k == t ? T(1) : T(0)));
               }
             }
             return 0;
           });
           return {gx};
         });
  return y;
}

}  // namespace pianograd
