// conv2d with per-axis padding equals the explicit pad + unpadded conv it replaces in the transcriber
// (values and gradients, on the direct and the im2col paths), harmonic_stack equals pad + slices +
// stack, and bad per-axis arguments raise typed errors.
#include <gtest/gtest.h>

#include "pianograd.h"

namespace pianograd {
namespace {

void expect_close(const Tensor& a, const Tensor& b, double tol, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  const double d = max(abs(a - b)).item(), s = max(abs(b)).item();
  EXPECT_LE(d, tol * (1 + s)) << what;
}

// y = conv2d(x, w, b, {1,1}, {ph,pw}, {dh,dw}) vs conv2d(pad(x), w, b, {1,1}, {0,0}, {dh,dw}): outputs and
// the gradients of a weighted sum with respect to x, w and b.
void check_against_pad(int64_t cin, int64_t cout, Shape hw, Shape k, int64_t ph, int64_t pw, int64_t dh,
                       int64_t dw) {
  manual_seed(7);
  Tensor x = randn({2, cin, hw[0], hw[1]}).requires_grad_();
  Tensor w = randn({cout, cin, k[0], k[1]}).requires_grad_();
  Tensor b = randn({cout}).requires_grad_();
  Tensor y1 = conv2d(x, w, b, {1, 1}, {ph, pw}, {dh, dw});
  Tensor r = randn(y1.shape());
  sum(y1 * r).backward();
  const Tensor gx = x.grad(), gw = w.grad(), gb = b.grad();
  x.zero_grad();
  w.zero_grad();
  b.zero_grad();
  Tensor y2 = conv2d(pad(x, {pw, pw, ph, ph}), w, b, {1, 1}, {0, 0}, {dh, dw});
  sum(y2 * r).backward();
  const std::string what = "cin " + std::to_string(cin) + " cout " + std::to_string(cout);
  expect_close(y1, y2, 1e-5, what + " output");
  expect_close(gx, x.grad(), 1e-5, what + " grad x");
  expect_close(gw, w.grad(), 1e-4, what + " grad w");
  expect_close(gb, b.grad(), 1e-4, what + " grad b");
}

TEST(Conv2dAxes, MatchesExplicitPadOnTheTranscribersShapes) {
  check_against_pad(24, 8, {9, 88}, {1, 13}, 0, 6, 1, 1);   // key conv: keys padded
  check_against_pad(32, 32, {21, 88}, {5, 1}, 4, 0, 2, 1);  // dilated temporal conv: time padded
  check_against_pad(33, 16, {11, 88}, {3, 1}, 1, 0, 1, 1);  // frame head
  check_against_pad(3, 4, {6, 7}, {3, 3}, 2, 1, 1, 2);      // 3x3, both axes, unequal
}

TEST(Conv2dAxes, MatchesExplicitPadOnTheIm2colPath) {
  check_against_pad(70, 3, {6, 9}, {3, 1}, 2, 0, 2, 1);  // > 64 channels: im2col + GEMM
  check_against_pad(2, 70, {5, 8}, {1, 3}, 0, 1, 1, 1);
}

TEST(Conv2dAxes, IntOverloadIsTheSymmetricCase) {
  manual_seed(3);
  Tensor x = randn({1, 2, 6, 7}), w = randn({3, 2, 3, 3}), b = randn({3});
  expect_close(conv2d(x, w, b, {2, 2}, {1, 1}, {1, 1}), conv2d(x, w, b, 2, 1, 1), 0, "stride 2 padding 1");
}

TEST(Conv2dAxes, BadArgumentsThrow) {
  Tensor x = randn({1, 2, 6, 7}), w = randn({3, 2, 3, 3});
  EXPECT_THROW(conv2d(x, w, Tensor(), {1, 1}, {-1, 0}), ValueError);
  EXPECT_THROW(conv2d(x, w, Tensor(), {1, 0}, {0, 0}), ValueError);
  EXPECT_THROW(conv2d(x, w, Tensor(), {1, 1}, {0, 0}, {1, 0}), ValueError);
  EXPECT_THROW(conv2d(x, randn({3, 2, 9, 1}), Tensor(), {1, 1}, {1, 0}), ShapeError);  // 9 > 6 + 2
}

// The fused activation equals relu(conv2d(...)): outputs and all three gradients.
void check_fused_relu(int64_t cin, int64_t cout, Conv2dPair stride) {
  manual_seed(11);
  Tensor x = randn({2, cin, 9, 12}).requires_grad_();
  Tensor w = randn({cout, cin, 3, 1}).requires_grad_();
  Tensor b = randn({cout}).requires_grad_();
  Tensor y1 = conv2d(x, w, b, stride, {1, 0}, {1, 1}, 1, ConvActivation::relu);
  Tensor r = randn(y1.shape());
  sum(y1 * r).backward();
  const Tensor gx = x.grad(), gw = w.grad(), gb = b.grad();
  x.zero_grad();
  w.zero_grad();
  b.zero_grad();
  Tensor y2 = relu(conv2d(x, w, b, stride, {1, 0}));
  sum(y2 * r).backward();
  const std::string what = "fused relu, cin " + std::to_string(cin);
  expect_close(y1, y2, 0, what + " output");
  EXPECT_GT(sum(eq(y1, zeros_like(y1))).item(), 0) << "the test must clamp something";
  expect_close(gx, x.grad(), 1e-6, what + " grad x");
  expect_close(gw, w.grad(), 1e-6, what + " grad w");
  expect_close(gb, b.grad(), 1e-6, what + " grad b");
}

TEST(Conv2dAxes, FusedReluMatchesReluOfConv) {
  check_fused_relu(5, 6, {1, 1});   // direct path
  check_fused_relu(70, 3, {1, 1});  // im2col (> 64 channels)
  check_fused_relu(4, 5, {2, 1});   // im2col (stride 2)
}

// conv2d_concat on the transcriber's two uses (the [5 x 1] dilated time conv over [h | k], the [3 x 1]
// frame-head conv over [t | detached onset gate]) against concat + conv2d: outputs and every gradient.
void check_concat(int64_t c1, int64_t c2, int64_t cout, int64_t kh, int64_t dil, bool x2_grad) {
  const int64_t N = 3, H = 23, W = 11, p = dil * (kh / 2);
  Tensor x = randn({N, c1, H, W}).requires_grad_(true), x2 = randn({N, c2, H, W}).requires_grad_(x2_grad);
  Tensor w = (randn({cout, c1 + c2, kh, 1}) * 0.3).detach().requires_grad_(true);
  Tensor b = randn({cout}).requires_grad_(true), r = randn({N, cout, H, W});
  constexpr auto kRelu = ConvActivation::relu;
  Tensor y1 = conv2d_concat(x, x2, w, b, {1, 1}, {p, 0}, {dil, 1}, kRelu);
  sum(y1 * r).backward();
  const Tensor gx = x.grad(), gx2 = x2_grad ? x2.grad() : Tensor(), gw = w.grad(), gb = b.grad();
  x.zero_grad();
  w.zero_grad();
  b.zero_grad();
  if (x2_grad) x2.zero_grad();
  Tensor y2 = conv2d(concat({x, x2}, 1), w, b, {1, 1}, {p, 0}, {dil, 1}, 1, kRelu);
  sum(y2 * r).backward();
  const std::string what = "concat " + std::to_string(c1) + "|" + std::to_string(c2);
  expect_close(y1, y2, 0, what + " output");
  expect_close(gx, x.grad(), 1e-6, what + " grad x");
  if (x2_grad) expect_close(gx2, x2.grad(), 1e-6, what + " grad x2");
  expect_close(gw, w.grad(), 1e-6, what + " grad w");
  expect_close(gb, b.grad(), 1e-6, what + " grad b");
}

TEST(Conv2dConcat, MatchesConcatThenConv) {
  check_concat(24, 8, 32, 5, 1, true);
  check_concat(24, 8, 32, 5, 2, true);
  check_concat(16, 1, 8, 3, 1, false);  // the frame head: the gate has no gradient
}

TEST(Conv2dConcat, BadInputsThrow) {
  const Tensor w = randn({4, 5, 3, 1});
  EXPECT_THROW(conv2d_concat(randn({2, 3, 6, 5}), randn({2, 2, 7, 5}), w, Tensor(), {1, 1}, {1, 0}), ShapeError);
  EXPECT_THROW(conv2d_concat(randn({2, 3, 6, 5}), randn({2, 3, 6, 5}), w, Tensor(), {1, 1}, {1, 0}), ShapeError);
  EXPECT_THROW(conv2d_concat(randn({2, 3, 6, 5}), Tensor(), w, Tensor(), {1, 1}, {1, 0}), ValueError);
}

TEST(HarmonicStack, MatchesPadSliceStack) {
  manual_seed(5);
  const std::vector<int64_t> shifts = {-12, 0, 19, 31, 36, 40, 300};
  Tensor x = randn({2, 5, 264}).requires_grad_();
  Tensor y1 = harmonic_stack(x, shifts);
  Tensor r = randn(y1.shape());
  sum(y1 * r).backward();
  const Tensor g1 = x.grad();
  x.zero_grad();
  const int64_t below = 12, above = 300;
  Tensor padded = pad(x, {below, above});
  std::vector<Tensor> chans;
  for (int64_t s : shifts) chans.push_back(slice(padded, 2, below + s, below + s + 264));
  Tensor y2 = stack(chans, 1);
  sum(y2 * r).backward();
  expect_close(y1, y2, 0, "harmonic_stack output");
  expect_close(g1, x.grad(), 1e-6, "harmonic_stack grad");
}

TEST(HarmonicStack, BadInputsThrow) {
  EXPECT_THROW(harmonic_stack(randn({2, 264}), {0}), ShapeError);
  EXPECT_THROW(harmonic_stack(randn({1, 2, 264}), {}), ValueError);
  EXPECT_THROW(harmonic_stack(ones({1, 2, 3}, DType::i32), {0}), DTypeError);
}

}  // namespace
}  // namespace pianograd
