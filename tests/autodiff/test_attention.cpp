// scaled_dot_product_attention against the op chain it replaces (matmul, additive -inf mask, softmax,
// matmul) forward and backward; its errors; the end-aligned causal mask (a query never depends on a
// key it cannot see, exactly); the host-device math of kernels/common/attention_math.h; and
// nn::MultiheadAttention's fused path against its op-chain path.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/common/attention_math.h"
#include "pianograd.h"

using namespace pianograd;

namespace {

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector<double>(), y = b.to_vector<double>();
  EXPECT_EQ(x.size(), y.size());
  double m = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) m = std::max(m, std::fabs(x[i] - y[i]));
  return m;
}

// The op chain, with the mask of nn::MultiheadAttention::causal_mask (0 / -inf, aligned to the end).
Tensor chain(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, double scale) {
  const int64_t tq = q.size(-2), tk = k.size(-2);
  Tensor s = mul(matmul(q, transpose(k, -2, -1)), scale);
  if (causal) s = add(s, nn::MultiheadAttention::causal_mask(tq, tk, q.dtype()));
  return matmul(softmax(s, -1), v);
}

struct Grads3 {
  Tensor o, gq, gk, gv;
};

// Output and the gradients of sum(o * w) for a fixed w, through the fused op or the chain.
Grads3 run(bool fused, const Tensor& q0, const Tensor& k0, const Tensor& v0, const Tensor& w, bool causal, double scale) {
  Tensor q = q0.detach().requires_grad_(), k = k0.detach().requires_grad_(), v = v0.detach().requires_grad_();
  const Tensor o = fused ? scaled_dot_product_attention(q, k, v, causal, scale) : chain(q, k, v, causal, scale);
  sum(mul(o, w)).backward();
  return {o.detach(), q.grad(), k.grad(), v.grad()};
}

void expect_matches_chain(const Shape& qs, const Shape& ks, DType dt, bool causal, double tol) {
  SCOPED_TRACE(shape_str(qs) + " x " + shape_str(ks) + (causal ? " causal" : " full"));
  manual_seed(11);
  const Tensor q = mul(randn(qs, dt), 2.0), k = mul(randn(ks, dt), 2.0), v = randn(ks, dt), w = randn(qs, dt);
  const double scale = 1.0 / std::sqrt(static_cast<double>(qs.back()));
  const Grads3 f = run(true, q, k, v, w, causal, 0.0), c = run(false, q, k, v, w, causal, scale);
  EXPECT_EQ(f.o.shape(), qs);
  EXPECT_LT(max_abs_diff(f.o, c.o), tol);
  EXPECT_LT(max_abs_diff(f.gq, c.gq), tol);
  EXPECT_LT(max_abs_diff(f.gk, c.gk), tol);
  EXPECT_LT(max_abs_diff(f.gv, c.gv), tol);
}

TEST(Attention, MatchesTheOpChainForwardAndBackward) {
  for (bool causal : {true, false}) {
    expect_matches_chain({2, 3, 7, 5}, {2, 3, 7, 5}, DType::f64, causal, 1e-12);
    expect_matches_chain({2, 3, 4, 5}, {2, 3, 9, 5}, DType::f64, causal, 1e-12);
    expect_matches_chain({1, 2, 1, 8}, {1, 2, 11, 8}, DType::f64, causal, 1e-12);  // one query, a KV cache
    // Several key tiles and query blocks, threaded, a head dim with a tail: f32.
    expect_matches_chain({2, 2, 150, 20}, {2, 2, 150, 20}, DType::f32, causal, 2e-5);
  }
  expect_matches_chain({2, 5, 4}, {2, 3, 4}, DType::f64, false, 1e-12);  // rank 3, Tq > Tk unmasked
}

TEST(Attention, DecodingOneQueryEqualsTheLastRowOfTheFullSequence) {
  manual_seed(12);
  const Tensor q = randn({1, 2, 9, 4}), k = randn({1, 2, 9, 4}), v = randn({1, 2, 9, 4});
  const Tensor full = scaled_dot_product_attention(q, k, v, true);
  const Tensor last = scaled_dot_product_attention(slice(q, 2, 8, 9), k, v, true);
  EXPECT_LT(max_abs_diff(last, slice(full, 2, 8, 9)), 1e-6);
  // One query against the whole cache sees every key: the causal flag changes nothing.
  EXPECT_LT(max_abs_diff(last, scaled_dot_product_attention(slice(q, 2, 8, 9), k, v, false)), 1e-6);
  // The first row of the triangle sees key 0 only.
  EXPECT_LT(max_abs_diff(slice(full, 2, 0, 1), slice(v, 2, 0, 1)), 1e-6);
}

TEST(Attention, ACausalRowNeverDependsOnAKeyItCannotSee) {
  manual_seed(13);
  const int64_t tq = 70, tk = 75, d = 6;  // 70 query rows (two query blocks), keys past one 64-key tile
  const Tensor q = randn({1, 1, tq, d}), k = randn({1, 1, tk, d}), v = randn({1, 1, tk, d});
  const auto o = scaled_dot_product_attention(q, k, v, true).to_vector<float>();
  for (int64_t i : {0L, 3L, 40L, 63L, 64L}) {
    const int64_t first_hidden = i + (tk - tq) + 1;
    Tensor k2 = k.clone().detach(), v2 = v.clone().detach();
    for (int64_t j = first_hidden; j < tk; ++j)
      for (int64_t e = 0; e < d; ++e) {
        k2.data<float>()[j * d + e] += 5.0f;
        v2.data<float>()[j * d + e] = std::numeric_limits<float>::max();  // would poison any sum it enters
      }
    const auto o2 = scaled_dot_product_attention(q, k2, v2, true).to_vector<float>();
    for (int64_t r = 0; r <= i; ++r)
      for (int64_t e = 0; e < d; ++e) ASSERT_EQ(o[r * d + e], o2[r * d + e]) << "row " << r << " with keys >= " << first_hidden;
  }
  // Gradients: a loss on row 0 reaches keys 0 .. tk - tq only, and no other query.
  Tensor qg = q.detach().requires_grad_(), kg = k.detach().requires_grad_(), vg = v.detach().requires_grad_();
  sum(slice(scaled_dot_product_attention(qg, kg, vg, true), 2, 0, 1)).backward();
  const auto gq = qg.grad().to_vector<float>(), gk = kg.grad().to_vector<float>(), gv = vg.grad().to_vector<float>();
  for (int64_t e = d; e < tq * d; ++e) ASSERT_EQ(gq[e], 0.0f) << e;
  for (int64_t e = (tk - tq + 1) * d; e < tk * d; ++e) {
    ASSERT_EQ(gk[e], 0.0f) << e;
    ASSERT_EQ(gv[e], 0.0f) << e;
  }
  EXPECT_GT(std::fabs(gv[0]), 0.0f);
}

TEST(Attention, TypedErrorsNameTheOpAndShapes) {
  const Tensor q = zeros({2, 3, 4, 8}), k = zeros({2, 3, 6, 8});
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no throw");
  };
  EXPECT_THROW(scaled_dot_product_attention(zeros({8}), zeros({8}), zeros({8})), ShapeError);
  EXPECT_THROW(scaled_dot_product_attention(q, zeros({2, 6, 8}), zeros({2, 6, 8})), ShapeError);
  EXPECT_THROW(scaled_dot_product_attention(q, zeros({2, 4, 6, 8}), zeros({2, 4, 6, 8})), ShapeError);
  EXPECT_THROW(scaled_dot_product_attention(q, zeros({2, 3, 6, 7}), zeros({2, 3, 6, 7})), ShapeError);
  EXPECT_THROW(scaled_dot_product_attention(q, k, zeros({2, 3, 5, 8})), ShapeError);
  EXPECT_THROW(scaled_dot_product_attention(q, zeros({2, 3, 0, 8}), zeros({2, 3, 0, 8}), false), ShapeError);
  EXPECT_THROW(scaled_dot_product_attention(q, k, k, false, NAN), ValueError);
  EXPECT_THROW(scaled_dot_product_attention(q, k, zeros({2, 3, 6, 8}, DType::f64)), DTypeError);
  EXPECT_THROW(scaled_dot_product_attention(zeros({2, 3, 4, 8}, DType::i64), k, k), DTypeError);
  const std::string m = message([&] { scaled_dot_product_attention(k, q, q, true); });
  EXPECT_NE(m.find("scaled_dot_product_attention"), std::string::npos) << m;
  EXPECT_NE(m.find("Tq <= Tk"), std::string::npos) << m;
  EXPECT_NE(m.find("[2,3,6,8]"), std::string::npos) << m;
  // Tq > Tk is fine without the mask, and empty batches or queries give empty outputs.
  EXPECT_EQ(scaled_dot_product_attention(k, q, q, false).shape(), Shape({2, 3, 6, 8}));
  EXPECT_EQ(scaled_dot_product_attention(zeros({2, 3, 0, 8}), k, k).shape(), Shape({2, 3, 0, 8}));
  EXPECT_EQ(scaled_dot_product_attention(zeros({0, 3, 4, 8}), zeros({0, 3, 6, 8}), zeros({0, 3, 6, 8})).numel(), 0);
}

// kernels/common/attention_math.h, as the CUDA kernels use it: the online softmax over random tile
// splits equals the materialised logsumexp, and the mask's two views agree.
TEST(AttentionMath, OnlineSoftmaxOverTilesEqualsTheLogsumexp) {
  std::mt19937 rng(5);
  std::normal_distribution<double> nd(0.0, 4.0);
  for (int trial = 0; trial < 50; ++trial) {
    const int n = 1 + trial * 3;
    std::vector<double> s(static_cast<size_t>(n));
    for (auto& x : s) x = nd(rng);
    const double m = *std::max_element(s.begin(), s.end());
    double l = 0;
    for (double x : s) l += std::exp(x - m);
    const double want = m + std::log(l);
    auto st = kernels::online_softmax_init<double>();
    for (int j0 = 0; j0 < n;) {
      const int j1 = std::min(n, j0 + 1 + static_cast<int>(rng() % 7));
      double tile_max = -INFINITY, tile_sum = 0;
      for (int j = j0; j < j1; ++j) tile_max = std::max(tile_max, s[static_cast<size_t>(j)]);
      st.rescale(tile_max);
      for (int j = j0; j < j1; ++j) tile_sum += kernels::attn_prob(s[static_cast<size_t>(j)], st.m, true);
      st.add(tile_sum);
      j0 = j1;
    }
    EXPECT_NEAR(st.lse(), want, 1e-12 * std::max(1.0, std::fabs(want))) << "n " << n;
  }
  EXPECT_EQ(kernels::attn_prob(3.0, 1.0, false), 0.0);
  EXPECT_EQ(kernels::attn_dscore(0.5, 2.0, 1.5), 0.25);
}

TEST(AttentionMath, KeyLimitAndFirstRowDescribeOneMask) {
  for (long tq : {1L, 3L, 7L})
    for (long tk : {7L, 9L})
      for (bool causal : {true, false})
        for (long i = 0; i < tq; ++i)
          for (long j = 0; j < tk; ++j) {
            const bool by_row = j < kernels::attn_key_limit(i, tq, tk, causal);
            const bool by_key = i >= kernels::attn_first_row(j, tq, tk, causal);
            ASSERT_EQ(by_row, by_key) << tq << " " << tk << " " << causal << " " << i << " " << j;
            ASSERT_EQ(by_row, !causal || j <= i + (tk - tq));
          }
}

// With no attn_mask the module takes the fused op; an all-zero explicit mask takes the op chain with
// the same causal mask added: the two agree, output and parameter gradients.
TEST(MultiheadAttentionFused, AgreesWithTheOpChainPath) {
  for (bool causal : {true, false}) {
    manual_seed(31);
    nn::MultiheadAttention mha(12, 3, true, causal, DType::f64);
    nn::init::uniform_(mha.in_proj_bias, -0.5, 0.5);
    const Tensor x = randn({2, 6, 12}, DType::f64), w = randn({2, 6, 12}, DType::f64);
    auto grads = [&](bool fused) {
      mha.zero_grad();
      const Tensor y = fused ? mha.forward(x) : mha.forward(x, x, x, zeros({6, 6}, DType::f64));
      sum(mul(y, w)).backward();
      std::vector<Tensor> out{y.detach()};
      for (const auto& [name, p] : mha.named_parameters()) out.push_back(p.grad().clone());
      return out;
    };
    const auto a = grads(true), b = grads(false);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_LT(max_abs_diff(a[i], b[i]), 1e-12) << "causal " << causal << " #" << i;
  }
}

}  // namespace
