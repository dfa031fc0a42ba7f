// gru_recurrence against the same recurrence written as recorded ops (linear, sigmoid, tanh, ...): the
// values and all four gradients, in f32 at a training-sized shape and in f64; and its argument checks.
#include <gtest/gtest.h>

#include "pianograd.h"

namespace pianograd {
namespace {

Tensor chain(const Tensor& gi, const Tensor& w, const Tensor& b, const Tensor& h0) {
  const int64_t T = gi.size(0), H = w.size(1);
  Tensor h = h0;
  std::vector<Tensor> outs;
  for (int64_t t = 0; t < T; ++t) {
    const Tensor gi_t = gi.select(0, t), gh = linear(h, w, b);
    const Tensor r = sigmoid(add(slice(gi_t, 1, 0, H), slice(gh, 1, 0, H)));
    const Tensor z = sigmoid(add(slice(gi_t, 1, H, 2 * H), slice(gh, 1, H, 2 * H)));
    const Tensor n = tanh(add(slice(gi_t, 1, 2 * H, 3 * H), mul(r, slice(gh, 1, 2 * H, 3 * H))));
    h = add(mul(1.0 - z, n), mul(z, h));  // the textbook form, not the op's n + z (h - n)
    outs.push_back(h);
  }
  return stack(outs, 0);
}

double max_rel(const Tensor& a, const Tensor& b) {
  const auto x = a.to(DType::f64).to_vector<double>(), y = b.to(DType::f64).to_vector<double>();
  double m = 0, s = 1e-3;
  for (double v : y) s = std::max(s, std::abs(v));
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]) / s);
  return m;
}

// The fused op and the chain on the same inputs, in `dt` and (the truth) in f64: their values and the
// gradients of all inputs. In f64 both must agree to `tol`. In f32 the two round differently (the op
// keeps h' = n + z (h - n), its GEMMs add in another order), so the fused op must stay within a few
// times the chain's own distance from the f64 truth plus `tol`: measured 1e-5 to 3e-5 of the largest
// value for both on every ISA at T 64, where a wrong term would be off by O(1).
void compare(DType dt, int64_t T, int64_t B, int64_t H, bool bias, double tol) {
  manual_seed(5);
  const Tensor gi0 = randn({T, B, 3 * H}, dt), w0 = mul(randn({3 * H, H}, dt), 0.5), h00 = randn({B, H}, dt);
  const Tensor b0 = bias ? mul(randn({3 * H}, dt), 0.3) : Tensor();
  const Tensor gy0 = randn({T, B, H}, dt);
  auto run = [&](bool fused, DType as) {
    auto fresh = [&](const Tensor& t) { return t.to(as).clone(); };  // own leaves: grads must not accumulate
    Tensor gi = fresh(gi0), w = fresh(w0), h0 = fresh(h00), b = bias ? fresh(b0) : Tensor();
    std::vector<Tensor*> ins{&gi, &w, &h0};
    if (bias) ins.push_back(&b);
    for (Tensor* t : ins) t->requires_grad_(true);
    const Tensor y = fused ? gru_recurrence(gi, w, b, h0) : chain(gi, w, b, h0);
    y.backward(gy0.to(as));
    std::vector<Tensor> out{y.detach()};
    for (Tensor* t : ins) out.push_back(t->grad().clone());
    return out;
  };
  const auto got = run(true, dt), chained = run(false, dt), truth = run(false, DType::f64);
  const char* names[] = {"output", "d gi", "d w_hh", "d h0", "d b_hh"};
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = max_rel(got[i], truth[i]), chain_err = max_rel(chained[i], truth[i]);
    const double bound = dt == DType::f64 ? tol : 5 * chain_err + tol;
    EXPECT_LT(err, bound) << names[i] << " " << dtype_name(dt) << " T " << T << " B " << B << " H " << H
                          << " (the op chain's error " << chain_err << ")";
  }
}

TEST(GruRecurrence, MatchesTheOpChain) {
  compare(DType::f64, 7, 3, 5, true, 1e-12);
  compare(DType::f64, 5, 1, 4, false, 1e-12);
  compare(DType::f32, 64, 16, 40, true, 1e-5);  // past the GEMM's small-M path and over many steps
}

TEST(GruRecurrence, Errors) {
  const Tensor gi = zeros({4, 2, 9}), w = zeros({9, 3}), h0 = zeros({2, 3});
  EXPECT_THROW(gru_recurrence(zeros({4, 2, 8}), w, Tensor(), h0), ShapeError);
  EXPECT_THROW(gru_recurrence(gi, zeros({9, 4}), Tensor(), h0), ShapeError);
  EXPECT_THROW(gru_recurrence(gi, w, zeros({8}), h0), ShapeError);
  EXPECT_THROW(gru_recurrence(gi, w, Tensor(), zeros({3, 3})), ShapeError);
  EXPECT_THROW(gru_recurrence(zeros({0, 2, 9}), w, Tensor(), h0), ShapeError);
  EXPECT_THROW(gru_recurrence(gi, zeros({9, 3}, DType::f64), Tensor(), h0), DTypeError);
  try {
    gru_recurrence(gi, zeros({9, 4}), Tensor(), h0);
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("gru_recurrence"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[9,4]"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pianograd
