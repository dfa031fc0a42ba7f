// expand (broadcast, materialised), concat, stack and constant pad. Forward and VJP are box copies
// (detail::copy_box) so every dtype is handled by element size; gradients flow for floating inputs.
#include <algorithm>
#include <cstring>
#include <string>

#include "autodiff/broadcast.h"
#include "autodiff/device.h"
#include "autodiff/dispatch.h"
#include "autodiff/ops/cuda_ops.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops/copy_box.h"
#include "autodiff/ops/elementwise.h"
#include "autodiff/ops/shape_ops.h"
#include "autodiff/tape.h"

namespace pianograd {

PG_REGISTER_OP(expand);
PG_REGISTER_OP(concat);
PG_REGISTER_OP(stack);
PG_REGISTER_OP(pad);

Tensor expand(const Tensor& x, const Shape& shape) {
  check_defined(x, "expand");
  const Shape& xs = x.shape();
  auto fail = [&] {
    return ShapeError("expand: cannot expand " + shape_str(xs) + " to " + shape_str(shape));
  };
  if (shape.size() < xs.size()) throw fail();
  // -1 keeps x's size (PyTorch), only where x has that dim.
  Shape out = shape;
  const size_t lead = shape.size() - xs.size();
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1 && i >= lead) out[i] = xs[i - lead];
    if (out[i] < 0) throw fail();
    if (i >= lead && xs[i - lead] != 1 && xs[i - lead] != out[i]) throw fail();
  }
  if (x.is_cuda()) [[unlikely]] {  // one strided-copy launch (any dtype); the VJP's sum_to routes to CUDA
    Tensor yc = detail::cuda_expand(x, out);
    record(yc, "expand", {x}, [xs](const Tensor& gy) -> Grads { return {sum_to(gy, xs)}; });
    return yc;
  }
  Tensor y = Tensor::empty(out, x.dtype());
  const size_t esz = dtype_size(x.dtype());
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(y.raw_data());
  if (y.numel() > 0) {
    const Strides st[1] = {broadcast_strides(xs, out)};
    for_each_run<1>(out, st, [&](int64_t o, const int64_t* off, const int64_t* inner, int64_t len) {
      if (inner[0] == 1) {
        std::memcpy(dst + static_cast<size_t>(o) * esz, src + static_cast<size_t>(off[0]) * esz,
                    static_cast<size_t>(len) * esz);
      } else {  // broadcast run: repeat one element
        for (int64_t i = 0; i < len; ++i)
          std::memcpy(dst + static_cast<size_t>(o + i) * esz, src + static_cast<size_t>(off[0]) * esz, esz);
      }
    });
  }
  record(y, "expand", {x}, [xs](const Tensor& gy) -> Grads { return {sum_to(gy, xs)}; });
  return y;
}

namespace {

// copy_box on the tensors' device: the host loop, or one strided-copy launch for CUDA tensors.
void copy_box_on(const Tensor& src, const Shape& src_start, const Tensor& dst, const Shape& dst_start,
                 const Shape& box) {
  if (src.is_cuda()) [[unlikely]] return detail::cuda_copy_box(src, src_start, dst, dst_start, box);
  detail::copy_box(src.raw_data(), src.shape(), src_start, dst.raw_data(), dst.shape(), dst_start, box,
                   dtype_size(src.dtype()));
}

// Shared by concat and stack: `parts` are laid side by side along `dim` of a tensor of rank
// parts[0].dim() (stack passes inputs already viewed with a size-1 dim inserted).
Tensor join(const std::vector<Tensor>& parts, const std::vector<Tensor>& originals, int64_t d, const char* op) {
  const Tensor& first = parts[0];
  Shape out = first.shape();
  int64_t total = 0;
  for (size_t k = 0; k < parts.size(); ++k) {
    const Tensor& p = parts[k];
    check_same_dtype(first, p, op);
    check_same_device(first, p, op);
    bool ok = p.dim() == first.dim();
    for (int64_t i = 0; ok && i < p.dim(); ++i)
      ok = i == d || p.shape()[static_cast<size_t>(i)] == first.shape()[static_cast<size_t>(i)];
    if (!ok)
      throw ShapeError(std::string(op) + ": input " + std::to_string(k) + " has shape " +
                       shape_str(originals[k].shape()) + ", incompatible with input 0 of shape " +
                       shape_str(originals[0].shape()) + " along dim " + std::to_string(d));
    total += p.shape()[static_cast<size_t>(d)];
  }
  out[static_cast<size_t>(d)] = total;
  Tensor y = Tensor::empty(out, first.dtype(), first.device());
  Shape origin(out.size(), 0), at(out.size(), 0);
  std::vector<int64_t> offsets;
  for (const Tensor& p : parts) {
    offsets.push_back(at[static_cast<size_t>(d)]);
    copy_box_on(p, origin, y, at, p.shape());
    at[static_cast<size_t>(d)] += p.shape()[static_cast<size_t>(d)];
  }
  std::vector<Shape> shapes;
  std::vector<bool> needs;
  for (size_t k = 0; k < parts.size(); ++k) {
    shapes.push_back(parts[k].shape());
    needs.push_back(originals[k].requires_grad());
  }
  std::vector<Shape> orig_shapes;
  for (const Tensor& t : originals) orig_shapes.push_back(t.shape());
  // The VJP cuts gy back into the pieces; pieces of inputs that need no gradient are skipped.
  record_many(y, op, originals, [d, offsets, shapes, needs, orig_shapes, out](const Tensor& gy) -> Grads {
    Grads gs(shapes.size());
    const Shape origin0(out.size(), 0);
    for (size_t k = 0; k < shapes.size(); ++k) {
      if (!needs[k]) continue;
      Tensor g = Tensor::empty(shapes[k], gy.dtype(), gy.device());
      Shape at0(out.size(), 0);
      at0[static_cast<size_t>(d)] = offsets[k];
      copy_box_on(gy, at0, g, origin0, shapes[k]);
      gs[k] = g.reshape(orig_shapes[k]);
    }
    return gs;
  });
  return y;
}

}  // namespace

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  if (xs.empty()) throw ValueError("concat: expected at least one tensor, got an empty list");
  for (const Tensor& t : xs) check_defined(t, "concat");
  if (xs[0].dim() == 0) throw ShapeError("concat: zero-dimensional tensors cannot be concatenated");
  const int64_t d = normalize_axis(dim, xs[0].dim(), "concat");
  return join(xs, xs, d, "concat");
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  if (xs.empty()) throw ValueError("stack: expected at least one tensor, got an empty list");
  for (const Tensor& t : xs) check_defined(t, "stack");
  const int64_t d = normalize_axis(dim, xs[0].dim() + 1, "stack");
  for (size_t k = 1; k < xs.size(); ++k)
    if (xs[k].shape() != xs[0].shape())
      throw ShapeError("stack: input " + std::to_string(k) + " has shape " + shape_str(xs[k].shape()) +
                       ", expected the shape of input 0 " + shape_str(xs[0].shape()));
  std::vector<Tensor> parts;  // size-1 dim inserted: plain views of the same storage, not recorded
  for (const Tensor& t : xs) {
    Tensor v = t.detach();
    Shape s = t.shape();
    s.insert(s.begin() + d, 1);
    v.impl()->shape = s;
    parts.push_back(v);
  }
  return join(parts, xs, d, "stack");
}

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, double value) {
  check_defined(x, "pad");
  const int64_t nd = x.dim();
  if (pads.size() % 2 != 0 || static_cast<int64_t>(pads.size()) > 2 * nd)
    throw ValueError("pad: expected an even number of pads, at most 2*rank = " + std::to_string(2 * nd) +
                     " for shape " + shape_str(x.shape()) + ", got " + std::to_string(pads.size()));
  const Shape& xs = x.shape();
  Shape out = xs, src_start(static_cast<size_t>(nd), 0), dst_start(static_cast<size_t>(nd), 0), box = xs;
  for (size_t p = 0; p < pads.size() / 2; ++p) {
    const size_t d = static_cast<size_t>(nd) - 1 - p;  // pairs count from the last dim
    const int64_t before = pads[2 * p], after = pads[2 * p + 1];
    out[d] = xs[d] + before + after;
    if (out[d] < 0)
      throw ShapeError("pad: padding (" + std::to_string(before) + "," + std::to_string(after) + ") of dim " +
                       std::to_string(d) + " makes shape " + shape_str(xs) + " negative");
    // Negative pads crop (as in PyTorch's constant pad).
    src_start[d] = before < 0 ? -before : 0;
    dst_start[d] = before > 0 ? before : 0;
    box[d] = std::max<int64_t>(0, std::min(xs[d] - src_start[d], out[d] - dst_start[d]));
  }
  Tensor y = full(out, value, x.dtype(), x.device());
  copy_box_on(x, src_start, y, dst_start, box);
  record(y, "pad", {x}, [xs, src_start, dst_start, box](const Tensor& gy) -> Grads {
    Tensor gx = zeros(xs, gy.dtype(), gy.device());  // cropped elements get no gradient
    copy_box_on(gy, dst_start, gx, src_start, box);
    return {gx};
  });
  return y;
}

}  // namespace pianograd
