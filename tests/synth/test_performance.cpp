#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "autodiff/errors.h"
#include "synth/performance.h"

namespace pg = pianograd;

namespace {

pg::Performance two_notes() {
  pg::Performance p;
  p.notes = {{60, 0.5, 1.0, 80}, {64, 0.0, 2.0, 100}};
  p.pedal = {{0.25, 1.0}, {1.5, 0.0}};
  return p;
}

// validate() must throw ValueError whose message names the index and the field.
void expect_invalid(const pg::Performance& p, const std::string& a, const std::string& b) {
  try {
    p.validate();
    FAIL() << "expected ValueError mentioning " << a << " and " << b;
  } catch (const pg::ValueError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(a), std::string::npos) << msg;
    EXPECT_NE(msg.find(b), std::string::npos) << msg;
  }
}

}  // namespace

TEST(Performance, ValidAccepted) {
  EXPECT_NO_THROW(two_notes().validate());
  EXPECT_NO_THROW(pg::Performance{}.validate());
}

TEST(Performance, ValidationNamesIndexAndField) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  auto with_note = [](pg::Note n) {
    pg::Performance p = two_notes();
    p.notes[1] = n;
    return p;
  };
  expect_invalid(with_note({20, 0, 1, 64}), "note 1", "key");
  expect_invalid(with_note({109, 0, 1, 64}), "note 1", "key");
  expect_invalid(with_note({60, -0.1, 1, 64}), "note 1", "onset");
  expect_invalid(with_note({60, nan, 1, 64}), "note 1", "onset");
  expect_invalid(with_note({60, 1, 1, 64}), "note 1", "offset");
  expect_invalid(with_note({60, 1, 0.5, 64}), "note 1", "offset");
  expect_invalid(with_note({60, 0, inf, 64}), "note 1", "offset");
  expect_invalid(with_note({60, 0, 1, 0}), "note 1", "velocity");
  expect_invalid(with_note({60, 0, 1, 128}), "note 1", "velocity");
  EXPECT_NO_THROW(with_note({21, 0, 1e-6, 1}).validate());
  EXPECT_NO_THROW(with_note({108, 0, 1, 127}).validate());

  pg::Performance p = two_notes();
  p.pedal = {{1.0, 1.0}, {0.5, 0.0}};
  expect_invalid(p, "pedal point 1", "time");
  p.pedal = {{0.0, 1.5}};
  expect_invalid(p, "pedal point 0", "value");
  p.pedal = {{nan, 0.5}};
  expect_invalid(p, "pedal point 0", "time");
}

TEST(Performance, DurationSortAndPedal) {
  pg::Performance p = two_notes();
  EXPECT_DOUBLE_EQ(p.duration(), 2.0);
  p.pedal.push_back({3.0, 0.0});
  EXPECT_DOUBLE_EQ(p.duration(), 3.0);
  EXPECT_DOUBLE_EQ(pg::Performance{}.duration(), 0.0);

  p.sort();
  EXPECT_EQ(p.notes[0].key, 64);  // onset 0 first
  EXPECT_EQ(p.notes[1].key, 60);

  pg::Performance q;
  q.pedal = {{2.0, 0.0}, {1.0, 1.0}, {1.0, 0.5}};
  q.sort();  // stable: the two points at t=1 keep their order, the later one wins in pedal_at
  EXPECT_DOUBLE_EQ(q.pedal[0].value, 1.0);
  EXPECT_DOUBLE_EQ(q.pedal_at(0.5), 0.0);   // before the first point: up
  EXPECT_DOUBLE_EQ(q.pedal_at(1.0), 0.5);   // step-wise, inclusive at the point
  EXPECT_DOUBLE_EQ(q.pedal_at(1.999), 0.5);
  EXPECT_DOUBLE_EQ(q.pedal_at(2.0), 0.0);
  EXPECT_DOUBLE_EQ(q.pedal_at(100.0), 0.0);
}

TEST(Performance, QuantizedRoundsToTheGridAndKeepsOneStep) {
  pg::Performance p;
  p.notes = {{62, 0.0104, 0.0106, 50}, {60, 0.0004, 0.5004, 40}};
  p.pedal = {{0.2506, 1.0}};
  const pg::Performance q = p.quantized(0.001);
  ASSERT_EQ(q.notes.size(), 2u);
  EXPECT_EQ(q.notes[0].key, 60);  // sorted
  EXPECT_DOUBLE_EQ(q.notes[0].onset, 0.0);
  EXPECT_DOUBLE_EQ(q.notes[0].offset, 0.5);
  EXPECT_DOUBLE_EQ(q.notes[1].onset, 0.01);
  EXPECT_DOUBLE_EQ(q.notes[1].offset, 0.011);  // collapsed onto its onset: one step kept
  EXPECT_DOUBLE_EQ(q.pedal[0].time, 0.251);
  EXPECT_EQ(q.quantized(0.001), q);
  EXPECT_THROW(p.quantized(0.0), pg::ValueError);
}

TEST(Performance, WindowShiftsClipsAndCarriesThePedal) {
  pg::Performance p;
  p.notes = {{60, 0.5, 3.0, 80}, {62, 2.2, 2.8, 80}, {64, 4.5, 5.0, 80}, {65, 3.99, 4.2, 80}};
  p.pedal = {{0.0, 1.0}, {2.5, 0.0}, {2.6, 1.0}};
  const pg::Performance w = p.window(2.0, 4.0);
  ASSERT_EQ(w.notes.size(), 1u);  // begun before the window, or too close to its end: left out
  EXPECT_EQ(w.notes[0], (pg::Note{62, 0.2, 0.8, 80}));
  ASSERT_EQ(w.pedal.size(), 4u);
  EXPECT_EQ(w.pedal.front(), (pg::PedalPoint{0.0, 1.0}));  // the state at 2.0 carried in
  EXPECT_EQ(w.pedal[1], (pg::PedalPoint{0.5, 0.0}));
  EXPECT_EQ(w.pedal.back(), (pg::PedalPoint{2.0, 0.0}));   // lifted at the cut
  pg::Performance clip;
  clip.notes = {{60, 2.5, 9.0, 80}};
  EXPECT_DOUBLE_EQ(clip.window(2.0, 4.0).notes[0].offset, 2.0);
  EXPECT_THROW(p.window(3.0, 3.0), pg::ValueError);
}

TEST(Performance, TransformedTransposesScalesAndDropsKeysOffTheKeyboard) {
  pg::Performance p;
  p.notes = {{60, 0.5, 1.0, 100}, {106, 1.0, 2.0, 20}, {22, 0.0, 0.1, 3}};
  p.pedal = {{0.25, 1.0}};
  const pg::Performance q = p.transformed(3, 2.0, 1.5);
  ASSERT_EQ(q.notes.size(), 2u);  // 106 + 3 is past C8
  EXPECT_EQ(q.notes[0], (pg::Note{25, 0.0, 0.2, 5}));
  EXPECT_EQ(q.notes[1], (pg::Note{63, 1.0, 2.0, 127}));  // 150 clamped
  EXPECT_DOUBLE_EQ(q.pedal[0].time, 0.5);
  EXPECT_NO_THROW(q.validate());
  pg::Performance sorted = p;
  sorted.sort();
  EXPECT_EQ(p.transformed(0), sorted);
  EXPECT_THROW(p.transformed(0, 0.0), pg::ValueError);
  EXPECT_THROW(p.transformed(0, 1.0, -1.0), pg::ValueError);
}
