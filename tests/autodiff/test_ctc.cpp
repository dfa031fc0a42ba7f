// ctc_loss against an independent brute force: every alignment path of length T over C symbols is
// enumerated, collapsed (repeats merged, blanks dropped) and the probabilities of the paths that give the
// target are summed; the posterior gamma(t, c) of the same enumeration gives the reference gradient
// softmax - gamma. Also: reductions and zero_infinity, the f32 gradient against the f64 one, padded frames,
// large logits, and the argument checks with their messages.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "pianograd.h"

namespace pianograd {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Brute {
  double nll;                 // -ln sum over matching paths
  std::vector<double> grad;   // [T, C]: softmax - gamma (zeros when no path matches)
};

// x [T, C] raw logits of one sequence.
Brute brute_force(const std::vector<double>& x, int T, int C, const std::vector<int64_t>& target, int64_t blank) {
  std::vector<double> p(size_t(T * C));
  for (int t = 0; t < T; ++t) {
    double z = 0;
    for (int c = 0; c < C; ++c) z += std::exp(x[size_t(t * C + c)]);
    for (int c = 0; c < C; ++c) p[size_t(t * C + c)] = std::exp(x[size_t(t * C + c)]) / z;
  }
  std::vector<double> occ(size_t(T * C), 0.0);
  double total = 0;
  std::vector<int> path(size_t(T), 0);
  long n_paths = 1;
  for (int t = 0; t < T; ++t) n_paths *= C;
  for (long k = 0; k < n_paths; ++k) {
    long r = k;
    for (int t = 0; t < T; ++t, r /= C) path[size_t(t)] = int(r % C);
    std::vector<int64_t> out;
    int prev = -1;
    for (int s : path) {
      if (s != blank && s != prev) out.push_back(s);
      prev = s;
    }
    if (out != target) continue;
    double pr = 1;
    for (int t = 0; t < T; ++t) pr *= p[size_t(t * C + path[size_t(t)])];
    total += pr;
    for (int t = 0; t < T; ++t) occ[size_t(t * C + path[size_t(t)])] += pr;
  }
  Brute b{-std::log(total), std::vector<double>(size_t(T * C), 0.0)};
  if (total > 0)
    for (size_t i = 0; i < occ.size(); ++i) b.grad[i] = p[i] - occ[i] / total;
  return b;
}

struct Case {
  int T, C;
  std::vector<int64_t> target;
  int64_t blank;
};

TEST(CtcLoss, MatchesBruteForceOverAllPaths) {
  const std::vector<Case> cases = {
      {4, 3, {1, 2}, 0},       {5, 3, {1, 1}, 0},    {3, 3, {1, 1}, 0},  // 3 frames: exactly 1, blank, 1
      {6, 4, {3, 1, 3}, 0},    {5, 4, {2, 2, 2}, 0}, {4, 3, {}, 0},      // empty target: all-blank paths
      {6, 3, {1, 2, 1, 2}, 0}, {5, 4, {0, 3}, 2},    {1, 2, {1}, 0},     {6, 2, {1, 1, 1}, 0},
      {2, 3, {1, 1}, 0},  // infeasible: the repeat needs a blank, 3 frames
      {2, 4, {1, 2, 3}, 0}};  // infeasible: more labels than frames
  manual_seed(5);
  for (const Case& k : cases) {
    Tensor x = mul(randn({1, k.T, k.C}, DType::f64), 1.5);
    x.requires_grad_(true);
    const int64_t S = std::max<int64_t>(int64_t(k.target.size()), 1);
    std::vector<int64_t> tv = k.target;
    tv.resize(size_t(S), 0);
    const Tensor y = ctc_loss(x, from_vector<int64_t>(tv, {1, S}), from_vector<int64_t>({k.T}, {1}),
                              from_vector<int64_t>({int64_t(k.target.size())}, {1}), k.blank, Reduction::none);
    const Brute want = brute_force(x.to_vector<double>(), k.T, k.C, k.target, k.blank);
    const std::string what = "T " + std::to_string(k.T) + " C " + std::to_string(k.C) + " target size " +
                             std::to_string(k.target.size()) + " blank " + std::to_string(k.blank);
    if (std::isinf(want.nll)) {
      EXPECT_EQ(y.item(), kInf) << what;
    } else {
      EXPECT_NEAR(y.item(), want.nll, 1e-10) << what;
    }
    y.backward();
    const auto g = x.grad().to_vector<double>();
    for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], want.grad[i], 1e-10) << what << " element " << i;
  }
}

// A batch with varied lengths: each row equals its own single-sequence loss, frames past input_lengths get
// zero gradient, and mean / sum / zero_infinity combine the rows as torch does.
TEST(CtcLoss, BatchReductionsAndPadding) {
  manual_seed(7);
  const Tensor x = randn({3, 8, 5}, DType::f64);
  const Tensor tg = from_vector<int64_t>({1, 2, 2, 4, 3, 0, 0, 0, 4, 4, 4, 4}, {3, 4});
  const Tensor il = from_vector<int64_t>({8, 5, 6}, {3}), tl = from_vector<int64_t>({4, 1, 4}, {3});
  const auto none = ctc_loss(x, tg, il, tl, 0, Reduction::none).to_vector<double>();
  ASSERT_EQ(none.size(), 3u);
  EXPECT_TRUE(std::isfinite(none[0]) && std::isfinite(none[1]));
  EXPECT_EQ(none[2], kInf);  // 4,4,4,4 needs 7 frames, has 6
  for (int b = 0; b < 2; ++b) {
    const Tensor xb = x.slice(0, b, b + 1);
    const int64_t n = tl.to_vector<int64_t>()[size_t(b)];
    const double one = ctc_loss(xb.slice(1, 0, il.to_vector<int64_t>()[size_t(b)]), tg.slice(0, b, b + 1),
                                il.slice(0, b, b + 1), from_vector<int64_t>({n}, {1}), 0, Reduction::sum).item();
    EXPECT_NEAR(none[size_t(b)], one, 1e-12);
  }
  EXPECT_EQ(ctc_loss(x, tg, il, tl, 0, Reduction::sum).item(), kInf);
  EXPECT_NEAR(ctc_loss(x, tg, il, tl, 0, Reduction::sum, true).item(), none[0] + none[1], 1e-12);
  EXPECT_NEAR(ctc_loss(x, tg, il, tl, 0, Reduction::mean, true).item(), (none[0] / 4 + none[1] / 1 + 0) / 3, 1e-12);
  const auto zi = ctc_loss(x, tg, il, tl, 0, Reduction::none, true).to_vector<double>();
  EXPECT_EQ(zi[2], 0.0);

  Tensor xg = x.detach().requires_grad_(true);
  ctc_loss(xg, tg, il, tl, 0, Reduction::mean, true).backward();
  const auto g = xg.grad().to_vector<double>();
  for (int t = 5; t < 8; ++t)
    for (int c = 0; c < 5; ++c) EXPECT_EQ(g[size_t((1 * 8 + t) * 5 + c)], 0.0) << "padded frame " << t;
  for (size_t i = 2 * 40; i < 3 * 40; ++i) EXPECT_EQ(g[i], 0.0) << "infeasible sequence";
  // Each frame's gradient is softmax - gamma: both sum to 1 over the classes, so it sums to 0.
  for (int t = 0; t < 8; ++t) {
    double s = 0;
    for (int c = 0; c < 5; ++c) s += g[size_t(t * 5 + c)];
    EXPECT_NEAR(s, 0.0, 1e-12);
  }
  // Without zero_infinity the infeasible row still gets no NaN.
  Tensor xh = x.detach().requires_grad_(true);
  ctc_loss(xh, tg, il, tl, 0, Reduction::none).backward(ones({3}, DType::f64));
  for (double v : xh.grad().to_vector<double>()) EXPECT_TRUE(std::isfinite(v));
}

TEST(CtcLoss, Float32GradientMatchesFloat64) {
  manual_seed(9);
  const Tensor x64 = mul(randn({4, 30, 12}, DType::f64), 3.0);
  const Tensor tg = randint(1, 12, {4, 10}, DType::i32);
  const Tensor il = from_vector<int32_t>({30, 25, 30, 21}, {4}), tl = from_vector<int32_t>({10, 7, 0, 9}, {4});
  Tensor a = x64.detach().requires_grad_(true), b = x64.to(DType::f32).detach().requires_grad_(true);
  const Tensor ya = ctc_loss(a, tg, il, tl), yb = ctc_loss(b, tg, il, tl);
  EXPECT_EQ(yb.dtype(), DType::f32);
  EXPECT_NEAR(yb.item(), ya.item(), 1e-5 * std::abs(ya.item()));
  ya.backward();
  yb.backward();
  const auto ga = a.grad().to_vector<double>();
  const auto gb = b.grad().to(DType::f64).to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < ga.size(); ++i) worst = std::max(worst, std::abs(ga[i] - gb[i]));
  EXPECT_LT(worst, 1e-6);
}

// Logits of magnitude 1e4 in f32: the max-shifted log_softmax and the log-space recursion stay finite,
// and the loss only depends on the differences between logits of a frame.
TEST(CtcLoss, LargeLogitsAreStable) {
  manual_seed(3);
  const Tensor x = randn({1, 10, 6});
  const Tensor tg = from_vector<int64_t>({1, 3, 3, 5}, {1, 4});
  const Tensor il = from_vector<int64_t>({10}, {1}), tl = from_vector<int64_t>({4}, {1});
  Tensor shifted = add(x, 1e4);
  shifted = shifted.detach().requires_grad_(true);
  const Tensor y0 = ctc_loss(x, tg, il, tl, 0, Reduction::none), y1 = ctc_loss(shifted, tg, il, tl, 0, Reduction::none);
  EXPECT_NEAR(y1.item(), y0.item(), 2e-2);  // f32 spacing at 1e4 is ~1e-3 per logit
  y1.backward();
  for (float v : shifted.grad().to_vector<float>()) EXPECT_TRUE(std::isfinite(v));
  const double peaked = ctc_loss(mul(x, 300.0), tg, il, tl, 0, Reduction::none).item();
  EXPECT_TRUE(std::isfinite(peaked));
}

TEST(CtcLoss, NoGradPathGivesTheSameLoss) {
  manual_seed(4);
  Tensor x = randn({2, 7, 4}, DType::f64).requires_grad_(true);
  const Tensor tg = from_vector<int64_t>({1, 2, 3, 3}, {2, 2});
  const Tensor il = from_vector<int64_t>({7, 7}, {2}), tl = from_vector<int64_t>({2, 2}, {2});
  const double with = ctc_loss(x, tg, il, tl).item();
  NoGrad ng;
  EXPECT_EQ(ctc_loss(x, tg, il, tl).item(), with);
}

template <class E, class F>
void expect_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected one mentioning " << parts[0];
  } catch (const E& e) {
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(CtcLoss, ArgumentErrorsNameTheOpAndTheArgument) {
  const Tensor x = zeros({2, 5, 4});
  const Tensor tg = from_vector<int64_t>({1, 2, 3, 0}, {2, 2});
  const Tensor il = from_vector<int64_t>({5, 4}, {2}), tl = from_vector<int64_t>({2, 1}, {2});
  expect_error<ShapeError>([&] { ctc_loss(zeros({5, 4}), tg, il, tl); }, {"ctc_loss", "logits", "[B,T,C]", "[5,4]"});
  expect_error<ShapeError>([&] { ctc_loss(x, from_vector<int64_t>({1, 2}, {2}), il, tl); }, {"ctc_loss", "targets", "[B,S]"});
  expect_error<ShapeError>([&] { ctc_loss(x, tg, from_vector<int64_t>({5, 4, 3}, {3}), tl); },
                           {"input_lengths", "batch size 3", "B = 2"});
  expect_error<ShapeError>([&] { ctc_loss(x, tg, il, from_vector<int64_t>({1}, {1})); }, {"target_lengths", "batch size 1"});
  expect_error<ValueError>([&] { ctc_loss(x, tg, from_vector<int64_t>({6, 4}, {2}), tl); },
                           {"ctc_loss", "input_lengths[0] = 6", "T = 5"});
  expect_error<ValueError>([&] { ctc_loss(x, tg, from_vector<int64_t>({5, -1}, {2}), tl); }, {"input_lengths[1] = -1"});
  expect_error<ValueError>([&] { ctc_loss(x, tg, il, from_vector<int64_t>({3, 1}, {2})); },
                           {"target_lengths[0] = 3", "S = 2"});
  expect_error<IndexError>([&] { ctc_loss(x, from_vector<int64_t>({1, 4, 3, 0}, {2, 2}), il, tl); },
                           {"ctc_loss", "targets[0, 1] = 4", "C = 4"});
  expect_error<IndexError>([&] { ctc_loss(x, from_vector<int64_t>({1, -2, 3, 0}, {2, 2}), il, tl); }, {"targets[0, 1] = -2"});
  expect_error<ValueError>([&] { ctc_loss(x, from_vector<int64_t>({1, 0, 3, 0}, {2, 2}), il, tl); },
                           {"targets[0, 1]", "blank 0"});
  expect_error<IndexError>([&] { ctc_loss(x, tg, il, tl, 4); }, {"blank 4", "[0, 4)"});
  expect_error<DTypeError>([&] { ctc_loss(zeros({2, 5, 4}, DType::i64), tg, il, tl); }, {"ctc_loss", "floating"});
  expect_error<DTypeError>([&] { ctc_loss(x, zeros({2, 2}), il, tl); }, {"ctc_loss", "targets", "int32 or int64", "f32"});
  Tensor bad = zeros({2, 5, 4});
  bad.data<float>()[(1 * 5 + 2) * 4 + 3] = std::numeric_limits<float>::quiet_NaN();
  expect_error<ValueError>([&] { ctc_loss(bad, tg, il, tl); }, {"ctc_loss", "finite", "[1, 2, 3]"});
  // The same NaN in a padded frame (input_lengths[1] = 2) is never read.
  EXPECT_NO_THROW(ctc_loss(bad, tg, from_vector<int64_t>({5, 2}, {2}), tl));
  // Labels past target_lengths are padding, never checked.
  EXPECT_NO_THROW(ctc_loss(x, from_vector<int64_t>({1, 2, 3, -7}, {2, 2}), il, tl));
}

}  // namespace
}  // namespace pianograd
