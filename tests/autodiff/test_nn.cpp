// nn layers: parameter tree and state dicts, outputs against hand computation, attention causality,
// and float64 finite-difference checks of every layer's input and parameter gradients.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <unistd.h>

#include "gradcheck.h"
#include "pianograd.h"

using namespace pianograd;
using namespace pianograd::nn;

namespace {

void fill(Tensor t, std::vector<double> v) {
  ASSERT_EQ(static_cast<int64_t>(v.size()), t.numel());
  Tensor src = from_vector<double>(v).to(t.dtype());
  std::memcpy(t.raw_data(), src.raw_data(), t.nbytes());
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector<double>(), y = b.to_vector<double>();
  EXPECT_EQ(x.size(), y.size());
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::fabs(x[i] - y[i]));
  return m;
}

// Central differences of L = sum(f() * w) w.r.t. every parameter of `m` (float64), against backward.
void check_param_grads(Module& m, const std::function<Tensor()>& f, double tol = 1e-6) {
  manual_seed(11);
  m.zero_grad();
  Tensor y = f();
  Tensor w;
  {
    NoGrad ng;
    w = randn(y.shape(), DType::f64);
  }
  sum(mul(y, w)).backward();
  for (auto& [name, p] : m.named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name << " got no gradient";
    const auto g = p.grad().to_vector<double>();
    double* d = p.data<double>();
    for (int64_t k = 0; k < p.numel(); k += std::max<int64_t>(1, p.numel() / 7)) {
      const double old = d[k], h = 1e-6;
      NoGrad ng;
      d[k] = old + h;
      const double fp = sum(mul(f(), w)).item();
      d[k] = old - h;
      const double fm = sum(mul(f(), w)).item();
      d[k] = old;
      EXPECT_NEAR(g[static_cast<size_t>(k)], (fp - fm) / (2 * h), tol) << name << "[" << k << "]";
    }
  }
}

// A small tree: encoder (Sequential of Linear, ReLU, Linear) + a head with its own parameter.
struct Head : Module {
  Tensor scale;
  Head() { scale = register_parameter("scale", ones({3})); }
  Tensor forward(const Tensor& x) override { return mul(x, scale); }
  std::string type_name() const override { return "Head"; }
};
struct Net : Module {
  std::shared_ptr<Sequential> encoder;
  std::shared_ptr<Head> head;
  Net() {
    encoder = register_module("encoder", Sequential::make(
        {std::make_shared<Linear>(4, 8), std::make_shared<ReLU>(), std::make_shared<Linear>(8, 3)}));
    head = register_module("head", std::make_shared<Head>());
    register_buffer("steps", zeros({1}, DType::i64));
  }
  Tensor forward(const Tensor& x) override { return head->forward(encoder->forward(x)); }
};

}  // namespace

TEST(NnModule, DottedNamesInRegistrationOrder) {
  Net net;
  std::vector<std::string> names;
  for (const auto& [n, t] : net.named_parameters()) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"encoder.0.weight", "encoder.0.bias", "encoder.2.weight", "encoder.2.bias",
                                             "head.scale"}));
  EXPECT_EQ(net.parameters().size(), 5u);
  EXPECT_EQ(net.num_parameters(), 4 * 8 + 8 + 8 * 3 + 3 + 3);
  EXPECT_EQ(net.named_buffers().at(0).first, "steps");
  const auto sd = net.state_dict();
  EXPECT_EQ(sd.size(), 6u);
  EXPECT_EQ(sd.count("steps"), 1u);
  for (const auto& p : net.parameters()) EXPECT_TRUE(p.requires_grad());
  EXPECT_NE(net.repr().find("encoder.2.weight [3,8]"), std::string::npos) << net.repr();
}

TEST(NnModule, RegistrationErrors) {
  Head h;
  EXPECT_THROW(h.register_parameter("scale", ones({1})), ValueError);
  EXPECT_THROW(h.register_parameter("a.b", ones({1})), ValueError);
  EXPECT_THROW(h.register_parameter("ints", zeros({1}, DType::i32)), DTypeError);
  EXPECT_THROW(h.register_module("m", std::shared_ptr<Module>()), ValueError);
  EXPECT_THROW(h.child("nope"), IndexError);
  EXPECT_THROW(Module().forward(ones({1})), ValueError);
}

TEST(NnModule, TrainEvalAndZeroGradPropagate) {
  Net net;
  EXPECT_TRUE(net.encoder->child("0")->is_training());
  net.eval();
  EXPECT_FALSE(net.is_training());
  EXPECT_FALSE(net.encoder->child("2")->is_training());
  net.train();
  EXPECT_TRUE(net.head->is_training());
  sum(net.forward(ones({2, 4}))).backward();
  for (const auto& p : net.parameters()) EXPECT_TRUE(p.grad().defined());
  net.zero_grad();
  for (const auto& p : net.parameters()) EXPECT_FALSE(p.grad().defined());
}

TEST(NnModule, StateDictRoundTripAndErrors) {
  manual_seed(1);
  Net a;
  manual_seed(2);
  Net b;
  const Tensor x = randn({5, 4});
  EXPECT_GT(max_abs_diff(a.forward(x), b.forward(x)), 1e-3);
  const Tensor b_weight = b.encoder->child("0")->named_parameters()[0].second;  // handle held by "an optimizer"
  b.load_state_dict(a.state_dict());
  EXPECT_EQ(max_abs_diff(a.forward(x), b.forward(x)), 0.0);
  EXPECT_EQ(max_abs_diff(b_weight, a.encoder->child("0")->named_parameters()[0].second), 0.0)
      << "loading must write into the live tensors, not swap handles";

  auto sd = a.state_dict();
  sd.erase("head.scale");
  sd["extra.thing"] = ones({1});
  try {
    b.load_state_dict(sd);
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("missing keys: 'head.scale'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unexpected keys: 'extra.thing'"), std::string::npos) << msg;
  }
  b.load_state_dict(sd, /*strict=*/false);  // tolerated when not strict

  auto bad = a.state_dict();
  manual_seed(3);
  Net c;
  const Tensor before = c.forward(x);
  bad["encoder.2.weight"] = zeros({8, 3});
  bad["encoder.0.bias"] = zeros({8}, DType::f64);  // cast to f32 on load: fine
  try {
    c.load_state_dict(bad);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("encoder.2.weight"), std::string::npos) << e.what();
  }
  EXPECT_EQ(max_abs_diff(before, c.forward(x)), 0.0) << "a failed load must leave the module unchanged";
}

TEST(NnModule, SaveLoadSafetensors) {
  const std::string path = (std::filesystem::temp_directory_path() / ("pg_nn_" + std::to_string(::getpid()) + ".safetensors")).string();
  manual_seed(4);
  Net a;
  a.save(path, {{"note", "test"}});
  manual_seed(5);
  Net b;
  b.load(path);
  const Tensor x = randn({3, 4});
  EXPECT_EQ(max_abs_diff(a.forward(x), b.forward(x)), 0.0);
  EXPECT_EQ(load_safetensors(path).metadata.at("note"), "test");
  std::filesystem::remove(path);
  EXPECT_THROW(b.load(path), FileNotFound);
}

TEST(NnLayers, LinearMatchesHandComputation) {
  Linear lin(3, 2);
  fill(lin.weight, {1, 2, 3, -1, 0, 1});
  fill(lin.bias, {0.5, -0.5});
  const Tensor x = from_vector<float>({1, 1, 1, 2, 0, -1}, {2, 3});
  EXPECT_EQ(lin.forward(x).to_vector<float>(), (std::vector<float>{6.5f, -0.5f, -0.5f, -3.5f}));
  EXPECT_EQ(lin.forward(zeros({4, 5, 3})).shape(), Shape({4, 5, 2}));
  EXPECT_THROW(lin.forward(zeros({2, 4})), ShapeError);
  Linear nob(3, 2, false);
  EXPECT_EQ(nob.named_parameters().size(), 1u);
}

TEST(NnLayers, DefaultInitIsPytorchLike) {
  manual_seed(7);
  Linear lin(100, 400);
  const auto w = lin.weight.to_vector<float>();
  double mx = 0, ss = 0;
  for (float v : w) {
    mx = std::max(mx, std::fabs(static_cast<double>(v)));
    ss += static_cast<double>(v) * v;
  }
  EXPECT_LE(mx, 0.1);  // U(±1/sqrt(fan_in))
  EXPECT_NEAR(std::sqrt(ss / static_cast<double>(w.size())), 0.1 / std::sqrt(3.0), 0.003);
  manual_seed(7);
  Linear again(100, 400);
  EXPECT_EQ(max_abs_diff(lin.weight, again.weight), 0.0) << "seeded construction is reproducible";
  LayerNorm ln({6});
  EXPECT_EQ(ln.weight.to_vector<float>(), std::vector<float>(6, 1.f));
  Tensor t = Tensor::empty({64, 32});
  init::xavier_uniform_(t);
  for (float v : t.to_vector<float>()) EXPECT_LE(std::fabs(v), std::sqrt(6.0 / 96));
  EXPECT_EQ(init::fans(Tensor::empty({8, 4, 3, 3})), (std::pair<int64_t, int64_t>{36, 72}));
  EXPECT_NEAR(init::calculate_gain("leaky_relu", std::sqrt(5.0)), std::sqrt(2.0 / 6.0), 1e-15);
}

TEST(NnLayers, LayerNormMatchesHandComputation) {
  LayerNorm ln({4}, 1e-5);
  fill(ln.weight, {1, 2, 1, 1});
  fill(ln.bias, {0, 0, 0, 1});
  const auto y = ln.forward(from_vector<float>({1, 2, 3, 4}, {1, 4})).to_vector<float>();
  const double s = std::sqrt(1.25 + 1e-5);  // mean 2.5, biased variance 1.25
  EXPECT_NEAR(y[0], -1.5 / s, 1e-5);
  EXPECT_NEAR(y[1], 2 * -0.5 / s, 1e-5);
  EXPECT_NEAR(y[2], 0.5 / s, 1e-5);
  EXPECT_NEAR(y[3], 1.5 / s + 1, 1e-5);
  EXPECT_THROW(ln.forward(zeros({2, 5})), ShapeError);
}

TEST(NnLayers, EmbeddingGathersRows) {
  Embedding emb(5, 2);
  fill(emb.weight, {0, 0, 1, 1, 2, 2, 3, 3, 4, 4});
  const Tensor y = emb.forward(from_vector<int64_t>({4, 1, 1, 0}, {2, 2}));
  EXPECT_EQ(y.shape(), Shape({2, 2, 2}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{4, 4, 1, 1, 1, 1, 0, 0}));
  EXPECT_ANY_THROW(emb.forward(from_vector<int64_t>({5})));
}

TEST(NnLayers, ConvolutionsMatchHandComputation) {
  Conv1d c1(1, 1, 3);
  fill(c1.weight, {1, 0, -1});
  fill(c1.bias, {0.5});
  const Tensor y = c1.forward(from_vector<float>({1, 2, 4, 8, 16}, {1, 1, 5}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{-2.5f, -5.5f, -11.5f}));  // x[i] - x[i+2] + 0.5
  Conv1dOptions o;
  o.padding = 2;
  o.stride = 2;
  EXPECT_EQ(Conv1d(3, 8, 5, o).forward(zeros({2, 3, 16})).shape(), Shape({2, 8, 8}));
  Conv2d c2(1, 1, 2);
  fill(c2.weight, {1, 2, 3, 4});
  fill(c2.bias, {0});
  const Tensor z = c2.forward(from_vector<float>({1, 0, 0, 0, 1, 0, 0, 0, 1}, {1, 1, 3, 3}));
  EXPECT_EQ(z.to_vector<float>(), (std::vector<float>{5, 3, 2, 5}));  // [0,1] = 1*x01 + 2*x02 + 3*x11 + 4*x12
  Conv2dOptions o2;
  o2.padding = 1;
  EXPECT_EQ(Conv2d(2, 4, 3, o2).forward(zeros({1, 2, 8, 8})).shape(), Shape({1, 4, 8, 8}));
  EXPECT_THROW(c2.forward(zeros({1, 2, 3, 3})), ShapeError);
  EXPECT_THROW(Conv1d(3, 4, 3, Conv1dOptions{1, 0, 1, 2}), ValueError);  // 3 channels, 2 groups
}

TEST(NnLayers, SequentialChainsAndNamesFailures) {
  Sequential seq{std::make_shared<Conv1d>(1, 4, 3), std::make_shared<ReLU>(), std::make_shared<MaxPool1d>(2),
                 std::make_shared<Flatten>(), std::make_shared<Linear>(4 * 7, 3)};
  EXPECT_EQ(seq.forward(zeros({2, 1, 16})).shape(), Shape({2, 3}));
  try {
    seq.forward(zeros({2, 1, 10}));
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("Sequential[4] (Linear)"), std::string::npos) << e.what();
  }
  EXPECT_EQ(seq[2]->type_name(), "MaxPool1d");
  EXPECT_THROW(seq[9], IndexError);
  const Tensor x = from_vector<float>({-1, 0.5}, {2});
  EXPECT_EQ(ReLU().forward(x).to_vector<float>(), relu(x).to_vector<float>());
  EXPECT_EQ(GELU().forward(x).to_vector<float>(), gelu(x).to_vector<float>());
  EXPECT_EQ(Tanh().forward(x).to_vector<float>(), tanh(x).to_vector<float>());
  EXPECT_EQ(Sigmoid().forward(x).to_vector<float>(), sigmoid(x).to_vector<float>());
  EXPECT_EQ(GlobalAvgPool().forward(ones({2, 3, 4, 5})).shape(), Shape({2, 3}));
  Dropout drop(0.5, 1);
  drop.eval();
  EXPECT_EQ(drop.forward(x).to_vector<float>(), x.to_vector<float>());
}

// Attention computed with plain loops from the layer's own weights (one head per D/H slice).
TEST(NnLayers, AttentionMatchesLoopReference) {
  manual_seed(3);
  const int64_t B = 2, T = 4, D = 6, H = 2, hd = 3;
  MultiheadAttention mha(D, H, true, true, DType::f64);
  init::uniform_(mha.in_proj_bias, -0.5, 0.5);
  init::uniform_(mha.out_proj->bias, -0.5, 0.5);
  const Tensor x = randn({B, T, D}, DType::f64);
  const auto y = mha.forward(x).to_vector<double>();
  const auto W = mha.in_proj_weight.to_vector<double>(), bW = mha.in_proj_bias.to_vector<double>();
  const auto O = mha.out_proj->weight.to_vector<double>(), bO = mha.out_proj->bias.to_vector<double>();
  const auto X = x.to_vector<double>();
  for (int64_t b = 0; b < B; ++b) {
    std::vector<double> q(T * 3 * D);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t r = 0; r < 3 * D; ++r) {
        double s = bW[r];
        for (int64_t c = 0; c < D; ++c) s += W[r * D + c] * X[(b * T + t) * D + c];
        q[t * 3 * D + r] = s;
      }
    std::vector<double> ctx(T * D, 0.0);
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < T; ++t) {
        std::vector<double> sc(T, -INFINITY);
        double mx = -INFINITY;
        for (int64_t s = 0; s <= t; ++s) {
          double d = 0;
          for (int64_t e = 0; e < hd; ++e) d += q[t * 3 * D + h * hd + e] * q[s * 3 * D + D + h * hd + e];
          sc[s] = d / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, sc[s]);
        }
        double z = 0;
        for (int64_t s = 0; s <= t; ++s) z += std::exp(sc[s] - mx);
        for (int64_t s = 0; s <= t; ++s)
          for (int64_t e = 0; e < hd; ++e)
            ctx[t * D + h * hd + e] += std::exp(sc[s] - mx) / z * q[s * 3 * D + 2 * D + h * hd + e];
      }
    for (int64_t t = 0; t < T; ++t)
      for (int64_t r = 0; r < D; ++r) {
        double s = bO[r];
        for (int64_t c = 0; c < D; ++c) s += O[r * D + c] * ctx[t * D + c];
        EXPECT_NEAR(y[(b * T + t) * D + r], s, 1e-12) << "b " << b << " t " << t << " r " << r;
      }
  }
}

TEST(NnLayers, CausalAttentionIgnoresTheFuture) {
  manual_seed(5);
  const int64_t B = 2, T = 7, D = 8;
  MultiheadAttention causal(D, 2, true, true);
  const Tensor x = randn({B, T, D});
  const Tensor y = causal.forward(x);
  EXPECT_EQ(y.shape(), Shape({B, T, D}));
  for (int64_t t = 0; t + 1 < T; ++t) {
    // Change every input after t: outputs up to t must not move at all.
    Tensor x2 = x.clone().detach();
    float* p = x2.data<float>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t s = t + 1; s < T; ++s)
        for (int64_t d = 0; d < D; ++d) p[(b * T + s) * D + d] += 3.0f;
    const auto a = y.to_vector<float>(), c = causal.forward(x2).to_vector<float>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t s = 0; s <= t; ++s)
        for (int64_t d = 0; d < D; ++d) {
          const size_t i = static_cast<size_t>((b * T + s) * D + d);
          ASSERT_EQ(a[i], c[i]) << "output at " << s << " depends on input after " << t;
        }
  }
  // Same through the gradient: d y[:, 0] / d x[:, 1:] == 0 exactly.
  Tensor xg = x.clone().detach().requires_grad_(true);
  sum(slice(causal.forward(xg), 1, 0, 1)).backward();
  const auto g = xg.grad().to_vector<float>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 1; s < T; ++s)
      for (int64_t d = 0; d < D; ++d) ASSERT_EQ(g[static_cast<size_t>((b * T + s) * D + d)], 0.0f);
  // Without the mask the first output does see later inputs.
  MultiheadAttention full(D, 2, true, false);
  Tensor x3 = x.clone().detach();
  x3.data<float>()[(T - 1) * D] += 3.0f;
  EXPECT_GT(max_abs_diff(slice(full.forward(x), 1, 0, 1), slice(full.forward(x3), 1, 0, 1)), 1e-6);
  EXPECT_THROW(MultiheadAttention(10, 3), ValueError);
  EXPECT_THROW(full.forward(zeros({2, 3, 5})), ShapeError);
}

TEST(NnLayers, AttentionCrossAndMask) {
  manual_seed(6);
  MultiheadAttention mha(4, 1, true, false);
  const Tensor q = randn({1, 2, 4}), kv = randn({1, 5, 4});
  EXPECT_EQ(mha.forward(q, kv, kv, Tensor()).shape(), Shape({1, 2, 4}));
  // An additive mask that drops keys 1.. equals attending to key 0 only.
  Tensor mask = zeros({2, 5});
  for (int i = 0; i < 2; ++i)
    for (int s = 1; s < 5; ++s) mask.data<float>()[i * 5 + s] = -INFINITY;
  EXPECT_LT(max_abs_diff(mha.forward(q, kv, kv, mask), mha.forward(q, slice(kv, 1, 0, 1), slice(kv, 1, 0, 1), Tensor())), 1e-6);
  const Tensor m = MultiheadAttention::causal_mask(2, 4);
  EXPECT_EQ(m.to_vector<float>()[2], 0.0f);  // query 0 sees keys 0..2 of a 4-key history
  EXPECT_TRUE(std::isinf(m.to_vector<float>()[3]));
}

TEST(NnLayers, GruMatchesHandStepAndShapes) {
  manual_seed(8);
  GRU gru(3, 4, 2);
  std::vector<std::string> names;
  for (const auto& [n, t] : gru.named_parameters()) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l1",
                                             "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"}));
  const Tensor x = randn({2, 5, 3});
  auto [out, hn] = gru.forward(x, Tensor());
  EXPECT_EQ(out.shape(), Shape({2, 5, 4}));
  EXPECT_EQ(hn.shape(), Shape({2, 2, 4}));
  EXPECT_EQ(max_abs_diff(slice(out, 1, 4, 5).reshape({2, 4}), hn.select(0, 1)), 0.0);

  // One step of a 1-layer GRU from h0 by hand.
  GRU one(2, 2, 1);
  const auto Wi = one.weight_ih[0].to_vector<float>(), Wh = one.weight_hh[0].to_vector<float>();
  const auto bi = one.bias_ih[0].to_vector<float>(), bh = one.bias_hh[0].to_vector<float>();
  const std::vector<float> xv{0.3f, -0.7f}, h0v{0.5f, -0.1f};
  auto [o1, h1] = one.forward(from_vector<float>(xv, {1, 1, 2}), from_vector<float>(h0v, {1, 1, 2}));
  auto gate = [&](int row) {
    double a = bi[row], c = bh[row];
    for (int k = 0; k < 2; ++k) {
      a += Wi[row * 2 + k] * xv[k];
      c += Wh[row * 2 + k] * h0v[k];
    }
    return std::pair<double, double>{a, c};
  };
  for (int j = 0; j < 2; ++j) {
    auto [ar, cr] = gate(j);
    auto [az, cz] = gate(2 + j);
    auto [an, cn] = gate(4 + j);
    const double r = 1 / (1 + std::exp(-(ar + cr))), z = 1 / (1 + std::exp(-(az + cz)));
    const double n = std::tanh(an + r * cn);
    EXPECT_NEAR(h1.to_vector<float>()[j], (1 - z) * n + z * h0v[j], 1e-6);
  }
  EXPECT_THROW(gru.forward(zeros({2, 5, 4})), ShapeError);
  EXPECT_THROW(gru.forward(x, zeros({1, 2, 4})), ShapeError);
}

TEST(NnGradients, EveryLayerFiniteDifferences) {
  using pianograd::testing::GradCase;
  manual_seed(21);
  auto lin = std::make_shared<Linear>(3, 2, true, DType::f64);
  LayerNorm ln({4}, 1e-5, true, DType::f64);
  init::uniform_(ln.weight, 0.5, 1.5);
  init::uniform_(ln.bias, -0.5, 0.5);
  Conv1d c1(2, 3, 3, Conv1dOptions{1, 1, 1, 1, true, DType::f64});
  Conv2d c2(2, 2, 2, Conv2dOptions{1, 0, 1, 1, true, DType::f64});
  MultiheadAttention mha(4, 2, true, true, DType::f64);
  init::uniform_(mha.in_proj_bias, -0.5, 0.5);
  GRU gru(2, 3, 2, true, DType::f64);
  Embedding emb(4, 3, DType::f64);
  const Tensor idx = from_vector<int64_t>({0, 3, 3, 1}, {2, 2});

  // Input gradients through the harness of the op table.
  const std::vector<GradCase> cases{
      {"nn.Linear", {{2, 3}}, [&](const std::vector<Tensor>& in) { return lin->forward(in[0]); }},
      {"nn.LayerNorm", {{3, 4}}, [&](const std::vector<Tensor>& in) { return ln.forward(in[0]); }},
      {"nn.Conv1d", {{2, 2, 6}}, [&](const std::vector<Tensor>& in) { return c1.forward(in[0]); }},
      {"nn.Conv2d", {{1, 2, 4, 4}}, [&](const std::vector<Tensor>& in) { return c2.forward(in[0]); }},
      {"nn.MultiheadAttention", {{2, 3, 4}}, [&](const std::vector<Tensor>& in) { return mha.forward(in[0]); }},
      {"nn.GRU", {{2, 3, 2}}, [&](const std::vector<Tensor>& in) { return gru.forward(in[0]); }},
  };
  for (const auto& c : cases) EXPECT_EQ(pianograd::testing::run_grad_case(c), "") << c.op;

  // Parameter gradients.
  manual_seed(22);
  const Tensor x2 = randn({2, 3}, DType::f64), x4 = randn({3, 4}, DType::f64), xc1 = randn({2, 2, 6}, DType::f64);
  const Tensor xc2 = randn({1, 2, 4, 4}, DType::f64), xa = randn({2, 3, 4}, DType::f64), xg = randn({2, 3, 2}, DType::f64);
  check_param_grads(*lin, [&] { return lin->forward(x2); });
  check_param_grads(ln, [&] { return ln.forward(x4); });
  check_param_grads(c1, [&] { return c1.forward(xc1); });
  check_param_grads(c2, [&] { return c2.forward(xc2); });
  check_param_grads(mha, [&] { return mha.forward(xa); });
  check_param_grads(gru, [&] { return gru.forward(xg); });
  check_param_grads(emb, [&] { return emb.forward(idx); });
  Sequential seq{lin, std::make_shared<Tanh>()};
  check_param_grads(seq, [&] { return seq.forward(x2); });
}
