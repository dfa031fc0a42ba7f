// Shared by the tests that drive CUDA through the autodiff API: the names they use, the skip that makes
// each test report SKIPPED, with its reason, on a machine without a device, and the CPU-vs-CUDA
// comparison of an op (forward and every input's gradient through the tape).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "autodiff/device.h"
#include "autodiff/ops.h"
#include "autodiff/tensor.h"

namespace pg = pianograd;
using pg::DType;
using pg::Shape;
using pg::Tensor;

#define PG_REQUIRE_GPU() \
  if (!pg::cuda::is_available()) GTEST_SKIP() << "no CUDA device"

// Agreement per element to tol relative to max(1, |want|); NaN and infinities must match exactly.
inline void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  ASSERT_TRUE(got.defined()) << what;
  ASSERT_TRUE(want.defined()) << what;
  ASSERT_EQ(got.shape(), want.shape()) << what;
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  const auto g = got.cpu().to_vector<double>(), w = want.cpu().to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(w[i])) {
      EXPECT_TRUE(std::isnan(g[i])) << what << " at " << i;
    } else if (std::isinf(w[i])) {
      EXPECT_EQ(g[i], w[i]) << what << " at " << i;
    } else {
      ASSERT_NEAR(g[i], w[i], tol * std::max(1.0, std::fabs(w[i]))) << what << " at " << i;
    }
  }
}

// Uniform in [lo, hi) on the CPU.
inline Tensor random(const Shape& s, DType d, double lo, double hi) {
  return pg::add(pg::mul(pg::rand(s, d), hi - lo), lo);
}

// f on CPU leaves and on CUDA copies of them; the outputs and every input's gradient (of sum(y * w) for
// a fixed random w, so that each output element weighs differently) must agree, and stay on the device.
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;
inline void compare(const std::string& name, const std::vector<Tensor>& inputs, const Fn& f, double tol) {
  SCOPED_TRACE(name);
  std::vector<Tensor> cpu, gpu;
  for (const Tensor& x : inputs) {
    cpu.push_back(x.detach().requires_grad_());
    gpu.push_back(x.detach().cuda().requires_grad_());
    ASSERT_TRUE(gpu.back().is_cuda());
  }
  const Tensor yc = f(cpu), yg = f(gpu);
  ASSERT_TRUE(yg.is_cuda()) << name << ": output left the device";
  expect_close(yg, yc, tol, name + " forward");
  const Tensor w = random(yc.shape(), yc.dtype(), 0.5, 1.5);
  pg::sum(pg::mul(yc, w)).backward();
  pg::sum(pg::mul(yg, w.cuda())).backward();
  for (size_t i = 0; i < inputs.size(); ++i) {
    ASSERT_TRUE(gpu[i].grad().defined()) << name << " grad " << i;
    EXPECT_TRUE(gpu[i].grad().is_cuda());
    expect_close(gpu[i].grad(), cpu[i].grad(), tol, name + " grad of input " + std::to_string(i));
  }
}
