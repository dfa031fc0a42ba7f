// Sustain pedal rolls (synth/pedal_roll.h): the roll convention, decoding, the round trip through random
// pedalling, and bad input.
#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "autodiff/errors.h"
#include "synth/pedal_roll.h"
#include "synth/piano_roll.h"

namespace pg = pianograd;

namespace {

pg::Performance pedalled(std::vector<pg::PedalPoint> pedal, double last_note_end = 0.5) {
  pg::Performance p;
  p.notes = {{60, 0.0, last_note_end, 64}};
  p.pedal = std::move(pedal);
  return p;
}

pg::Tensor roll(std::vector<float> v) { return pg::from_vector(v, {static_cast<int64_t>(v.size())}); }

}  // namespace

TEST(PedalRoll, SegmentsFollowTheHalfwayThreshold) {
  // CC64 is continuous: values >= 0.5 are down; a rise from 0.3 to 0.6 opens, a fall to 0.4 closes.
  const auto s = pg::pedal_segments(pedalled({{0.1, 0.3}, {0.2, 0.6}, {0.3, 1.0}, {0.5, 0.4}, {0.8, 1.0}}, 1.2));
  ASSERT_EQ(s.size(), 2u);
  EXPECT_DOUBLE_EQ(s[0].first, 0.2);
  EXPECT_DOUBLE_EQ(s[0].second, 0.5);
  EXPECT_DOUBLE_EQ(s[1].first, 0.8);
  EXPECT_DOUBLE_EQ(s[1].second, 1.2);  // never lifted: closes at the end of the performance
  EXPECT_TRUE(pg::pedal_segments(pedalled({})).empty());
}

TEST(PedalRoll, RollsMarkOnsetFramesAndOffset) {
  const pg::PedalRolls r = pg::performance_to_pedal_rolls(pedalled({{0.10, 1.0}, {0.30, 0.0}}), 100.0);
  ASSERT_EQ(r.frame.shape(), (pg::Shape{31}));  // the release's frame + 1 (the note rolls would need 51)
  const auto on = r.onset.to_vector<float>(), fr = r.frame.to_vector<float>(), off = r.offset.to_vector<float>();
  for (int64_t f = 0; f < 31; ++f) {
    EXPECT_EQ(on[f], f == 10 ? 1.0f : 0.0f) << f;
    EXPECT_EQ(fr[f], f >= 10 && f < 30 ? 1.0f : 0.0f) << f;
    EXPECT_EQ(off[f], f == 30 ? 1.0f : 0.0f) << f;
  }
  const pg::PedalRolls cut = pg::performance_to_pedal_rolls(pedalled({{0.10, 1.0}, {0.30, 0.0}}), 100.0, 20);
  EXPECT_EQ(cut.frame.shape(), (pg::Shape{20}));
  EXPECT_EQ(cut.offset.to_vector<float>()[19], 0.0f);  // the release lies beyond the roll
}

TEST(PedalRoll, DecodeFrameOnly) {
  pg::PedalRolls r;
  r.frame_rate = 50.0;
  r.frame = roll({0, 0.9f, 0.8f, 0.7f, 0.2f, 0, 0.6f, 0.6f, 0.6f});
  const auto pts = pg::rolls_to_pedal(r);
  ASSERT_EQ(pts.size(), 4u);
  EXPECT_EQ(pts[0], (pg::PedalPoint{0.02, 1.0}));
  EXPECT_EQ(pts[1], (pg::PedalPoint{0.08, 0.0}));
  EXPECT_EQ(pts[2], (pg::PedalPoint{0.12, 1.0}));
  EXPECT_EQ(pts[3], (pg::PedalPoint{0.18, 0.0}));  // still down at the last frame: closes at the roll's end
}

TEST(PedalRoll, QuickRepedalUnderAHighFrameRollGivesTwoSegments) {
  // Legato pedalling: up and down again within two frames, too fast for the frame roll to drop; the
  // offset and the following onset split the segment.
  pg::PedalRolls r;
  r.frame_rate = 50.0;
  r.frame = roll({0, 1, 1, 1, 1, 1, 1, 1, 1, 0});
  r.onset = roll({0, 0.9f, 0, 0, 0, 0.4f, 0.8f, 0, 0, 0});
  r.offset = roll({0, 0, 0, 0, 0.7f, 0, 0, 0, 0, 0});
  const auto pts = pg::rolls_to_pedal(r);
  ASSERT_EQ(pts.size(), 4u);
  EXPECT_DOUBLE_EQ(pts[0].time, 1 / 50.0);
  EXPECT_DOUBLE_EQ(pts[1].time, 4 / 50.0);
  EXPECT_DOUBLE_EQ(pts[2].time, 6 / 50.0);  // frame 5 is below the onset threshold
  EXPECT_DOUBLE_EQ(pts[3].time, 9 / 50.0);
  // Without the onset the frame roll alone cannot reopen: one segment, cut at the offset.
  r.onset = pg::Tensor();
  EXPECT_EQ(pg::rolls_to_pedal(r).size(), 2u);
}

TEST(PedalRoll, FlickersShorterThanMinSecondsAreDropped) {
  pg::PedalRolls r;
  r.frame_rate = 50.0;
  r.frame = roll({0, 1, 0, 0, 1, 1, 1, 0});
  pg::PedalDecodeOptions o;
  o.min_seconds = 0.04;  // two frames
  const auto pts = pg::rolls_to_pedal(r, o);
  ASSERT_EQ(pts.size(), 2u);
  EXPECT_DOUBLE_EQ(pts[0].time, 4 / 50.0);
  o.min_seconds = 0.0;
  EXPECT_EQ(pg::rolls_to_pedal(r, o).size(), 4u);
}

TEST(PedalRoll, MedianFilterRemovesFlickersNotEdges) {
  // A one-frame dropout inside a segment and a one-frame blip outside it; the edges at 2 and 9 stay.
  pg::PedalRolls r;
  r.frame_rate = 50.0;
  r.frame = roll({0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0});
  pg::PedalDecodeOptions o;
  o.min_seconds = 0.0;
  EXPECT_EQ(pg::rolls_to_pedal(r, o).size(), 6u);
  o.median_frames = 3;
  const auto pts = pg::rolls_to_pedal(r, o);
  ASSERT_EQ(pts.size(), 2u);
  EXPECT_DOUBLE_EQ(pts[0].time, 2 / 50.0);
  EXPECT_DOUBLE_EQ(pts[1].time, 9 / 50.0);
  o.median_frames = 4;
  EXPECT_THROW(pg::rolls_to_pedal(r, o), pg::ValueError);
}

TEST(PedalRoll, RandomPedallingRoundTripsWithinAFrame) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> gap(0.08, 1.5), len(0.1, 2.0);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<pg::PedalPoint> pts;
    double t = gap(rng);
    for (int i = 0; i < 6; ++i) {
      pts.push_back({t, 1.0});
      t += len(rng);
      pts.push_back({t, 0.0});
      t += gap(rng);
    }
    const pg::Performance p = pedalled(pts, t);
    const double fr = 50.0;
    const pg::PedalRolls r = pg::performance_to_pedal_rolls(p, fr);
    pg::PianoRolls keys = pg::performance_to_rolls(p, fr, {true, r.frame.size(0)});
    keys.pedal = r;
    const pg::Performance back = pg::rolls_to_performance(keys);
    ASSERT_EQ(back.pedal.size(), pts.size()) << trial;
    for (size_t i = 0; i < pts.size(); ++i) {
      EXPECT_NEAR(back.pedal[i].time, pts[i].time, 0.5 / fr + 1e-9) << trial << " " << i;
      EXPECT_EQ(back.pedal[i].value, pts[i].value);
    }
  }
}

TEST(PedalRoll, BadInputIsRefusedWithItsName) {
  EXPECT_THROW(pg::performance_to_pedal_rolls(pedalled({}), 0.0), pg::ValueError);
  EXPECT_THROW(pg::performance_to_pedal_rolls(pedalled({}), 50.0, -2), pg::ValueError);
  EXPECT_THROW(pg::performance_to_pedal_rolls(pedalled({{0.5, 1.0}, {0.2, 0.0}}), 50.0), pg::ValueError);
  pg::PedalRolls r;
  r.frame_rate = 50.0;
  EXPECT_THROW(pg::rolls_to_pedal(r), pg::ValueError);  // no frame roll
  r.frame = pg::zeros({4, 88});
  EXPECT_THROW(pg::rolls_to_pedal(r), pg::ShapeError);
  r.frame = roll({0, 1, 1});
  r.onset = roll({0, 1});
  try {
    pg::rolls_to_pedal(r);
    FAIL() << "a 2-frame onset roll against a 3-frame frame roll was accepted";
  } catch (const pg::ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("onset"), std::string::npos) << e.what();
  }
  r.onset = pg::Tensor();
  r.frame = roll({0, std::numeric_limits<float>::quiet_NaN(), 1});
  EXPECT_THROW(pg::rolls_to_pedal(r), pg::ValueError);
  r.frame = roll({0, 1, 1});
  pg::PedalDecodeOptions o;
  o.frame_threshold = 0.0;
  EXPECT_THROW(pg::rolls_to_pedal(r, o), pg::ValueError);
  // Key rolls and pedal rolls of different lengths.
  pg::PianoRolls keys = pg::performance_to_rolls(pedalled({}), 50.0, {true, 10});
  keys.pedal.frame = roll({0, 1, 1});
  EXPECT_THROW(pg::rolls_to_performance(keys), pg::ShapeError);
}
