// The last ops routed to CUDA: dtype casts on the device (Tensor::to(DType)), where with broadcasting,
// expand and logsumexp — each against the CPU backend, forward and, where differentiable, backward
// through the tape. Labelled `gpu`; each test skips with "no CUDA device" where there is none.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "autodiff/device.h"
#include "autodiff/ops.h"
#include "cuda_test.h"


namespace {

double tol_for(DType d) { return d == DType::f32 ? 2e-5 : 1e-12; }

const DType kAll[] = {DType::f32, DType::f64, DType::i32, DType::i64};

}  // namespace

TEST(CudaCast, EveryDtypePairMatchesCpuExactly) {
  PG_REQUIRE_GPU();
  // Fractional values of both signs: float -> int truncates toward zero on both backends.
  const Tensor base = pg::add(pg::mul(pg::randn({3, 7, 5}, DType::f64), 50.0), 0.25);
  for (DType from : kAll) {
    const Tensor x = base.to(from);
    for (DType to : kAll) {
      const Tensor g = x.cuda().to(to);
      ASSERT_TRUE(g.is_cuda());
      EXPECT_EQ(g.dtype(), to);
      EXPECT_EQ(g.cpu().to_vector<double>(), x.to(to).to_vector<double>())
          << pg::dtype_name(from) << " -> " << pg::dtype_name(to);
    }
  }
  EXPECT_EQ(pg::zeros({0, 3}, DType::f32, pg::kCUDA).to(DType::i64).shape(), (Shape{0, 3}));
  // A slice of a device tensor casts from its own first element.
  const Tensor v = pg::slice(base.cuda(), 1, 2, 6);
  expect_close(v.to(DType::f32), pg::slice(base, 1, 2, 6).to(DType::f32), 0, "cast of a slice");
}

TEST(CudaCast, GradientIsCastBack) {
  PG_REQUIRE_GPU();
  const Tensor x = random({4, 9}, DType::f32, -2, 2);
  compare("f32 -> f64", {x}, [](const auto& in) { return pg::mul(in[0].to(DType::f64), in[0].to(DType::f64)); },
          1e-6);
  compare("f64 -> f32", {x.to(DType::f64)}, [](const auto& in) { return pg::exp(in[0].to(DType::f32)); }, 1e-6);
  // A cast to an integer dtype is not recorded, as on the CPU.
  const Tensor leaf = x.cuda().requires_grad_();
  EXPECT_FALSE(leaf.to(DType::i64).requires_grad());
}

class CudaRest : public ::testing::TestWithParam<DType> {};

TEST_P(CudaRest, WhereBroadcastsForwardAndBackward) {
  PG_REQUIRE_GPU();
  const DType d = GetParam();
  struct Case {
    Shape c, a, b;
  };
  const std::vector<Case> cases = {{{4, 5}, {4, 5}, {4, 5}}, {{4, 1}, {1, 5}, {5}},  {{5}, {4, 5}, {}},
                                   {{2, 1, 3}, {4, 3}, {2, 4, 1}}, {{}, {3, 2}, {3, 2}}};
  for (const Case& k : cases) {
    for (DType cd : kAll) {
      // A condition with zeros and nonzeros of each dtype (negative values count as true).
      const Tensor cond = pg::randint(-1, 2, k.c, DType::i64).to(cd);
      const std::string tag = pg::shape_str(k.c) + "," + pg::shape_str(k.a) + "," + pg::shape_str(k.b) + " cond " +
                              pg::dtype_name(cd);
      const Tensor condg = cond.cuda();
      compare("where " + tag, {random(k.a, d, -2, 2), random(k.b, d, -2, 2)},
              [&](const auto& in) { return pg::where(in[0].is_cuda() ? condg : cond, in[0], in[1]); }, tol_for(d));
    }
  }
  const Tensor a = pg::ones({3}, d);
  EXPECT_THROW((void)pg::where(pg::ones({3}, d), a.cuda(), a.cuda()), pg::DeviceError);  // cond on the host
}

TEST_P(CudaRest, ExpandForwardAndBackward) {
  PG_REQUIRE_GPU();
  const DType d = GetParam();
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{3, 1}, {3, 4}}, {{4}, {2, 3, 4}}, {{1, 3, 1}, {2, 3, 5}}, {{}, {2, 2}}, {{2, 1, 3, 1}, {2, 4, 3, 5}},
      {{3, 4}, {3, 4}}};
  for (const auto& [from, to] : cases)
    compare("expand " + pg::shape_str(from) + "->" + pg::shape_str(to), {random(from, d, -2, 2)},
            [to](const auto& in) { return pg::expand(in[0], to); }, tol_for(d));
  compare("expand -1", {random({3, 1}, d, -1, 1)}, [](const auto& in) { return pg::expand(in[0], {2, -1, 4}); },
          tol_for(d));
  // Any dtype, by element size; the result never aliases the input.
  const Tensor xi = pg::randint(-9, 9, {2, 1, 3}, DType::i64), gi = xi.cuda();
  EXPECT_EQ(pg::expand(gi, {2, 4, 3}).cpu().to_vector<int64_t>(), pg::expand(xi, {2, 4, 3}).to_vector<int64_t>());
  EXPECT_FALSE(pg::expand(gi, {2, 1, 3}).is_same(gi));
  EXPECT_THROW((void)pg::expand(gi, {2, 4, 4}), pg::ShapeError);
}

TEST_P(CudaRest, LogsumexpForwardAndBackward) {
  PG_REQUIRE_GPU();
  const DType d = GetParam();
  const Tensor x = random({4, 6, 5}, d, -30, 30);
  for (int64_t axis : {0, 1, 2, -1})
    for (bool keep : {false, true})
      compare("logsumexp axis " + std::to_string(axis) + (keep ? " keepdim" : ""), {x},
              [axis, keep](const auto& in) { return pg::logsumexp(in[0], axis, keep); }, 10 * tol_for(d));
  compare("logsumexp long row", {random({3, 1000}, d, -5, 5)},
          [](const auto& in) { return pg::logsumexp(in[0], 1); }, 10 * tol_for(d));
  // Non-finite rows follow the CPU's stable form: all -inf -> -inf, a +inf -> +inf, a NaN -> NaN.
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor s = pg::tensor({-inf, -inf, -inf, 1.0, inf, 2.0, 0.5, nan, 3.0, 1000.0, 999.0, -1000.0}, d)
                       .reshape({4, 3});
  expect_close(pg::logsumexp(s.cuda(), 1), pg::logsumexp(s, 1), tol_for(d), "non-finite rows");
  EXPECT_THROW((void)pg::logsumexp(pg::zeros({2, 0}, d, pg::kCUDA), 1), pg::ValueError);
}

INSTANTIATE_TEST_SUITE_P(Floating, CudaRest, ::testing::Values(DType::f32, DType::f64),
                         [](const auto& param_info) { return std::string(pg::dtype_name(param_info.param)); });
