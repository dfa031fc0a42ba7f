// The piano state read from performance tokens (models/motion_state.h): each feature by hand on a short
// sequence, agreement with the decoded performance on a random one, and resuming from a mid-way state.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "autodiff/errors.h"
#include "models/motion_state.h"

namespace pianograd {
namespace {

constexpr int F = kMotionStateFeatures;
constexpr int kPedal = 2 * kNumKeys, kBucket = 2 * kNumKeys + 1, kVelocity = kBucket + 9, kPedalBucket = kVelocity + 32;

std::vector<float> features_after(const MotionTokenizer& tok, const std::vector<int32_t>& seq) {
  std::vector<int64_t> t(seq.begin(), seq.end());
  std::vector<float> f(t.size() * F);
  MotionState s;
  window_state_features(tok, t.data(), t.size(), s, f.data());
  return f;
}

// The hot index of a one-hot group (-1 when none is hot); fails unless at most one is.
int hot_of(const float* f, int at, int n) {
  int hot = -1, count = 0;
  for (int b = 0; b < n; ++b)
    if (f[at + b] == 1.0f) hot = b, ++count;
    else EXPECT_EQ(f[at + b], 0.0f);
  EXPECT_LE(count, 1);
  return hot;
}
int bucket_of(const float* f) { return hot_of(f, kBucket, 9); }
int pedal_bucket_of(const float* f) { return hot_of(f, kPedalBucket, 9); }
int velocity_of(const float* f) { return hot_of(f, kVelocity, 32); }

TEST(MotionState, EachFeatureOnAHandWrittenSequence) {
  const MotionTokenizer tok;
  const std::vector<int32_t> seq = {
      MotionTokenizer::kBos,                    // 0: nothing yet, no onset: the last bucket
      tok.pedal_on(),                           // 1
      tok.velocity(20), tok.note_on(60),        // 2, 3: key 60 at t = 0
      tok.note_on(64),                          // 4
      tok.shift(3),                             // 5: t = 3 steps
      tok.note_off(60),                         // 6
      tok.note_off(72),                         // 7: a key that is not sounding: nothing changes
      tok.note_on(64), tok.shift(50),           // 8, 9: key 64 struck again (two notes), t = 53
      tok.note_off(64),                         // 10: the older one ends, 64 still sounds
      tok.pedal_off(), tok.shift(100), tok.shift(100),  // 11..13: t = 253
  };
  const std::vector<float> f = features_after(tok, seq);
  auto at = [&](size_t i) { return f.data() + i * F; };
  auto age = [](double steps) { return static_cast<float>(std::exp(-steps * 0.01 / 0.5)); };
  EXPECT_EQ(bucket_of(at(0)), 8);
  EXPECT_EQ(pedal_bucket_of(at(0)), 8);
  EXPECT_EQ(velocity_of(at(1)), -1);                       // no VELOCITY yet
  EXPECT_EQ(at(1)[kPedal], 1.0f);
  EXPECT_EQ(pedal_bucket_of(at(1)), 0);
  EXPECT_EQ(velocity_of(at(2)), 20);
  EXPECT_EQ(velocity_of(at(13)), 20);                      // until the next VELOCITY
  EXPECT_EQ(at(2)[60 - kMinKey], 0.0f);
  EXPECT_EQ(at(3)[60 - kMinKey], 1.0f);
  EXPECT_FLOAT_EQ(at(3)[kNumKeys + 60 - kMinKey], 1.0f);  // just struck
  EXPECT_EQ(bucket_of(at(4)), 0);                          // same time as the last onset: a chord
  EXPECT_FLOAT_EQ(at(5)[kNumKeys + 64 - kMinKey], age(3));
  EXPECT_EQ(bucket_of(at(5)), 2);                          // 3 steps: bucket 3..5
  EXPECT_EQ(at(6)[60 - kMinKey], 0.0f);
  EXPECT_EQ(at(6)[kNumKeys + 60 - kMinKey], 0.0f);         // a silent key has no age
  for (int i = 0; i < F; ++i) EXPECT_EQ(at(7)[i], at(6)[i]) << i;
  EXPECT_FLOAT_EQ(at(8)[kNumKeys + 64 - kMinKey], 1.0f);   // the age restarts at the latest strike
  EXPECT_EQ(bucket_of(at(9)), 6);                          // 50 steps: bucket 41..80
  EXPECT_EQ(pedal_bucket_of(at(9)), 6);                    // 53 steps since the pedal went down
  EXPECT_EQ(at(10)[64 - kMinKey], 1.0f);                   // one of its two notes still sounds
  EXPECT_FLOAT_EQ(at(10)[kNumKeys + 64 - kMinKey], age(50));
  EXPECT_EQ(at(11)[kPedal], 0.0f);
  EXPECT_EQ(pedal_bucket_of(at(11)), 0);                   // it just came up
  EXPECT_EQ(pedal_bucket_of(at(12)), 7);                   // 100 steps later
  EXPECT_EQ(bucket_of(at(13)), 8);                         // 250 steps: past the last edge
  int sounding = 0;
  for (int k = 0; k < kNumKeys; ++k) sounding += at(13)[k] > 0;
  EXPECT_EQ(sounding, 1);

  MotionState s;
  EXPECT_THROW(advance(tok, s, tok.vocab_size()), ValueError);
  EXPECT_THROW(advance(tok, s, -1), ValueError);
}

// After all the events of one time (just before the next SHIFT), the keys the state calls sounding are
// exactly the decoded performance's notes with onset <= t < offset, and the pedal is its value at t.
TEST(MotionState, AgreesWithTheDecodedPerformance) {
  const MotionTokenizer tok;
  std::mt19937 rng(7);
  Performance p;
  for (int i = 0; i < 300; ++i) {
    Note n;
    n.key = 21 + static_cast<int>(rng() % 88);
    n.onset = (rng() % 3000) * 0.01;
    n.offset = n.onset + 0.02 + (rng() % 200) * 0.01;
    n.velocity = 1 + static_cast<int>(rng() % 127);
    p.notes.push_back(n);
  }
  for (int i = 0; i < 20; ++i) p.pedal.push_back({i * 1.5 + 0.3, static_cast<double>(i % 2)});
  const std::vector<int32_t> seq = tok.encode(p, true);
  const Performance q = tok.decode(seq);
  const std::vector<float> f = features_after(tok, seq);
  int64_t now = 0;
  int checked = 0;
  for (size_t i = 0; i < seq.size(); ++i) {
    if (tok.kind(seq[i]) == TokenKind::shift) now += tok.value(seq[i]);
    if (i + 1 < seq.size() && tok.kind(seq[i + 1]) != TokenKind::shift) continue;
    const double t = now * 0.01;
    std::vector<int> sounding(kNumKeys, 0);
    for (const Note& n : q.notes)
      if (n.onset <= t + 1e-9 && t + 1e-9 < n.offset) ++sounding[n.key - kMinKey];
    for (int k = 0; k < kNumKeys; ++k) ASSERT_EQ(f[i * F + k], sounding[k] > 0 ? 1.0f : 0.0f) << "t " << t << " key " << k + kMinKey;
    ASSERT_EQ(f[i * F + kPedal], q.pedal_at(t + 1e-9) >= 0.5 ? 1.0f : 0.0f) << t;
    ++checked;
  }
  EXPECT_GT(checked, 200);
}

// A window that starts from the state after a prefix reads the same features as the whole sequence.
TEST(MotionState, ResumesFromAMidwayState) {
  const MotionTokenizer tok;
  std::vector<int64_t> t;
  std::mt19937 rng(3);
  for (int i = 0; i < 400; ++i) t.push_back(3 + static_cast<int64_t>(rng() % (tok.vocab_size() - 3)));
  std::vector<float> whole(t.size() * F), part(t.size() * F);
  MotionState a, b;
  window_state_features(tok, t.data(), t.size(), a, whole.data());
  window_state_features(tok, t.data(), 150, b, part.data());
  window_state_features(tok, t.data() + 150, t.size() - 150, b, part.data() + 150 * F);
  EXPECT_EQ(whole, part);
  EXPECT_EQ(a.now, b.now);
}

}  // namespace
}  // namespace pianograd
