// Forward values of the convolutions and pools against naive direct loops written here (no im2col, no
// GEMM), hand-computed cases, the im2col/col2im kernels against their references, and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/im2col.h"
#include "kernels/cpu/pool.h"
#include "pianograd.h"

namespace pianograd {
namespace {

struct P {
  int64_t N, C, H, W, Cout, KH, KW, s, p, d, g;
  bool bias;
};

// y[n,o,oh,ow] = b[o] + sum_{c in group, kh, kw} x[n, c, oh*s-p+kh*d, ow*s-p+kw*d] * w[o, c', kh, kw]
std::vector<double> direct_conv(const std::vector<double>& x, const std::vector<double>& w,
                                const std::vector<double>& b, const P& q, int64_t OH, int64_t OW) {
  const int64_t Cg = q.C / q.g, Og = q.Cout / q.g;
  std::vector<double> y(static_cast<size_t>(q.N * q.Cout * OH * OW), 0.0);
  for (int64_t n = 0; n < q.N; ++n)
    for (int64_t o = 0; o < q.Cout; ++o)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = q.bias ? b[static_cast<size_t>(o)] : 0.0;
          const int64_t grp = o / Og;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t kh = 0; kh < q.KH; ++kh)
              for (int64_t kw = 0; kw < q.KW; ++kw) {
                const int64_t ih = oh * (q.H > 1 ? q.s : 1) - (q.H > 1 ? q.p : 0) + kh * (q.H > 1 ? q.d : 1);
                const int64_t iw = ow * q.s - q.p + kw * q.d;
                if (ih < 0 || ih >= q.H || iw < 0 || iw >= q.W) continue;
                acc += x[static_cast<size_t>(((n * q.C + grp * Cg + c) * q.H + ih) * q.W + iw)] *
                       w[static_cast<size_t>(((o * Cg + c) * q.KH + kh) * q.KW + kw)];
              }
          y[static_cast<size_t>(((n * q.Cout + o) * OH + oh) * OW + ow)] = acc;
        }
  return y;
}

void expect_close(const Tensor& got, const std::vector<double>& want, double tol, const std::string& what) {
  const auto v = got.to(DType::f64).to_vector<double>();
  ASSERT_EQ(v.size(), want.size()) << what;
  for (size_t i = 0; i < v.size(); ++i) ASSERT_NEAR(v[i], want[i], tol) << what << " at " << i;
}

class ConvValues : public ::testing::TestWithParam<P> {};

TEST_P(ConvValues, MatchesDirectConvolution) {
  const P q = GetParam();
  const bool two_d = q.H > 1 || q.KH > 1;
  manual_seed(7);
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = randn(two_d ? Shape{q.N, q.C, q.H, q.W} : Shape{q.N, q.C, q.W}, dt);
    Tensor w = randn(two_d ? Shape{q.Cout, q.C / q.g, q.KH, q.KW} : Shape{q.Cout, q.C / q.g, q.KW}, dt);
    Tensor b = q.bias ? randn({q.Cout}, dt) : Tensor();
    Tensor y = two_d ? conv2d(x, w, b, q.s, q.p, q.d, q.g) : conv1d(x, w, b, q.s, q.p, q.d, q.g);
    const int64_t OW = (q.W + 2 * q.p - q.d * (q.KW - 1) - 1) / q.s + 1;
    const int64_t OH = two_d ? (q.H + 2 * q.p - q.d * (q.KH - 1) - 1) / q.s + 1 : 1;
    ASSERT_EQ(y.size(-1), OW);
    const auto want = direct_conv(x.to(DType::f64).to_vector<double>(), w.to(DType::f64).to_vector<double>(),
                                  q.bias ? b.to(DType::f64).to_vector<double>() : std::vector<double>{}, q, OH, OW);
    expect_close(y, want, dt == DType::f32 ? 1e-4 : 1e-11, dtype_name(dt));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Configs, ConvValues,
    ::testing::Values(P{2, 3, 1, 17, 4, 1, 3, 1, 0, 1, 1, true},    // conv1d plain
                      P{3, 4, 1, 20, 6, 1, 5, 2, 2, 1, 2, false},   // stride 2, padding 2, groups 2
                      P{1, 2, 1, 16, 3, 1, 3, 1, 2, 2, 1, true},    // dilation 2
                      P{2, 8, 1, 9, 8, 1, 1, 1, 0, 1, 4, true},     // pointwise, groups 4
                      P{4, 6, 1, 33, 6, 1, 3, 3, 1, 2, 3, false},   // everything at once
                      P{2, 3, 6, 7, 4, 3, 3, 1, 1, 1, 1, true},     // conv2d padding 1
                      P{1, 4, 9, 8, 6, 3, 2, 2, 0, 1, 2, false},    // conv2d stride 2 groups 2, KH != KW
                      P{2, 2, 8, 8, 3, 2, 2, 1, 1, 2, 1, true}));   // conv2d dilation 2

TEST(ConvValues, HandComputed) {
  // [1,2,3,4] (*) [1,0,-1] = [1-3, 2-4]; with padding 1: [0-2, 1-3, 2-4, 3-0].
  Tensor x = tensor({1, 2, 3, 4}, DType::f64).reshape({1, 1, 4});
  Tensor w = tensor({1, 0, -1}, DType::f64).reshape({1, 1, 3});
  EXPECT_EQ(conv1d(x, w).to_vector<double>(), (std::vector<double>{-2, -2}));
  EXPECT_EQ(conv1d(x, w, Tensor(), 1, 1).to_vector<double>(), (std::vector<double>{-2, -2, -2, 3}));
  EXPECT_EQ(conv1d(x, w, tensor({10}, DType::f64), 2, 1).to_vector<double>(), (std::vector<double>{8, 8}));
}

// y[n, g*Og+o, i*s - p + k*d] += x[n, g*Cg+c, i] * w[g*Cg+c, o, k]: the scatter definition.
TEST(ConvTransposeValues, MatchesDirectScatter) {
  struct Q { int64_t N, Cin, L, Cout, K, s, p, op, d, g; bool bias; };
  for (const Q& q : {Q{2, 3, 7, 2, 3, 1, 0, 0, 1, 1, true}, Q{1, 4, 6, 6, 4, 2, 1, 1, 1, 2, false},
                    Q{2, 2, 5, 3, 3, 3, 2, 2, 2, 1, true}, Q{1, 2, 8, 2, 1, 1, 0, 0, 1, 1, false}}) {
    manual_seed(3);
    Tensor x = randn({q.N, q.Cin, q.L}, DType::f64);
    Tensor w = randn({q.Cin, q.Cout / q.g, q.K}, DType::f64);
    Tensor b = q.bias ? randn({q.Cout}, DType::f64) : Tensor();
    Tensor y = conv_transpose1d(x, w, b, q.s, q.p, q.op, q.d, q.g);
    const int64_t Lout = (q.L - 1) * q.s - 2 * q.p + q.d * (q.K - 1) + q.op + 1;
    ASSERT_EQ(y.shape(), (Shape{q.N, q.Cout, Lout}));
    const auto xv = x.to_vector<double>(), wv = w.to_vector<double>();
    std::vector<double> want(static_cast<size_t>(q.N * q.Cout * Lout), 0.0);
    const int64_t Cg = q.Cin / q.g, Og = q.Cout / q.g;
    for (int64_t n = 0; n < q.N; ++n)
      for (int64_t ci = 0; ci < q.Cin; ++ci)
        for (int64_t o = 0; o < Og; ++o)
          for (int64_t i = 0; i < q.L; ++i)
            for (int64_t k = 0; k < q.K; ++k) {
              const int64_t j = i * q.s - q.p + k * q.d;
              if (j < 0 || j >= Lout) continue;
              want[static_cast<size_t>((n * q.Cout + (ci / Cg) * Og + o) * Lout + j)] +=
                  xv[static_cast<size_t>((n * q.Cin + ci) * q.L + i)] * wv[static_cast<size_t>((ci * Og + o) * q.K + k)];
            }
    if (q.bias) {
      const auto bv = b.to_vector<double>();
      for (int64_t n = 0; n < q.N; ++n)
        for (int64_t o = 0; o < q.Cout; ++o)
          for (int64_t j = 0; j < Lout; ++j) want[static_cast<size_t>((n * q.Cout + o) * Lout + j)] += bv[static_cast<size_t>(o)];
    }
    expect_close(y, want, 1e-11, "conv_transpose1d");
  }
}

TEST(PoolValues, HandComputed) {
  Tensor x = tensor({1, 5, 2, 4, 3, 0}, DType::f64).reshape({1, 1, 6});
  EXPECT_EQ(max_pool1d(x, 2).to_vector<double>(), (std::vector<double>{5, 4, 3}));
  EXPECT_EQ(avg_pool1d(x, 2).to_vector<double>(), (std::vector<double>{3, 3, 1.5}));
  // padding 1, stride 2, k 3: windows [pad,1,5] [5,2,4] [4,3,0]; max ignores pad, avg counts it as 0.
  EXPECT_EQ(max_pool1d(x, 3, 2, 1).to_vector<double>(), (std::vector<double>{5, 5, 4}));
  const auto avg = avg_pool1d(x, 3, 2, 1).to_vector<double>();
  EXPECT_DOUBLE_EQ(avg[0], 2.0);
  EXPECT_DOUBLE_EQ(avg[1], 11.0 / 3.0);
  EXPECT_DOUBLE_EQ(avg[2], 7.0 / 3.0);
  // Negative values with padding: the -inf padding never wins, zero padding would have.
  Tensor neg = tensor({-3, -1, -2, -4}, DType::f32).reshape({1, 1, 2, 2});
  EXPECT_EQ(max_pool2d(neg, 2, 1, 1).to_vector<float>(), (std::vector<float>{-3, -1, -1, -2, -1, -1, -2, -2, -4}));
  EXPECT_EQ(avg_pool2d(neg, 2, 1, 1).to_vector<float>()[0], -0.75f);
  Tensor img = arange(0, 16, 1, DType::f64).reshape({1, 1, 4, 4});
  EXPECT_EQ(max_pool2d(img, 2).to_vector<double>(), (std::vector<double>{5, 7, 13, 15}));
  EXPECT_EQ(avg_pool2d(img, 2).to_vector<double>(), (std::vector<double>{2.5, 4.5, 10.5, 12.5}));
}

TEST(PoolValues, MaxPoolGradientGoesToTheArgmax) {
  Tensor x = tensor({1, 5, 2, 4, 3, 0}, DType::f64).reshape({1, 1, 6}).requires_grad_();
  sum(max_pool1d(x, 3, 2, 1)).backward();  // argmaxes: 5, 5, 4
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 2, 0, 1, 0, 0}));
}

// The unpadded fast path and the general (clipping) loop against a plain reference: the first maximum's
// index on ties, and the first NaN of a window winning over everything after it.
TEST(PoolValues, MaxPoolKernelMatchesReferenceWithTiesAndNaNs) {
  using kernels::cpu::PoolGeom;
  for (const PoolGeom& base : {PoolGeom{3, 6, 9, 2, 2, 0, 0, 2, 2, 0, 0}, PoolGeom{2, 7, 8, 3, 2, 0, 0, 2, 1, 0, 0},
                               PoolGeom{2, 5, 6, 3, 3, 0, 0, 2, 2, 1, 1}}) {
    PoolGeom g = base;
    g.OH = (g.H + 2 * g.ph - g.KH) / g.sh + 1;
    g.OW = (g.W + 2 * g.pw - g.KW) / g.sw + 1;
    std::vector<float> x(static_cast<size_t>(g.planes * g.H * g.W));
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7) % 5);  // many ties
    x[3] = x[40] = std::numeric_limits<float>::quiet_NaN();
    const size_t n = static_cast<size_t>(g.planes * g.OH * g.OW);
    std::vector<float> y(n);
    std::vector<int64_t> at(n);
    kernels::cpu::max_pool_forward(x.data(), g, y.data(), at.data());
    for (long p = 0; p < g.planes; ++p)
      for (long oh = 0; oh < g.OH; ++oh)
        for (long ow = 0; ow < g.OW; ++ow) {
          float best = 0;
          int64_t want = -1;
          for (long kh = 0; kh < g.KH; ++kh)
            for (long kw = 0; kw < g.KW; ++kw) {
              const long ih = oh * g.sh - g.ph + kh, iw = ow * g.sw - g.pw + kw;
              if (ih < 0 || iw < 0 || ih >= g.H || iw >= g.W) continue;
              const float v = x[static_cast<size_t>((p * g.H + ih) * g.W + iw)];
              if (want >= 0 && std::isnan(best)) continue;
              if (want < 0 || std::isnan(v) || v > best) {
                best = v;
                want = ih * g.W + iw;
              }
            }
          const size_t o = static_cast<size_t>((p * g.OH + oh) * g.OW + ow);
          EXPECT_EQ(at[o], want) << p << " " << oh << " " << ow;
          if (std::isnan(best)) EXPECT_TRUE(std::isnan(y[o]));
          else EXPECT_EQ(y[o], best);
        }
  }
}

TEST(Im2col, MatchesReferenceAndIsAdjoint) {
  using kernels::cpu::ConvGeom;
  for (const ConvGeom& base : {ConvGeom{1, 3, 1, 19, 1, 1, 1, 4, 1, 1, 1, 2, 0, 3, 1, 2},
                               ConvGeom{1, 2, 7, 6, 1, 1, 3, 2, 1, 1, 2, 3, 1, 2, 2, 1}}) {
    ConvGeom g = base;
    g.OH = (g.H + 2 * g.ph - g.dh * (g.KH - 1) - 1) / g.sh + 1;
    g.OW = (g.W + 2 * g.pw - g.dw * (g.KW - 1) - 1) / g.sw + 1;
    std::vector<double> x(static_cast<size_t>(g.C * g.H * g.W)), cols(static_cast<size_t>(g.col_rows() * g.out_hw()));
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>((i * 37) % 11) - 5.0;
    auto want = cols;
    kernels::cpu::im2col(x.data(), g, cols.data());
    kernels::cpu::ref::im2col(x.data(), g, want.data());
    EXPECT_EQ(cols, want);
    // col2im is the adjoint: <im2col(x), c> == <x, col2im(c)>, and matches its reference.
    std::vector<double> c(cols.size());
    for (size_t i = 0; i < c.size(); ++i) c[i] = static_cast<double>((i * 13) % 7) - 3.0;
    std::vector<double> back(x.size(), 1.0), back_ref(x.size(), 1.0);
    kernels::cpu::col2im(c.data(), g, back.data());
    kernels::cpu::ref::col2im(c.data(), g, back_ref.data());
    EXPECT_EQ(back, back_ref);
    double lhs = 0, rhs = 0;
    for (size_t i = 0; i < c.size(); ++i) lhs += cols[i] * c[i];
    for (size_t i = 0; i < x.size(); ++i) rhs += x[i] * (back[i] - 1.0);
    EXPECT_DOUBLE_EQ(lhs, rhs);
  }
}

TEST(ConvErrors, ClearShapeAndValueErrors) {
  Tensor x = zeros({2, 4, 10});
  EXPECT_THROW(conv1d(x, zeros({3, 3, 3})), ShapeError);                   // channel mismatch
  EXPECT_THROW(conv1d(x, zeros({3, 2, 3}), Tensor(), 1, 0, 1, 2), ShapeError);  // groups don't divide Cout
  EXPECT_THROW(conv1d(zeros({2, 5, 10}), zeros({4, 2, 3}), Tensor(), 1, 0, 1, 2), ShapeError);  // nor Cin
  EXPECT_THROW(conv1d(x, zeros({3, 4, 11})), ShapeError);                  // kernel > input
  EXPECT_THROW(conv1d(x, zeros({3, 4, 5}), Tensor(), 1, 0, 3), ShapeError);  // dilated span 13 > 10
  EXPECT_NO_THROW(conv1d(x, zeros({3, 4, 11}), Tensor(), 1, 1));           // fits once padded
  EXPECT_THROW(conv1d(x, zeros({3, 4, 3}), zeros({4})), ShapeError);       // bias size
  EXPECT_THROW(conv1d(zeros({4, 10}), zeros({3, 4, 3})), ShapeError);      // rank
  EXPECT_THROW(conv1d(x, zeros({3, 4, 3}), Tensor(), 0), ValueError);      // stride 0
  EXPECT_THROW(conv1d(x, zeros({3, 4, 3}, DType::f64)), DTypeError);
  EXPECT_THROW(conv2d(zeros({1, 2, 3, 3}), zeros({1, 2, 4, 4})), ShapeError);
  EXPECT_THROW(conv_transpose1d(x, zeros({3, 2, 3})), ShapeError);         // weight dim 0 must be Cin
  EXPECT_THROW(conv_transpose1d(x, zeros({4, 2, 3}), Tensor(), 2, 0, 2), ValueError);  // output_padding
  EXPECT_THROW(max_pool1d(x, 3, 1, 2), ValueError);                        // padding > k/2
  EXPECT_THROW(avg_pool1d(x, 11), ShapeError);
  EXPECT_THROW(max_pool2d(x, 2), ShapeError);                              // rank
  try {
    conv1d(x, zeros({3, 3, 3}));
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("conv1d: channel mismatch"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pianograd
