// Forward values and argument checks of the join and index ops (gradients: gradcheck_shape.cpp).
#include <gtest/gtest.h>

#include <algorithm>

#include "pianograd.h"

namespace pianograd {
namespace {

using VD = std::vector<double>;
using VI = std::vector<int64_t>;

Tensor seq(const Shape& s) { return arange(0, static_cast<double>(shape_numel(s)), 1, DType::f64).reshape(s); }

// permute against index arithmetic, for every permutation of a rank-4 shape with a size-1 dim (the copy
// merges trailing dims that stay contiguous, walks the last one at a stride otherwise), in the 4- and
// 8-byte element types.
TEST(Permute, EveryPermutationMatchesIndexArithmetic) {
  const Shape xs{3, 1, 4, 5};
  const int64_t n = shape_numel(xs);
  std::vector<int64_t> perm{0, 1, 2, 3};
  do {
    Shape ys(4);
    for (size_t i = 0; i < 4; ++i) ys[i] = xs[static_cast<size_t>(perm[i])];
    const std::vector<int64_t> xst{20, 20, 5, 1};
    std::vector<double> want(static_cast<size_t>(n));
    int64_t k = 0;
    for (int64_t a = 0; a < ys[0]; ++a)
      for (int64_t b = 0; b < ys[1]; ++b)
        for (int64_t c = 0; c < ys[2]; ++c)
          for (int64_t d = 0; d < ys[3]; ++d) {
            const int64_t i[4] = {a, b, c, d};
            int64_t off = 0;
            for (size_t q = 0; q < 4; ++q) off += i[q] * xst[static_cast<size_t>(perm[q])];
            want[static_cast<size_t>(k++)] = static_cast<double>(off);
          }
    for (DType dt : {DType::f32, DType::f64, DType::i64, DType::i32}) {
      const Tensor y = permute(seq(xs).to(dt), perm);
      ASSERT_EQ(y.shape(), ys);
      EXPECT_EQ(y.to(DType::f64).to_vector<double>(), want) << dtype_name(dt) << " perm " << perm[0] << perm[1]
                                                            << perm[2] << perm[3];
    }
  } while (std::next_permutation(perm.begin(), perm.end()));
}

TEST(Expand, BroadcastsValues) {
  Tensor y = expand(from_vector<double>({1, 2, 3}, {3, 1}), {2, 3, 2});
  EXPECT_EQ(y.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(y.to_vector<double>(), (VD{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
  EXPECT_THROW(expand(seq({3, 2}), {3, 3}), ShapeError);
  EXPECT_THROW(expand(seq({3, 2}), {2}), ShapeError);
}

TEST(Concat, AlongEachDim) {
  Tensor a = seq({2, 2}), b = add(seq({2, 1}), 10.0);
  EXPECT_EQ(concat({a, b}, 1).to_vector<double>(), (VD{0, 1, 10, 2, 3, 11}));
  EXPECT_EQ(concat({a, a}, 0).to_vector<double>(), (VD{0, 1, 2, 3, 0, 1, 2, 3}));
  // Integer tensors move too.
  EXPECT_EQ(concat({from_vector<int64_t>({1, 2}), from_vector<int64_t>({3})}).to_vector<int64_t>(), (VI{1, 2, 3}));
  // Empty pieces are allowed.
  EXPECT_EQ(concat({a, seq({2, 0})}, 1).shape(), (Shape{2, 2}));
}

TEST(Concat, Errors) {
  try {
    concat({seq({2, 3}), seq({3, 2})}, 0);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("concat"), std::string::npos) << m;
    EXPECT_NE(m.find("[2,3]"), std::string::npos) << m;
    EXPECT_NE(m.find("[3,2]"), std::string::npos) << m;
  }
  EXPECT_THROW(concat({}, 0), ValueError);
  EXPECT_THROW(concat({seq({2}), seq({2, 1})}, 0), ShapeError);
  EXPECT_THROW(concat({seq({2}), ones({2}, DType::f32)}, 0), DTypeError);
  EXPECT_THROW(concat({seq({2}), seq({2})}, 1), IndexError);
}

TEST(Stack, InsertsADim) {
  Tensor a = seq({2}), b = add(seq({2}), 5.0);
  Tensor y0 = stack({a, b}, 0), y1 = stack({a, b}, -1);
  EXPECT_EQ(y0.shape(), (Shape{2, 2}));
  EXPECT_EQ(y0.to_vector<double>(), (VD{0, 1, 5, 6}));
  EXPECT_EQ(y1.to_vector<double>(), (VD{0, 5, 1, 6}));
  EXPECT_EQ(a.shape(), (Shape{2}));  // inputs are untouched
  EXPECT_THROW(stack({a, seq({3})}), ShapeError);
  EXPECT_THROW(stack({a, b}, 2), IndexError);
}

TEST(Pad, ConstantLastDimFirst) {
  Tensor y = pad(seq({2, 2}), {1, 0, 0, 1}, -1.0);  // last dim: 1 before; first dim: 1 after
  EXPECT_EQ(y.shape(), (Shape{3, 3}));
  EXPECT_EQ(y.to_vector<double>(), (VD{-1, 0, 1, -1, 2, 3, -1, -1, -1}));
  EXPECT_EQ(pad(seq({4}), {-1, -2}).to_vector<double>(), (VD{1}));
  EXPECT_THROW(pad(seq({4}), {1}), ValueError);
  EXPECT_THROW(pad(seq({4}), {1, 1, 1, 1}), ValueError);
  EXPECT_THROW(pad(seq({4}), {-3, -2}), ShapeError);
}

TEST(Gather, TorchSemantics) {
  Tensor x = seq({2, 3});
  Tensor y = gather(x, 1, from_vector<int64_t>({2, 0, 1, 1}, {2, 2}));
  EXPECT_EQ(y.to_vector<double>(), (VD{2, 0, 4, 4}));
  Tensor y0 = gather(x, 0, from_vector<int32_t>({1, 0, 1}, {1, 3}));
  EXPECT_EQ(y0.to_vector<double>(), (VD{3, 1, 5}));
}

TEST(ScatterAdd, AccumulatesRepeats) {
  Tensor y = scatter_add(zeros({2, 3}, DType::f64), 1, from_vector<int64_t>({0, 0, 2, 1}, {2, 2}),
                         from_vector<double>({1, 2, 3, 4}, {2, 2}));
  EXPECT_EQ(y.to_vector<double>(), (VD{3, 0, 0, 0, 4, 3}));
}

TEST(IndexSelect, Rows) {
  Tensor y = index_select(seq({3, 2}), 0, from_vector<int64_t>({2, 2, 0}));
  EXPECT_EQ(y.to_vector<double>(), (VD{4, 5, 4, 5, 0, 1}));
  Tensor y1 = index_select(seq({2, 3}), -1, from_vector<int64_t>({1}));
  EXPECT_EQ(y1.to_vector<double>(), (VD{1, 4}));
  EXPECT_THROW(index_select(seq({3, 2}), 0, from_vector<int64_t>({0, 1}, {1, 2})), ShapeError);
}

TEST(Embedding, LooksUpRowsAndAccumulatesGradient) {
  Tensor w = seq({4, 2}).detach().requires_grad_();
  Tensor ids = from_vector<int64_t>({3, 0, 3}, {3, 1});
  Tensor y = embedding(w, ids);
  EXPECT_EQ(y.shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(y.to_vector<double>(), (VD{6, 7, 0, 1, 6, 7}));
  sum(y).backward();
  EXPECT_EQ(w.grad().to_vector<double>(), (VD{1, 1, 0, 0, 0, 0, 2, 2}));
  EXPECT_THROW(embedding(seq({4}), ids), ShapeError);
}

// Every index op checks the index dtype and range and names op, value and dim size.
TEST(IndexOps, ValidateDtypeAndRange) {
  Tensor x = seq({3, 4});
  EXPECT_THROW(gather(x, 1, from_vector<double>({0, 1, 2}, {3, 1})), DTypeError);
  EXPECT_THROW(index_select(x, 0, from_vector<double>({0})), DTypeError);
  EXPECT_THROW(embedding(x, from_vector<float>({0})), DTypeError);
  EXPECT_THROW(scatter_add(x, 0, from_vector<double>({0}, {1, 1}), x), DTypeError);
  auto expect_range = [](auto&& f, const std::string& op, const std::string& value, const std::string& size) {
    try {
      f();
      ADD_FAILURE() << op << ": expected IndexError";
    } catch (const IndexError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(op), std::string::npos) << m;
      EXPECT_NE(m.find(value), std::string::npos) << m;
      EXPECT_NE(m.find("size " + size), std::string::npos) << m;
    }
  };
  expect_range([&] { gather(x, 1, from_vector<int64_t>({0, 4, 1}, {3, 1})); }, "gather", "4", "4");
  expect_range([&] { gather(x, 0, from_vector<int64_t>({-1}, {1, 1})); }, "gather", "-1", "3");
  expect_range([&] { scatter_add(x, 0, from_vector<int64_t>({7}, {1, 1}), x); }, "scatter_add", "7", "3");
  expect_range([&] { index_select(x, 1, from_vector<int32_t>({5})); }, "index_select", "5", "4");
  expect_range([&] { embedding(x, from_vector<int64_t>({0, 3})); }, "embedding", "3", "3");
  EXPECT_THROW(gather(x, 1, from_vector<int64_t>({0}, {1})), ShapeError);  // rank differs
  EXPECT_THROW(gather(x, 2, from_vector<int64_t>({0}, {1, 1})), IndexError);
}

}  // namespace
}  // namespace pianograd
