// Shared by the tests that compare two routes of the renderers (the per-group CPU renderer, the packed
// CPU twin of the CUDA route, the CUDA route itself): the audio and every gradient of one render under a
// fixed random projection, and their comparison.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "autodiff/ops.h"
#include "autodiff/tape.h"
#include "synth/piano_params.h"

namespace pianograd::testing {

// max |a - b| <= tol * (1 + max |b|)
inline void expect_close(const Tensor& a, const Tensor& b, double tol, const std::string& what) {
  ASSERT_TRUE(a.defined() && b.defined()) << what;
  ASSERT_EQ(a.shape(), b.shape()) << what;
  const auto x = a.cpu().to_vector<double>(), y = b.cpu().to_vector<double>();
  double scale = 0, err = 0;
  for (size_t i = 0; i < x.size(); ++i) scale = std::max(scale, std::fabs(y[i])), err = std::max(err, std::fabs(x[i] - y[i]));
  EXPECT_LE(err, tol * (1 + scale)) << what << " (max error " << err << ", scale " << scale << ")";
}

// Runs f() (returns the rendered audio) and backpropagates a fixed random projection of it; returns
// the audio and the gradient of every tensor in `wrt`, in order, then of every parameter of p.
template <class F>
std::vector<Tensor> render_and_grads(F f, std::vector<Tensor> wrt, PianoParams& p) {
  for (Tensor& t : wrt) t.zero_grad();
  const std::vector<Tensor> params = p.parameters();  // switched to requires_grad before rendering
  p.zero_grad();
  const Tensor y = f();
  std::mt19937 rng(5);
  std::normal_distribution<double> nd;
  std::vector<double> w(static_cast<size_t>(y.numel()));
  for (double& v : w) v = nd(rng);
  sum(mul(y, from_vector(w, y.shape()).to(y.dtype()).to(y.device()))).backward();
  std::vector<Tensor> out{y.detach().clone()};
  for (const Tensor& t : wrt) out.push_back(t.grad());
  for (const Tensor& t : params) out.push_back(t.grad());
  return out;
}

// Two render_and_grads results, output by output (undefined on one side: undefined on the other).
inline void compare_runs(const std::vector<Tensor>& got, const std::vector<Tensor>& want, double tol,
                         const std::string& tag = "") {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    if (!want[i].defined()) {  // e.g. body/room IRs (not rendered) get no gradient
      EXPECT_FALSE(got[i].defined()) << "output " << i;
      continue;
    }
    expect_close(got[i], want[i], tol, (i == 0 ? std::string("audio") : "gradient " + std::to_string(i)) + tag);
  }
}

}  // namespace pianograd::testing
