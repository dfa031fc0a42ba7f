// Copies an N-d box between two row-major buffers of the same rank: the one memory-movement loop
// behind concat/stack/pad and their VJPs (and scatter_add's VJP into a larger src). Each contiguous
// innermost run is one memcpy; trailing dims the box covers fully in both buffers are merged, so a
// concat along dim 0 is a single memcpy per input.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "autodiff/tensor.h"

namespace pianograd::detail {

// dst[dst_start + i] = src[src_start + i] for every multi-index i < box (elementwise over dims).
inline void copy_box(const void* src, const Shape& src_shape, const Shape& src_start, void* dst,
                     const Shape& dst_shape, const Shape& dst_start, const Shape& box, size_t elem_size) {
  const size_t nd = box.size();
  for (int64_t b : box)
    if (b <= 0) return;
  if (nd == 0) {
    std::memcpy(dst, src, elem_size);
    return;
  }
  std::vector<int64_t> sst(nd, 1), dst_st(nd, 1);
  for (size_t d = nd - 1; d-- > 0;) {
    sst[d] = sst[d + 1] * src_shape[d + 1];
    dst_st[d] = dst_st[d + 1] * dst_shape[d + 1];
  }
  // Merge trailing dims into one run while the box spans them entirely in both buffers.
  size_t first = nd - 1;
  int64_t run = box[nd - 1];
  while (first > 0 && box[first] == src_shape[first] && box[first] == dst_shape[first]) {
    --first;
    run *= box[first];
  }
  int64_t soff = 0, doff = 0;
  for (size_t d = 0; d < nd; ++d) {
    soff += src_start[d] * sst[d];
    doff += dst_start[d] * dst_st[d];
  }
  const char* s = static_cast<const char*>(src);
  char* t = static_cast<char*>(dst);
  const size_t run_bytes = static_cast<size_t>(run) * elem_size;
  std::vector<int64_t> idx(first, 0);
  while (true) {
    std::memcpy(t + static_cast<size_t>(doff) * elem_size, s + static_cast<size_t>(soff) * elem_size, run_bytes);
    size_t d = first;
    while (d-- > 0) {  // odometer over the outer dims [0, first)
      soff += sst[d];
      doff += dst_st[d];
      if (++idx[d] < box[d]) break;
      soff -= sst[d] * box[d];
      doff -= dst_st[d] * box[d];
      idx[d] = 0;
    }
    if (d == static_cast<size_t>(-1)) return;
  }
}

}  // namespace pianograd::detail
