// im2col / col2im. The inner loop runs over output columns with the valid range of each kernel tap
// computed once per row (no per-element bounds test); stride 1 rows are plain copies.
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/kernel_registry.h"

#include <algorithm>
#include <cstring>

namespace pianograd::kernels::cpu {
namespace {

// First o in [0, n] with o*s + off >= bound (s > 0).
inline long first_at_least(long bound, long off, long s, long n) {
  if (off >= bound) return 0;
  return std::min(n, (bound - off + s - 1) / s);
}

// Calls row(dst_row_index, ih or -1, off_w, ow_lo, ow_hi) for each (c, kh, kw, oh): the shared walk of
// im2col and col2im.
template <class F>
inline void walk(const ConvGeom& g, F&& f) {
  for (long c = 0; c < g.C; ++c)
    for (long kh = 0; kh < g.KH; ++kh)
      for (long kw = 0; kw < g.KW; ++kw) {
        const long r = (c * g.KH + kh) * g.KW + kw;
        const long off_w = kw * g.dw - g.pw;  // iw = ow*sw + off_w
        const long lo = first_at_least(0, off_w, g.sw, g.OW);
        const long hi = std::max(lo, first_at_least(g.W, off_w, g.sw, g.OW));
        for (long oh = 0; oh < g.OH; ++oh) {
          const long ih = oh * g.sh - g.ph + kh * g.dh;
          f(c, r, oh, (ih < 0 || ih >= g.H) ? -1 : ih, off_w, lo, hi);
        }
      }
}

}  // namespace

template <class T>
void im2col(const T* x, const ConvGeom& g, T* cols) {
  const long ohw = g.out_hw(), sw = g.sw;
  walk(g, [&](long c, long r, long oh, long ih, long off_w, long lo, long hi) {
    T* dst = cols + r * ohw + oh * g.OW;
    if (ih < 0) {
      std::fill(dst, dst + g.OW, T(0));
      return;
    }
    const T* src = x + (c * g.H + ih) * g.W + off_w;
    std::fill(dst, dst + lo, T(0));
    if (sw == 1) {
      if (hi > lo) std::memcpy(dst + lo, src + lo, static_cast<size_t>(hi - lo) * sizeof(T));
    } else {
      for (long ow = lo; ow < hi; ++ow) dst[ow] = src[ow * sw];
    }
    std::fill(dst + hi, dst + g.OW, T(0));
  });
}

template <class T>
void col2im(const T* cols, const ConvGeom& g, T* x) {
  const long ohw = g.out_hw(), sw = g.sw;
  walk(g, [&](long c, long r, long oh, long ih, long off_w, long lo, long hi) {
    if (ih < 0) return;
    const T* src = cols + r * ohw + oh * g.OW;
    T* dst = x + (c * g.H + ih) * g.W + off_w;
    for (long ow = lo; ow < hi; ++ow) dst[ow * sw] += src[ow];
  });
}

namespace ref {
template <class T>
void im2col(const T* x, const ConvGeom& g, T* cols) {
  for (long c = 0; c < g.C; ++c)
    for (long kh = 0; kh < g.KH; ++kh)
      for (long kw = 0; kw < g.KW; ++kw)
        for (long oh = 0; oh < g.OH; ++oh)
          for (long ow = 0; ow < g.OW; ++ow) {
            const long ih = oh * g.sh - g.ph + kh * g.dh, iw = ow * g.sw - g.pw + kw * g.dw;
            const bool in = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
            cols[((c * g.KH + kh) * g.KW + kw) * g.out_hw() + oh * g.OW + ow] =
                in ? x[(c * g.H + ih) * g.W + iw] : T(0);
          }
}
template <class T>
void col2im(const T* cols, const ConvGeom& g, T* x) {
  for (long c = 0; c < g.C; ++c)
    for (long kh = 0; kh < g.KH; ++kh)
      for (long kw = 0; kw < g.KW; ++kw)
        for (long oh = 0; oh < g.OH; ++oh)
          for (long ow = 0; ow < g.OW; ++ow) {
            const long ih = oh * g.sh - g.ph + kh * g.dh, iw = ow * g.sw - g.pw + kw * g.dw;
            if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W)
              x[(c * g.H + ih) * g.W + iw] += cols[((c * g.KH + kh) * g.KW + kw) * g.out_hw() + oh * g.OW + ow];
          }
}
template void im2col<float>(const float*, const ConvGeom&, float*);
template void im2col<double>(const double*, const ConvGeom&, double*);
template void col2im<float>(const float*, const ConvGeom&, float*);
template void col2im<double>(const double*, const ConvGeom&, double*);
}  // namespace ref

template void im2col<float>(const float*, const ConvGeom&, float*);
template void im2col<double>(const double*, const ConvGeom&, double*);
template void col2im<float>(const float*, const ConvGeom&, float*);
template void col2im<double>(const double*, const ConvGeom&, double*);

// Covered by the conformance suite (kernels/cpu/conformance_*.cpp; kernel_registry.h).
PG_CPU_KERNEL(im2col);
PG_CPU_KERNEL(col2im);

}  // namespace pianograd::kernels::cpu
