// Optimizers against the update rules of torch.optim written out by hand, gradient clipping and the
// learning-rate schedules.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "pianograd.h"

using namespace pianograd;
using namespace pianograd::optim;

namespace {

Tensor param(std::vector<double> v, DType dt = DType::f64) {
  Tensor p = from_vector<double>(v).to(dt);
  p.requires_grad_(true);
  return p;
}
void set_grad(Tensor& p, std::vector<double> g) { p.set_grad(from_vector<double>(g).to(p.dtype())); }

}  // namespace

TEST(Optim, SgdTwoStepsMatchTorchFormulas) {
  // torch.optim.SGD: g += wd p; b = first ? g : mu b + (1 - damp) g; d = nesterov ? g + mu b : b; p -= lr d
  for (bool nesterov : {false, true}) {
    Tensor p = param({1.0, -2.0});
    SGDOptions o;
    o.lr = 0.1;
    o.momentum = 0.9;
    o.weight_decay = 0.01;
    o.nesterov = nesterov;
    SGD opt({p}, o);
    std::vector<double> hp{1.0, -2.0}, hb{0, 0};
    const std::vector<std::vector<double>> grads{{0.5, 0.25}, {-1.0, 2.0}};
    for (int t = 0; t < 2; ++t) {
      set_grad(p, grads[static_cast<size_t>(t)]);
      opt.step();
      for (size_t i = 0; i < 2; ++i) {
        const double g = grads[static_cast<size_t>(t)][i] + 0.01 * hp[i];
        hb[i] = t == 0 ? g : 0.9 * hb[i] + g;
        hp[i] -= 0.1 * (nesterov ? g + 0.9 * hb[i] : hb[i]);
      }
      const auto got = p.to_vector<double>();
      EXPECT_NEAR(got[0], hp[0], 1e-15) << "nesterov " << nesterov << " step " << t;
      EXPECT_NEAR(got[1], hp[1], 1e-15) << "nesterov " << nesterov << " step " << t;
    }
    EXPECT_EQ(opt.step_count(), 2);
  }
  // Plain SGD with dampening-free momentum 0: p -= lr g.
  Tensor q = param({3.0}, DType::f32);
  SGD plain({q}, SGDOptions{});
  set_grad(q, {2.0});
  plain.step();
  EXPECT_FLOAT_EQ(static_cast<float>(q.item()), 3.0f - 0.02f);
}

TEST(Optim, AdamAndAdamWTwoStepsMatchTorchFormulas) {
  for (bool decoupled : {false, true}) {
    for (DType dt : {DType::f64, DType::f32}) {
      Tensor p = param({0.5, -1.5, 2.0}, dt);
      AdamOptions o;
      o.lr = 0.01;
      o.weight_decay = 0.1;
      std::unique_ptr<Optimizer> opt = decoupled ? std::unique_ptr<Optimizer>(new AdamW({p}, o))
                                                 : std::unique_ptr<Optimizer>(new Adam({p}, o));
      std::vector<double> hp{0.5, -1.5, 2.0}, m(3, 0.0), v(3, 0.0);
      const std::vector<std::vector<double>> grads{{0.3, -0.1, 1e-4}, {-0.2, 0.4, 0.0}};
      for (int t = 1; t <= 2; ++t) {
        set_grad(p, grads[static_cast<size_t>(t - 1)]);
        opt->step();
        for (size_t i = 0; i < 3; ++i) {
          double g = grads[static_cast<size_t>(t - 1)][i];
          if (decoupled) hp[i] *= 1 - 0.01 * 0.1; else g += 0.1 * hp[i];
          m[i] = 0.9 * m[i] + 0.1 * g;
          v[i] = 0.999 * v[i] + 0.001 * g * g;
          const double mhat = m[i] / (1 - std::pow(0.9, t)), vhat = v[i] / (1 - std::pow(0.999, t));
          hp[i] -= 0.01 * mhat / (std::sqrt(vhat) + 1e-8);
        }
        const auto got = p.to_vector<double>();
        const double tol = dt == DType::f64 ? 1e-14 : 1e-6;
        for (size_t i = 0; i < 3; ++i)
          EXPECT_NEAR(got[i], hp[i], tol) << (decoupled ? "AdamW" : "Adam") << " " << dtype_name(dt) << " step " << t
                                          << " i " << i;
      }
    }
  }
}

TEST(Optim, SkipsParamsWithoutGradAndValidates) {
  Tensor a = param({1.0}), b = param({2.0});
  Adam opt({a, b}, AdamOptions{});
  set_grad(a, {1.0});
  opt.step();
  EXPECT_NE(a.item(), 1.0);
  EXPECT_EQ(b.item(), 2.0);
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());

  EXPECT_THROW(Adam({}, AdamOptions{}), ValueError);
  EXPECT_THROW(SGD({zeros({2}, DType::i64)}, SGDOptions{}), DTypeError);
  AdamOptions bad;
  bad.beta1 = 1.0;
  EXPECT_THROW(Adam({a}, bad), ValueError);
  SGDOptions nest;
  nest.nesterov = true;
  EXPECT_THROW(SGD({a}, nest), ValueError);
  EXPECT_THROW(opt.set_lr(-1.0), ValueError);
  a.set_grad(from_vector<float>({1.f}));  // f32 gradient for an f64 parameter
  EXPECT_THROW(opt.step(), DTypeError);
}

TEST(Optim, StateDictResumesIdentically) {
  Tensor p1 = param({1.0, 2.0}), p2 = param({1.0, 2.0});
  Adam a({p1}, AdamOptions{}), b({p2}, AdamOptions{});
  set_grad(p1, {0.5, -0.5});
  a.step();
  const auto st = a.state_dict();
  EXPECT_EQ(st.count("0.exp_avg"), 1u);
  EXPECT_EQ(st.at("step").item(), 1.0);
  b.load_state_dict(st);
  std::memcpy(p2.raw_data(), p1.raw_data(), p1.nbytes());
  set_grad(p1, {0.1, 0.2});
  set_grad(p2, {0.1, 0.2});
  a.step();
  b.step();
  EXPECT_EQ(p1.to_vector<double>(), p2.to_vector<double>());
  EXPECT_THROW(b.load_state_dict({{"step", scalar(1, DType::i64)}, {"0.exp_avg", zeros({3}, DType::f64)}}), ShapeError);
  EXPECT_THROW(b.load_state_dict({{"step", scalar(1, DType::i64)}, {"7.exp_avg", zeros({2}, DType::f64)}}), ValueError);
}

TEST(Optim, ClipGradNormReturnsNormAndRescales) {
  Tensor a = param({3.0, 0.0}), b = param({0.0, 4.0}), c = param({9.0});
  set_grad(a, {3.0, 0.0});
  set_grad(b, {0.0, 4.0});  // c has no gradient: skipped
  EXPECT_DOUBLE_EQ(clip_grad_norm({a, b, c}, 10.0), 5.0);
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{3.0, 0.0}));  // below max: untouched
  EXPECT_DOUBLE_EQ(clip_grad_norm({a, b, c}, 1.0), 5.0);
  EXPECT_NEAR(grad_norm({a, b}), 1.0, 1e-6);
  EXPECT_NEAR(a.grad().to_vector<double>()[0], 0.6, 1e-6);
  // Two parameters sharing one gradient tensor are each scaled once, not twice.
  Tensor shared = from_vector<double>({3.0, 4.0});
  Tensor x = param({0, 0}), y = param({0, 0});
  x.set_grad(shared);
  y.set_grad(shared);
  clip_grad_norm({x, y}, 1.0);
  EXPECT_NEAR(x.grad().to_vector<double>()[1], 4.0 / std::sqrt(50.0), 1e-6);
  EXPECT_NEAR(y.grad().to_vector<double>()[1], 4.0 / std::sqrt(50.0), 1e-6);
  EXPECT_EQ(shared.to_vector<double>()[1], 4.0);
  EXPECT_THROW(clip_grad_norm({x}, 0.0), ValueError);
}

TEST(Optim, WarmupCosineScheduleValues) {
  WarmupCosineLR s(1e-3, 10, 110, 1e-5);
  EXPECT_DOUBLE_EQ(s.lr_at(0), 0.0);
  EXPECT_DOUBLE_EQ(s.lr_at(5), 0.5e-3);
  EXPECT_DOUBLE_EQ(s.lr_at(10), 1e-3);                       // end of warmup: the peak
  EXPECT_NEAR(s.lr_at(60), (1e-3 + 1e-5) / 2, 1e-15);       // half way down the cosine
  EXPECT_NEAR(s.lr_at(109), 1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + std::cos(M_PI * 99 / 100)), 1e-15);
  EXPECT_DOUBLE_EQ(s.lr_at(110), 1e-5);
  EXPECT_DOUBLE_EQ(s.lr_at(1000), 1e-5);
  for (int64_t t = 11; t < 110; ++t) EXPECT_LT(s.lr_at(t), s.lr_at(t - 1));  // monotone decay
  EXPECT_THROW(WarmupCosineLR(1e-3, 20, 10), ValueError);
  EXPECT_THROW(WarmupCosineLR(1e-3, 0, 10, 1e-2), ValueError);

  ConstantLR c(0.5);
  EXPECT_EQ(c.lr_at(0), 0.5);
  EXPECT_EQ(c.lr_at(12345), 0.5);

  Tensor p = param({0.0});
  SGD opt({p}, SGDOptions{});
  s.apply(opt);
  EXPECT_EQ(opt.lr(), 0.0);
  set_grad(p, {1.0});
  for (int i = 0; i < 5; ++i) opt.step();
  s.apply(opt);
  EXPECT_DOUBLE_EQ(opt.lr(), 0.5e-3);
}

TEST(Optim, AdamMinimisesAQuadraticThroughTheTape) {
  manual_seed(1);
  Tensor w = randn({16}, DType::f64);
  w.requires_grad_(true);
  const Tensor target = linspace(-1, 1, 16, DType::f64);
  AdamOptions o;
  o.lr = 0.05;
  Adam opt({w}, o);
  double first = 0, last = 0;
  for (int i = 0; i < 300; ++i) {
    opt.zero_grad();
    Tensor d = w - target;
    Tensor loss = sum(d * d);
    if (i == 0) first = loss.item();
    last = loss.item();
    loss.backward();
    opt.step();
  }
  EXPECT_LT(last, 1e-4 * first);
}
