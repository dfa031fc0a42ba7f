// CUDA implementations of the broadcasting helpers of autodiff/ops/cuda_ops.h.
#include "autodiff/ops/cuda_ops.h"

#include <string>

#include "autodiff/device.h"
#include "autodiff/dispatch.h"
#include "autodiff/ops/shape_ops.h"
#include "autodiff/tape.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device.h"

namespace pianograd::detail {

namespace kcu = kernels::cuda;

namespace {
// Merged geometry of a broadcast (as for_each_run: size-1 dims dropped, dims contiguous in every
// operand fused), so the device kernel divides by few dims.
kcu::BroadcastGeom make_geom(const Shape& out, const Strides& sa, const Strides& sb, const char* op) {
  Shape shape;
  Strides a, b;
  for (size_t d = 0; d < out.size(); ++d) {
    if (out[d] == 1) continue;
    if (!shape.empty() && a.back() == sa[d] * out[d] && b.back() == sb[d] * out[d]) {
      shape.back() *= out[d];
      a.back() = sa[d];
      b.back() = sb[d];
    } else {
      shape.push_back(out[d]);
      a.push_back(sa[d]);
      b.push_back(sb[d]);
    }
  }
  if (shape.size() > static_cast<size_t>(kcu::kMaxDims))
    throw ShapeError(std::string(op) + ": broadcast over " + std::to_string(shape.size()) +
                     " non-mergeable dims exceeds the CUDA kernels' limit of " + std::to_string(kcu::kMaxDims) +
                     " (output shape " + shape_str(out) + ")");
  kcu::BroadcastGeom g;
  g.nd = static_cast<int>(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    g.shape[d] = static_cast<long>(shape[d]);
    g.sa[d] = static_cast<long>(a[d]);
    g.sb[d] = static_cast<long>(b[d]);
  }
  if (g.nd == 0) {  // a single element
    g.nd = 1;
    g.shape[0] = 1;
  }
  return g;
}
}  // namespace

Tensor cuda_binary(kernels::BinaryOp op, const Tensor& a, const Tensor& b, const Shape& out_shape) {
  Tensor y = Tensor::empty(out_shape, a.dtype(), a.device());
  void* stream = cuda_launch_context(a);
  const kcu::BroadcastGeom g =
      make_geom(out_shape, broadcast_strides(a.shape(), out_shape), broadcast_strides(b.shape(), out_shape), "binary");
  dispatch_floating(a.dtype(), "binary", [&](auto tag) {
    using T = decltype(tag);
    kcu::binary_broadcast<T>(op, a.device_data<T>(), b.device_data<T>(), y.device_data<T>(), g, stream);
    return 0;
  });
  return y;
}

Tensor cuda_broadcast_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  Tensor y = Tensor::empty(shape, x.dtype(), x.device());
  void* stream = cuda_launch_context(x);
  const Strides sx = broadcast_strides(x.shape(), shape);
  const kcu::BroadcastGeom g = make_geom(shape, sx, sx, "broadcast_to");
  dispatch_floating(x.dtype(), "broadcast_to", [&](auto tag) {
    using T = decltype(tag);
    kcu::broadcast_copy<T>(x.device_data<T>(), y.device_data<T>(), g, stream);
    return 0;
  });
  return y;
}

Tensor cuda_sum_to(const Tensor& grad, const Shape& shape) {
  const Shape& gs = grad.shape();
  if (gs == shape) return grad;
  if (shape.size() > gs.size())
    throw ShapeError("sum_to: cannot reduce shape " + shape_str(gs) + " to " + shape_str(shape));
  // Target right-aligned against grad, padded with leading 1s; each maximal run of adjacent reduced
  // dims is one [outer, n, inner] reduction.
  const size_t lead = gs.size() - shape.size();
  std::vector<bool> reduce(gs.size());
  for (size_t d = 0; d < gs.size(); ++d) {
    const int64_t t = d < lead ? 1 : shape[d - lead];
    if (t != gs[d] && t != 1)
      throw ShapeError("sum_to: cannot reduce shape " + shape_str(gs) + " to " + shape_str(shape));
    reduce[d] = t == 1 && gs[d] != 1;
  }
  void* stream = cuda_launch_context(grad);
  Tensor cur = grad;
  Shape cs = gs;
  for (size_t d = gs.size(); d-- > 0;) {
    if (!reduce[d]) continue;
    size_t lo = d;
    while (lo > 0 && reduce[lo - 1]) --lo;
    long outer = 1, n = 1, inner = 1;
    for (size_t k = 0; k < lo; ++k) outer *= static_cast<long>(cs[k]);
    for (size_t k = lo; k <= d; ++k) n *= static_cast<long>(cs[k]);
    for (size_t k = d + 1; k < cs.size(); ++k) inner *= static_cast<long>(cs[k]);
    for (size_t k = lo; k <= d; ++k) cs[k] = 1;
    Tensor next = Tensor::empty(cs, grad.dtype(), grad.device());
    dispatch_floating(grad.dtype(), "sum_to", [&](auto tag) {
      using T = decltype(tag);
      kcu::reduce_sum<T>(cur.device_data<T>(), next.device_data<T>(), outer, n, inner, stream);
      return 0;
    });
    cur = next;
    d = lo;
  }
  // cs equals the padded target now: drop the leading 1s (a reshape shares storage).
  if (cur.is_same(grad)) cur = cuda_copy(grad);  // nothing was reduced (only size-1 dims differ): never alias
  return reshape(cur.detach(), shape);  // shares storage; cur is fresh, so no alias of grad
}

Tensor cuda_copy(const Tensor& x) {
  Tensor c = Tensor::empty(x.shape(), x.dtype(), x.device());
  kcu::copy_device_async(c.device_ptr(), x.device_ptr(), x.nbytes(), cuda_launch_context(x));
  return c;
}

Tensor cuda_compare(kcu::CompareOp op, const Tensor& a, const Tensor& b, const Shape& out_shape) {
  Tensor y = Tensor::empty(out_shape, a.dtype(), a.device());
  void* stream = cuda_launch_context(a);
  const kcu::BroadcastGeom g = make_geom(out_shape, broadcast_strides(a.shape(), out_shape),
                                         broadcast_strides(b.shape(), out_shape), "compare");
  dispatch_floating(a.dtype(), "compare", [&](auto tag) {
    using T = decltype(tag);
    kcu::compare_broadcast<T>(op, a.device_data<T>(), b.device_data<T>(), y.device_data<T>(), g, stream);
    return 0;
  });
  return y;
}

void cuda_strided_copy(const Tensor& src, int64_t src_offset, const Strides& src_strides, const Tensor& dst,
                       int64_t dst_offset, const Strides& dst_strides, const Shape& box) {
  for (int64_t b : box)
    if (b <= 0) return;
  // Merge from the outermost dim inwards: dim d joins the previous kept dim when that one steps by
  // exactly box[d] of d's strides in both buffers (they are contiguous together).
  Shape mb;
  Strides ms, md;
  for (size_t d = 0; d < box.size(); ++d) {
    if (box[d] == 1) continue;
    if (!mb.empty() && ms.back() == box[d] * src_strides[d] && md.back() == box[d] * dst_strides[d]) {
      mb.back() *= box[d];
      ms.back() = src_strides[d];
      md.back() = dst_strides[d];
    } else {
      mb.push_back(box[d]);
      ms.push_back(src_strides[d]);
      md.push_back(dst_strides[d]);
    }
  }
  if (mb.size() > static_cast<size_t>(kcu::kMaxDims))
    throw ShapeError("strided copy: " + std::to_string(mb.size()) + " non-mergeable dims exceed the CUDA kernels' " +
                     "limit of " + std::to_string(kcu::kMaxDims) + " (box " + shape_str(box) + ")");
  kcu::StridedCopyGeom g;
  g.nd = static_cast<int>(mb.size());
  for (size_t d = 0; d < mb.size(); ++d) {
    g.box[d] = static_cast<long>(mb[d]);
    g.src_stride[d] = static_cast<long>(ms[d]);
    g.dst_stride[d] = static_cast<long>(md[d]);
  }
  if (g.nd == 0) {  // a single element
    g.nd = 1;
    g.box[0] = 1;
  }
  g.src_offset = static_cast<long>(src_offset);
  g.dst_offset = static_cast<long>(dst_offset);
  // Offsets are applied in the kernel, so the base pointers are the storages' own (tensor offset included).
  kcu::strided_copy(src.device_ptr(), dst.device_ptr(), g, static_cast<long>(dtype_size(src.dtype())),
                    cuda_launch_context(src));
}

void cuda_copy_box(const Tensor& src, const Shape& src_start, const Tensor& dst, const Shape& dst_start,
                   const Shape& box) {
  const size_t nd = box.size();
  Strides ss(nd, 1), ds(nd, 1);
  for (size_t d = nd; d-- > 1;) {
    ss[d - 1] = ss[d] * src.shape()[d];
    ds[d - 1] = ds[d] * dst.shape()[d];
  }
  int64_t so = 0, doff = 0;
  for (size_t d = 0; d < nd; ++d) {
    so += src_start[d] * ss[d];
    doff += dst_start[d] * ds[d];
  }
  cuda_strided_copy(src, so, ss, dst, doff, ds, box);
}

namespace {
kcu::ElemType elem_type(DType d) {
  switch (d) {
    case DType::f32: return kcu::ElemType::f32;
    case DType::f64: return kcu::ElemType::f64;
    case DType::i32: return kcu::ElemType::i32;
    case DType::i64: return kcu::ElemType::i64;
  }
  throw DTypeError("cuda: unknown dtype");
}
}  // namespace

Tensor cuda_cast(const Tensor& x, DType to) {
  Tensor y = Tensor::empty(x.shape(), to, x.device());
  kcu::cast(x.device_ptr(), elem_type(x.dtype()), y.device_ptr(), elem_type(to), static_cast<long>(x.numel()),
            cuda_launch_context(x));
  if (is_floating(to) && is_floating(x.dtype())) {
    record(y, "cast", {x}, [from = x.dtype()](const Tensor& gy) -> Grads { return {gy.to(from)}; });
  }
  return y;
}

std::pair<Tensor, Tensor> cuda_where(const Tensor& cond, const Tensor& a, const Tensor& b, const Shape& out_shape) {
  Tensor y = Tensor::empty(out_shape, a.dtype(), a.device());
  Tensor mask = Tensor::empty(out_shape, a.dtype(), a.device());
  void* stream = cuda_launch_context(a);
  const Strides s[3] = {broadcast_strides(cond.shape(), out_shape), broadcast_strides(a.shape(), out_shape),
                        broadcast_strides(b.shape(), out_shape)};
  // Merge as make_geom does, over three operands.
  Shape shape;
  Strides m[3];
  for (size_t d = 0; d < out_shape.size(); ++d) {
    if (out_shape[d] == 1) continue;
    bool merge = !shape.empty();
    for (int k = 0; k < 3 && merge; ++k) merge = m[k].back() == s[k][d] * out_shape[d];
    if (merge) {
      shape.back() *= out_shape[d];
      for (int k = 0; k < 3; ++k) m[k].back() = s[k][d];
    } else {
      shape.push_back(out_shape[d]);
      for (int k = 0; k < 3; ++k) m[k].push_back(s[k][d]);
    }
  }
  if (shape.size() > static_cast<size_t>(kcu::kMaxDims))
    throw ShapeError("where: broadcast over " + std::to_string(shape.size()) +
                     " non-mergeable dims exceeds the CUDA kernels' limit of " + std::to_string(kcu::kMaxDims) +
                     " (output shape " + shape_str(out_shape) + ")");
  kcu::WhereGeom g;
  g.nd = static_cast<int>(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    g.shape[d] = static_cast<long>(shape[d]);
    g.sc[d] = static_cast<long>(m[0][d]);
    g.sa[d] = static_cast<long>(m[1][d]);
    g.sb[d] = static_cast<long>(m[2][d]);
  }
  if (g.nd == 0) {  // a single element
    g.nd = 1;
    g.shape[0] = 1;
  }
  dispatch_floating(a.dtype(), "where", [&](auto tag) {
    using T = decltype(tag);
    kcu::where_broadcast<T>(cond.device_ptr(), elem_type(cond.dtype()), a.device_data<T>(), b.device_data<T>(),
                            y.device_data<T>(), mask.device_data<T>(), g, stream);
    return 0;
  });
  return {y, mask};
}

Tensor cuda_expand(const Tensor& x, const Shape& shape) {
  Tensor y = Tensor::empty(shape, x.dtype(), x.device());
  Strides ds(shape.size(), 1);
  for (size_t d = shape.size(); d-- > 1;) ds[d - 1] = ds[d] * shape[d];
  // The tensor's own offset is applied by device_ptr(), so the copy starts at element 0 of both.
  cuda_strided_copy(x, 0, broadcast_strides(x.shape(), shape), y, 0, ds, shape);
  return y;
}

}  // namespace pianograd::detail
