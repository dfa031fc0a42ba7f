// Transcription metrics on hand-worked cases with known answers (the random cross-check against mir_eval
// itself is tests/python/test_metrics.py): tolerances at their edges, maximum (not greedy) matching,
// velocity rescaling, sounding (pedal-extended) ends, empty inputs, frame metrics, bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <utility>
#include <vector>

#include "autodiff/errors.h"
#include "models/transcription_metrics.h"
#include "synth/piano_roll.h"

namespace pianograd {
namespace {

Performance perf(std::vector<Note> notes, std::vector<PedalPoint> pedal = {}) { return {std::move(notes), std::move(pedal)}; }

NoteMetricOptions no_pedal() {
  NoteMetricOptions o;
  o.pedal_extend = false;
  return o;
}

void expect_prf(const PRF& m, double p, double r, int64_t matched) {
  EXPECT_DOUBLE_EQ(m.precision, p);
  EXPECT_DOUBLE_EQ(m.recall, r);
  EXPECT_DOUBLE_EQ(m.f1, (p + r) == 0.0 ? 0.0 : 2 * p * r / (p + r));
  EXPECT_EQ(m.n_matched, matched);
}

const Performance kRef = perf({{60, 0.0, 0.5, 40}, {64, 0.5, 1.0, 80}, {67, 1.0, 2.0, 100}, {48, 1.5, 1.7, 20}});

TEST(TranscriptionMetrics, ExactMatchScoresOne) {
  const TranscriptionMetrics m = transcription_metrics(kRef, kRef);
  for (const PRF* p : {&m.note, &m.note_offset, &m.note_offset_velocity, &m.frame}) {
    expect_prf(*p, 1.0, 1.0, p->n_ref);
    EXPECT_EQ(p->n_ref, p->n_est);
  }
  EXPECT_EQ(m.note.n_ref, 4);
  EXPECT_DOUBLE_EQ(m.note.overlap, 1.0);
  EXPECT_TRUE(std::isnan(m.frame.overlap));
}

TEST(TranscriptionMetrics, OnsetToleranceEdges) {
  const Performance ref = perf({{60, 1.0, 2.0, 64}});
  // 1.05 - 1.0 = 0.05000000000000004 in binary: within 50 ms only thanks to mir_eval's rounding to 0.1 ms.
  for (double onset : {1.049, 0.951, 1.05, 0.95}) {
    SCOPED_TRACE(onset);
    expect_prf(note_metrics(ref, perf({{60, onset, 2.0, 64}})), 1.0, 1.0, 1);
  }
  for (double onset : {1.051, 0.949, 1.2}) {
    SCOPED_TRACE(onset);
    expect_prf(note_metrics(ref, perf({{60, onset, 2.0, 64}})), 0.0, 0.0, 0);
  }
  NoteMetricOptions tight;
  tight.onset_tolerance = 0.02;
  expect_prf(note_metrics(ref, perf({{60, 1.03, 2.0, 64}}), tight), 0.0, 0.0, 0);
}

TEST(TranscriptionMetrics, WrongPitchNeverMatches) {
  const TranscriptionMetrics m = transcription_metrics(perf({{60, 1.0, 2.0, 64}}), perf({{61, 1.0, 2.0, 64}}));
  expect_prf(m.note, 0.0, 0.0, 0);
  expect_prf(m.frame, 0.0, 0.0, 0);
  EXPECT_DOUBLE_EQ(m.note.overlap, 0.0);
}

TEST(TranscriptionMetrics, OffsetTolerance) {
  // A 1 s note: tolerance 20% of the duration = 0.2 s; a 0.1 s note: the 50 ms floor.
  const Performance ref = perf({{60, 1.0, 2.0, 64}, {62, 3.0, 3.1, 64}});
  const Performance inside = perf({{60, 1.0, 2.19, 64}, {62, 3.0, 3.149, 64}});
  const Performance outside = perf({{60, 1.0, 2.21, 64}, {62, 3.0, 3.16, 64}});
  expect_prf(note_metrics(ref, inside, {}, true), 1.0, 1.0, 2);
  expect_prf(note_metrics(ref, outside, {}, true), 0.0, 0.0, 0);
  expect_prf(note_metrics(ref, outside, {}, false), 1.0, 1.0, 2);  // onsets alone still match
  const PRF half = note_metrics(ref, perf({{60, 1.0, 2.19, 64}, {62, 3.0, 3.16, 64}}), {}, true);
  expect_prf(half, 0.5, 0.5, 1);
  EXPECT_NEAR(half.overlap, 1.0 / 1.19, 1e-12);  // mir_eval's overlap ratio of the one matched pair
}

TEST(TranscriptionMetrics, MaximumMatchingBeatsGreedy) {
  // est 0.08 is within 50 ms of both refs, est 0.01 only of ref 0.05. Pairing the first candidate greedily
  // (est 0.08 with ref 0.05) leaves est 0.01 alone; the maximum matching pairs both.
  const Performance ref = perf({{60, 0.05, 0.5, 64}, {60, 0.10, 0.5, 64}});
  const Performance est = perf({{60, 0.08, 0.5, 64}, {60, 0.01, 0.5, 64}});
  expect_prf(note_metrics(ref, est), 1.0, 1.0, 2);
  // A longer chain: est i sits between ref i and ref i+1, the last est only near ref 0's side of the chain.
  std::vector<Note> r, e;
  for (int i = 0; i < 20; ++i) {
    r.push_back({72, 1.0 + 0.04 * i, 5.0, 64});
    e.push_back({72, 1.0 + 0.04 * i + 0.02, 5.0, 64});
  }
  e.back().onset = 0.96;  // within reach of ref 0 only
  expect_prf(note_metrics(perf(r), perf(e)), 1.0, 1.0, 20);
}

TEST(TranscriptionMetrics, VelocityRescalingInvariance) {
  // Estimated velocities 2 v + 3: an affine map of the reference, which mir_eval's least-squares rescaling
  // undoes exactly, so the velocity criterion removes nothing — also when an offset mismatch drops a note.
  std::vector<Note> r = {{60, 0.0, 0.5, 10}, {64, 0.5, 1.0, 30}, {67, 1.0, 2.0, 62}, {48, 1.5, 1.7, 1}};
  std::vector<Note> e = r;
  for (Note& n : e) n.velocity = 2 * n.velocity + 3;
  e[2].offset = 3.0;
  const TranscriptionMetrics m = transcription_metrics(perf(r), perf(e));
  expect_prf(m.note_offset, 0.75, 0.75, 3);
  expect_prf(m.note_offset_velocity, 0.75, 0.75, 3);
  // Reversed dynamics cannot be fitted by a line: the loudest and softest notes fall out of tolerance.
  std::vector<Note> rev = r;
  rev[0].velocity = 50, rev[1].velocity = 100, rev[2].velocity = 20, rev[3].velocity = 90;
  const PRF bad = note_metrics(perf(r), perf(rev), {}, true, true);
  EXPECT_LT(bad.n_matched, 4);
  // One matched pair: numpy's minimum-norm lstsq fits it exactly, so a single note always passes.
  expect_prf(note_metrics(perf({{60, 0.0, 0.5, 10}}), perf({{60, 0.0, 0.5, 120}}), {}, true, true), 1.0, 1.0, 1);
}

TEST(TranscriptionMetrics, PedalExtendedEndsAreCompared) {
  // The pedal holds the reference note until 2.0 s; the estimate releases its key at 2.0 s without pedal.
  const Performance ref = perf({{60, 0.0, 0.5, 64}}, {{0.0, 1.0}, {2.0, 0.0}});
  const Performance est = perf({{60, 0.0, 2.0, 64}});
  expect_prf(note_metrics(ref, est, {}, true), 1.0, 1.0, 1);
  expect_prf(note_metrics(ref, est, no_pedal(), true), 0.0, 0.0, 0);
  expect_prf(frame_metrics(ref, est, 10.0), 1.0, 1.0, 20);
  expect_prf(frame_metrics(ref, est, 10.0, false), 0.25, 1.0, 5);
}

TEST(TranscriptionMetrics, SoundingNotesFollowTheRollRule) {
  // Sorted by onset; the re-struck key 60 is cut at the re-strike; notes released under the pedal (down from
  // 0.4 s to 2.0 s) sound until it lifts.
  const Performance p = perf({{62, 1.0, 1.5, 64}, {60, 0.0, 0.5, 64}, {60, 0.3, 0.8, 64}}, {{0.4, 1.0}, {2.0, 0.0}});
  const std::vector<Note> s = sounding_notes(p);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0], (Note{60, 0.0, 0.3, 64}));
  EXPECT_EQ(s[1], (Note{60, 0.3, 2.0, 64}));
  EXPECT_EQ(s[2], (Note{62, 1.0, 2.0, 64}));
  const std::vector<Note> dry = sounding_notes(p, false);
  EXPECT_EQ(dry[0].offset, 0.3);
  EXPECT_EQ(dry[1].offset, 0.8);
  EXPECT_EQ(dry[2].offset, 1.5);
}

TEST(TranscriptionMetrics, EmptyInputsGiveZeros) {
  const Performance empty;
  for (const auto& [r, e] : {std::pair{empty, kRef}, std::pair{kRef, empty}, std::pair{empty, empty}}) {
    const TranscriptionMetrics m = transcription_metrics(r, e);
    for (const PRF* p : {&m.note, &m.note_offset, &m.note_offset_velocity, &m.frame}) expect_prf(*p, 0.0, 0.0, 0);
    EXPECT_EQ(m.note.n_ref, static_cast<int64_t>(r.notes.size()));
    EXPECT_EQ(m.note.n_est, static_cast<int64_t>(e.notes.size()));
    EXPECT_EQ(m.note.overlap, 0.0);
  }
}

TEST(TranscriptionMetrics, FrameMetricsHandMade) {
  // 10 frames/s: ref key 60 occupies frames 0..9, est key 60 frames 5..14 and key 62 frames 0..1.
  const Performance ref = perf({{60, 0.0, 1.0, 64}});
  const Performance est = perf({{60, 0.5, 1.5, 64}, {62, 0.0, 0.2, 64}});
  const PRF m = frame_metrics(ref, est, 10.0);
  EXPECT_EQ(m.n_ref, 10);
  EXPECT_EQ(m.n_est, 12);
  expect_prf(m, 5.0 / 12.0, 0.5, 5);
  // Symmetric: swapping the roles swaps precision and recall.
  const PRF s = frame_metrics(est, ref, 10.0);
  expect_prf(s, 0.5, 5.0 / 12.0, 5);
}

TEST(TranscriptionMetrics, PedalEventsMatchedWithOnsetAndOffset) {
  // Ref: down 0.5-2.0 and 3.0-4.0. Est: the first within tolerances (onset +30 ms, offset +0.2 s <= 0.2 *
  // 1.5 s), the second with its release 0.5 s late (> max(50 ms, 0.2 s)), plus a spurious one.
  Performance ref = perf({{60, 0.0, 5.0, 64}}), est = perf({{60, 0.0, 5.0, 64}});
  ref.pedal = {{0.5, 1.0}, {2.0, 0.0}, {3.0, 1.0}, {4.0, 0.0}};
  est.pedal = {{0.53, 1.0}, {2.2, 0.0}, {3.0, 1.0}, {4.5, 0.0}, {4.7, 1.0}, {4.8, 0.0}};
  const PRF m = pedal_metrics(ref, est);
  EXPECT_EQ(m.n_ref, 2);
  EXPECT_EQ(m.n_est, 3);
  expect_prf(m, 1.0 / 3.0, 0.5, 1);
  EXPECT_EQ(transcription_metrics(ref, est).pedal.n_matched, 1);
  // By the press alone the late release no longer matters: both reference presses are found.
  const PRF on = pedal_metrics(ref, est, {}, false);
  expect_prf(on, 2.0 / 3.0, 1.0, 2);
  EXPECT_EQ(transcription_metrics(ref, est).pedal_onset.n_matched, 2);
  // Pedal does not count as notes, and notes do not count as pedal.
  EXPECT_EQ(pedal_metrics(ref, ref).f1, 1.0);
  EXPECT_EQ(pedal_metrics(kRef, kRef).n_ref, 0);
  EXPECT_EQ(pedal_metrics(kRef, kRef).f1, 0.0);  // mir_eval's convention for empty references
}

TEST(TranscriptionMetrics, BadInputThrows) {
  NoteMetricOptions o;
  o.onset_tolerance = -0.1;
  EXPECT_THROW(note_metrics(kRef, kRef, o), ValueError);
  o = {};
  o.velocity_tolerance = std::nan("");
  EXPECT_THROW(transcription_metrics(kRef, kRef, 50.0, o), ValueError);
  EXPECT_THROW(frame_metrics(kRef, kRef, 0.0), ValueError);
  EXPECT_THROW(transcription_metrics(kRef, kRef, -5.0), ValueError);
  EXPECT_THROW(note_metrics(kRef, perf({{60, 1.0, 0.5, 64}})), ValueError);  // offset before onset
  EXPECT_THROW(note_metrics(perf({{5, 1.0, 1.5, 64}}), kRef), ValueError);   // key outside the piano
}

}  // namespace
}  // namespace pianograd
