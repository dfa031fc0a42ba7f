// Bugs found in the tape, each kept as a test.
#include <gtest/gtest.h>

#include "pianograd.h"

namespace pianograd {
namespace {

// An op that records an undefined input (an optional weight left out) must not crash backward().
TEST(TapeRegression, UndefinedRecordedInputIsSkipped) {
  Tensor x = tensor({1.0, 2.0}, DType::f64).requires_grad_();
  Tensor y = mul(x, 3.0);
  record_many(y, "test_optional_input", {y.detach(), Tensor()}, [](const Tensor& gy) -> Grads { return {gy, Tensor()}; });
  Tensor z = sum(mul(x, x));
  EXPECT_NO_THROW(z.backward());
  Tensor out = Tensor::empty({2}, DType::f64);
  {
    NoGrad ng;
    out = mul(x, 2.0);
  }
  // Record an op whose second input is undefined and whose first input has history.
  Tensor h = mul(x, 2.0);
  Tensor r = h.clone();
  record_many(r, "test_optional_input", {h, Tensor()}, [](const Tensor& gy) -> Grads { return {gy, Tensor()}; });
  x.zero_grad();
  EXPECT_NO_THROW(sum(r).backward());
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2.0, 2.0}));
}

}  // namespace
}  // namespace pianograd
