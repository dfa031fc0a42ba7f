// The per-element math the CUDA kernels run (kernels/common/loss_math.h, sgd_math.h), checked on the
// host against the CPU backend it must reproduce: the losses element by element against the ops
// (values and every partial derivative), the SGD step against kernels::cpu::sgd_update. This is
// what DESIGN.md §3 asks of shared math where no GPU exists.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "autodiff/ops.h"
#include "kernels/common/loss_math.h"
#include "kernels/common/sgd_math.h"
#include "kernels/cpu/optim.h"

namespace pg = pianograd;
namespace pk = pianograd::kernels;
using pg::Tensor;

namespace {

using LossFn = Tensor (*)(const Tensor&, const Tensor&, const Tensor&);

void check_loss(pk::PointwiseLoss kind, LossFn op, bool weighted) {
  pg::manual_seed(9);
  const int64_t n = 64;
  Tensor a = (pg::randn({n}, pg::DType::f64) * 6.0).detach().requires_grad_(true);  // |x| up to ~20: both branches
  Tensor b = pg::rand({n}, pg::DType::f64).detach().requires_grad_(true);
  Tensor w = (pg::rand({n}, pg::DType::f64) * 4.0).detach().requires_grad_(true);
  Tensor e = op(a, b, weighted ? w : Tensor());
  pg::sum(e).backward();
  const auto av = a.to_vector<double>(), bv = b.to_vector<double>(), wv = w.to_vector<double>();
  const auto ev = e.to_vector<double>(), ga = a.grad().to_vector<double>(), gb = b.grad().to_vector<double>();
  const auto gw = weighted ? w.grad().to_vector<double>() : std::vector<double>();
  for (int64_t i = 0; i < n; ++i) {
    double da, db, dw;
    const double v = pk::pointwise_loss_element(kind, av[i], bv[i], weighted ? wv[i] : 1.0, da, db, dw);
    EXPECT_NEAR(v, ev[i], 1e-12 * std::max(1.0, std::fabs(v))) << i;
    EXPECT_NEAR(da, ga[i], 1e-12) << i;
    EXPECT_NEAR(db, gb[i], 1e-12) << i;
    if (weighted) {
      EXPECT_NEAR(dw, gw[i], 1e-12) << i;
    }
  }
}

TEST(CudaSharedMath, LossesMatchTheCpuOps) {
  check_loss(pk::PointwiseLoss::mse, [](const Tensor& a, const Tensor& b, const Tensor&) {
    return pg::mse_loss(a, b, pg::Reduction::none);
  }, false);
  check_loss(pk::PointwiseLoss::l1, [](const Tensor& a, const Tensor& b, const Tensor&) {
    return pg::l1_loss(a, b, pg::Reduction::none);
  }, false);
  check_loss(pk::PointwiseLoss::bce_with_logits, [](const Tensor& a, const Tensor& b, const Tensor&) {
    return pg::bce_with_logits(a, b, pg::Reduction::none);
  }, false);
  check_loss(pk::PointwiseLoss::bce_with_logits, [](const Tensor& a, const Tensor& b, const Tensor& w) {
    return pg::bce_with_logits(a, b, pg::Reduction::none, w);
  }, true);
}

TEST(CudaSharedMath, SgdElementMatchesCpuKernel) {
  for (int variant = 0; variant < 4; ++variant) {
    pk::cpu::SgdStep s;
    s.lr = 0.05;
    s.momentum = variant == 0 ? 0.0 : 0.9;
    s.dampening = variant == 2 ? 0.3 : 0.0;
    s.weight_decay = 0.01;
    s.nesterov = variant == 3;
    const long n = 300;
    std::vector<double> p(n), g(n), buf(n, 0.0);
    for (long i = 0; i < n; ++i) {
      p[i] = std::sin(0.1 * i);
      g[i] = std::cos(0.37 * i);
    }
    std::vector<double> p2 = p, buf2 = buf;
    for (int step = 0; step < 3; ++step) {
      s.first = step == 0;
      pk::cpu::sgd_update<double>(p.data(), g.data(), s.momentum != 0 ? buf.data() : nullptr, n, s);
      const auto c = pk::sgd_coeffs<double>(s.lr, s.momentum, s.dampening, s.weight_decay, s.nesterov, s.first);
      for (long i = 0; i < n; ++i) pk::sgd_element(p2[i], g[i], s.momentum != 0 ? &buf2[i] : nullptr, c);
    }
    for (long i = 0; i < n; ++i) {
      ASSERT_NEAR(p2[i], p[i], 1e-14) << "variant " << variant << " at " << i;
      ASSERT_NEAR(buf2[i], buf[i], 1e-14) << "variant " << variant << " at " << i;
    }
  }
}

}  // namespace
