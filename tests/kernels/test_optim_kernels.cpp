// The fused optimizer kernels against their scalar references (every supported ISA) and against the
// update written out by hand from PyTorch's documented algorithms.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/optim.h"
#include "random_vec.h"

namespace pk = pianograd::kernels::cpu;

namespace {

using pianograd::kernels::cpu::testing::random_vec;

pk::AdamStep adam_step_at(int t, bool decoupled, double wd) {
  pk::AdamStep s;
  s.lr = 1e-2;
  s.weight_decay = wd;
  s.decoupled = decoupled;
  s.bias_correction1 = 1.0 - std::pow(s.beta1, t);
  s.bias_correction2 = 1.0 - std::pow(s.beta2, t);
  return s;
}

template <class T>
void check_adam_isas(double tol) {
  // Odd length: exercises the vector body and the scalar tail; > kParallelGrain: the threaded path.
  for (long n : {1L, 7L, 33L, 1000L, pk::kParallelGrain + 13}) {
    for (bool decoupled : {false, true}) {
      const auto p0 = random_vec<T>(n, 1, -1, 1), g = random_vec<T>(n, 2, -1, 1);
      const auto m0 = random_vec<T>(n, 3, -0.1, 0.1), v0 = random_vec<T>(n, 4, 0, 0.01);
      auto pr = p0, mr = m0, vr = v0;
      const pk::AdamStep s = adam_step_at(3, decoupled, 0.1);
      pk::ref::adam_update(pr.data(), g.data(), mr.data(), vr.data(), n, s);
      for (pk::Isa isa : {pk::Isa::scalar, pk::Isa::sse2, pk::Isa::avx2, pk::Isa::avx512}) {
        if (!pk::isa_supported(isa)) continue;
        pk::IsaScope scope(isa);
        auto p = p0, m = m0, v = v0;
        pk::adam_update(p.data(), g.data(), m.data(), v.data(), n, s);
        for (long i = 0; i < n; ++i) {
          ASSERT_NEAR(p[i], pr[i], tol) << pk::isa_name(isa) << " n=" << n << " i=" << i;
          ASSERT_NEAR(m[i], mr[i], tol) << pk::isa_name(isa) << " n=" << n << " i=" << i;
          ASSERT_NEAR(v[i], vr[i], tol) << pk::isa_name(isa) << " n=" << n << " i=" << i;
        }
      }
    }
  }
}

}  // namespace

TEST(OptimKernels, AdamEveryIsaMatchesReferenceF32) { check_adam_isas<float>(1e-6); }
TEST(OptimKernels, AdamEveryIsaMatchesReferenceF64) { check_adam_isas<double>(1e-14); }

// Two steps of Adam written out from the formulas (torch.optim.Adam), one element, in double.
TEST(OptimKernels, AdamReferenceMatchesHandComputedTwoSteps) {
  for (bool decoupled : {false, true}) {
    double p = 0.5, m = 0, v = 0;
    const double lr = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
    const double grads[2] = {0.3, -0.2};
    double pk_p = p, pk_m = 0, pk_v = 0;
    for (int t = 1; t <= 2; ++t) {
      double g = grads[t - 1];
      if (decoupled) p *= 1 - lr * wd; else g += wd * p;
      m = b1 * m + (1 - b1) * g;
      v = b2 * v + (1 - b2) * g * g;
      const double mhat = m / (1 - std::pow(b1, t)), vhat = v / (1 - std::pow(b2, t));
      p -= lr * mhat / (std::sqrt(vhat) + eps);
      pk::ref::adam_update(&pk_p, &grads[t - 1], &pk_m, &pk_v, 1, adam_step_at(t, decoupled, wd));
      EXPECT_NEAR(pk_p, p, 1e-15) << "step " << t;
      EXPECT_NEAR(pk_m, m, 1e-15);
      EXPECT_NEAR(pk_v, v, 1e-15);
    }
  }
  // First Adam step moves every weight by ~lr regardless of gradient scale (m̂/sqrt(v̂) = sign g).
  double p = 1.0, m = 0, v = 0;
  const double g = 1e-3;
  pk::ref::adam_update(&p, &g, &m, &v, 1, adam_step_at(1, false, 0.0));
  EXPECT_NEAR(p, 1.0 - 1e-2, 1e-7);
}

TEST(OptimKernels, SgdMomentumNesterovMatchHandComputed) {
  for (bool nesterov : {false, true}) {
    pk::SgdStep s;
    s.lr = 0.1;
    s.momentum = 0.9;
    s.weight_decay = 0.01;
    s.nesterov = nesterov;
    double p = 1.0, buf = 0.0, hp = 1.0, hbuf = 0.0;
    const double grads[2] = {0.5, -0.25};
    for (int t = 0; t < 2; ++t) {
      s.first = t == 0;
      pk::sgd_update(&p, &grads[t], &buf, 1, s);
      const double g = grads[t] + 0.01 * hp;
      hbuf = t == 0 ? g : 0.9 * hbuf + g;
      hp -= 0.1 * (nesterov ? g + 0.9 * hbuf : hbuf);
      EXPECT_NEAR(p, hp, 1e-15) << "step " << t << " nesterov " << nesterov;
      EXPECT_NEAR(buf, hbuf, 1e-15);
    }
  }
  // Plain SGD without a buffer.
  float p = 2.0f;
  const float g = 1.0f;
  pk::SgdStep s;
  s.lr = 0.5;
  pk::sgd_update<float>(&p, &g, nullptr, 1, s);
  EXPECT_FLOAT_EQ(p, 1.5f);
}

TEST(OptimKernels, SumSquaresAndScale) {
  const long n = pk::kParallelGrain * 2 + 5;
  auto x = random_vec<float>(n, 9, -1, 1);
  double want = 0;
  for (float e : x) want += static_cast<double>(e) * e;
  EXPECT_NEAR(pk::sum_squares(x.data(), n), want, 1e-9 * want);
  auto y = x;
  pk::scale_inplace(y.data(), n, 0.5);
  for (long i = 0; i < n; i += 977) EXPECT_FLOAT_EQ(y[i], x[i] * 0.5f);
}
