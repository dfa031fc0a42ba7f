// The motion LM reading the piano's state beside its tokens (MotionLMConfig::state_features): the config,
// causality, the KV cache against the full forward, windows that start mid-piece, the gradient of the
// state projection against central differences, and checkpoints.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "autodiff/errors.h"
#include "autodiff/ops.h"
#include "models/motion_gru.h"
#include "models/motion_lm.h"
#include "models/motion_scoring.h"
#include "models/transcriber.h"
#include "models/motion_test_util.h"

namespace pianograd {
namespace {

// The tests' tiny model on the tokenizer's vocabulary, reading the state.
MotionLMConfig tiny_state() {
  MotionLMConfig c = motion_test::tiny();
  c.vocab_size = MotionTokenizer().vocab_size();
  c.seed = 5;
  c.state_features = true;
  return c;
}

// Long notes under the pedal: a window cut anywhere starts with notes sounding.
std::vector<int32_t> piece() {
  Performance p;
  for (int i = 0; i < 30; ++i) p.notes.push_back({40 + (i * 5) % 40, 0.1 * i, 0.1 * i + (i % 3 == 0 ? 2.0 : 0.25), 30 + (i * 17) % 90});
  p.pedal = {{0.4, 1.0}, {1.9, 0.0}};
  p.sort();
  return MotionTokenizer().encode(p, true);
}

using motion_test::max_diff;
using motion_test::row;

TEST(MotionLMState, ConfigJsonAndValidation) {
  const MotionLMConfig c = tiny_state();
  EXPECT_TRUE(MotionLMConfig::from_json(c.to_json()).state_features);
  EXPECT_FALSE(MotionLMConfig::from_json("{\"vocab_size\": 313}").state_features);  // older checkpoints
  // Integers past int64 (nlohmann parses them as doubles), fractions and negative seeds are bad values.
  for (const char* text : {R"({"vocab_size": 35555555555555555555555555555555513})", R"({"d_model": 1e40})",
                           R"({"n_layers": 2.5})", R"({"seed": -1})", R"({"context": 18446744073709551615})"})
    EXPECT_THROW(MotionLMConfig::from_json(text), ValueError) << text;
  EXPECT_THROW(TranscriberConfig::from_json(R"({"conv_channels": [8, 1e30]})"), ValueError);
  EXPECT_THROW(MotionGRUConfig::from_json(R"({"hidden": 99999999999999999999999})"), ValueError);
  MotionLMConfig bad = c;
  bad.vocab_size = 20;
  EXPECT_THROW(bad.validate(), ValueError);
  // The projection adds kMotionStateFeatures x d_model parameters, nothing else.
  MotionLMConfig plain = c;
  plain.state_features = false;
  EXPECT_EQ(MotionLM(c).num_parameters() - MotionLM(plain).num_parameters(), kMotionStateFeatures * c.d_model);
}

TEST(MotionLMState, CausalAndTheCacheMatchesTheFullForward) {
  MotionLM m(tiny_state());
  m.eval();
  NoGrad ng;
  const std::vector<int32_t> s = piece();
  const Tensor full = m.forward(row(s, 0, 20));
  std::vector<int32_t> other = s;
  other[12] = MotionTokenizer().note_on(100);
  const Tensor changed = m.forward(row(other, 0, 20));
  const int64_t V = m.config().vocab_size;
  EXPECT_LT(max_diff(slice(full, 1, 0, 12), slice(changed, 1, 0, 12)), 1e-6);
  EXPECT_GT(max_diff(slice(full, 1, 12, 13), slice(changed, 1, 12, 13)), 1e-4);
  KVCache c = m.new_cache(1);
  EXPECT_LT(max_diff(m.step(row(s, 0, 5), c), slice(full, 1, 0, 5)), 1e-5);
  for (size_t t = 5; t < 20; ++t) EXPECT_LT(max_diff(m.step(row(s, t, 1), c), slice(full, 1, t, t + 1)), 1e-5) << t;
  EXPECT_EQ(full.shape(), (Shape{1, 20, V}));
  EXPECT_THROW(m.forward(row(s, 0, 4), std::vector<MotionState>(2)), ShapeError);
}

// Scoring in windows hands each window the state where it starts: its NLLs are the forward of the
// window from that state, which differs from reading the window as if it began the piece.
TEST(MotionLMState, ScoringWindowsStartFromTheStateOfThePrefix) {
  MotionLM m(tiny_state());
  const std::vector<int32_t> s = piece();
  ASSERT_GT(s.size(), 60u);
  const std::vector<float> nll = token_nll(m, s);
  ASSERT_EQ(nll.size(), s.size() - 1);
  m.eval();
  NoGrad ng;
  const MotionTokenizer tok;
  // The second window starts at token 12 (stride = context / 2) and scores its positions 11.. onwards.
  std::vector<MotionState> at12(1);
  for (size_t i = 0; i < 12; ++i) advance(tok, at12[0], s[i]);
  ASSERT_GT(at12[0].sounding[40 - kMinKey] + at12[0].pedal, 0);
  const Tensor with = log_softmax(m.forward(row(s, 12, 24), at12), -1);
  const Tensor without = log_softmax(m.forward(row(s, 12, 24)), -1);
  const int64_t V = m.config().vocab_size;
  double apart = 0;
  for (size_t p = 11; p < 23; ++p) {
    EXPECT_NEAR(nll[12 + p], -with.data<float>()[p * V + s[12 + p + 1]], 1e-5) << p;
    apart = std::max(apart, std::fabs(double(with.data<float>()[p * V + s[13 + p]]) - without.data<float>()[p * V + s[13 + p]]));
  }
  EXPECT_GT(apart, 1e-4);
}

// d loss / d state_proj.weight from the tape against central differences of the loss (float32
// forward, so a step of 1e-2 and a relative tolerance of 2 %).
TEST(MotionLMState, StateProjectionGradientMatchesCentralDifferences) {
  MotionLM m(tiny_state());
  const std::vector<int32_t> s = piece();
  const Tensor x = row(s, 0, 21);
  Tensor w;
  for (const auto& [name, p] : m.named_parameters())
    if (name == "state_proj.weight") w = p;
  ASSERT_TRUE(w.defined());
  Tensor l = m.loss(x);
  l.backward();
  const Tensor g = w.grad();
  ASSERT_TRUE(g.defined());
  // The first entries with a clear gradient (features that are on somewhere), then a silent key (zero).
  int checked = 0;
  for (int64_t i = 0; i < w.numel() && checked < 6; ++i) {
    const double gi = g.data<float>()[i];
    if (std::fabs(gi) < 1e-3) continue;
    float* wi = w.data<float>() + i;
    const float keep = *wi;
    const double eps = 1e-2;
    double lp, lm;
    {
      NoGrad ng;
      *wi = keep + static_cast<float>(eps);
      lp = m.loss(x).item();
      *wi = keep - static_cast<float>(eps);
      lm = m.loss(x).item();
    }
    *wi = keep;
    EXPECT_NEAR(gi, (lp - lm) / (2 * eps), 0.02 * std::fabs(gi) + 2e-5) << i;
    ++checked;
  }
  EXPECT_EQ(checked, 6);
  // Key 108 never sounds in the piece: its "sounding" column gets no gradient. weight is [D, F].
  for (int64_t d = 0; d < m.config().d_model; ++d) EXPECT_EQ(g.data<float>()[d * kMotionStateFeatures + 108 - kMinKey], 0.0f);
}

TEST(MotionLMState, CheckpointRoundTrip) {
  MotionLM m(tiny_state());
  m.eval();
  const std::string path = ::testing::TempDir() + "motion_lm_state_test.safetensors";
  m.save(path);
  auto r = MotionLM::load(path);
  r->eval();
  const Tensor x = row(piece(), 0, 16);
  EXPECT_EQ(max_diff(m.forward(x), r->forward(x)), 0.0);
  EXPECT_TRUE(r->config().state_features);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace pianograd
