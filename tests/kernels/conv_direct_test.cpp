// Direct convolution (kernels/cpu/conv_direct.h): the row kernels of every ISA against the scalar
// reference, and the three batch passes against the im2col + GEMM convolution, over the geometries
// the transcriber uses (3x3 padded, [k x 1] dilated, [1 x k]) plus odd sizes that exercise every
// register-block remainder.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
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
  ASSERT_EQ(a.size(), b.size());
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])) /
                     (1 + std::abs(static_cast<double>(b[i])));
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  EXPECT_LE(worst, tol) << what << " at " << at << ": " << a[at] << " vs " << b[at];
}

// Row kernels: Cout and taps not multiples of the 4 x 3 / 4 x 2 blocks, L not a multiple of any tile.
template <class T>
void check_row_kernels(double tol) {
  for (long cout : {1L, 3L, 4L, 7L, 9L})
    for (long ntaps : {1L, 2L, 3L, 5L}) {
      const long C = 3, L = 157, xs = 211;
      std::vector<long> off(static_cast<size_t>(ntaps));
      for (long t = 0; t < ntaps; ++t) off[static_cast<size_t>(t)] = t * 13;  // max 39 + 156 < 211
      const auto x = random_vec<T>(static_cast<size_t>(C * xs), 1);
      const auto w = random_vec<T>(static_cast<size_t>(cout * C * ntaps), 2);
      const long ys = L + 5;
      const auto gy = random_vec<T>(static_cast<size_t>(cout * ys), 3);
      std::vector<T> y_ref(static_cast<size_t>(cout * ys), T(7)), gw_ref(w.size(), T(0.5));
      const auto bias = random_vec<T>(static_cast<size_t>(cout), 4);
      ref::taps_forward<T>(x.data(), xs, C, off.data(), ntaps, w.data(), cout, y_ref.data(), ys, L, bias.data());
      ref::taps_weight<T>(x.data(), xs, C, off.data(), ntaps, gy.data(), ys, cout, L, gw_ref.data());
      for (Isa isa : kIsas) {
        if (!isa_supported(isa)) continue;
        IsaScope scope(isa);
        std::vector<T> y(static_cast<size_t>(cout * ys), T(7)), gw(w.size(), T(0.5));
        taps_forward<T>(x.data(), xs, C, off.data(), ntaps, w.data(), cout, y.data(), ys, L, bias.data());
        taps_weight<T>(x.data(), xs, C, off.data(), ntaps, gy.data(), ys, cout, L, gw.data());
        const std::string what = std::string(isa_name(isa)) + " cout=" + std::to_string(cout) +
                                 " taps=" + std::to_string(ntaps);
        expect_close(y, y_ref, tol, "taps_forward " + what);  // also: the gap columns [L, ys) untouched
        expect_close(gw, gw_ref, tol, "taps_weight " + what);
      }
    }
}

// Two inputs: channels [0, c1) from one array, [c1, C) from another give the same sums, in the same
// order, as one array holding all C rows.
TEST(ConvDirectRows, TwoInputsMatchOneArrayEveryIsa) {
  const long C = 5, L = 157, xs = 211, ntaps = 3, cout = 6, ys = L;
  const long off[3] = {0, 13, 26};
  const auto x = random_vec<float>(static_cast<size_t>(C * xs), 1);
  const auto w = random_vec<float>(static_cast<size_t>(cout * C * ntaps), 2);
  const auto gy = random_vec<float>(static_cast<size_t>(cout * ys), 3);
  for (long c1 : {1L, 2L, 4L})
    for (Isa isa : kIsas) {
      if (!isa_supported(isa)) continue;
      IsaScope scope(isa);
      const std::vector<float> x2(x.begin() + c1 * xs, x.end());
      std::vector<float> y1(static_cast<size_t>(cout * ys)), y2 = y1, g1(w.size(), 0.0f), g2 = g1;
      taps_forward<float>(x.data(), xs, C, off, ntaps, w.data(), cout, y1.data(), ys, L, nullptr, true);
      taps_forward<float>(x.data(), xs, C, off, ntaps, w.data(), cout, y2.data(), ys, L, nullptr, true, x2.data(), c1);
      taps_weight<float>(x.data(), xs, C, off, ntaps, gy.data(), ys, cout, L, g1.data());
      taps_weight<float>(x.data(), xs, C, off, ntaps, gy.data(), ys, cout, L, g2.data(), x2.data(), c1);
      const std::string what = std::string(isa_name(isa)) + " c1=" + std::to_string(c1);
      expect_close(y2, y1, 0, "taps_forward " + what);
      expect_close(g2, g1, 0, "taps_weight " + what);
    }
}

TEST(ConvDirectRows, MatchReferenceEveryIsaFloat) { check_row_kernels<float>(2e-5); }
TEST(ConvDirectRows, MatchReferenceEveryIsaDouble) { check_row_kernels<double>(1e-12); }

ConvGeom geom(long N, long C, long H, long W, long Cout, long KH, long KW, long p, long d) {
  ConvGeom g;
  g.N = N, g.C = C, g.H = H, g.W = W, g.Cout = Cout, g.KH = KH, g.KW = KW;
  g.ph = g.pw = p, g.dh = g.dw = d;
  g.OH = H + 2 * p - d * (KH - 1);
  g.OW = W + 2 * p - d * (KW - 1);
  return g;
}

template <class T>
void check_against_im2col(const ConvGeom& g, double tol) {
  ASSERT_TRUE(conv_direct_applicable(g));
  const size_t nx = static_cast<size_t>(g.N * g.C * g.H * g.W), ny = static_cast<size_t>(g.N * g.Cout * g.OH * g.OW),
               nw = static_cast<size_t>(g.Cout * g.C * g.KH * g.KW);
  const auto x = random_vec<T>(nx, 11), w = random_vec<T>(nw, 12), b = random_vec<T>(static_cast<size_t>(g.Cout), 13),
             gy = random_vec<T>(ny, 14);
  std::vector<T> y_ref(ny), gx_ref(nx), gw_ref(nw);
  conv_forward<T>(x.data(), w.data(), b.data(), y_ref.data(), g);
  conv_backward_input<T>(gy.data(), w.data(), gx_ref.data(), g);
  conv_backward_weight<T>(x.data(), gy.data(), gw_ref.data(), g);
  for (Isa isa : kIsas) {
    if (!isa_supported(isa)) continue;
    IsaScope scope(isa);
    std::vector<T> y(ny, T(9)), gx(nx, T(9)), gw(nw, T(9));
    conv_direct_forward<T>(x.data(), w.data(), b.data(), y.data(), g);
    conv_direct_backward_input<T>(gy.data(), w.data(), gx.data(), g);
    conv_direct_backward_weight<T>(x.data(), gy.data(), gw.data(), g);
    const std::string what = std::string(isa_name(isa)) + " C=" + std::to_string(g.C) + " Cout=" +
                             std::to_string(g.Cout) + " K=" + std::to_string(g.KH) + "x" + std::to_string(g.KW) +
                             " p=" + std::to_string(g.ph) + " d=" + std::to_string(g.dh);
    expect_close(y, y_ref, tol, "forward " + what);
    expect_close(gx, gx_ref, tol, "backward_input " + what);
    expect_close(gw, gw_ref, tol, "backward_weight " + what);
  }
}

const ConvGeom kGeoms[] = {
    geom(2, 8, 9, 30, 8, 3, 3, 1, 1),   // the transcriber's 3x3 conv2d (padded both axes)
    geom(3, 5, 11, 17, 6, 5, 1, 0, 2),  // temporal [k x 1], dilation 2, explicit padding
    geom(2, 7, 6, 25, 3, 1, 13, 0, 1),  // cross-key [1 x k]
    geom(1, 3, 7, 9, 5, 3, 2, 2, 1),    // padding larger than the kernel's reach, even kernel
    geom(2, 4, 1, 40, 9, 1, 5, 2, 2),   // conv1d shape (H = 1): padding and dilation on W
    geom(2, 6, 4, 7, 5, 3, 1, 0, 2),    // [k x 1] whose output (L) is shorter than the taps' reach (M)
    geom(2, 6, 12, 7, 5, 3, 1, 1, 2),   // [k x 1] with padding on both axes
    geom(2, 5, 37, 3, 7, 1, 3, 0, 1),   // the readout: kernel spans the whole width, one output per row
    geom(2, 9, 7, 13, 3, 1, 1, 0, 1),   // a 1x1 head with 3 output channels
};

TEST(ConvDirect, MatchesIm2colFloat) {
  for (const ConvGeom& g : kGeoms) check_against_im2col<float>(g, 2e-5);
}
TEST(ConvDirect, MatchesIm2colDouble) {
  for (const ConvGeom& g : kGeoms) check_against_im2col<double>(g, 1e-12);
}

TEST(ConvDirect, Heuristic) {
  EXPECT_TRUE(conv_direct_preferred(geom(8, 8, 201, 264, 8, 3, 3, 1, 1)));
  EXPECT_FALSE(conv_direct_preferred(geom(8, 8, 201, 264, 8, 1, 1, 0, 1)));  // 1x1: already a plain GEMM
  EXPECT_TRUE(conv_direct_preferred(geom(8, 32, 201, 88, 3, 1, 1, 0, 1)));  // 1x1 with 3 outputs: GEMM's M too small
  EXPECT_TRUE(conv_direct_preferred(geom(8, 8, 201 * 88, 3, 24, 1, 3, 0, 1)));  // full-width readout
  EXPECT_FALSE(conv_direct_preferred(geom(8, 8, 201, 4, 24, 1, 3, 0, 1)));  // half the columns discarded
  EXPECT_FALSE(conv_direct_preferred(geom(2, 256, 20, 20, 256, 3, 3, 1, 1)));  // wide: GEMM territory
  ConvGeom strided = geom(2, 8, 20, 20, 8, 3, 3, 1, 1);
  strided.sh = strided.sw = 2;
  EXPECT_FALSE(conv_direct_applicable(strided));
  ConvGeom readout = geom(2, 8, 20, 3, 8, 1, 3, 0, 1);
  readout.sw = 3;  // one output per row: the width stride is irrelevant
  EXPECT_TRUE(conv_direct_applicable(readout));
}

}  // namespace
}  // namespace pianograd::kernels::cpu
