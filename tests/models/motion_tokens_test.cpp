// The motion tokenizer (models/motion_tokens.h): the vocabulary, the event order within a time step,
// lossless round trips within the quantisation on random performances (overlapping notes, dense chords,
// long gaps, pedal changes), idempotence, and the decoder's leniency towards sampled sequences.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "autodiff/errors.h"
#include "models/motion_tokens.h"

namespace pianograd {
namespace {

MotionTokenizer tok;

Performance random_performance(unsigned seed, int notes) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  Performance p;
  double t = 0;
  for (int i = 0; i < notes; ++i) {
    t += u(rng) < 0.3 ? 0.0 : (u(rng) < 0.05 ? 3.7 * u(rng) : 0.2 * u(rng));  // chords, gaps, runs
    const int key = 21 + static_cast<int>(u(rng) * 88);
    const double dur = u(rng) < 0.1 ? 0.002 : 0.01 + 1.5 * u(rng);             // some shorter than a step
    p.notes.push_back({key, t, t + dur, 1 + static_cast<int>(u(rng) * 127)});
  }
  double pt = 0;
  for (int i = 0; i < notes / 4; ++i) {
    pt += 0.004 + 0.8 * u(rng);
    p.pedal.push_back({pt, u(rng) < 0.5 ? 0.0 : (u(rng) < 0.8 ? 1.0 : 0.3 + 0.7 * u(rng))});
  }
  p.sort();
  return p;
}

TEST(MotionTokens, VocabularyLayout) {
  EXPECT_EQ(tok.vocab_size(), 3 + 88 + 88 + 100 + 32 + 2);
  EXPECT_EQ(tok.kind(tok.note_on(21)), TokenKind::note_on);
  EXPECT_EQ(tok.kind(tok.note_off(108)), TokenKind::note_off);
  EXPECT_EQ(tok.value(tok.shift(100)), 100);
  EXPECT_EQ(tok.name(tok.velocity(5)), "VELOCITY(5)");
  EXPECT_EQ(tok.field(tok.pedal_off()), TokenField::pedal);
  EXPECT_EQ(tok.field(MotionTokenizer::kBos), TokenField::special);
  for (int32_t t = 0; t < tok.vocab_size(); ++t) EXPECT_FALSE(tok.name(t).empty());
  EXPECT_THROW(tok.kind(tok.vocab_size()), ValueError);
  EXPECT_THROW(tok.kind(-1), ValueError);
  EXPECT_THROW(tok.note_on(20), ValueError);
  EXPECT_THROW(tok.shift(0), ValueError);
  EXPECT_THROW(MotionTokenizer(TokenizerConfig{0.0, 100, 32}), ValueError);
}

TEST(MotionTokens, VelocityBinsRoundTrip) {
  for (int b = 0; b < 32; ++b) EXPECT_EQ(tok.velocity_bin(tok.bin_velocity(b)), b) << b;
  for (int v = 1; v <= 127; ++v) EXPECT_LE(std::abs(tok.bin_velocity(tok.velocity_bin(v)) - v), 2) << v;
}

TEST(MotionTokens, EventsOfOneStepInOrder) {
  // At 0.5 s: the pedal lifts, key 60 ends, the pedal goes down again, keys 64 and 67 start (same bin).
  Performance p;
  p.notes = {{60, 0.0, 0.5, 78}, {64, 0.5, 1.0, 79}, {67, 0.5, 1.0, 80}};
  p.pedal = {{0.0, 1.0}, {0.5, 0.0}, {0.503, 1.0}};
  const auto t = tok.encode(p, true, true);
  const std::vector<int32_t> want = {MotionTokenizer::kBos, tok.pedal_on(), tok.velocity(tok.velocity_bin(78)),
                                     tok.note_on(60), tok.shift(50), tok.pedal_off(), tok.note_off(60),
                                     tok.pedal_on(), tok.note_on(64), tok.note_on(67), tok.shift(50),
                                     tok.note_off(64), tok.note_off(67), MotionTokenizer::kEos};
  ASSERT_EQ(tok.velocity_bin(78), tok.velocity_bin(80));
  EXPECT_EQ(t, want);
}

TEST(MotionTokens, LongGapsAreSeveralShifts) {
  Performance p;
  p.notes = {{60, 0.0, 0.1, 64}, {62, 2.6, 2.7, 64}};
  const auto t = tok.encode(p);
  const std::vector<int32_t> want = {tok.velocity(tok.velocity_bin(64)), tok.note_on(60), tok.shift(10),
                                     tok.note_off(60), tok.shift(100), tok.shift(100), tok.shift(50),
                                     tok.note_on(62), tok.shift(10), tok.note_off(62)};
  EXPECT_EQ(t, want);
  EXPECT_NEAR(tok.seconds(t.data(), t.size()), 2.7, 1e-12);
}

// decode(encode(p)) is p on the grid: same notes by key, times within half a step (a note shorter than a
// step keeps one), velocities at their bin's representative, the pedal's down/up state everywhere
// except within half a step of a change; and quantising again changes nothing.
TEST(MotionTokens, RoundTripIsLosslessWithinTheQuantisation) {
  const double h = 0.5 * tok.config().time_step + 1e-9;
  for (unsigned seed = 1; seed <= 40; ++seed) {
    const Performance p = random_performance(seed, 60 + static_cast<int>(seed) * 7);
    const Performance q = tok.quantize(p);
    EXPECT_NO_THROW(q.validate());
    ASSERT_EQ(q.notes.size(), p.notes.size()) << "seed " << seed;
    // Pair by (key, onset order): the tokens close a key's notes first in, first out.
    for (int key = 21; key <= 108; ++key) {
      std::vector<Note> a, b;
      for (const Note& n : p.notes) if (n.key == key) a.push_back(n);
      for (const Note& n : q.notes) if (n.key == key) b.push_back(n);
      ASSERT_EQ(a.size(), b.size());
      bool overlapping = false;
      for (size_t i = 1; i < a.size(); ++i) overlapping |= a[i].onset < a[i - 1].offset - h;
      for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_NEAR(b[i].onset, a[i].onset, h) << "seed " << seed << " key " << key;
        if (!overlapping) {  // overlapping notes of one key are re-paired first in, first out
          EXPECT_NEAR(b[i].offset, std::max(a[i].offset, b[i].onset + tok.config().time_step), h)
              << "seed " << seed << " key " << key;
        }
        EXPECT_EQ(b[i].velocity, tok.bin_velocity(tok.velocity_bin(a[i].velocity)));
      }
    }
    for (double t = 0.0; t < p.duration(); t += 0.0037) {
      bool near_change = false;
      for (const PedalPoint& pt : p.pedal) near_change |= std::fabs(pt.time - t) <= h;
      if (!near_change) {
        EXPECT_EQ(q.pedal_at(t) >= 0.5, p.pedal_at(t) >= 0.5) << "seed " << seed << " t " << t;
      }
    }
    EXPECT_EQ(tok.encode(q), tok.encode(p)) << "seed " << seed;
    EXPECT_EQ(tok.quantize(q), q) << "seed " << seed;
  }
}

TEST(MotionTokens, DecodeIsLenientTowardsSampledSequences) {
  const std::vector<int32_t> t = {MotionTokenizer::kBos, tok.note_off(60),  // nothing sounding: ignored
                                  tok.note_on(60), tok.note_on(60), tok.shift(20), tok.note_off(60),
                                  MotionTokenizer::kPad, tok.pedal_off(),  // pedal already up: ignored
                                  tok.note_on(72), tok.shift(5), MotionTokenizer::kEos};
  const Performance p = tok.decode(t);
  EXPECT_NO_THROW(p.validate());
  ASSERT_EQ(p.notes.size(), 3u);
  EXPECT_EQ(p.notes[0].key, 60);
  EXPECT_DOUBLE_EQ(p.notes[0].offset, 0.2);
  EXPECT_DOUBLE_EQ(p.notes[1].offset, 0.26);  // still sounding at the end: closed one step after it
  EXPECT_EQ(p.notes[2].key, 72);
  EXPECT_TRUE(p.pedal.empty());
  EXPECT_THROW(tok.decode(std::vector<int32_t>{tok.vocab_size()}), ValueError);
}

TEST(MotionTokens, InvalidPerformanceIsRejected) {
  Performance p;
  p.notes = {{60, 0.5, 0.4, 64}};
  EXPECT_THROW(tok.encode(p), ValueError);
  EXPECT_TRUE(tok.encode(Performance{}).empty());
}

}  // namespace
}  // namespace pianograd
