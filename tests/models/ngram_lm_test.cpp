// NGramLM (models/ngram_lm.h): interpolated modified Kneser–Ney against (1) probabilities worked out by
// hand, (2) a brute-force reference written from the definitions over explicit count tables (std::map of
// n-gram -> count, every sum taken over the whole vocabulary), (3) a known second-order Markov source;
// plus normalisation at every order, save/load, corrupt files and bad tokens.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "autodiff/errors.h"
#include "models/ngram_lm.h"

namespace pianograd {
namespace {

using Corpus = std::vector<std::vector<int32_t>>;

// Portable uniform doubles in [0, 1) (std::*_distribution differ between standard libraries).
struct Rng {
  std::mt19937_64 g;
  explicit Rng(uint64_t seed) : g(seed) {}
  double uniform() { return double(g() >> 11) * 0x1.0p-53; }
  int32_t below(int32_t n) { return int32_t(uniform() * n); }
};

// A second-order Markov source over [0, V): p(x | a, b) with a, b in [0, V] (V = "before the start"),
// peaked so that each extra token of history tells a lot.
struct MarkovSource {
  int32_t V;
  std::vector<std::vector<double>> p;  // p[(a * (V + 1) + b)][x]
  MarkovSource(int32_t vocab, uint64_t seed) : V(vocab) {
    Rng r(seed);
    p.resize(size_t((V + 1) * (V + 1)));
    for (auto& row : p) {
      double s = 0.0;
      for (int32_t x = 0; x < V; ++x) s += row.emplace_back(std::exp(5.0 * r.uniform()));
      for (double& v : row) v /= s;
    }
  }
  const std::vector<double>& row(const std::vector<int32_t>& seq, size_t i) const {
    const int32_t a = i >= 2 ? seq[i - 2] : V, b = i >= 1 ? seq[i - 1] : V;
    return p[size_t(a * (V + 1) + b)];
  }
  Corpus sample(size_t n_seq, size_t len, Rng& r) const {
    Corpus c(n_seq);
    for (auto& s : c)
      for (size_t i = 0; i < len; ++i) {
        const auto& q = row(s, i);
        double u = r.uniform();
        int32_t x = 0;
        while (x + 1 < V && (u -= q[size_t(x)]) >= 0.0) ++x;
        s.push_back(x);
      }
    return c;
  }
  double nats_per_token(const Corpus& c) const {
    double nll = 0.0;
    size_t n = 0;
    for (const auto& s : c)
      for (size_t i = 0; i < s.size(); ++i, ++n) nll -= std::log(row(s, i)[size_t(s[i])]);
    return nll / double(n);
  }
};

// ---- the brute-force reference, straight from the definitions in ngram_lm.h ----
struct ReferenceKN {
  int32_t V;
  int N;
  std::map<std::vector<int32_t>, double> a;  // adjusted count of every n-gram that occurs (BOS = V)
  std::vector<std::array<double, 3>> D;      // D[k-1] = (D1, D2, D3+) of order k

  ReferenceKN(int32_t vocab, int order, const Corpus& corpus) : V(vocab), N(order), D(size_t(order)) {
    std::map<std::vector<int32_t>, double> raw;  // occurrences in the sequences with one BOS prepended
    for (const auto& s : corpus) {
      std::vector<int32_t> padded{V};
      padded.insert(padded.end(), s.begin(), s.end());
      for (size_t end = 1; end < padded.size(); ++end)
        for (int k = 1; k <= N && size_t(k) <= end + 1; ++k)
          raw[std::vector<int32_t>(padded.begin() + ptrdiff_t(end + 1 - size_t(k)), padded.begin() + ptrdiff_t(end + 1))]++;
    }
    for (const auto& [g, c] : raw) {
      if (int(g.size()) == N || g[0] == V) {
        a[g] = c;  // highest order or starts at BOS: the raw count
        continue;
      }
      double ext = 0;  // N1+(•g): distinct left extensions, BOS included
      for (int32_t x = 0; x <= V; ++x) {
        std::vector<int32_t> xg{x};
        xg.insert(xg.end(), g.begin(), g.end());
        ext += raw.count(xg) ? 1 : 0;
      }
      a[g] = ext;
    }
    for (int k = 1; k <= N; ++k) {
      std::array<double, 5> n{};
      for (const auto& [g, c] : a)
        if (int(g.size()) == k && c <= 4) n[size_t(c)] += 1;
      const double Y = n[1] / (n[1] + 2 * n[2]);
      std::array<double, 3> d{1 - 2 * Y * n[2] / n[1], 2 - 3 * Y * n[3] / n[2], 3 - 4 * Y * n[4] / n[3]};
      const bool ok = n[1] > 0 && n[2] > 0 && n[3] > 0 && d[0] > 0 && d[0] <= 1 && d[1] > 0 && d[1] <= 2 &&
                      d[2] > 0 && d[2] <= 3;
      D[size_t(k - 1)] = ok ? d : std::array<double, 3>{0.5, 1.0, 1.5};
    }
  }

  double count(std::vector<int32_t> h, int32_t w) const {
    h.push_back(w);
    auto it = a.find(h);
    return it == a.end() ? 0.0 : it->second;
  }

  // p(w | hist), hist = the history itself (BOS included where it applies), recursing to the uniform.
  double prob(const std::vector<int32_t>& hist, int32_t w) const {
    const double lower = hist.empty() ? 1.0 / V : prob(std::vector<int32_t>(hist.begin() + 1, hist.end()), w);
    const auto& d = D[hist.size()];
    double total = 0, removed = 0;
    for (int32_t v = 0; v < V; ++v) {
      const double c = count(hist, v);
      total += c;
      if (c > 0) removed += d[size_t(std::min(c, 3.0)) - 1];
    }
    if (total == 0) return lower;  // an unseen history contributes nothing
    const double c = count(hist, w);
    const double disc = c > 0 ? d[size_t(std::min(c, 3.0)) - 1] : 0.0;
    return std::max(c - disc, 0.0) / total + removed / total * lower;
  }

  // The history of a sequence prefix: BOS + prefix, its last N-1 symbols.
  double prob_after_prefix(const std::vector<int32_t>& prefix, int32_t w) const {
    std::vector<int32_t> padded{V};
    padded.insert(padded.end(), prefix.begin(), prefix.end());
    const size_t keep = std::min(padded.size(), size_t(N - 1));
    return prob(std::vector<int32_t>(padded.end() - ptrdiff_t(keep), padded.end()), w);
  }
};

// Every context of length 0..max_len over [0, V).
std::vector<std::vector<int32_t>> all_contexts(int32_t V, int max_len) {
  std::vector<std::vector<int32_t>> out{{}}, frontier{{}};
  for (int l = 1; l <= max_len; ++l) {
    std::vector<std::vector<int32_t>> next;
    for (const auto& c : frontier)
      for (int32_t x = 0; x < V; ++x) {
        next.push_back(c);
        next.back().push_back(x);
      }
    out.insert(out.end(), next.begin(), next.end());
    frontier = std::move(next);
  }
  return out;
}

void expect_matches_reference(const Corpus& corpus, int32_t V, int N) {
  NGramLM lm(V, N);
  lm.fit(corpus);
  const ReferenceKN ref(V, N, corpus);
  for (int k = 1; k <= N; ++k)
    for (int r = 0; r < 3; ++r) EXPECT_NEAR(lm.discounts(k)[size_t(r)], ref.D[size_t(k - 1)][size_t(r)], 1e-14);
  for (const auto& ctx : all_contexts(V, N))
    for (int32_t w = 0; w < V; ++w)
      ASSERT_NEAR(lm.log_prob(ctx, w), std::log(ref.prob_after_prefix(ctx, w)), 1e-12)
          << "order " << N << ", context length " << ctx.size() << ", token " << w;
}

TEST(NGramLM, UnigramByHand) {
  // Order 1: raw counts c = (3, 2, 1, 0); n1 = n2 = n3 = 1, n4 = 0 -> Y = 1/3, D1 = 1/3, D2 = 1, D3+ = 3;
  // γ = (1/3 + 1 + 3)/6 = 13/18, so p = (0/6, 1/6, (2/3)/6, 0) + 13/72 = (13, 25, 21, 13)/72.
  NGramLM lm(4, 1);
  lm.fit({{0, 0, 1}, {0, 1, 2}});
  const auto d = lm.discounts(1);
  EXPECT_NEAR(d[0], 1.0 / 3, 1e-15);
  EXPECT_NEAR(d[1], 1.0, 1e-15);
  EXPECT_NEAR(d[2], 3.0, 1e-15);
  const double expected[4] = {13.0 / 72, 25.0 / 72, 21.0 / 72, 13.0 / 72};
  for (int32_t w = 0; w < 4; ++w) {
    EXPECT_NEAR(std::exp(lm.log_prob({}, w)), expected[w], 1e-15);
    EXPECT_NEAR(std::exp(lm.log_prob({3, 2, 1}, w)), expected[w], 1e-15);  // order 1 ignores the context
  }
}

TEST(NGramLM, BigramByHand) {
  // V = 3, one sequence 0 1 0 read as BOS 0 1 0. Bigrams (raw): BOS·0, 0·1, 1·0, once each: n2 = 0, so
  // the fallback D = (0.5, 1, 1.5). Unigram continuation counts: 0 <- {BOS, 1} = 2, 1 <- {0} = 1, 2: 0;
  // n3 = 0 -> fallback again. Unigram: γ = (1 + 0.5)/3 = 1/2, p1 = (1/3 + 1/6, 1/6 + 1/6, 1/6) = (1/2, 1/3, 1/6).
  // After 0: one bigram 0·1 (count 1): γ = 1/2, p(·|0) = (1/4, 1/2 + 1/6, 1/12) = (1/4, 2/3, 1/12).
  // At the start (history BOS): p(·|BOS) = (1/2 + 1/4, 1/6, 1/12); after 1: the same shape, p(0|1) = 3/4.
  NGramLM lm(3, 2);
  lm.fit({{0, 1, 0}});
  const double after0[3] = {1.0 / 4, 2.0 / 3, 1.0 / 12}, at_start[3] = {3.0 / 4, 1.0 / 6, 1.0 / 12};
  for (int32_t w = 0; w < 3; ++w) {
    EXPECT_NEAR(std::exp(lm.log_prob({0}, w)), after0[w], 1e-15);
    EXPECT_NEAR(std::exp(lm.log_prob({1, 2, 0}, w)), after0[w], 1e-15);
    EXPECT_NEAR(std::exp(lm.log_prob({}, w)), at_start[w], 1e-15);
    EXPECT_NEAR(std::exp(lm.log_prob({2}, w)), (std::array<double, 3>{1.0 / 2, 1.0 / 3, 1.0 / 6})[size_t(w)], 1e-15);
  }
  EXPECT_NEAR(lm.sequence_nll({0, 1, 0}), -std::log(3.0 / 4 * 2.0 / 3 * 3.0 / 4), 1e-14);
}

TEST(NGramLM, TinyCorpusMatchesBruteForceReference) {
  // Small enough to enumerate every context; varied enough that n1..n3 are non-zero for the bigrams of the
  // order-3 and order-4 models, so Chen & Goodman's discounts are exercised besides the fallback.
  const Corpus corpus{{0, 1, 2, 0, 1, 2, 0, 1, 3, 0, 1, 2},
                      {1, 2, 0, 1, 1, 1, 2, 3, 3, 0},
                      {2, 0, 1, 2, 0, 0, 1},
                      {},
                      {3}};
  for (int N = 1; N <= 4; ++N) expect_matches_reference(corpus, 4, N);
  NGramLM lm(4, 3);
  lm.fit(corpus);
  EXPECT_NE(lm.discounts(2), (std::array<double, 3>{0.5, 1.0, 1.5}));
}

TEST(NGramLM, RandomCorpusMatchesBruteForceReference) {
  Rng r(7);
  const MarkovSource src(5, 11);
  const Corpus corpus = src.sample(12, 40, r);
  for (int N = 2; N <= 5; ++N) expect_matches_reference(corpus, 5, N);
}

TEST(NGramLM, DistributionSumsToOneAtEveryOrder) {
  Rng r(3);
  const MarkovSource src(9, 5);
  const Corpus corpus = src.sample(30, 60, r);
  for (int N = 1; N <= NGramLM::kMaxOrder; ++N) {
    NGramLM lm(9, N);
    lm.fit(corpus);
    std::vector<std::vector<int32_t>> contexts{{}, {8, 8, 8, 8, 8, 8, 8, 8, 8, 8}};
    for (size_t i = 0; i <= 12; ++i) contexts.emplace_back(corpus[0].begin(), corpus[0].begin() + ptrdiff_t(i));  // seen
    for (int k = 0; k < 20; ++k) {  // random, mostly unseen at the higher orders
      contexts.emplace_back();
      for (int l = r.below(10); l > 0; --l) contexts.back().push_back(r.below(9));
    }
    for (const auto& ctx : contexts) {
      const auto p = lm.next_distribution(ctx);
      ASSERT_EQ(p.size(), 9u);
      double s = 0.0;
      for (int32_t w = 0; w < 9; ++w) {
        EXPECT_GT(p[size_t(w)], 0.0);
        EXPECT_NEAR(p[size_t(w)], std::exp(lm.log_prob(ctx, w)), 1e-15);
        s += p[size_t(w)];
      }
      EXPECT_NEAR(s, 1.0, 1e-9) << "order " << N << ", context length " << ctx.size();
    }
  }
}

TEST(NGramLM, SequenceNllAndEvaluateAgreeWithLogProb) {
  Rng r(5);
  const MarkovSource src(6, 2);
  const Corpus train = src.sample(20, 50, r), test = src.sample(3, 30, r);
  NGramLM lm(6, 3);
  lm.fit(train);
  double total = 0.0;
  for (const auto& s : test) {
    double nll = 0.0;
    for (size_t i = 0; i < s.size(); ++i) nll -= lm.log_prob(s.data(), i, s[i]);
    EXPECT_NEAR(lm.sequence_nll(s), nll, 1e-9);
    total += nll;
  }
  const NGramEval e = lm.evaluate(test);
  EXPECT_EQ(e.tokens, 90);
  EXPECT_NEAR(e.total_nats, total, 1e-9);
  EXPECT_NEAR(e.nats_per_token(), total / 90, 1e-12);
  EXPECT_TRUE(std::isnan(lm.evaluate({}).nats_per_token()));
}

TEST(NGramLM, MarkovSourcePerplexityImprovesUpToSourceOrderAndApproachesEntropy) {
  Rng r(2024);
  const MarkovSource src(6, 99);  // a second-order source: trigrams capture it exactly
  const Corpus train = src.sample(600, 500, r), held_out = src.sample(100, 500, r);
  const double entropy = src.nats_per_token(held_out);
  std::vector<double> nats(5);
  for (int N = 1; N <= 4; ++N) {
    NGramLM lm(6, N);
    lm.fit(train);
    nats[size_t(N)] = lm.evaluate(held_out).nats_per_token();
  }
  EXPECT_GT(nats[1], nats[2] + 0.05);
  EXPECT_GT(nats[2], nats[3] + 0.05);
  EXPECT_NEAR(nats[3], entropy, 0.005);  // 300k tokens for 216 trigrams: within 0.5% of the source
  EXPECT_NEAR(nats[4], nats[3], 0.005);  // a longer history has nothing more to learn
  EXPECT_GE(nats[3], entropy - 0.005);   // no model beats the source (up to sampling noise)
  // Less data, a larger gap: the estimate converges to the source's entropy.
  NGramLM small(6, 3);
  small.fit(Corpus(train.begin(), train.begin() + 6));
  EXPECT_GT(small.evaluate(held_out).nats_per_token() - entropy, 4 * std::abs(nats[3] - entropy));
}

TEST(NGramLM, EmptyCorpusAndEmptySequencesGiveUniform) {
  for (const Corpus& c : {Corpus{}, Corpus{{}, {}}}) {
    NGramLM lm(7, 3);
    lm.fit(c);
    EXPECT_NEAR(lm.log_prob({1, 2}, 4), -std::log(7.0), 1e-15);
    EXPECT_NEAR(lm.sequence_nll({1, 2, 3}), 3 * std::log(7.0), 1e-13);
  }
  NGramLM unfitted(7, 3);
  EXPECT_NEAR(unfitted.log_prob({}, 0), -std::log(7.0), 1e-15);
}

class NGramLMFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("pg_ngram_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const char* name) const { return (dir_ / name).string(); }
  static std::vector<char> read(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  }
  static void write(const std::string& p, const std::vector<char>& b) {
    std::ofstream(p, std::ios::binary).write(b.data(), std::streamsize(b.size()));
  }
  template <class E>
  static void expect_error(const std::string& p, const std::string& fragment) {
    try {
      NGramLM::load(p);
      ADD_FAILURE() << "no error for " << fragment;
    } catch (const E& e) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  }
  std::filesystem::path dir_;
};

TEST_F(NGramLMFile, SaveLoadRoundTripIsExact) {
  Rng r(9);
  const MarkovSource src(10, 4);
  const Corpus train = src.sample(40, 80, r), test = src.sample(5, 40, r);
  NGramLM lm(10, 4);
  lm.fit(train);
  lm.save(path("a.ngram"));
  const NGramLM back = NGramLM::load(path("a.ngram"));
  EXPECT_EQ(back.vocab_size(), 10);
  EXPECT_EQ(back.order(), 4);
  EXPECT_EQ(back.num_contexts(), lm.num_contexts());
  EXPECT_EQ(back.num_ngrams(), lm.num_ngrams());
  for (int k = 1; k <= 4; ++k) EXPECT_EQ(back.discounts(k), lm.discounts(k));
  for (const auto& s : test)
    for (size_t i = 0; i < s.size(); ++i) EXPECT_EQ(back.log_prob(s.data(), i, s[i]), lm.log_prob(s.data(), i, s[i]));
  EXPECT_EQ(back.next_distribution(test[0]), lm.next_distribution(test[0]));
  back.save(path("b.ngram"));
  EXPECT_EQ(read(path("a.ngram")), read(path("b.ngram")));  // the format is canonical
  NGramLM empty(3, 2);
  empty.save(path("e.ngram"));
  EXPECT_NEAR(NGramLM::load(path("e.ngram")).log_prob({}, 1), -std::log(3.0), 1e-15);
}

TEST_F(NGramLMFile, CorruptOrMissingFilesRaiseTypedErrorsNamingTheFile) {
  Rng r(1);
  NGramLM lm(8, 3);
  lm.fit(MarkovSource(8, 1).sample(10, 30, r));
  lm.save(path("good.ngram"));
  const std::vector<char> good = read(path("good.ngram"));

  expect_error<FileNotFound>(path("missing.ngram"), "no such file");
  auto variant = [&](const char* name, auto edit) {
    std::vector<char> b = good;
    edit(b);
    write(path(name), b);
    return path(name);
  };
  expect_error<IOError>(variant("trunc.ngram", [](auto& b) { b.resize(b.size() - 5); }), "truncated");
  expect_error<IOError>(variant("short.ngram", [](auto& b) { b.resize(10); }), "truncated");
  expect_error<IOError>(variant("flip.ngram", [](auto& b) { b[b.size() / 2] ^= 0x10; }), "checksum");
  expect_error<IOError>(variant("magic.ngram", [](auto& b) { b[0] = 'X'; }), "bad magic");
  expect_error<IOError>(variant("version.ngram", [](auto& b) { b[8] = 2; }), "unsupported version 2");
  expect_error<IOError>(variant("extra.ngram", [](auto& b) { b.push_back(0); }), "disagrees with its header");
}

TEST(NGramLM, BadTokensRaiseValueErrorNamingSequenceAndPosition) {
  NGramLM lm(5, 3);
  lm.fit({{0, 1, 2, 3, 4}});
  const double before = lm.log_prob({0, 1}, 2);
  for (int32_t bad : {-1, 5}) {
    try {
      lm.fit({{0, 1}, {2, 3, bad}});
      ADD_FAILURE() << "no error for token " << bad;
    } catch (const ValueError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("sequence 1, position 2: token " + std::to_string(bad) + " outside [0, 5)"), std::string::npos) << m;
    }
  }
  EXPECT_EQ(lm.log_prob({0, 1}, 2), before);  // a rejected fit leaves the model as it was
  EXPECT_THROW(lm.log_prob({0, 1}, 5), ValueError);
  EXPECT_THROW(lm.log_prob({0, 7}, 1), ValueError);
  EXPECT_THROW(lm.next_distribution({-3}), ValueError);
  EXPECT_THROW(lm.sequence_nll({0, 9}), ValueError);
  try {
    lm.evaluate({{0}, {1}, {2, 2, 2, -4}});
    ADD_FAILURE();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("sequence 2, position 3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(NGramLM(0, 3), ValueError);
  EXPECT_THROW(NGramLM(5, 0), ValueError);
  EXPECT_THROW(NGramLM(5, 9), ValueError);
  EXPECT_THROW(lm.discounts(4), ValueError);
}

}  // namespace
}  // namespace pianograd
