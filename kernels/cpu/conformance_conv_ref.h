// The convolution by its definition, in double, for the conformance cases of both convolution paths
// (im2col + GEMM and the direct kernels): any stride, padding, dilation and groups, PyTorch's layouts
// (x [N, C, H, W], w [Cout, C/groups, KH, KW], y [N, Cout, OH, OW]).
#pragma once
#include <vector>

#include "kernels/cpu/im2col.h"

namespace pianograd::kernels::cpu::conformance::detail {

struct NaiveConv {
  const ConvGeom& g;

  // Calls f(n, co, oh, ow, ci, kh, kw, ih, iw) for every in-bounds product of the convolution.
  template <class F>
  void each(F&& f) const {
    const long cg = g.C / g.groups, og = g.Cout / g.groups;
    for (long n = 0; n < g.N; ++n)
      for (long co = 0; co < g.Cout; ++co)
        for (long oh = 0; oh < g.OH; ++oh)
          for (long ow = 0; ow < g.OW; ++ow)
            for (long c = 0; c < cg; ++c)
              for (long kh = 0; kh < g.KH; ++kh)
                for (long kw = 0; kw < g.KW; ++kw) {
                  const long ih = oh * g.sh - g.ph + kh * g.dh, iw = ow * g.sw - g.pw + kw * g.dw;
                  if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                  f(n, co, oh, ow, (co / og) * cg + c, c, kh, kw, ih, iw);
                }
  }
  long xi(long n, long ci, long ih, long iw) const { return ((n * g.C + ci) * g.H + ih) * g.W + iw; }
  long yi(long n, long co, long oh, long ow) const { return ((n * g.Cout + co) * g.OH + oh) * g.OW + ow; }
  long wi(long co, long c, long kh, long kw) const { return ((co * (g.C / g.groups) + c) * g.KH + kh) * g.KW + kw; }

  template <class T>
  std::vector<T> forward(const std::vector<T>& x, const std::vector<T>& w, const std::vector<T>& bias, bool relu) const {
    std::vector<double> y(static_cast<size_t>(g.N * g.Cout * g.OH * g.OW), 0.0);
    for (long n = 0; n < g.N; ++n)
      for (long co = 0; co < g.Cout; ++co)
        for (long p = 0; p < g.OH * g.OW; ++p) y[static_cast<size_t>((n * g.Cout + co) * g.OH * g.OW + p)] = bias[static_cast<size_t>(co)];
    each([&](long n, long co, long oh, long ow, long ci, long c, long kh, long kw, long ih, long iw) {
      y[static_cast<size_t>(yi(n, co, oh, ow))] +=
          static_cast<double>(w[static_cast<size_t>(wi(co, c, kh, kw))]) * static_cast<double>(x[static_cast<size_t>(xi(n, ci, ih, iw))]);
    });
    std::vector<T> out(y.size());
    for (size_t i = 0; i < y.size(); ++i) out[i] = static_cast<T>(relu && y[i] < 0 ? 0.0 : y[i]);
    return out;
  }
  template <class T>
  std::vector<T> backward_input(const std::vector<T>& gy, const std::vector<T>& w) const {
    std::vector<double> gx(static_cast<size_t>(g.N * g.C * g.H * g.W), 0.0);
    each([&](long n, long co, long oh, long ow, long ci, long c, long kh, long kw, long ih, long iw) {
      gx[static_cast<size_t>(xi(n, ci, ih, iw))] +=
          static_cast<double>(w[static_cast<size_t>(wi(co, c, kh, kw))]) * static_cast<double>(gy[static_cast<size_t>(yi(n, co, oh, ow))]);
    });
    return {gx.begin(), gx.end()};
  }
  template <class T>
  std::vector<T> backward_weight(const std::vector<T>& x, const std::vector<T>& gy) const {
    std::vector<double> gw(static_cast<size_t>(g.Cout * (g.C / g.groups) * g.KH * g.KW), 0.0);
    each([&](long n, long co, long oh, long ow, long ci, long c, long kh, long kw, long ih, long iw) {
      gw[static_cast<size_t>(wi(co, c, kh, kw))] +=
          static_cast<double>(x[static_cast<size_t>(xi(n, ci, ih, iw))]) * static_cast<double>(gy[static_cast<size_t>(yi(n, co, oh, ow))]);
    });
    return {gw.begin(), gw.end()};
  }
};

// Output size of a geometry whose input, kernel, stride, padding and dilation are set.
inline ConvGeom with_output(ConvGeom g) {
  g.OH = (g.H + 2 * g.ph - g.dh * (g.KH - 1) - 1) / g.sh + 1;
  g.OW = (g.W + 2 * g.pw - g.dw * (g.KW - 1) - 1) / g.sw + 1;
  return g;
}

}  // namespace pianograd::kernels::cpu::conformance::detail
