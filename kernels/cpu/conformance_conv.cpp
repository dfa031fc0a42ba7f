// Conformance cases of the two convolution paths against the definition in double
// (conformance_conv_ref.h): im2col + GEMM (any stride, padding, dilation, groups; the pointwise 1x1
// path) and the direct kernels (the transcriber's 3x3, dilated [k x 1], [1 x k] and full-width readout
// geometries, fused ReLU forward and backward, two-input concatenation). The row length W is the size,
// so the flattened rows end at every lane tail. Errors are relative to the output's scale, with a
// bound growing with the number of products each output sums.
#include <algorithm>
#include <string>
#include <vector>

#include "kernels/cpu/conformance_checks.h"
#include "kernels/cpu/conformance_conv_ref.h"
#include "kernels/cpu/conformance_util.h"
#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/im2col.h"

namespace pianograd::kernels::cpu::conformance::detail {
namespace {

struct Shape {
  const char* name;
  long C, Cout, H, KH, KW, sh, sw, ph, pw, dh, dw, groups;
  bool full_width = false;  // KW = W: one output column (the transcriber's readout)
};
ConvGeom geometry(const Shape& s, long W) {
  ConvGeom g;
  g.N = 2;
  g.C = s.C;
  g.Cout = s.Cout;
  g.H = s.H;
  g.W = s.full_width ? std::max(W, 2L) : W;
  g.KH = s.KH;
  g.KW = s.full_width ? g.W : s.KW;
  g.sh = s.sh, g.sw = s.sw, g.ph = s.ph, g.pw = s.pw, g.dh = s.dh, g.dw = s.dw, g.groups = s.groups;
  return with_output(g);
}
long terms(const ConvGeom& g) { return std::max({g.C / g.groups * g.KH * g.KW, g.Cout * g.KH * g.KW, g.N * g.OH * g.OW}); }
double bound_for(const ConvGeom& g) { return 16 + 4.0 * static_cast<double>(terms(g)); }

template <class T>
struct Data {
  std::vector<T> x, w, bias, gy;
};
template <class T>
Data<T> data_for(const ConvGeom& g, long seed) {
  return {uniform<T>(g.N * g.C * g.H * g.W, seed), uniform<T>(g.Cout * (g.C / g.groups) * g.KH * g.KW, seed + 1),
          uniform<T>(g.Cout, seed + 2), uniform<T>(g.N * g.Cout * g.OH * g.OW, seed + 3)};
}

template <class T>
Outcome compare3(const ConvGeom& g, const Guarded<T>& y, const Guarded<T>& gx, const Guarded<T>& gw,
                 const std::vector<T>& y0, const std::vector<T>& gx0, const std::vector<T>& gw0) {
  const double b = bound_for(g);
  Outcome o = ulps_of_scale(y.data(), y0.data(), y.size(), 1, b, "y");
  o = worst(o, ulps_of_scale(gx.data(), gx0.data(), gx.size(), 1, b, "gx"));
  o = worst(o, ulps_of_scale(gw.data(), gw0.data(), gw.size(), 1, b, "gw"));
  for (const Guarded<T>* p : {&y, &gx, &gw}) o = worst(o, guards(*p, "conv outputs"));
  return o;
}

// im2col + GEMM: forward, input gradient, weight gradient.
template <class T>
Outcome im2col_case(const Shape& s, long W) {
  const ConvGeom g = geometry(s, W);
  if (g.OW < 1 || g.OH < 1) return broken("empty output");
  const Data<T> d = data_for<T>(g, 100 + W);
  const NaiveConv ref{g};
  Guarded<T> y(static_cast<long>(d.gy.size())), gx(static_cast<long>(d.x.size())), gw(static_cast<long>(d.w.size()));
  conv_forward<T>(d.x.data(), d.w.data(), d.bias.data(), y.data(), g);
  conv_backward_input<T>(d.gy.data(), d.w.data(), gx.data(), g);
  conv_backward_weight<T>(d.x.data(), d.gy.data(), gw.data(), g);
  return compare3(g, y, gx, gw, ref.forward(d.x, d.w, d.bias, false), ref.backward_input(d.gy, d.w),
                  ref.backward_weight(d.x, d.gy));
}

// The columns themselves: im2col copies, col2im scatter-adds into what x held.
template <class T>
Outcome columns_case(const Shape& s, long W) {
  ConvGeom g = geometry(s, W);
  g.N = 1;
  const auto x = uniform<T>(g.C * g.H * g.W, 7 + W), cols = uniform<T>(g.col_rows() * g.out_hw(), 9 + W);
  Guarded<T> c(g.col_rows() * g.out_hw()), xs(x);
  std::vector<T> c0(static_cast<size_t>(c.size())), x0 = x;
  im2col<T>(x.data(), g, c.data());
  ref::im2col<T>(x.data(), g, c0.data());
  col2im<T>(cols.data(), g, xs.data());
  ref::col2im<T>(cols.data(), g, x0.data());
  Outcome o = ulps_each(c.data(), c0.data(), c.size(), 1e-30, 0, "cols");
  o = worst(o, ulps_of_scale(xs.data(), x0.data(), xs.size(), 1, 4.0 * g.KH * g.KW, "col2im"));
  return worst(worst(o, guards(c, "cols")), guards(xs, "col2im"));
}

enum class Direct { plain, relu, concat };

template <class T>
Outcome direct_case(const Shape& s, Direct mode, long W) {
  const ConvGeom g = geometry(s, W);
  if (g.OW < 1 || g.OH < 1 || !conv_direct_applicable(g)) return broken("geometry not applicable");
  if (mode == Direct::concat && !conv_direct_concat_applicable(g)) return broken("two-input path not applicable");
  const Data<T> d = data_for<T>(g, 200 + W);
  const NaiveConv ref{g};
  const bool relu = mode == Direct::relu;
  const std::vector<T> y0 = ref.forward(d.x, d.w, d.bias, relu);
  // With ReLU the output gradient reaching the convolution is masked by y > 0 (the bias gradient sums it).
  std::vector<T> gm = d.gy;
  if (relu)
    for (size_t i = 0; i < gm.size(); ++i) gm[i] = y0[i] > 0 ? gm[i] : T(0);
  Guarded<T> y(static_cast<long>(y0.size())), gx(static_cast<long>(d.x.size())), gw(static_cast<long>(d.w.size()));
  if (mode == Direct::concat) {  // channels [0, c1) from one array, [c1, C) from another
    const long c1 = 2, img = g.H * g.W;
    std::vector<T> xa, xb;
    for (long n = 0; n < g.N; ++n) {
      xa.insert(xa.end(), d.x.begin() + n * g.C * img, d.x.begin() + (n * g.C + c1) * img);
      xb.insert(xb.end(), d.x.begin() + (n * g.C + c1) * img, d.x.begin() + (n + 1) * g.C * img);
    }
    Guarded<T> gxa(static_cast<long>(xa.size())), gxb(static_cast<long>(xb.size()));
    conv_direct_forward<T>(xa.data(), d.w.data(), d.bias.data(), y.data(), g, false, xb.data(), c1);
    conv_direct_backward_input<T>(d.gy.data(), d.w.data(), gxa.data(), g, gxb.data(), c1);
    conv_direct_backward_weight<T>(xa.data(), d.gy.data(), gw.data(), g, xb.data(), c1);
    for (long n = 0; n < g.N; ++n) {  // reassemble [gxa | gxb] per image
      std::copy_n(gxa.data() + n * c1 * img, c1 * img, gx.data() + n * g.C * img);
      std::copy_n(gxb.data() + n * (g.C - c1) * img, (g.C - c1) * img, gx.data() + (n * g.C + c1) * img);
    }
    Outcome o = compare3(g, y, gx, gw, y0, ref.backward_input(d.gy, d.w), ref.backward_weight(d.x, d.gy));
    return worst(worst(o, guards(gxa, "gx (first input)")), guards(gxb, "gx (second input)"));
  }
  conv_direct_forward<T>(d.x.data(), d.w.data(), d.bias.data(), y.data(), g, relu);
  if (!relu) {
    conv_direct_backward_input<T>(d.gy.data(), d.w.data(), gx.data(), g);
    conv_direct_backward_weight<T>(d.x.data(), d.gy.data(), gw.data(), g);
    return compare3(g, y, gx, gw, y0, ref.backward_input(d.gy, d.w), ref.backward_weight(d.x, d.gy));
  }
  Guarded<T> gb(g.Cout);
  conv_direct_backward_relu<T>(d.x.data(), d.w.data(), y0.data(), d.gy.data(), gx.data(), gw.data(), gb.data(), g);
  std::vector<T> gb0(static_cast<size_t>(g.Cout), T(0));
  for (long n = 0; n < g.N; ++n)
    for (long co = 0; co < g.Cout; ++co)
      for (long p = 0; p < g.OH * g.OW; ++p) gb0[static_cast<size_t>(co)] += gm[static_cast<size_t>((n * g.Cout + co) * g.OH * g.OW + p)];
  Outcome o = compare3(g, y, gx, gw, y0, ref.backward_input(gm, d.w), ref.backward_weight(d.x, gm));
  o = worst(o, ulps_of_scale(gb.data(), gb0.data(), g.Cout, 1, bound_for(g), "gb"));
  return worst(o, guards(gb, "gb"));
}

// The row kernels themselves: every register-block remainder of output channels (4) and taps (3), with
// bias and ReLU, one input array or two (channels from c1 on read from the second), over rows of L.
template <class T>
Outcome taps_case(long L, const TapsForwardFn<T>& fwd, const TapsWeightFn<T>& weight, const ReluMaskFn<T>& mask) {
  Outcome o;
  const long C = 3, xs = L + 60;
  for (const long cout : {1L, 3L, 4L, 7L, 9L})
    for (const long ntaps : {1L, 2L, 3L, 5L}) {
      std::vector<long> off;
      for (long t = 0; t < ntaps; ++t) off.push_back(t * 13);  // the last tap reads up to L - 1 + 52 < xs
      const auto x = uniform<T>(C * xs, 1 + L), w = uniform<T>(cout * C * ntaps, 2 + L);
      const auto bias = uniform<T>(cout, 4 + L);
      const long ys = L + 5;
      const auto gy = uniform<T>(cout * ys, 3 + L);
      const bool relu = (cout + ntaps) % 2 == 1;
      const long c1 = ntaps == 2 ? 1 : 0;  // two inputs: channel 0 from x, 1 and 2 from x2
      const T* x2 = c1 ? x.data() + c1 * xs : nullptr;
      // y's gap columns [L, ys) and gw's prior contents: taps_forward writes L per row, taps_weight adds.
      Guarded<T> y(std::vector<T>(static_cast<size_t>(cout * ys), T(7))), gw(std::vector<T>(w.size(), T(0.5)));
      std::vector<T> y0(static_cast<size_t>(cout * ys), T(7)), gw0(w.size(), T(0.5));
      fwd(x.data(), xs, C, off.data(), ntaps, w.data(), cout, y.data(), ys, L, bias.data(), relu, x2, c1);
      ref::taps_forward<T>(x.data(), xs, C, off.data(), ntaps, w.data(), cout, y0.data(), ys, L, bias.data(), relu, x2, c1);
      weight(x.data(), xs, C, off.data(), ntaps, gy.data(), ys, cout, L, gw.data(), x2, c1);
      ref::taps_weight<T>(x.data(), xs, C, off.data(), ntaps, gy.data(), ys, cout, L, gw0.data(), x2, c1);
      const double b = 16 + 4.0 * static_cast<double>(std::max(C * ntaps, L));
      o = worst(o, ulps_of_scale(y.data(), y0.data(), y.size(), 1, b, "taps_forward y"));
      o = worst(o, ulps_of_scale(gw.data(), gw0.data(), gw.size(), 1, b, "taps_weight gw"));
      o = worst(worst(o, guards(y, "taps_forward y")), guards(gw, "taps_weight gw"));
    }
  const auto y = uniform<T>(L, 5 + L), gy = uniform<T>(L, 6 + L);
  Guarded<T> m(L);
  std::vector<T> m0(static_cast<size_t>(L));
  const T s = mask(y.data(), gy.data(), m.data(), L), s0 = ref::relu_mask<T>(y.data(), gy.data(), m0.data(), L);
  o = worst(o, ulps_each(m.data(), m0.data(), L, 1e-30, 0, "relu_mask"));
  o = worst(o, ulps_of_scale(&s, &s0, 1, 1, 8 + static_cast<double>(L), "relu_mask sum"));
  return worst(o, guards(m, "relu_mask"));
}

//                        name            C  Cout H  KH KW sh sw ph pw dh dw groups
const Shape k3x3{"3x3", 3, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1};
const Shape kKx1{"kx1_dilated", 5, 6, 9, 3, 1, 1, 1, 2, 0, 2, 1, 1};
const Shape k1xK{"1xk", 4, 3, 3, 1, 5, 1, 1, 0, 2, 1, 1, 1};
const Shape kFull{"full_width", 3, 4, 7, 1, 0, 1, 1, 0, 0, 1, 1, 1, true};
const Shape kStrided{"strided_dilated", 4, 6, 5, 3, 3, 2, 2, 2, 2, 2, 2, 1};
const Shape kGroups{"groups", 4, 6, 3, 3, 3, 1, 1, 1, 1, 1, 1, 2};
const Shape kPointwise{"1x1", 6, 8, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1};

}  // namespace

void add_conv_cases(std::vector<Case>& out) {
  const std::vector<long> large = {200, 517};  // rows of >= 160 outputs take the per-row direct path
  for (const Shape* s : {&k3x3, &kStrided, &kGroups, &kPointwise, &kKx1})
    out.push_back(make_case("conv_forward+conv_backward_input+conv_backward_weight", s->name,
                            [s](auto t, long n) { return im2col_case<decltype(t)>(*s, n); }, large));
  for (const Shape* s : {&k3x3, &kStrided})
    out.push_back(make_case("im2col+col2im", s->name, [s](auto t, long n) { return columns_case<decltype(t)>(*s, n); }));
  for (const Shape* s : {&k3x3, &kKx1, &k1xK, &kFull})
    out.push_back(make_case("conv_direct_forward+conv_direct_backward_input+conv_direct_backward_weight", s->name,
                            [s](auto t, long n) { return direct_case<decltype(t)>(*s, Direct::plain, n); }, large));
  out.push_back(make_case("taps_forward+taps_weight+relu_mask", "", [](auto t, long n) {
    using T = decltype(t);
    return taps_case<T>(n, &taps_forward<T>, &taps_weight<T>, &relu_mask<T>);
  }, {200, 517}));
  out.push_back(make_case("conv_direct_forward+conv_direct_backward_relu", "3x3_relu",
                          [](auto t, long n) { return direct_case<decltype(t)>(k3x3, Direct::relu, n); }, large));
  out.push_back(make_case("conv_direct_forward+conv_direct_backward_input+conv_direct_backward_weight",
                          "kx1_two_inputs",
                          [](auto t, long n) { return direct_case<decltype(t)>(kKx1, Direct::concat, n); }, large));
}

}  // namespace pianograd::kernels::cpu::conformance::detail

namespace pianograd::kernels::cpu::conformance {

template <class T>
Outcome check_taps(long L, const TapsForwardFn<T>& fwd, const TapsWeightFn<T>& weight, const ReluMaskFn<T>& mask) {
  return detail::taps_case<T>(L, fwd, weight, mask);
}
template Outcome check_taps<float>(long, const TapsForwardFn<float>&, const TapsWeightFn<float>&, const ReluMaskFn<float>&);
template Outcome check_taps<double>(long, const TapsForwardFn<double>&, const TapsWeightFn<double>&,
                                    const ReluMaskFn<double>&);

}  // namespace pianograd::kernels::cpu::conformance
