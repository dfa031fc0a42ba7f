// The [outer, n, inner] view of a tensor around one axis, which is how the reduction kernels see it
// (internal header of the reduction / softmax / loss ops).
#pragma once
#include "autodiff/dispatch.h"
#include "autodiff/tensor.h"

namespace pianograd {

struct AxisGeom {
  int64_t axis = 0;  // normalised; 0 for a 0-d tensor, which behaves as shape [1]
  long outer = 1, n = 1, inner = 1;
};

inline AxisGeom axis_geom(const Shape& s, int64_t axis, const char* op) {
  AxisGeom g;
  if (s.empty()) {  // torch accepts dim 0 / -1 on a 0-d tensor
    normalize_axis(axis, 1, op);
    return g;
  }
  g.axis = normalize_axis(axis, static_cast<int64_t>(s.size()), op);
  for (int64_t i = 0; i < static_cast<int64_t>(s.size()); ++i) {
    const long d = static_cast<long>(s[static_cast<size_t>(i)]);
    if (i < g.axis) g.outer *= d;
    else if (i == g.axis) g.n = d;
    else g.inner *= d;
  }
  return g;
}

// The shape after reducing g.axis: kept as size 1, or dropped.
inline Shape axis_reduced_shape(const Shape& s, const AxisGeom& g, bool keepdim) {
  if (s.empty()) return s;
  Shape out = s;
  if (keepdim) out[static_cast<size_t>(g.axis)] = 1;
  else out.erase(out.begin() + g.axis);
  return out;
}

}  // namespace pianograd
