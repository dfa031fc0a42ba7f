// The Tensor handle: creation, conversion, indexing, printing, storage sharing and autograd flags.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "pianograd.h"

namespace pianograd {
namespace {

using VD = std::vector<double>;

TEST(Creation, ConstantFills) {
  Tensor z = zeros({2, 3});
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(z.dtype(), DType::f32);
  EXPECT_EQ(z.numel(), 6);
  EXPECT_EQ(z.to_vector<double>(), VD(6, 0.0));
  EXPECT_EQ(ones({4}, DType::i32).to_vector<int32_t>(), std::vector<int32_t>(4, 1));
  EXPECT_EQ(full({2, 2}, 2.5, DType::f64).to_vector<double>(), VD(4, 2.5));
  EXPECT_EQ(full_like(ones({3}, DType::f64), -1).to_vector<double>(), VD(3, -1.0));
  Tensor s = scalar(3.0);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_DOUBLE_EQ(s.item(), 3.0);
  EXPECT_EQ(zeros({0, 3}).numel(), 0);
  EXPECT_THROW(zeros({-1, 2}), ShapeError);
}

TEST(Creation, ArangeAndLinspace) {
  EXPECT_EQ(arange(0, 5, 1, DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(arange(1, 2, 0.25, DType::f64).to_vector<double>(), (VD{1, 1.25, 1.5, 1.75}));
  EXPECT_EQ(arange(5, 0, -2, DType::f64).to_vector<double>(), (VD{5, 3, 1}));
  EXPECT_EQ(arange(3, 3).numel(), 0);
  EXPECT_THROW(arange(0, 1, 0), ValueError);
  // Endpoints are exact (the last element is `stop`, not start + (n-1)*step with rounding).
  Tensor l = linspace(0.1, 0.7, 7, DType::f64);
  std::vector<double> v = l.to_vector<double>();
  ASSERT_EQ(v.size(), 7u);
  EXPECT_EQ(v.front(), 0.1);
  EXPECT_EQ(v.back(), 0.7);
  EXPECT_NEAR(v[3], 0.4, 1e-15);
  EXPECT_EQ(linspace(2, 3, 1, DType::f64).to_vector<double>(), (VD{2}));
  EXPECT_EQ(linspace(2, 3, 0).numel(), 0);
  EXPECT_THROW(linspace(0, 1, -1), ValueError);
}

TEST(Creation, SeededRandomIsReproducible) {
  manual_seed(42);
  Tensor a = rand({100}), an = randn({100}, DType::f64);
  manual_seed(42);
  Tensor b = rand({100}), bn = randn({100}, DType::f64);
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  EXPECT_EQ(an.to_vector<double>(), bn.to_vector<double>());
  Tensor c = rand({100});  // the generator advances
  EXPECT_NE(a.to_vector<float>(), c.to_vector<float>());
  for (float x : a.to_vector<float>()) {
    EXPECT_GE(x, 0.0f);
    EXPECT_LT(x, 1.0f);
  }
  // randn: moments of 10^4 draws within a few standard errors.
  std::vector<double> n = randn({10000}, DType::f64).to_vector<double>();
  double m = 0, m2 = 0;
  for (double x : n) m += x;
  m /= static_cast<double>(n.size());
  for (double x : n) m2 += (x - m) * (x - m);
  m2 /= static_cast<double>(n.size());
  EXPECT_NEAR(m, 0.0, 0.05);
  EXPECT_NEAR(m2, 1.0, 0.06);
  EXPECT_THROW(rand({2}, DType::i64), DTypeError);
  EXPECT_THROW(randn({2}, DType::i32), DTypeError);
}

TEST(Creation, RandintRange) {
  manual_seed(7);
  Tensor r = randint(-3, 4, {2000});
  EXPECT_EQ(r.dtype(), DType::i64);
  std::set<int64_t> seen;
  for (int64_t v : r.to_vector<int64_t>()) {
    EXPECT_GE(v, -3);
    EXPECT_LT(v, 4);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 7u);  // every value of [-3, 4) appears in 2000 draws
  EXPECT_THROW(randint(2, 2, {1}), ValueError);
}

TEST(Conversion, VectorsRoundTrip) {
  std::vector<float> f{1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 8.0f};
  Tensor t = from_vector(f, {2, 3});
  EXPECT_EQ(t.dtype(), DType::f32);
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.to_vector<float>(), f);
  EXPECT_EQ(t.to_vector<int64_t>(), (std::vector<int64_t>{1, -2, 3, 0, 7, 8}));
  EXPECT_EQ(from_vector(std::vector<int32_t>{1, 2}).dtype(), DType::i32);
  EXPECT_THROW(from_vector(f, {4}), ShapeError);
  EXPECT_EQ(tensor({1, 2, 3}, DType::f64).to_vector<double>(), (VD{1, 2, 3}));
  EXPECT_THROW(t.item(), ValueError);
  EXPECT_THROW(t.data<double>(), DTypeError);
  EXPECT_EQ(t.to(DType::f64).to_vector<double>(), (VD{1.5, -2, 3.25, 0, 7, 8}));
}

TEST(Indexing, SliceAndSelectWithNegativeIndices) {
  Tensor x = arange(0, 12, 1, DType::f64).reshape({3, 4});
  EXPECT_EQ(x.select(0, -1).to_vector<double>(), (VD{8, 9, 10, 11}));
  EXPECT_EQ(x.select(-1, -2).to_vector<double>(), (VD{2, 6, 10}));
  EXPECT_EQ(x[1].shape(), (Shape{4}));
  EXPECT_DOUBLE_EQ(x[2][-1].item(), 11.0);
  EXPECT_EQ(x.slice(1, -3, -1).to_vector<double>(), (VD{1, 2, 5, 6, 9, 10}));
  EXPECT_EQ(x.slice(0, 0, 100, 2).to_vector<double>(), (VD{0, 1, 2, 3, 8, 9, 10, 11}));  // stop clamps
  EXPECT_EQ(x.slice(1, 3, 1).numel(), 0);
  EXPECT_THROW(x.select(0, 3), IndexError);
  EXPECT_THROW(x.select(0, -4), IndexError);
  EXPECT_THROW(x.select(2, 0), IndexError);
  EXPECT_THROW(x.slice(0, 0, 2, 0), ValueError);
  EXPECT_EQ(x.size(-1), 4);
  EXPECT_THROW(x.size(2), IndexError);
}

TEST(Printing, ShowsValuesShapeAndDtype) {
  const std::string s = from_vector<double>({1.5, -2, 3}, {3}).str();
  EXPECT_NE(s.find("1.5"), std::string::npos) << s;
  EXPECT_NE(s.find("-2"), std::string::npos) << s;
  EXPECT_NE(s.find("shape=[3]"), std::string::npos) << s;
  EXPECT_NE(s.find("f64"), std::string::npos) << s;
  const std::string i = arange(0, 6, 1, DType::i32).reshape({2, 3}).str();
  EXPECT_NE(i.find("[3, 4, 5]"), std::string::npos) << i;
  EXPECT_NE(i.find("[2,3]"), std::string::npos) << i;
  EXPECT_NE(i.find("i32"), std::string::npos) << i;
  const std::string big = arange(0, 100).str();  // long dims elide
  EXPECT_NE(big.find("..."), std::string::npos) << big;
  EXPECT_EQ(big.find("50"), std::string::npos) << big;
  std::ostringstream os;
  os << ones({1}).requires_grad_();
  EXPECT_NE(os.str().find("requires_grad"), std::string::npos) << os.str();
  EXPECT_EQ(Tensor().str(), "tensor(undefined)");
}

TEST(Storage, ReshapeSharesAndDetachKeepsData) {
  Tensor x = zeros({2, 3}, DType::f64);
  Tensor r = x.reshape({3, 2});
  Tensor f = x.flatten();
  EXPECT_EQ(r.raw_data(), x.raw_data());
  x.data<double>()[4] = 9.0;
  EXPECT_EQ(r.to_vector<double>()[4], 9.0);
  EXPECT_EQ(f.to_vector<double>()[4], 9.0);
  EXPECT_EQ(x.reshape({-1}).shape(), (Shape{6}));
  EXPECT_THROW(x.reshape({4, -1}), ShapeError);
  EXPECT_THROW(x.reshape({-1, -1}), ShapeError);
  EXPECT_THROW(x.reshape({5}), ShapeError);
  Tensor c = x.clone();  // clone copies
  x.data<double>()[0] = 1.0;
  EXPECT_EQ(c.to_vector<double>()[0], 0.0);

  Tensor w = ones({3}, DType::f64).requires_grad_();
  Tensor y = mul(w, 2.0);
  Tensor d = y.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  EXPECT_EQ(d.raw_data(), y.raw_data());
  EXPECT_FALSE(y.is_leaf());
  EXPECT_TRUE(w.is_leaf());
}

TEST(Autograd, RequiresGradOnlyForFloating) {
  Tensor i = zeros({2}, DType::i64);
  EXPECT_THROW(i.requires_grad_(), DTypeError);
  EXPECT_NO_THROW(i.requires_grad_(false));
  EXPECT_FALSE(i.requires_grad());
  EXPECT_THROW(zeros({2}, DType::i32).requires_grad_(true), DTypeError);
  Tensor f = zeros({2}, DType::f32).requires_grad_();
  EXPECT_TRUE(f.requires_grad());
  Tensor y = add(f, 1.0);
  EXPECT_THROW(y.requires_grad_(false), GraphError);
  EXPECT_THROW(f.set_grad(zeros({3})), ShapeError);
}

TEST(Tensor, UndefinedIsReportedNotCrashed) {
  Tensor u;
  EXPECT_FALSE(u.defined());
  EXPECT_THROW(u.shape(), ValueError);
  EXPECT_THROW(u.raw_data(), ValueError);
  EXPECT_THROW(add(u, ones({1})), ValueError);
  EXPECT_THROW(u.to(kCPU), ValueError);
}

}  // namespace
}  // namespace pianograd
