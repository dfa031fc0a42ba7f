// NumPy broadcasting as index arithmetic: the output shape is walked in inner runs, each run handed to
// a contiguous kernel with per-operand inner stride 0 (broadcast) or 1. Adjacent dims that are
// contiguous in every operand are merged first, so same-shape and scalar cases are one run.
#pragma once
#include <cstdint>
#include <vector>

#include "autodiff/tensor.h"

namespace pianograd {

using Strides = std::vector<int64_t>;

// Row-major strides of `in`, right-aligned against `out`, 0 where `in` is broadcast.
Strides broadcast_strides(const Shape& in, const Shape& out);

// Calls run(out_offset, operand offsets[N], operand inner strides[N], length) for every inner run of
// the (row-major, contiguous) output.
template <size_t N, class F>
void for_each_run(const Shape& out_shape, const Strides (&strides_in)[N], F&& run) {
  // Merge dims: dim i-1 and i merge when for every operand stride[i-1] == stride[i] * size[i].
  Shape shape;
  std::vector<Strides> st(N);
  for (size_t d = 0; d < out_shape.size(); ++d) {
    if (out_shape[d] == 1) continue;  // size-1 dims never move an index
    bool merge = !shape.empty();
    for (size_t k = 0; k < N && merge; ++k)
      merge = st[k].back() == strides_in[k][d] * out_shape[d];
    if (merge) {
      shape.back() *= out_shape[d];
      for (size_t k = 0; k < N; ++k) st[k].back() = strides_in[k][d];
    } else {
      shape.push_back(out_shape[d]);
      for (size_t k = 0; k < N; ++k) st[k].push_back(strides_in[k][d]);
    }
  }
  if (shape.empty()) {  // a single element
    int64_t off[N] = {};
    int64_t inner[N] = {};
    run(int64_t{0}, off, inner, int64_t{1});
    return;
  }
  const size_t nd = shape.size();
  const int64_t len = shape[nd - 1];
  int64_t inner[N];
  for (size_t k = 0; k < N; ++k) inner[k] = st[k][nd - 1];
  int64_t outer = 1;
  for (size_t d = 0; d + 1 < nd; ++d) outer *= shape[d];
  std::vector<int64_t> idx(nd, 0);
  int64_t off[N] = {};
  for (int64_t o = 0; o < outer; ++o) {
    run(o * len, off, inner, len);
    // advance the multi-index over the outer dims
    for (size_t d = nd - 1; d-- > 0;) {
      ++idx[d];
      for (size_t k = 0; k < N; ++k) off[k] += st[k][d];
      if (idx[d] < shape[d]) break;
      for (size_t k = 0; k < N; ++k) off[k] -= st[k][d] * shape[d];
      idx[d] = 0;
    }
  }
}

}  // namespace pianograd
