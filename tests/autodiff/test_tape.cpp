// The tape: accumulation, retain_graph, NoGrad, zero_grad, shared subexpressions, deep chains.
#include <gtest/gtest.h>

#include <pthread.h>

#include <cmath>
#include <functional>

#include "pianograd.h"

namespace pianograd {
namespace {

using VD = std::vector<double>;

Tensor leaf(const VD& v) { return from_vector(v).requires_grad_(); }

TEST(Tape, GradientsAccumulateAcrossBackwardCalls) {
  Tensor x = leaf({1, 2, 3});
  sum(mul(x, x)).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (VD{2, 4, 6}));
  sum(mul(x, 3.0)).backward();  // a second graph: adds to the stored gradient
  EXPECT_EQ(x.grad().to_vector<double>(), (VD{5, 7, 9}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
  sum(x).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (VD{1, 1, 1}));
}

TEST(Tape, AccumulatedGradientDoesNotAliasUpstreamBuffers) {
  // add's VJP returns gy for both inputs; accumulation must not write through that alias.
  Tensor x = leaf({1, 2});
  Tensor y = add(x, x);
  sum(y).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (VD{2, 2}));
}

TEST(Tape, RetainGraph) {
  Tensor x = leaf({1, 2});
  Tensor loss = sum(exp(x));
  loss.backward();
  try {
    loss.backward();
    FAIL() << "expected GraphError";
  } catch (const GraphError& e) {
    EXPECT_NE(std::string(e.what()).find("retain_graph"), std::string::npos) << e.what();
  }

  Tensor z = leaf({0, 1});
  Tensor l2 = sum(mul(z, z));
  l2.backward(Tensor(), /*retain_graph=*/true);
  l2.backward();  // works, and adds
  EXPECT_EQ(z.grad().to_vector<double>(), (VD{0, 4}));
}

TEST(Tape, NoGradRecordsNothing) {
  Tensor x = leaf({1, 2});
  {
    NoGrad ng;
    EXPECT_FALSE(grad_enabled());
    Tensor y = mul(x, x);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_FALSE(y.grad_fn());
    {
      NoGrad nested;
    }
    EXPECT_FALSE(grad_enabled());  // the nested guard restores the outer state
  }
  EXPECT_TRUE(grad_enabled());
  Tensor y = mul(x, x);
  EXPECT_TRUE(y.requires_grad());
  EXPECT_TRUE(y.grad_fn());
  EXPECT_STREQ(y.grad_fn()->op, "mul");
  // Ops on tensors that need no gradient record nothing either.
  Tensor c = mul(from_vector<double>({1, 2}), 2.0);
  EXPECT_FALSE(c.grad_fn());
}

TEST(Tape, DiamondGraphSumsBothPaths) {
  // y = x*x + sin(x) with x reused: dy/dx = 2x + cos(x); then z = y * y reuses y as well.
  Tensor x = leaf({0.5, -1.0});
  Tensor y = add(mul(x, x), sin(x));
  Tensor z = sum(mul(y, y));
  z.backward();
  const VD xv{0.5, -1.0};
  std::vector<double> g = x.grad().to_vector<double>();
  for (size_t i = 0; i < xv.size(); ++i) {
    const double yv = xv[i] * xv[i] + std::sin(xv[i]);
    EXPECT_NEAR(g[i], 2 * yv * (2 * xv[i] + std::cos(xv[i])), 1e-12);
  }
}

// Runs f on a thread with a 1 MiB stack (an OpenMP worker's or a small Python thread's): recursion
// once per op of a 10^5-op chain, in backward or in destruction, overflows it.
void on_small_stack(const std::function<void()>& f) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 1 << 20);
  pthread_t th;
  auto trampoline = [](void* p) -> void* {
    (*static_cast<const std::function<void()>*>(p))();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&th, &attr, trampoline, const_cast<std::function<void()>*>(&f)), 0);
  pthread_join(th, nullptr);
  pthread_attr_destroy(&attr);
}

TEST(Tape, LongChainDoesNotOverflowTheStack) {
  on_small_stack([] {
    const int n = 100000;
    Tensor x = leaf({1.0});
    {
      Tensor y = x;
      for (int i = 0; i < n; ++i) y = (i % 2) ? add(y, 1e-3) : mul(y, 1.0);
      y.backward();
      EXPECT_NEAR(y.item(), 1.0 + (n / 2) * 1e-3, 1e-9);
    }  // dropping the only handle frees 10^5 nodes
    EXPECT_DOUBLE_EQ(x.grad().item(), 1.0);
    Tensor w = leaf({1.0});
    {
      Tensor c = w;
      for (int i = 0; i < n; ++i) c = mul(c, 1.0);
    }  // never backpropagated: still holds every closure
    EXPECT_TRUE(w.is_leaf());
  });
}

TEST(Tape, NonScalarNeedsGradOutput) {
  Tensor x = leaf({1, 2, 3});
  Tensor y = mul(x, 2.0);
  EXPECT_THROW(y.backward(), GraphError);
  EXPECT_THROW(y.backward(ones({2}, DType::f64)), ShapeError);
  y.backward(from_vector<double>({1, 0, -1}));
  EXPECT_EQ(x.grad().to_vector<double>(), (VD{2, 0, -2}));
  EXPECT_THROW(from_vector<double>({1}).backward(), GraphError);  // does not require grad
}

TEST(Tape, BackwardOnLeafAndMixedDtypes) {
  Tensor x = leaf({3.0});
  x.backward();
  EXPECT_DOUBLE_EQ(x.grad().item(), 1.0);
  // f32 leaf through an f64 computation: its gradient comes back as f32.
  Tensor f = from_vector<float>({2.0f}).requires_grad_();
  Tensor y = mul(f.to(DType::f64), f.to(DType::f64));
  y.backward();
  EXPECT_EQ(f.grad().dtype(), DType::f32);
  EXPECT_FLOAT_EQ(static_cast<float>(f.grad().item()), 4.0f);
}

TEST(Tape, GradientOnlyReachesInputsThatNeedIt) {
  Tensor a = leaf({1, 2});
  Tensor b = from_vector<double>({3, 4});
  sum(mul(a, b)).backward();
  EXPECT_EQ(a.grad().to_vector<double>(), (VD{3, 4}));
  EXPECT_FALSE(b.grad().defined());
}

}  // namespace
}  // namespace pianograd
