// reshape (shares storage), squeeze/unsqueeze (reshapes), permute/transpose and slice (materialise).
#include <algorithm>
#include <cstring>
#include <numeric>

#include "autodiff/device.h"
#include "autodiff/dispatch.h"
#include "autodiff/ops/cuda_ops.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops/shape_ops.h"
#include "autodiff/tape.h"

namespace pianograd {

PG_REGISTER_OP(reshape);
PG_REGISTER_OP(permute);
PG_REGISTER_OP(slice);

Tensor reshape(const Tensor& x, const Shape& shape) {
  check_defined(x, "reshape");
  Shape s = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      if (infer >= 0) throw ShapeError("reshape: more than one -1 in " + shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else if (s[i] < 0) {
      throw ShapeError("reshape: negative dimension in " + shape_str(shape));
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || x.numel() % known != 0)
      throw ShapeError("reshape: cannot reshape " + shape_str(x.shape()) + " into " + shape_str(shape));
    s[static_cast<size_t>(infer)] = x.numel() / known;
  }
  if (shape_numel(s) != x.numel())
    throw ShapeError("reshape: cannot reshape " + shape_str(x.shape()) + " (" + std::to_string(x.numel()) +
                     " elements) into " + shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = x.impl()->storage;
  impl->offset = x.impl()->offset;
  impl->shape = s;
  impl->dtype = x.dtype();
  Tensor y(std::move(impl));
  record(y, "reshape", {x}, [in = x.shape()](const Tensor& gy) -> Grads { return {reshape(gy, in)}; });
  return y;
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  check_defined(x, "squeeze");
  const int64_t d = normalize_axis(dim, x.dim(), "squeeze");
  if (x.shape()[static_cast<size_t>(d)] != 1)
    throw ShapeError("squeeze: dim " + std::to_string(dim) + " of shape " + shape_str(x.shape()) + " is not 1");
  Shape s = x.shape();
  s.erase(s.begin() + d);
  return reshape(x, s);
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  check_defined(x, "unsqueeze");
  const int64_t d = normalize_axis(dim, x.dim() + 1, "unsqueeze");
  Shape s = x.shape();
  s.insert(s.begin() + d, 1);
  return reshape(x, s);
}

namespace {
// The innermost loop of permute_copy: `len` elements at source stride `st` (in elements), typed so that
// the compiler moves 4 or 8 bytes at a time instead of calling memcpy per element.
template <class E>
void strided_run(char* dst, const char* src, int64_t len, int64_t st) {
  E* d = reinterpret_cast<E*>(dst);
  const E* s = reinterpret_cast<const E*>(src);
  for (int64_t j = 0; j < len; ++j) d[j] = s[j * st];
}

// Copies x into y where y's dim i is x's dim perm[i]: walks y contiguously, x with permuted strides.
// Trailing dims that stay contiguous in x (the head dim of a [B, T, H, Dh] -> [B, H, T, Dh] split) merge
// into one run copied with memcpy; otherwise the last dim is a typed strided loop.
void permute_copy(const Tensor& x, Tensor& y, const std::vector<int64_t>& perm) {
  const Shape& xs = x.shape();
  const size_t nd = xs.size();
  const int64_t n = y.numel();
  if (n == 0) return;
  std::vector<int64_t> xstride(nd, 1);
  for (size_t i = nd; i-- > 1;) xstride[i - 1] = xstride[i] * xs[i];
  std::vector<int64_t> st(nd);
  for (size_t i = 0; i < nd; ++i) st[i] = xstride[static_cast<size_t>(perm[i])];
  Shape ys = y.shape();
  int64_t run = 1;
  size_t outer = nd;  // dims [0, outer) are walked; [outer, nd) form one contiguous run
  while (outer > 0 && (st[outer - 1] == run || ys[outer - 1] == 1)) run *= ys[--outer];
  const auto esz = static_cast<int64_t>(dtype_size(x.dtype()));
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(y.raw_data());
  // Each step of the walk copies `len` elements: the merged run, or the last dim at its stride.
  const bool contiguous = run > 1 || outer == 0;
  const size_t walk = contiguous ? outer : nd - 1;
  const int64_t len = contiguous ? run : ys[nd - 1], inner_st = contiguous ? 1 : st[nd - 1];
  std::vector<int64_t> idx(walk, 0);
  int64_t off = 0;
  for (int64_t k = 0; k < n; k += len) {
    char* d = dst + k * esz;
    const char* s = src + off * esz;
    if (contiguous) std::memcpy(d, s, static_cast<size_t>(len * esz));
    else if (esz == 4) strided_run<uint32_t>(d, s, len, inner_st);
    else strided_run<uint64_t>(d, s, len, inner_st);  // dtype_size is 4 or 8
    for (size_t dd = walk; dd-- > 0;) {
      off += st[dd];
      if (++idx[dd] < ys[dd]) break;
      off -= st[dd] * ys[dd];
      idx[dd] = 0;
    }
  }
}
}  // namespace

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  check_defined(x, "permute");
  const int64_t nd = x.dim();
  if (static_cast<int64_t>(dims.size()) != nd)
    throw ShapeError("permute: " + std::to_string(dims.size()) + " dims given for shape " + shape_str(x.shape()));
  std::vector<int64_t> perm(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    perm[i] = normalize_axis(dims[i], nd, "permute");
    if (seen[static_cast<size_t>(perm[i])]) throw ValueError("permute: repeated dim in permutation");
    seen[static_cast<size_t>(perm[i])] = true;
  }
  Shape s(dims.size());
  for (size_t i = 0; i < perm.size(); ++i) s[i] = x.shape()[static_cast<size_t>(perm[i])];
  Tensor y = Tensor::empty(s, x.dtype(), x.device());
  if (x.is_cuda()) [[unlikely]] {
    // Output element i walks x with x's strides taken in permuted order: one strided-copy launch.
    Strides xs(static_cast<size_t>(nd), 1), src(perm.size()), dst(perm.size(), 1);
    for (size_t d = static_cast<size_t>(nd); d-- > 1;) xs[d - 1] = xs[d] * x.shape()[d];
    for (size_t d = perm.size(); d-- > 1;) dst[d - 1] = dst[d] * s[d];
    for (size_t i = 0; i < perm.size(); ++i) src[i] = xs[static_cast<size_t>(perm[i])];
    detail::cuda_strided_copy(x, 0, src, y, 0, dst, s);
  } else {
    permute_copy(x, y, perm);
  }
  record(y, "permute", {x}, [perm](const Tensor& gy) -> Grads {
    std::vector<int64_t> inv(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) inv[static_cast<size_t>(perm[i])] = static_cast<int64_t>(i);
    return {permute(gy, inv)};
  });
  return y;
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  check_defined(x, "transpose");
  std::vector<int64_t> perm(static_cast<size_t>(x.dim()));
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[static_cast<size_t>(normalize_axis(dim0, x.dim(), "transpose"))],
            perm[static_cast<size_t>(normalize_axis(dim1, x.dim(), "transpose"))]);
  return permute(x, perm);
}

namespace {
struct SliceGeom {
  int64_t outer, len_in, len_out, inner, start, step;
};
SliceGeom slice_geom(const Shape& s, int64_t d, int64_t start, int64_t stop, int64_t step) {
  SliceGeom g{1, s[static_cast<size_t>(d)], 0, 1, 0, step};
  for (int64_t i = 0; i < d; ++i) g.outer *= s[static_cast<size_t>(i)];
  for (size_t i = static_cast<size_t>(d) + 1; i < s.size(); ++i) g.inner *= s[i];
  // Python slice semantics: negative bounds count from the end, then clamp to [0, len].
  const int64_t n = g.len_in;
  auto norm = [n](int64_t v) { return std::clamp(v < 0 ? v + n : v, int64_t{0}, n); };
  g.start = norm(start);
  const int64_t e = norm(stop);
  g.len_out = e > g.start ? (e - g.start + step - 1) / step : 0;
  return g;
}

// The slice as a strided copy over the [outer, len, inner] view (step folded into the stride); the
// VJP writes gy back into a zeroed gradient the same way.
Tensor slice_cuda(const Tensor& x, const SliceGeom& g, const Shape& s) {
  Tensor y = Tensor::empty(s, x.dtype(), x.device());
  const Shape box = {g.outer, g.len_out, g.inner};
  const Strides in_st = {g.len_in * g.inner, g.step * g.inner, 1}, out_st = {g.len_out * g.inner, g.inner, 1};
  detail::cuda_strided_copy(x, g.start * g.inner, in_st, y, 0, out_st, box);
  record(y, "slice", {x}, [g, box, in_st, out_st, in = x.shape()](const Tensor& gy) -> Grads {
    Tensor gx = zeros(in, gy.dtype(), gy.device());
    detail::cuda_strided_copy(gy, 0, out_st, gx, g.start * g.inner, in_st, box);
    return {gx};
  });
  return y;
}
}  // namespace

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t stop, int64_t step) {
  check_defined(x, "slice");
  if (step <= 0) throw ValueError("slice: step must be positive, got " + std::to_string(step));
  const int64_t d = normalize_axis(dim, x.dim(), "slice");
  const SliceGeom g = slice_geom(x.shape(), d, start, stop, step);
  Shape s = x.shape();
  s[static_cast<size_t>(d)] = g.len_out;
  if (x.is_cuda()) [[unlikely]] return slice_cuda(x, g, s);
  Tensor y = Tensor::empty(s, x.dtype());
  const int64_t esz = static_cast<int64_t>(dtype_size(x.dtype()));
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(y.raw_data());
  for (int64_t o = 0; o < g.outer; ++o)
    for (int64_t j = 0; j < g.len_out; ++j)
      std::memcpy(dst + ((o * g.len_out + j) * g.inner) * esz,
                  src + ((o * g.len_in + g.start + j * step) * g.inner) * esz, static_cast<size_t>(g.inner * esz));
  record(y, "slice", {x}, [g, in = x.shape()](const Tensor& gy) -> Grads {
    Tensor gx = zeros(in, gy.dtype());
    dispatch_floating(gy.dtype(), "slice", [&](auto tag) {
      using T = decltype(tag);
      const T* src_g = gy.data<T>();
      T* dst_g = gx.data<T>();
      for (int64_t o = 0; o < g.outer; ++o)
        for (int64_t j = 0; j < g.len_out; ++j)
          std::memcpy(dst_g + (o * g.len_in + g.start + j * g.step) * g.inner, src_g + (o * g.len_out + j) * g.inner,
                      static_cast<size_t>(g.inner) * sizeof(T));
      return 0;
    });
    return {gx};
  });
  return y;
}

}  // namespace pianograd
