#include "gradcheck.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

#include "autodiff/op_registry.h"

namespace pianograd::testing {

std::vector<GradCase>& grad_cases() {
  static std::vector<GradCase> cases;
  return cases;
}

AddGradCases::AddGradCases(std::initializer_list<GradCase> cases) {
  for (const auto& c : cases) grad_cases().push_back(c);
}

Tensor positive_input(const Shape& s, size_t) { return add(mul(rand(s, DType::f64), 1.5), 0.5); }

Tensor away_from_zero(const Shape& s, size_t) {
  Tensor mag = add(mul(rand(s, DType::f64), 1.3), 0.2);
  Tensor sign = sub(mul(gt(rand(s, DType::f64), scalar(0.5, DType::f64)), 2.0), scalar(1.0, DType::f64));
  return mul(mag, sign);
}

Tensor distinct_input(const Shape& s, size_t idx) {
  const int64_t n = shape_numel(s);
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = -1.0 + 0.37 * static_cast<double>(i) + 0.01 * idx;
  std::mt19937 rng(static_cast<unsigned>(n * 31 + idx));
  std::shuffle(v.begin(), v.end(), rng);
  return from_vector(v, s);
}

std::string run_grad_case(const GradCase& c, uint64_t seed) {
  manual_seed(seed);
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < c.shapes.size(); ++i) {
    Tensor t = c.init ? c.init(c.shapes[i], i) : randn(c.shapes[i], DType::f64);
    if (t.dtype() != DType::f64) return "init produced dtype " + std::string(dtype_name(t.dtype()));
    inputs.push_back(t.detach().requires_grad_(true));
  }
  Tensor y = c.fn(inputs);
  if (y.dtype() != DType::f64) return "op returned dtype " + std::string(dtype_name(y.dtype()));
  // L = sum(y * w) with fixed random weights probes every output, not just their sum.
  Tensor w;
  {
    NoGrad ng;
    w = randn(y.shape(), DType::f64);
  }
  Tensor loss = sum(mul(y, w));
  loss.backward();
  auto eval = [&]() {
    NoGrad ng;
    return sum(mul(c.fn(inputs), w)).item();
  };
  std::ostringstream err;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Tensor g = inputs[i].grad();
    const int64_t n = inputs[i].numel();
    std::vector<double> analytic = g.defined() ? g.to_vector<double>() : std::vector<double>(static_cast<size_t>(n), 0.0);
    double* p = inputs[i].data<double>();
    double max_err = 0.0, max_num = 0.0;
    int64_t worst = -1;
    for (int64_t k = 0; k < n; ++k) {
      const double h = c.step * std::max(1.0, std::fabs(p[k]));
      const double old = p[k];
      p[k] = old + h;
      const double fp = eval();
      p[k] = old - h;
      const double fm = eval();
      p[k] = old;
      const double num = (fp - fm) / (2 * h);
      const double e = std::fabs(num - analytic[static_cast<size_t>(k)]);
      max_num = std::max(max_num, std::fabs(num));
      if (e > max_err) {
        max_err = e;
        worst = k;
      }
    }
    const double rel = max_err / std::max(1.0, max_num);
    if (!(rel <= c.tol)) {
      err << "input " << i << " " << shape_str(c.shapes[i]) << ": max error " << rel << " > tol " << c.tol
          << " at element " << worst << "; ";
    }
  }
  return err.str();
}

namespace {

TEST(GradCheck, EveryCasePassesInFloat64) {
  ASSERT_FALSE(grad_cases().empty());
  for (const auto& c : grad_cases()) {
    const std::string msg = run_grad_case(c);
    EXPECT_TRUE(msg.empty()) << c.op << (c.label.empty() ? "" : " [" + c.label + "]") << ": " << msg;
  }
}

TEST(GradCheck, EveryRegisteredOpHasACase) {
  std::set<std::string> covered;
  for (const auto& c : grad_cases()) covered.insert(c.op);
  std::vector<std::string> missing;
  for (const auto& op : registered_ops())
    if (!covered.count(op)) missing.push_back(op);
  EXPECT_TRUE(missing.empty()) << "ops without a gradcheck case: " << ::testing::PrintToString(missing);
  EXPECT_GE(registered_ops().size(), 10u);
}

TEST(GradCheck, EveryCaseNamesARegisteredOp) {
  const auto& ops = registered_ops();
  for (const auto& c : grad_cases())
    EXPECT_NE(std::find(ops.begin(), ops.end(), c.op), ops.end()) << "case for unregistered op " << c.op;
}

}  // namespace
}  // namespace pianograd::testing
