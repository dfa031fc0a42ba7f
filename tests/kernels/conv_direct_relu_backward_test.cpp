// The direct convolution's fused-ReLU backward (conv_direct_backward_relu) and its long-row paths. The mask
// kernel relu_mask and the forward row kernel's remainder tiles on every ISA against the scalar references;
// the whole ReLU backward (input, weight and bias gradients) on every ISA against the unfused path (mask by
// y > 0, then the im2col + GEMM backward and a plain bias sum), over the transcriber's geometries: the wide
// padded paths (3x3 padded, [1 x 13] padded along W, whose masked gradient is written straight into the
// margined layout), the H-padded rows_only path with two inputs, an unpadded [k x 1], the full-width
// readout; and the one-call-per-row forward / input-gradient paths against im2col + GEMM.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/isa.h"
#include "random_vec.h"

namespace pianograd::kernels::cpu {
namespace {

const Isa kIsas[] = {Isa::scalar, Isa::sse2, Isa::avx2, Isa::avx512};

using testing::random_vec;

template <class T>
void expect_close(const std::vector<T>& a, const std::vector<T>& b, double tol, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_NEAR(a[i], b[i], tol * (1 + std::abs(static_cast<double>(b[i])))) << what << " at " << i;
}

template <class T>
void check_mask(double tol) {
  for (long n : {0L, 1L, 7L, 16L, 37L, 100L}) {
    auto y = random_vec<T>(static_cast<size_t>(n), 1);
    const auto gy = random_vec<T>(static_cast<size_t>(n), 2);
    if (n > 3) {
      y[1] = T(0);  // not > 0: masked
      y[2] = std::numeric_limits<T>::quiet_NaN();  // NaN > 0 is false: masked
    }
    std::vector<T> m_ref(static_cast<size_t>(n), T(7));
    const T s_ref = ref::relu_mask<T>(y.data(), gy.data(), m_ref.data(), n);
    T direct = T(0);
    for (long i = 0; i < n; ++i) {
      ASSERT_EQ(m_ref[static_cast<size_t>(i)], y[static_cast<size_t>(i)] > T(0) ? gy[static_cast<size_t>(i)] : T(0));
      direct += m_ref[static_cast<size_t>(i)];
    }
    EXPECT_NEAR(s_ref, direct, tol);
    for (Isa isa : kIsas) {
      if (!isa_supported(isa)) continue;
      IsaScope scope(isa);
      std::vector<T> m(static_cast<size_t>(n), T(7));
      const T s = relu_mask<T>(y.data(), gy.data(), m.data(), n);
      for (size_t i = 0; i < m.size(); ++i) ASSERT_EQ(m[i], m_ref[i]) << isa_name(isa) << " n " << n << " at " << i;
      EXPECT_NEAR(s, s_ref, tol * (1 + n)) << isa_name(isa) << " n " << n;
    }
  }
}

TEST(ConvDirectReluBackward, MaskMatchesReferenceEveryIsaFloat) { check_mask<float>(1e-6); }
TEST(ConvDirectReluBackward, MaskMatchesReferenceEveryIsaDouble) { check_mask<double>(1e-14); }

ConvGeom geom(long N, long C, long H, long W, long Cout, long KH, long KW, long ph, long pw, long dh) {
  ConvGeom g;
  g.N = N, g.C = C, g.H = H, g.W = W, g.Cout = Cout, g.KH = KH, g.KW = KW, g.ph = ph, g.pw = pw, g.dh = dh;
  g.OH = H + 2 * ph - dh * (KH - 1);
  g.OW = W + 2 * pw - (KW - 1);
  return g;
}

// c1 > 0: the input is [x (c1 channels) | x2] (two-input path; gx2 checked too).
template <class T>
void check_backward(const ConvGeom& g, long c1, double tol) {
  ASSERT_TRUE(conv_direct_applicable(g));
  const long hw = g.H * g.W;
  const size_t nx = static_cast<size_t>(g.N * g.C * hw), ny = static_cast<size_t>(g.N * g.Cout * g.OH * g.OW),
               nw = static_cast<size_t>(g.Cout * g.C * g.KH * g.KW);
  const auto x = random_vec<T>(nx, 11), w = random_vec<T>(nw, 12), gy = random_vec<T>(ny, 14);
  const auto y = random_vec<T>(ny, 15);  // stands for the ReLU output: its sign pattern is the mask
  std::vector<T> m(ny), gx_ref(nx), gw_ref(nw), gb_ref(static_cast<size_t>(g.Cout), T(0));
  for (size_t i = 0; i < ny; ++i) m[i] = y[i] > T(0) ? gy[i] : T(0);
  conv_backward_input<T>(m.data(), w.data(), gx_ref.data(), g);
  conv_backward_weight<T>(x.data(), m.data(), gw_ref.data(), g);
  const long ohw = g.OH * g.OW;
  for (long n = 0; n < g.N; ++n)
    for (long co = 0; co < g.Cout; ++co)
      for (long i = 0; i < ohw; ++i) gb_ref[static_cast<size_t>(co)] += m[static_cast<size_t>((n * g.Cout + co) * ohw + i)];
  // Two inputs: x = [xa | xb] per image, and its gradient split the same way.
  std::vector<T> xa, xb, gxa_ref, gxb_ref;
  if (c1 > 0)
    for (long n = 0; n < g.N; ++n)
      for (long c = 0; c < g.C; ++c) {
        const auto at = static_cast<size_t>((n * g.C + c) * hw);
        auto& dx = c < c1 ? xa : xb;
        auto& dg = c < c1 ? gxa_ref : gxb_ref;
        dx.insert(dx.end(), x.begin() + static_cast<long>(at), x.begin() + static_cast<long>(at) + hw);
        dg.insert(dg.end(), gx_ref.begin() + static_cast<long>(at), gx_ref.begin() + static_cast<long>(at) + hw);
      }
  for (Isa isa : kIsas) {
    if (!isa_supported(isa)) continue;
    IsaScope scope(isa);
    const std::string what = std::string(isa_name(isa)) + " C=" + std::to_string(g.C) + " Cout=" +
                             std::to_string(g.Cout) + " K=" + std::to_string(g.KH) + "x" + std::to_string(g.KW) +
                             " p=" + std::to_string(g.ph) + "," + std::to_string(g.pw);
    std::vector<T> gw(nw, T(9)), gb(static_cast<size_t>(g.Cout), T(9));
    if (c1 > 0) {
      std::vector<T> gxa(gxa_ref.size(), T(9)), gxb(gxb_ref.size(), T(9));
      conv_direct_backward_relu<T>(xa.data(), w.data(), y.data(), gy.data(), gxa.data(), gw.data(), gb.data(), g,
                                   xb.data(), gxb.data(), c1);
      expect_close(gxa, gxa_ref, tol, "gx " + what);
      expect_close(gxb, gxb_ref, tol, "gx2 " + what);
    } else {
      std::vector<T> gx(nx, T(9));
      conv_direct_backward_relu<T>(x.data(), w.data(), y.data(), gy.data(), gx.data(), gw.data(), gb.data(), g);
      expect_close(gx, gx_ref, tol, "gx " + what);
      // Only the weight gradient wanted (the input's gradient not required): same gw.
      std::vector<T> gw_only(nw, T(9));
      conv_direct_backward_relu<T>(x.data(), w.data(), y.data(), gy.data(), nullptr, gw_only.data(), nullptr, g);
      expect_close(gw_only, gw_ref, tol, "gw without gx " + what);
    }
    expect_close(gw, gw_ref, tol, "gw " + what);
    expect_close(gb, gb_ref, tol, "gb " + what);
  }
}

const struct {
  ConvGeom g;
  long c1;
} kCases[] = {
    {geom(2, 8, 9, 30, 8, 3, 3, 1, 1, 1), 0},     // 3x3 padded both axes (wide, padded)
    {geom(3, 7, 6, 25, 3, 1, 13, 0, 6, 1), 0},    // the key conv's [1 x 13], padded along W only
    {geom(2, 5, 11, 17, 6, 3, 3, 0, 0, 1), 0},    // wide, unpadded
    {geom(2, 12, 21, 9, 7, 5, 1, 4, 0, 2), 9},    // [k x 1] dilated, H-padded, two inputs (rows_only)
    {geom(2, 6, 12, 7, 5, 3, 1, 0, 0, 1), 0},     // [k x 1] unpadded
    {geom(2, 5, 37, 3, 7, 1, 3, 0, 0, 1), 0},     // full-width readout
};

TEST(ConvDirectReluBackward, MatchesUnfusedEveryIsaFloat) {
  for (const auto& c : kCases) check_backward<float>(c.g, c.c1, 2e-5);
}
TEST(ConvDirectReluBackward, MatchesUnfusedEveryIsaDouble) {
  for (const auto& c : kCases) check_backward<double>(c.g, c.c1, 1e-12);
}

// The forward row kernel's remainder tiles (3-vector, 2-vector, single vector, scalar) with two input
// channel blocks (C = 10: the second block adds to the partial sums parked in y), every ISA vs the reference.
template <class T>
void check_row_tails(double tol) {
  const long C = 10, cout = 5, ntaps = 3;
  const long off[3] = {0, 1, 7};
  for (long L : {8L, 16L, 20L, 40L, 88L, 91L}) {
    const long xs = L + 8;
    const auto x = random_vec<T>(static_cast<size_t>(C * xs), 21), w = random_vec<T>(static_cast<size_t>(cout * C * ntaps), 22);
    const auto bias = random_vec<T>(static_cast<size_t>(cout), 23);
    for (bool relu : {false, true}) {
      std::vector<T> y_ref(static_cast<size_t>(cout * L));
      ref::taps_forward<T>(x.data(), xs, C, off, ntaps, w.data(), cout, y_ref.data(), L, L, bias.data(), relu);
      for (Isa isa : kIsas) {
        if (!isa_supported(isa)) continue;
        IsaScope scope(isa);
        std::vector<T> y(y_ref.size(), T(9));
        taps_forward<T>(x.data(), xs, C, off, ntaps, w.data(), cout, y.data(), L, L, bias.data(), relu);
        expect_close(y, y_ref, tol, std::string(isa_name(isa)) + " L=" + std::to_string(L));
      }
    }
  }
}

TEST(ConvDirectReluBackward, RowTailsMatchReferenceEveryIsa) {
  check_row_tails<float>(2e-5);
  check_row_tails<double>(1e-12);
}

// Long output rows (>= 160 columns) take the forward's one-call-per-row path; padded wide planes take the
// input gradient's one-call-per-row path: both against im2col + GEMM, with bias and fused ReLU.
template <class T>
void check_long_rows(double tol) {
  for (const ConvGeom& g : {geom(2, 3, 5, 170, 4, 3, 3, 1, 1, 1), geom(1, 5, 4, 200, 3, 1, 13, 0, 6, 1)}) {
    const size_t nx = static_cast<size_t>(g.N * g.C * g.H * g.W), ny = static_cast<size_t>(g.N * g.Cout * g.OH * g.OW),
                 nw = static_cast<size_t>(g.Cout * g.C * g.KH * g.KW);
    const auto x = random_vec<T>(nx, 31), w = random_vec<T>(nw, 32), b = random_vec<T>(static_cast<size_t>(g.Cout), 33),
               gy = random_vec<T>(ny, 34);
    std::vector<T> y_ref(ny), gx_ref(nx);
    conv_forward<T>(x.data(), w.data(), b.data(), y_ref.data(), g);
    for (auto& v : y_ref) v = std::max(v, T(0));
    conv_backward_input<T>(gy.data(), w.data(), gx_ref.data(), g);
    for (Isa isa : kIsas) {
      if (!isa_supported(isa)) continue;
      IsaScope scope(isa);
      std::vector<T> y(ny, T(9)), gx(nx, T(9));
      conv_direct_forward<T>(x.data(), w.data(), b.data(), y.data(), g, true);
      conv_direct_backward_input<T>(gy.data(), w.data(), gx.data(), g);
      expect_close(y, y_ref, tol, std::string("forward ") + isa_name(isa) + " W=" + std::to_string(g.W));
      expect_close(gx, gx_ref, tol, std::string("backward_input ") + isa_name(isa) + " W=" + std::to_string(g.W));
    }
  }
}

TEST(ConvDirectReluBackward, LongRowsMatchIm2colEveryIsa) {
  check_long_rows<float>(2e-5);
  check_long_rows<double>(1e-12);
}

}  // namespace
}  // namespace pianograd::kernels::cpu
