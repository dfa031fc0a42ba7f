// The CTC decoders: greedy on hand-made logits; prefix beam search against the exhaustive answer (every
// alignment path enumerated, collapsed and its probability added to its label sequence), its scores against
// -ctc_loss, the prior hook, and the argument checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "models/ctc_decode.h"
#include "pianograd.h"

namespace pianograd {
namespace {

// Logits whose argmax at frame t is path[t] (margin 3 over the others).
Tensor peaked(const std::vector<int>& path, int C) {
  std::vector<float> v(path.size() * size_t(C), 0.f);
  for (size_t t = 0; t < path.size(); ++t) v[t * size_t(C) + size_t(path[t])] = 3.f;
  return from_vector<float>(v, {1, int64_t(path.size()), C});
}

TEST(CtcGreedyDecode, CollapsesRepeatsAndDropsBlanks) {
  const Tensor x = peaked({0, 1, 1, 0, 1, 2, 2, 0, 3}, 4);
  const Tensor len = from_vector<int64_t>({9}, {1});
  EXPECT_EQ(ctc_greedy_decode(x, len)[0], (std::vector<int64_t>{1, 1, 2, 3}));
  EXPECT_EQ(ctc_greedy_decode(x, from_vector<int32_t>({4}, {1}))[0], (std::vector<int64_t>{1}));
  EXPECT_EQ(ctc_greedy_decode(x, from_vector<int64_t>({0}, {1}))[0], (std::vector<int64_t>{}));
  // blank 2: 0 and 1 are labels now, and 0,1,1,0 -> 0 1 0.
  EXPECT_EQ(ctc_greedy_decode(x, len, 2)[0], (std::vector<int64_t>{0, 1, 0, 1, 0, 3}));
  const auto raw = x.to_vector<float>();
  EXPECT_EQ(ctc_greedy_decode(raw.data(), 9, 4, 0), (std::vector<int64_t>{1, 1, 2, 3}));
  // A batch decodes each row over its own length.
  const Tensor two = concat({x, peaked({3, 3, 0, 3, 2, 0, 0, 0, 0}, 4)}, 0);
  const auto both = ctc_greedy_decode(two, from_vector<int64_t>({9, 5}, {2}));
  EXPECT_EQ(both[0], (std::vector<int64_t>{1, 1, 2, 3}));
  EXPECT_EQ(both[1], (std::vector<int64_t>{3, 3, 2}));
}

// ln p(labels | x) for every label sequence with nonzero probability, by enumerating all C^T paths.
std::map<std::vector<int64_t>, double> exhaustive(const Tensor& x, int64_t blank) {
  const int T = int(x.size(0)), C = int(x.size(1));
  const auto lp = log_softmax(x.to(DType::f64), 1).to_vector<double>();
  std::map<std::vector<int64_t>, double> prob;
  long n = 1;
  for (int t = 0; t < T; ++t) n *= C;
  for (long k = 0; k < n; ++k) {
    std::vector<int64_t> out;
    double lpath = 0;
    long r = k;
    int prev = -1;
    for (int t = 0; t < T; ++t, r /= C) {
      const int s = int(r % C);
      lpath += lp[size_t(t * C + s)];
      if (s != blank && s != prev) out.push_back(s);
      prev = s;
    }
    prob[out] += std::exp(lpath);
  }
  for (auto& [k, v] : prob) v = std::log(v);
  return prob;
}

TEST(CtcBeamDecode, WideBeamEqualsExhaustiveSearch) {
  struct Size {
    int T, C;
    int64_t blank;
  };
  for (const Size sz : {Size{4, 3, 0}, Size{5, 3, 0}, Size{6, 3, 1}, Size{5, 4, 0}, Size{3, 4, 3}})
    for (uint64_t seed = 1; seed <= 4; ++seed) {
      manual_seed(seed);
      const Tensor x = mul(randn({sz.T, sz.C}, DType::f64), 2.0);
      const auto all = exhaustive(x, sz.blank);
      CtcBeamOptions o;
      o.beam = 1 << 12;  // wider than the number of prefixes: no pruning of the search
      o.blank = sz.blank;
      o.prune_log_prob = -std::numeric_limits<float>::infinity();
      const auto got = ctc_beam_decode(x, -1, o);
      ASSERT_EQ(got.size(), all.size());
      for (const auto& [labels, score] : got) {
        ASSERT_TRUE(all.count(labels));
        EXPECT_NEAR(score, all.at(labels), 1e-10);
      }
      for (size_t i = 1; i < got.size(); ++i) EXPECT_GE(got[i - 1].second, got[i].second);
      // The best of a narrow beam is the exhaustive argmax (these sizes are small enough for beam 8 to keep it).
      auto best = all.begin();
      for (auto it = all.begin(); it != all.end(); ++it)
        if (it->second > best->second) best = it;
      o.beam = 8;
      o.prune_log_prob = -20.f;
      const auto narrow = ctc_beam_decode(x, -1, o);
      ASSERT_LE(narrow.size(), 8u);
      EXPECT_EQ(narrow[0].first, best->first) << "T " << sz.T << " C " << sz.C << " seed " << seed;
      // A score is ln p(labels | x) = -ctc_loss of that target.
      const auto& lab = got[0].first;
      const int64_t S = std::max<int64_t>(int64_t(lab.size()), 1);
      std::vector<int64_t> tv = lab;
      tv.resize(size_t(S), lab.empty() ? (sz.blank == 0 ? 1 : 0) : lab[0]);
      const double loss = ctc_loss(x.reshape({1, sz.T, sz.C}), from_vector<int64_t>(tv, {1, S}),
                                   from_vector<int64_t>({sz.T}, {1}), from_vector<int64_t>({int64_t(lab.size())}, {1}),
                                   sz.blank, Reduction::none)
                              .item();
      EXPECT_NEAR(got[0].second, -loss, 1e-10);
    }
}

TEST(CtcBeamDecode, LengthLimitsTheFramesAndRawBufferAgrees) {
  manual_seed(2);
  const Tensor x = randn({7, 4});
  CtcBeamOptions o;
  const auto full = ctc_beam_decode(x, -1, o);
  const auto raw_full = x.to_vector<float>();
  const auto raw = ctc_beam_decode(raw_full.data(), 7, 4, o);
  ASSERT_EQ(full.size(), raw.size());
  for (size_t i = 0; i < full.size(); ++i) {
    EXPECT_EQ(full[i].first, raw[i].first);
    EXPECT_NEAR(full[i].second, raw[i].second, 1e-12);
  }
  const auto three = ctc_beam_decode(x, 3, o), sliced = ctc_beam_decode(x.slice(0, 0, 3), -1, o);
  ASSERT_EQ(three.size(), sliced.size());
  EXPECT_EQ(three[0].first, sliced[0].first);
  const auto none = ctc_beam_decode(x, 0, o);
  ASSERT_EQ(none.size(), 1u);
  EXPECT_TRUE(none[0].first.empty());
  EXPECT_EQ(none[0].second, 0.0);
}

// One frame: p(blank) .1, p(1) .5, p(2) .4. Alone, [1] wins; a prior that prefers 2 after the empty prefix
// by ln 4 at weight 1 makes [2] win (.4 * 1 > .5 * 1/4). The hook sees each new prefix once.
TEST(CtcBeamDecode, PriorHookChangesTheResult) {
  const Tensor x = from_vector<double>({std::log(.1), std::log(.5), std::log(.4)}, {1, 3});
  CtcBeamOptions o;
  EXPECT_EQ(ctc_beam_decode(x, -1, o)[0].first, (std::vector<int64_t>{1}));
  std::vector<std::pair<std::vector<int64_t>, int64_t>> calls;
  o.prior = [&](const std::vector<int64_t>& prefix, int64_t next) {
    calls.emplace_back(prefix, next);
    return next == 2 ? 0.f : float(std::log(0.25));
  };
  EXPECT_EQ(ctc_beam_decode(x, -1, o)[0].first, (std::vector<int64_t>{1})) << "prior_weight 0 ignores the hook";
  EXPECT_TRUE(calls.empty());
  o.prior_weight = 1.f;
  const auto r = ctc_beam_decode(x, -1, o);
  EXPECT_EQ(r[0].first, (std::vector<int64_t>{2}));
  EXPECT_NEAR(r[0].second, std::log(.4), 1e-6);
  EXPECT_NEAR(r[1].second, std::log(.5) + std::log(.25), 1e-6);
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_TRUE(calls[0].first.empty());
  // Over several frames the hook receives the prefix being extended.
  calls.clear();
  manual_seed(3);
  ctc_beam_decode(randn({4, 3}), -1, o);
  bool saw_long = false;
  for (const auto& [prefix, next] : calls) saw_long |= prefix.size() >= 2;
  EXPECT_TRUE(saw_long);
}

template <class E, class F>
void expect_error(F&& f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected one mentioning " << part;
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(CtcDecode, ArgumentErrors) {
  const Tensor x = zeros({2, 5, 4}), len = from_vector<int64_t>({5, 5}, {2});
  expect_error<ShapeError>([&] { ctc_greedy_decode(zeros({5, 4}), len); }, "ctc_greedy_decode: logits must be [B,T,C]");
  expect_error<ShapeError>([&] { ctc_greedy_decode(x, from_vector<int64_t>({5}, {1})); }, "input_lengths must be [B]");
  expect_error<ValueError>([&] { ctc_greedy_decode(x, from_vector<int64_t>({6, 5}, {2})); }, "input_lengths[0] = 6");
  expect_error<DTypeError>([&] { ctc_greedy_decode(x, zeros({2})); }, "int32 or int64");
  expect_error<IndexError>([&] { ctc_greedy_decode(x, len, 4); }, "blank 4");
  CtcBeamOptions o;
  expect_error<ShapeError>([&] { ctc_beam_decode(x, -1, o); }, "ctc_beam_decode: logits must be [T,C]");
  expect_error<ValueError>([&] { ctc_beam_decode(zeros({5, 4}), 6, o); }, "length 6 exceeds the 5 frames");
  o.beam = 0;
  expect_error<ValueError>([&] { ctc_beam_decode(zeros({5, 4}), -1, o); }, "beam must be >= 1");
  o.beam = 4;
  o.blank = -1;
  expect_error<IndexError>([&] { ctc_beam_decode(zeros({5, 4}), -1, o); }, "blank -1");
  o.blank = 0;
  Tensor bad = zeros({5, 4});
  bad.data<float>()[6] = std::numeric_limits<float>::infinity();
  expect_error<ValueError>([&] { ctc_beam_decode(bad, -1, o); }, "frame 1, class 2");
  expect_error<ValueError>([&] { ctc_greedy_decode(bad.reshape({1, 5, 4}), from_vector<int64_t>({5}, {1})); }, "finite");
}

}  // namespace
}  // namespace pianograd
