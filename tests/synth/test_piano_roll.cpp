#include <gtest/gtest.h>

#include <random>

#include "autodiff/errors.h"
#include "synth/piano_roll.h"

namespace pg = pianograd;

namespace {

float at(const pg::Tensor& roll, int64_t frame, int key) {
  return roll.to_vector<float>()[static_cast<size_t>(frame) * pg::kNumKeys + static_cast<size_t>(key - pg::kMinKey)];
}

}  // namespace

TEST(PianoRoll, ShapesAndValues) {
  pg::Performance p;
  p.notes = {{60, 0.10, 0.30, 127}, {21, 0.0, 0.05, 64}};
  const pg::PianoRolls r = pg::performance_to_rolls(p, 100.0);
  for (const pg::Tensor* t : {&r.onset, &r.frame, &r.offset, &r.velocity}) {
    EXPECT_EQ(t->shape(), (pg::Shape{31, 88}));
    EXPECT_EQ(t->dtype(), pg::DType::f32);
  }
  EXPECT_EQ(at(r.onset, 10, 60), 1.0f);
  EXPECT_EQ(at(r.onset, 11, 60), 0.0f);
  EXPECT_EQ(at(r.velocity, 10, 60), 1.0f);
  EXPECT_EQ(at(r.frame, 9, 60), 0.0f);
  EXPECT_EQ(at(r.frame, 10, 60), 1.0f);
  EXPECT_EQ(at(r.frame, 29, 60), 1.0f);
  EXPECT_EQ(at(r.frame, 30, 60), 0.0f);
  EXPECT_EQ(at(r.offset, 30, 60), 1.0f);
  EXPECT_FLOAT_EQ(at(r.velocity, 0, 21), 64.0f / 127.0f);
  EXPECT_EQ(at(r.frame, 4, 21), 1.0f);
  EXPECT_EQ(at(r.frame, 5, 21), 0.0f);
}

TEST(PianoRoll, PedalExtendsUntilReleaseAndRestrikeCuts) {
  pg::Performance p;
  p.notes = {{60, 0.0, 0.2, 80},   // released while the pedal is down: sounds until the pedal lifts at 1.0
             {62, 0.0, 0.2, 80},   // re-struck at 0.6 under the pedal: ends there
             {62, 0.6, 0.7, 90},
             {64, 1.2, 1.4, 70}};  // pedal up: not extended
  p.pedal = {{0.1, 1.0}, {1.0, 0.0}};
  const pg::PianoRolls r = pg::performance_to_rolls(p, 100.0);
  EXPECT_EQ(at(r.frame, 99, 60), 1.0f);
  EXPECT_EQ(at(r.frame, 100, 60), 0.0f);
  EXPECT_EQ(at(r.offset, 100, 60), 1.0f);
  EXPECT_EQ(at(r.frame, 59, 62), 1.0f);
  EXPECT_EQ(at(r.onset, 60, 62), 1.0f);
  EXPECT_EQ(at(r.frame, 99, 62), 1.0f);   // the second D4 is itself sustained to 1.0
  EXPECT_EQ(at(r.frame, 100, 62), 0.0f);
  EXPECT_EQ(at(r.frame, 139, 64), 1.0f);
  EXPECT_EQ(at(r.frame, 140, 64), 0.0f);

  pg::RollOptions no_pedal;
  no_pedal.pedal_extend = false;
  const pg::PianoRolls raw = pg::performance_to_rolls(p, 100.0, no_pedal);
  EXPECT_EQ(at(raw.frame, 19, 60), 1.0f);
  EXPECT_EQ(at(raw.frame, 20, 60), 0.0f);

  const pg::Performance back = pg::rolls_to_performance(r);
  ASSERT_EQ(back.notes.size(), 4u);
  EXPECT_DOUBLE_EQ(back.notes[0].offset, 1.0);  // key 60, the sounding end
  EXPECT_DOUBLE_EQ(back.notes[1].offset, 0.6);  // first key 62, cut by the re-strike
}

TEST(PianoRoll, RoundTripOnQuantisedNotes) {
  const double fr = 62.5;
  std::mt19937 rng(7);
  pg::Performance p;
  for (int key = pg::kMinKey; key <= pg::kMaxKey; key += 1 + static_cast<int>(rng() % 3)) {
    int64_t f = static_cast<int64_t>(rng() % 20);
    for (int i = 0; i < 3; ++i) {
      // >= 2 frames: two one-frame notes back to back would merge into one onset run, a limit of rolls.
      const int64_t len = 2 + static_cast<int64_t>(rng() % 30);
      p.notes.push_back({key, f / fr, (f + len) / fr, 1 + static_cast<int>(rng() % 127)});
      f += len + static_cast<int64_t>(rng() % 10);  // gap 0 = a repeated note straight after a release
    }
  }
  p.sort();
  const pg::PianoRolls r = pg::performance_to_rolls(p, fr);
  const pg::Performance q = pg::rolls_to_performance(r);
  ASSERT_EQ(q.notes.size(), p.notes.size());
  for (size_t i = 0; i < p.notes.size(); ++i) {
    EXPECT_EQ(q.notes[i].key, p.notes[i].key) << i;
    EXPECT_NEAR(q.notes[i].onset, p.notes[i].onset, 1e-9) << i;
    EXPECT_NEAR(q.notes[i].offset, p.notes[i].offset, 1e-9) << i;
    EXPECT_EQ(q.notes[i].velocity, p.notes[i].velocity) << i;
  }
}

TEST(PianoRoll, DecodesSoftPredictions) {
  pg::PianoRolls r;
  r.frame_rate = 100.0;
  std::vector<float> onset(10 * 88, 0.0f), frame(10 * 88, 0.0f), vel(10 * 88, 0.0f);
  const int k = 39;  // key 60
  onset[1 * 88 + k] = 0.6f;
  onset[2 * 88 + k] = 0.9f;  // peak of the run: the onset frame
  onset[3 * 88 + k] = 0.7f;
  for (int f = 1; f < 7; ++f) frame[static_cast<size_t>(f) * 88 + k] = 0.8f;
  frame[4 * 88 + k] = 0.3f;  // a dip ends the note at frame 4
  vel[2 * 88 + k] = 0.5f;
  r.onset = pg::from_vector(onset, {10, 88});
  r.frame = pg::from_vector(frame, {10, 88}).to(pg::DType::f64);
  r.velocity = pg::from_vector(vel, {10, 88});
  const pg::Performance p = pg::rolls_to_performance(r);
  ASSERT_EQ(p.notes.size(), 1u);
  EXPECT_EQ(p.notes[0].key, 60);
  EXPECT_DOUBLE_EQ(p.notes[0].onset, 0.02);
  EXPECT_DOUBLE_EQ(p.notes[0].offset, 0.04);
  EXPECT_EQ(p.notes[0].velocity, 64);  // round(63.5)
}

TEST(PianoRoll, ArgumentErrors) {
  pg::Performance p;
  p.notes = {{60, 0.0, 1.0, 64}};
  EXPECT_THROW(pg::performance_to_rolls(p, 0.0), pg::ValueError);
  EXPECT_THROW(pg::performance_to_rolls(p, std::nan("")), pg::ValueError);
  p.notes[0].key = 10;
  EXPECT_THROW(pg::performance_to_rolls(p, 100.0), pg::ValueError);

  pg::PianoRolls r;
  r.frame_rate = 100.0;
  EXPECT_THROW(pg::rolls_to_performance(r), pg::ValueError);  // missing rolls
  r.onset = pg::zeros({5, 88});
  r.frame = pg::zeros({5, 87});
  EXPECT_THROW(pg::rolls_to_performance(r), pg::ShapeError);
  r.frame = pg::zeros({5, 88}, pg::DType::i32);
  EXPECT_THROW(pg::rolls_to_performance(r), pg::DTypeError);
  r.frame = pg::zeros({5, 88});
  EXPECT_TRUE(pg::rolls_to_performance(r).notes.empty());
}
