// Integer-indexed ops: gather / scatter_add (torch semantics along one dim), index_select and
// embedding. Indices are i64 or i32 and must lie in [0, size) — no negative wrap-around, because a
// silently wrapped token id is a bug we would rather see. Each VJP is the adjoint data movement:
// gather <-> scatter_add, row gather <-> row scatter-add.
#include <cstring>
#include <string>
#include <vector>

#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops/copy_box.h"
#include "autodiff/ops/shape_ops.h"
#include "autodiff/tape.h"

namespace pianograd {

PG_REGISTER_OP(gather);
PG_REGISTER_OP(scatter_add);
PG_REGISTER_OP(index_select);
PG_REGISTER_OP(embedding);

namespace {

// Calls f(const I*) with the index data typed as int32_t or int64_t.
template <class F>
void with_index(const Tensor& index, F&& f) {
  if (index.dtype() == DType::i64) f(index.data<int64_t>());
  else f(index.data<int32_t>());
}

template <class F>
void visit_all(DType dt, F&& f) {
  switch (dt) {
    case DType::f32: f(float{}); return;
    case DType::f64: f(double{}); return;
    case DType::i32: f(int32_t{}); return;
    case DType::i64: f(int64_t{}); return;
  }
}

inline int64_t checked(int64_t v, int64_t size, const char* op, int64_t dim) {
  if (v < 0 || v >= size)
    throw IndexError(std::string(op) + ": index " + std::to_string(v) + " out of range for dim " +
                     std::to_string(dim) + " of size " + std::to_string(size));
  return v;
}

// Walks every element of an index tensor of shape `is`, calling f(k, off_target, off_other) where
// k is the flat position in index, off_target the flat offset into a tensor of shape `ts` with the
// `dim` coordinate replaced by index[k] (range-checked), and off_other the flat offset of the same
// multi-index into a tensor of shape `os` (src of scatter_add; pass `is` when unused).
template <class I, class F>
void walk_along_dim(const I* index, const Shape& is, const Shape& ts, const Shape& os, int64_t dim,
                    const char* op, F&& f) {
  const size_t nd = is.size();
  const int64_t n = shape_numel(is);
  if (n == 0 || nd == 0) return;  // rank >= 1 here: dim was normalised against it
  std::vector<int64_t> tst(nd, 1), ost(nd, 1), idx(nd, 0);
  for (size_t d = nd - 1; d > 0; --d) {
    tst[d - 1] = tst[d] * ts[d];
    ost[d - 1] = ost[d] * os[d];
  }
  const size_t dd = static_cast<size_t>(dim);
  const int64_t limit = ts[dd];
  int64_t tbase = 0, obase = 0;  // offsets of the multi-index, dim coordinate excluded from tbase
  for (int64_t k = 0; k < n; ++k) {
    const int64_t v = checked(static_cast<int64_t>(index[k]), limit, op, dim);
    f(k, tbase + v * tst[dd], obase);
    for (size_t d = nd; d-- > 0;) {
      if (d != dd) tbase += tst[d];
      obase += ost[d];
      if (++idx[d] < is[d]) break;
      if (d != dd) tbase -= tst[d] * is[d];
      obase -= ost[d] * is[d];
      idx[d] = 0;
    }
  }
}

// torch.gather / scatter_add shape rule: index has x's rank and index.size(d) <= x.size(d) for d != dim.
void check_index_shape(const Shape& is, const Shape& xs, int64_t dim, bool include_dim, const char* op,
                       const char* what) {
  bool ok = is.size() == xs.size();
  for (size_t d = 0; ok && d < is.size(); ++d)
    ok = (!include_dim && static_cast<int64_t>(d) == dim) || is[d] <= xs[d];
  if (!ok)
    throw ShapeError(std::string(op) + ": index of shape " + shape_str(is) + " does not fit " + what + " of shape " +
                     shape_str(xs) + " along dim " + std::to_string(dim));
}

// Row movement for index_select/embedding: x viewed as [outer, rows, inner].
template <class T, class I>
void gather_rows(const T* x, T* y, const I* index, int64_t nidx, int64_t outer, int64_t rows, int64_t inner,
                 const char* op, int64_t dim) {
  for (int64_t j = 0; j < nidx; ++j) checked(static_cast<int64_t>(index[j]), rows, op, dim);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < nidx; ++j)
      std::memcpy(y + (o * nidx + j) * inner, x + (o * rows + static_cast<int64_t>(index[j])) * inner,
                  static_cast<size_t>(inner) * sizeof(T));
}
template <class T, class I>
void scatter_add_rows(const T* gy, T* gx, const I* index, int64_t nidx, int64_t outer, int64_t rows,
                      int64_t inner) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < nidx; ++j) {
      T* dst = gx + (o * rows + static_cast<int64_t>(index[j])) * inner;
      const T* src = gy + (o * nidx + j) * inner;
      for (int64_t i = 0; i < inner; ++i) dst[i] += src[i];
    }
}

}  // namespace

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  check_defined(x, "gather");
  check_index_dtype(index, "gather");
  const int64_t d = normalize_axis(dim, x.dim(), "gather");
  check_index_shape(index.shape(), x.shape(), d, false, "gather", "x");
  Tensor y = Tensor::empty(index.shape(), x.dtype());
  visit_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    with_index(index, [&](const auto* pi) {
      walk_along_dim(pi, index.shape(), x.shape(), index.shape(), d, "gather",
                     [&](int64_t k, int64_t xoff, int64_t) { py[k] = px[xoff]; });
    });
  });
  record(y, "gather", {x}, [xs = x.shape(), d, id = index.detach()](const Tensor& gy) -> Grads {
    return {scatter_add(zeros(xs, gy.dtype()), d, id, gy)};
  });
  return y;
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  check_defined(x, "scatter_add");
  check_defined(src, "scatter_add", "src");
  check_index_dtype(index, "scatter_add");
  check_same_dtype(x, src, "scatter_add");
  const int64_t d = normalize_axis(dim, x.dim(), "scatter_add");
  check_index_shape(index.shape(), x.shape(), d, false, "scatter_add", "x");
  check_index_shape(index.shape(), src.shape(), d, true, "scatter_add", "src");
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  if (x.nbytes()) std::memcpy(y.raw_data(), x.raw_data(), x.nbytes());
  visit_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* ps = src.data<T>();
    T* py = y.data<T>();
    with_index(index, [&](const auto* pi) {
      walk_along_dim(pi, index.shape(), x.shape(), src.shape(), d, "scatter_add",
                     [&](int64_t, int64_t yoff, int64_t soff) { py[yoff] += ps[soff]; });
    });
  });
  record(y, "scatter_add", {x, src},
         [d, id = index.detach(), ss = src.shape(), rs = src.requires_grad()](const Tensor& gy) -> Grads {
           if (!rs) return {gy, Tensor()};
           Tensor gs = gather(gy, d, id);  // shape of index; src may be larger: zero elsewhere
           if (gs.shape() != ss) {
             Tensor full_gs = zeros(ss, gy.dtype());
             const Shape origin(ss.size(), 0);
             detail::copy_box(gs.raw_data(), gs.shape(), origin, full_gs.raw_data(), ss, origin, gs.shape(),
                              dtype_size(gy.dtype()));
             gs = full_gs;
           }
           return {gy, gs};
         });
  return y;
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  check_defined(x, "index_select");
  check_index_dtype(index, "index_select");
  if (index.dim() != 1)
    throw ShapeError("index_select: index must be 1-D, got shape " + shape_str(index.shape()));
  const int64_t d = normalize_axis(dim, x.dim(), "index_select");
  const Shape& xs = x.shape();
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < d; ++i) outer *= xs[static_cast<size_t>(i)];
  for (size_t i = static_cast<size_t>(d) + 1; i < xs.size(); ++i) inner *= xs[i];
  const int64_t rows = xs[static_cast<size_t>(d)], nidx = index.numel();
  Shape out = xs;
  out[static_cast<size_t>(d)] = nidx;
  Tensor y = Tensor::empty(out, x.dtype());
  visit_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    with_index(index, [&](const auto* pi) {
      gather_rows(x.data<T>(), y.data<T>(), pi, nidx, outer, rows, inner, "index_select", d);
    });
  });
  record(y, "index_select", {x}, [xs, outer, rows, inner, nidx, id = index.detach()](const Tensor& gy) -> Grads {
    Tensor gx = zeros(xs, gy.dtype());
    dispatch_floating(gy.dtype(), "index_select", [&](auto tag) {
      using T = decltype(tag);
      with_index(id, [&](const auto* pi) { scatter_add_rows(gy.data<T>(), gx.data<T>(), pi, nidx, outer, rows, inner); });
      return 0;
    });
    return {gx};
  });
  return y;
}

Tensor embedding(const Tensor& weight, const Tensor& indices) {
  check_defined(weight, "embedding", "weight");
  check_index_dtype(indices, "embedding");
  if (weight.dim() != 2)
    throw ShapeError("embedding: weight must be 2-D [V,D], got shape " + shape_str(weight.shape()));
  const int64_t rows = weight.shape()[0], width = weight.shape()[1], n = indices.numel();
  Shape out = indices.shape();
  out.push_back(width);
  Tensor y = Tensor::empty(out, weight.dtype());
  visit_all(weight.dtype(), [&](auto tag) {
    using T = decltype(tag);
    with_index(indices, [&](const auto* pi) {
      gather_rows(weight.data<T>(), y.data<T>(), pi, n, 1, rows, width, "embedding", 0);
    });
  });
  // VJP: scatter-add each output row into the weight row it came from (repeated tokens accumulate).
  record(y, "embedding", {weight}, [ws = weight.shape(), id = indices.detach(), n](const Tensor& gy) -> Grads {
    Tensor gw = zeros(ws, gy.dtype());
    dispatch_floating(gy.dtype(), "embedding", [&](auto tag) {
      using T = decltype(tag);
      with_index(id, [&](const auto* pi) { scatter_add_rows(gy.data<T>(), gw.data<T>(), pi, n, 1, ws[0], ws[1]); });
      return 0;
    });
    return {gw};
  });
  return y;
}

}  // namespace pianograd
