// The motion language model (models/motion_lm.h): shapes, causality, the KV cache agreeing with the
// full forward, learning a sequence, checkpoints and errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "autodiff/errors.h"
#include "autodiff/ops.h"
#include "autodiff/optim/adam.h"
#include "models/motion_lm.h"
#include "models/motion_sampling.h"
#include "models/motion_test_util.h"

namespace pianograd {
namespace {

using motion_test::tiny;

using motion_test::max_diff;
using motion_test::tokens;

TEST(MotionLM, ShapesAndInitialLossNearUniform) {
  MotionLM m(tiny());
  const Tensor x = tokens({{1, 5, 6, 7, 8}, {1, 9, 9, 3, 2}});
  EXPECT_EQ(m.forward(x).shape(), (Shape{2, 5, 20}));
  const double l = m.loss(x).item();
  EXPECT_NEAR(l, std::log(20.0), 0.3);  // small initial weights: close to uniform over 20 tokens
  EXPECT_GT(m.num_parameters(), 0);
}

TEST(MotionLM, LogitsDependOnlyOnThePast) {
  MotionLM m(tiny());
  m.eval();
  const Tensor a = m.forward(tokens({{1, 4, 5, 6, 7, 8}})), b = m.forward(tokens({{1, 4, 5, 6, 19, 2}}));
  for (int64_t t = 0; t < 6; ++t) {
    double d = 0;
    for (int64_t v = 0; v < 20; ++v) d = std::max(d, std::fabs(double(a.data<float>()[t * 20 + v]) - b.data<float>()[t * 20 + v]));
    if (t < 4) EXPECT_LT(d, 1e-5) << t;
    else EXPECT_GT(d, 1e-4) << t;
  }
}

TEST(MotionLM, KvCacheStepsMatchTheFullForward) {
  MotionLM m(tiny());
  m.eval();
  NoGrad ng;
  const std::vector<std::vector<int64_t>> seq = {{1, 4, 5, 6, 7, 8, 9, 10, 11}, {1, 3, 3, 3, 12, 13, 14, 15, 16}};
  const Tensor full = m.forward(tokens(seq));
  KVCache c = m.new_cache(2);
  // A 3-token prompt, then one token at a time.
  const Tensor first = m.step(tokens({{1, 4, 5}, {1, 3, 3}}), c);
  EXPECT_LT(max_diff(first, slice(full, 1, 0, 3)), 1e-5);
  for (int64_t t = 3; t < 9; ++t) {
    const Tensor one = m.step(tokens({{seq[0][t]}, {seq[1][t]}}), c);
    EXPECT_LT(max_diff(one, slice(full, 1, t, t + 1)), 1e-5) << t;
  }
  EXPECT_EQ(c.length, 9);
  const Tensor too_long = zeros({2, 16}, DType::i64);
  EXPECT_THROW(m.step(too_long, c), ValueError);
}

TEST(MotionLM, LearnsARepeatingSequence) {
  MotionLM m(tiny());
  std::vector<int64_t> row;
  for (int i = 0; i < 21; ++i) row.push_back(1 + (i * 7) % 13);  // period 13
  const Tensor x = tokens({row, row});
  optim::AdamOptions o;
  o.lr = 3e-3;
  optim::Adam opt(m.parameters(), o);
  const double before = m.loss(x).item();
  for (int it = 0; it < 150; ++it) {
    opt.zero_grad();
    Tensor l = m.loss(x);
    l.backward();
    opt.step();
  }
  EXPECT_LT(m.loss(x).item(), 0.2 * before);
}

TEST(MotionLM, CheckpointRoundTripAndErrors) {
  MotionLM m(tiny());
  m.eval();
  const std::string path = ::testing::TempDir() + "motion_lm_test.safetensors";
  m.save(path);
  auto r = MotionLM::load(path);
  r->eval();
  const Tensor x = tokens({{1, 2, 3, 4}});
  EXPECT_EQ(max_diff(m.forward(x), r->forward(x)), 0.0);
  EXPECT_EQ(r->config().to_json(), m.config().to_json());
  std::remove(path.c_str());
  EXPECT_THROW(m.forward(tokens({{1, 20}})), ValueError);             // outside the vocabulary
  EXPECT_THROW(m.forward(zeros({1, 25}, DType::i64)), ValueError);    // past the context
  EXPECT_THROW(m.forward(zeros({4}, DType::i64)), ShapeError);
  EXPECT_THROW(m.forward(zeros({1, 3}, DType::f32)), DTypeError);
  MotionLMConfig bad = tiny();
  bad.n_heads = 3;
  EXPECT_THROW(MotionLM{bad}, ValueError);
  EXPECT_THROW(MotionLMConfig::from_json("{\"d_model\": 16, \"heads\": 2}"), ValueError);
}

}  // namespace
}  // namespace pianograd

namespace pianograd {
namespace {

TEST(MotionSampling, SampleTokenHonoursTemperatureTopKTopPAndBans) {
  const std::vector<float> logits = {0.0f, 3.0f, 2.0f, 1.0f, -1.0f};
  SamplingOptions o;
  o.top_k = 1;
  for (double u : {0.0, 0.5, 0.999}) EXPECT_EQ(sample_token(logits.data(), 5, o, {}, u), 1);
  EXPECT_EQ(sample_token(logits.data(), 5, o, {1}, 0.7), 2);  // banned: the next best
  o.top_k = 0;
  o.top_p = 0.5;  // token 1 alone holds ~0.64 of the mass: the nucleus is {1}
  for (double u : {0.0, 0.99}) EXPECT_EQ(sample_token(logits.data(), 5, o, {}, u), 1);
  o.top_p = 1.0;
  o.temperature = 1e-3;  // near-greedy
  EXPECT_EQ(sample_token(logits.data(), 5, o, {}, 0.999), 1);
  o.temperature = 1.0;  // the full distribution: every token reachable, in probability order
  std::vector<int> hits(5, 0);
  for (int i = 0; i < 1000; ++i) ++hits[static_cast<size_t>(sample_token(logits.data(), 5, o, {}, (i + 0.5) / 1000.0))];
  EXPECT_GT(hits[1], hits[2]);
  EXPECT_GT(hits[2], hits[3]);
  EXPECT_GT(hits[4], 0);
}

TEST(MotionSampling, GeneratesSeededValidContinuationsWithAndWithoutTheCache) {
  MotionTokenizer tok;
  MotionLMConfig c;
  c.vocab_size = tok.vocab_size();
  c.d_model = 32;
  c.n_layers = 2;
  c.n_heads = 2;
  c.d_ff = 64;
  c.context = 48;
  MotionLM m(c);
  SamplingOptions o;
  o.seed = 5;
  o.max_new_tokens = 120;  // more than the context: the cache restarts
  o.top_k = 40;
  const std::vector<std::vector<int32_t>> prompts = {{MotionTokenizer::kBos, tok.note_on(60)}, {}};
  const auto a = generate(m, tok, prompts, o), b = generate(m, tok, prompts, o);
  EXPECT_EQ(a, b);  // seeded
  ASSERT_EQ(a.size(), 2u);
  for (const auto& s : a) {
    EXPECT_FALSE(s.empty());
    for (int32_t t : s) EXPECT_TRUE(t != MotionTokenizer::kPad && t != MotionTokenizer::kBos);
    EXPECT_NO_THROW(tok.decode(s).validate());
  }
  SamplingOptions nc = o;
  nc.use_cache = false;  // both paths read the same windows, restarts included
  EXPECT_EQ(generate(m, tok, prompts, nc), a);
  o.max_new_tokens = 30;
  o.max_seconds = 0.5;
  o.max_new_tokens = 2000;
  for (const auto& s : generate(m, tok, prompts, o)) {
    const double secs = tok.seconds(s.data(), s.size());
    EXPECT_TRUE(secs >= 0.5 || (!s.empty() && s.back() == MotionTokenizer::kEos) || s.size() == 2000u) << secs;
  }
  // min_new_tokens: no EOS before it, so an untrained model runs the full length.
  SamplingOptions fixed;
  fixed.seed = 9;
  fixed.min_new_tokens = fixed.max_new_tokens = 200;
  for (const auto& s : generate(m, tok, prompts, fixed)) {
    EXPECT_EQ(s.size(), 200u);
    EXPECT_EQ(std::count(s.begin(), s.end(), MotionTokenizer::kEos), 0);
  }
  // The piano grammar: every sampled NOTE_OFF releases a sounding key, every NOTE_ON strikes a silent
  // one (an untrained model breaks both rules often without it).
  SamplingOptions g = fixed;
  g.min_new_tokens = 0;
  int broken_without = 0;
  for (bool grammar : {true, false}) {
    g.piano_grammar = grammar;
    for (const auto& s : generate(m, tok, {{MotionTokenizer::kBos, tok.note_on(60)}}, g)) {
      std::vector<int> down(kNumKeys, 0);
      down[60 - kMinKey] = 1;
      int broken = 0;
      for (int32_t t : s) {
        const TokenKind k = tok.kind(t);
        if (k != TokenKind::note_on && k != TokenKind::note_off) continue;
        int& d = down[static_cast<size_t>(tok.value(t) - kMinKey)];
        if ((k == TokenKind::note_on) == (d > 0)) ++broken;
        d = k == TokenKind::note_on ? d + 1 : std::max(0, d - 1);
      }
      if (grammar) EXPECT_EQ(broken, 0);
      else broken_without = broken;
    }
  }
  EXPECT_GT(broken_without, 0);
  o.top_p = 0;
  EXPECT_THROW(generate(m, tok, prompts, o), ValueError);
  fixed.min_new_tokens = -1;
  EXPECT_THROW(generate(m, tok, prompts, fixed), ValueError);
  EXPECT_THROW(generate(m, tok, {{5000}}, SamplingOptions{}), ValueError);
}

}  // namespace
}  // namespace pianograd

#include "models/motion_gru.h"
#include "models/motion_scoring.h"

namespace pianograd {
namespace {

// Scoring a sequence longer than the context in overlapping windows gives the full forward's NLLs for
// the first window and finite values after; the GRU's chunked scoring equals its one-pass scoring.
TEST(MotionScoring, WindowsAndChunksAgreeWithOnePass) {
  MotionLM m(tiny());  // context 24
  std::vector<int32_t> seq;
  for (int i = 0; i < 61; ++i) seq.push_back(1 + (i * 5) % 19);
  const std::vector<float> nll = token_nll(m, seq);
  ASSERT_EQ(nll.size(), 60u);
  m.eval();
  NoGrad ng;
  std::vector<int64_t> first(seq.begin(), seq.begin() + 24);
  const Tensor lp = log_softmax(m.forward(tokens({first})), -1);
  for (int p = 0; p < 23; ++p) EXPECT_NEAR(nll[static_cast<size_t>(p)], -lp.data<float>()[p * 20 + seq[p + 1]], 1e-5);
  for (float v : nll) EXPECT_TRUE(std::isfinite(v) && v > 0);

  MotionGRUConfig gc;
  gc.vocab_size = 20;
  gc.d_embed = 8;
  gc.hidden = 12;
  MotionGRU g(gc);
  const auto a = token_nll(g, seq, 7), b = token_nll(g, seq, 1000);
  ASSERT_EQ(a.size(), 60u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5) << i;
  EXPECT_TRUE(token_nll(m, {1}).empty());
}

TEST(MotionGRU, LearnsAndMatchesATransformersSize) {
  const MotionLMConfig lm = tiny();
  const int64_t target = MotionLM(lm).num_parameters();
  const MotionGRUConfig gc = MotionGRUConfig::matching(lm, target);
  MotionGRU g(gc);
  EXPECT_EQ(g.num_parameters(), gc.parameter_count());
  EXPECT_LT(std::llabs(g.num_parameters() - target), target / 10);
  std::vector<int64_t> r;
  for (int i = 0; i < 21; ++i) r.push_back(1 + (i * 7) % 13);
  const Tensor x = tokens({r, r});
  optim::AdamOptions o;
  o.lr = 1e-2;
  optim::Adam opt(g.parameters(), o);
  const double before = g.loss(x).item();
  for (int it = 0; it < 150; ++it) {
    opt.zero_grad();
    Tensor l = g.loss(x);
    l.backward();
    opt.step();
  }
  EXPECT_LT(g.loss(x).item(), 0.3 * before);
  const std::string path = ::testing::TempDir() + "motion_gru_test.safetensors";
  g.save(path);
  EXPECT_EQ(MotionGRU::load(path)->config().to_json(), gc.to_json());
  std::remove(path.c_str());
}

// What a token stream leaves behind: the notes sounding (key, velocity bin; per key in strike order)
// and the pedal, read as MotionTokenizer::decode reads it.
struct StreamEnd {
  std::vector<std::vector<int>> sounding = std::vector<std::vector<int>>(kNumKeys);
  bool pedal = false;
  int bin = -1;
  bool operator==(const StreamEnd& o) const { return sounding == o.sounding && pedal == o.pedal && bin == o.bin; }
};

StreamEnd stream_end(const MotionTokenizer& tok, const std::vector<int32_t>& s) {
  StreamEnd e;
  e.bin = tok.config().velocity_bins / 2;
  for (int32_t t : s) {
    const TokenKind k = tok.kind(t);
    if (k == TokenKind::velocity) e.bin = tok.value(t);
    if (k == TokenKind::note_on) e.sounding[static_cast<size_t>(tok.value(t) - kMinKey)].push_back(e.bin);
    if (k == TokenKind::note_off) {
      auto& q = e.sounding[static_cast<size_t>(tok.value(t) - kMinKey)];
      if (!q.empty()) q.erase(q.begin());
    }
    if (k == TokenKind::pedal_on) e.pedal = true;
    if (k == TokenKind::pedal_off) e.pedal = false;
  }
  return e;
}

TEST(MotionSampling, RestartWindowKeepsTheStateOfTheWholeSequence) {
  MotionTokenizer tok;
  // Long notes under the pedal, re-struck keys, changing dynamics: many notes outlive any short tail.
  Performance p;
  for (int i = 0; i < 60; ++i) {
    const double on = 0.13 * i;
    p.notes.push_back({36 + (i * 7) % 50, on, on + (i % 5 == 0 ? 3.0 : 0.2), 20 + (i * 37) % 100});
  }
  p.notes.push_back({60, 1.0, 6.0, 90});
  p.notes.push_back({60, 1.5, 2.0, 30});  // the same key again while it sounds
  p.pedal = {{0.5, 1.0}, {2.5, 0.0}, {3.0, 1.0}};
  p.sort();
  const std::vector<int32_t> seq = tok.encode(p, true);
  ASSERT_GT(seq.size(), 200u);
  for (size_t cut = 20; cut < seq.size(); cut += 17)
    for (size_t tail : {size_t{1}, size_t{8}, size_t{40}}) {
      const std::vector<int32_t> s(seq.begin(), seq.begin() + static_cast<std::ptrdiff_t>(cut));
      const auto w = restart_window(tok, s, tail);
      ASSERT_EQ(w.front(), MotionTokenizer::kBos);
      EXPECT_TRUE(std::equal(s.end() - static_cast<std::ptrdiff_t>(std::min(tail, s.size())), s.end(), w.end() - static_cast<std::ptrdiff_t>(std::min(tail, s.size()))));
      EXPECT_TRUE(stream_end(tok, w) == stream_end(tok, s)) << "cut " << cut << " tail " << tail;
      EXPECT_LE(w.size(), std::min(tail, s.size()) + 3 + 2 * static_cast<size_t>(kNumKeys));
    }
  // A sequence shorter than the tail is itself (BOS not doubled).
  const std::vector<int32_t> short_seq(seq.begin(), seq.begin() + 5);
  EXPECT_EQ(restart_window(tok, short_seq, 10), short_seq);
}

}  // namespace
}  // namespace pianograd
