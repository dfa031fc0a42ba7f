// Typed errors at every op family's entry: the message names the op and the offending shapes, dtypes
// or axes (DESIGN.md §3), and bad input never crashes.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "pianograd.h"

namespace pianograd {
namespace {

// Expects f() to throw E whose message contains every one of `parts`.
template <class E>
void expect_error(const std::function<void()>& f, std::initializer_list<std::string> parts, const char* what) {
  try {
    f();
    ADD_FAILURE() << what << ": no exception";
  } catch (const E& e) {
    const std::string m = e.what();
    for (const auto& p : parts) EXPECT_NE(m.find(p), std::string::npos) << what << ": '" << p << "' not in: " << m;
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": wrong exception type: " << e.what();
  }
}

Tensor f32(const Shape& s) { return ones(s, DType::f32); }
Tensor f64(const Shape& s) { return ones(s, DType::f64); }

TEST(Errors, BinaryOpsNameOpAndBothShapes) {
  using Fn = Tensor (*)(const Tensor&, const Tensor&);
  const std::pair<const char*, Fn> ops[] = {{"add", add},   {"sub", sub},         {"mul", mul},
                                            {"div", div},   {"pow", pow},         {"maximum", maximum},
                                            {"minimum", minimum}, {"eq", eq},     {"lt", lt},
                                            {"gt", gt}};
  for (const auto& [name, fn] : ops) {
    expect_error<ShapeError>([&, fn = fn] { fn(f32({2, 3}), f32({4, 3})); }, {name, "[2,3]", "[4,3]"}, name);
    expect_error<DTypeError>([&, fn = fn] { fn(f32({2}), f64({2})); }, {name, "f32", "f64"}, name);
    expect_error<DTypeError>([&, fn = fn] { fn(ones({2}, DType::i64), ones({2}, DType::i64)); }, {name, "i64"}, name);
  }
  expect_error<ShapeError>([] { where(f32({2}), f32({3}), f32({2})); }, {"where", "[2]", "[3]"}, "where");
  expect_error<ValueError>([] { clamp(f32({2}), 1.0, 0.0); }, {"clamp"}, "clamp");
}

TEST(Errors, UnaryOpsRejectIntegerDtypes) {
  using Fn = Tensor (*)(const Tensor&);
  const std::pair<const char*, Fn> ops[] = {{"neg", neg},   {"exp", exp},         {"log", log},
                                            {"sqrt", sqrt}, {"abs", abs},         {"sin", sin},
                                            {"cos", cos},   {"tanh", tanh},       {"sigmoid", sigmoid},
                                            {"relu", relu}, {"gelu", gelu},       {"softplus", softplus}};
  for (const auto& [name, fn] : ops)
    expect_error<DTypeError>([&, fn = fn] { fn(ones({3}, DType::i32)); }, {name, "i32"}, name);
}

TEST(Errors, ReductionsCheckAxes) {
  expect_error<IndexError>([] { sum(f32({2, 3}), {2}); }, {"sum", "2"}, "sum axis");
  expect_error<IndexError>([] { mean(f32({2, 3}), {-3}); }, {"mean", "-3"}, "mean axis");
}

TEST(Errors, ShapeOps) {
  expect_error<ShapeError>([] { reshape(f32({2, 3}), {4, 2}); }, {"reshape", "[2,3]", "[4,2]"}, "reshape");
  expect_error<ShapeError>([] { squeeze(f32({2, 3}), 0); }, {"squeeze", "[2,3]"}, "squeeze");
  expect_error<IndexError>([] { squeeze(f32({2, 3}), 2); }, {"squeeze", "2"}, "squeeze axis");
  expect_error<IndexError>([] { unsqueeze(f32({2, 3}), 4); }, {"unsqueeze", "4"}, "unsqueeze axis");
  expect_error<ShapeError>([] { permute(f32({2, 3}), {0}); }, {"permute", "[2,3]"}, "permute rank");
  expect_error<IndexError>([] { permute(f32({2, 3}), {0, 5}); }, {"permute", "5"}, "permute axis");
  expect_error<ValueError>([] { permute(f32({2, 3}), {1, 1}); }, {"permute"}, "permute repeat");
  expect_error<IndexError>([] { transpose(f32({2, 3}), 0, -3); }, {"transpose", "-3"}, "transpose axis");
  expect_error<IndexError>([] { slice(f32({2, 3}), 2, 0, 1); }, {"slice", "2"}, "slice axis");
  expect_error<ShapeError>([] { expand(f32({2, 3}), {4, 3}); }, {"expand", "[2,3]", "[4,3]"}, "expand");
  expect_error<ShapeError>([] { concat({f32({2, 3}), f32({4, 2})}, 0); }, {"concat", "[2,3]", "[4,2]"}, "concat");
  expect_error<DTypeError>([] { concat({f32({2}), f64({2})}); }, {"concat", "f32", "f64"}, "concat dtype");
  expect_error<IndexError>([] { concat({f32({2}), f32({2})}, 1); }, {"concat", "1"}, "concat axis");
  expect_error<ShapeError>([] { stack({f32({2, 3}), f32({3, 2})}); }, {"stack", "[2,3]", "[3,2]"}, "stack");
  expect_error<IndexError>([] { stack({f32({2})}, 2); }, {"stack", "2"}, "stack axis");
  expect_error<ValueError>([] { pad(f32({2, 3}), {1, 1, 1}); }, {"pad", "[2,3]"}, "pad count");
  expect_error<ShapeError>([] { f32({2}).t(); }, {"t:", "[2]"}, "t rank");
}

TEST(Errors, IndexOps) {
  const Tensor x = f32({3, 4});
  const Tensor bad_dtype = ones({3, 1}, DType::f32);
  expect_error<DTypeError>([&] { gather(x, 1, bad_dtype); }, {"gather", "f32"}, "gather dtype");
  expect_error<ShapeError>([&] { gather(x, 1, zeros({4, 1}, DType::i64)); }, {"gather", "[4,1]", "[3,4]"},
                           "gather shape");
  expect_error<IndexError>([&] { gather(x, 2, zeros({3, 1}, DType::i64)); }, {"gather", "2"}, "gather axis");
  expect_error<ShapeError>([&] { scatter_add(x, 0, zeros({2, 2}, DType::i64), f32({1, 1})); },
                           {"scatter_add", "[2,2]", "[1,1]"}, "scatter_add src");
  expect_error<DTypeError>([&] { scatter_add(x, 0, zeros({1, 1}, DType::i64), f64({1, 1})); },
                           {"scatter_add", "f32", "f64"}, "scatter_add dtype");
  expect_error<IndexError>([&] { index_select(x, 1, full({1}, 9, DType::i64)); }, {"index_select", "9", "4"},
                           "index_select range");
  expect_error<DTypeError>([&] { embedding(x, f32({2})); }, {"embedding", "f32"}, "embedding dtype");
  expect_error<ShapeError>([&] { embedding(f32({3}), zeros({2}, DType::i64)); }, {"embedding", "[3]"},
                           "embedding weight");
}

TEST(Errors, BackwardMisuse) {
  expect_error<GraphError>([] { f32({2}).backward(); }, {"backward", "[2]"}, "no grad");
  Tensor x = f64({2}).requires_grad_();
  expect_error<GraphError>([&] { mul(x, 2.0).backward(); }, {"backward", "[2]"}, "non-scalar");
  expect_error<ShapeError>([&] { mul(x, 2.0).backward(f64({3})); }, {"backward", "[3]", "[2]"}, "grad shape");
  expect_error<DTypeError>([] { ones({2}, DType::i64).requires_grad_(); }, {"requires_grad", "i64"}, "int grad");
}

TEST(Errors, CreationAndConversion) {
  expect_error<ShapeError>([] { zeros({2, -1}); }, {"[2,-1]"}, "negative dim");
  expect_error<ShapeError>([] { from_vector<float>({1, 2, 3}, {2, 2}); }, {"from_vector", "[2,2]"}, "from_vector");
  expect_error<ValueError>([] { f32({2}).item(); }, {"item", "[2]"}, "item");
  expect_error<DTypeError>([] { f32({2}).data<double>(); }, {"f64", "f32"}, "data");
  expect_error<IndexError>([] { f32({2, 3}).select(1, 3); }, {"select", "3"}, "select");
  expect_error<ValueError>([] { randint(5, 1, {2}); }, {"randint"}, "randint");
  expect_error<DTypeError>([] { rand({2}, DType::i32); }, {"rand", "i32"}, "rand dtype");
}

}  // namespace
}  // namespace pianograd
