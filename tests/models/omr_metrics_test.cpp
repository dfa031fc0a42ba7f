// OMR metrics on hand-worked cases (the random cross-check against a plain-Python edit distance and
// mir_eval's matching is tests/python/test_omr_metrics.py).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "autodiff/errors.h"
#include "models/omr_metrics.h"

namespace pianograd {
namespace {

std::vector<int64_t> toks(const std::string& s) { return {s.begin(), s.end()}; }

TEST(EditDistance, ClassicCases) {
  EXPECT_EQ(edit_distance(toks("kitten"), toks("sitting")), 3);
  EXPECT_EQ(edit_distance(toks("sitting"), toks("kitten")), 3);
  EXPECT_EQ(edit_distance(toks("flaw"), toks("lawn")), 2);
  EXPECT_EQ(edit_distance(toks("abc"), toks("abc")), 0);
  EXPECT_EQ(edit_distance(toks(""), toks("abcd")), 4);
  EXPECT_EQ(edit_distance(toks("abcd"), toks("")), 4);
  EXPECT_EQ(edit_distance({}, {}), 0);
  EXPECT_EQ(edit_distance(toks("ab"), toks("ba")), 2);  // no transpositions: Levenshtein, not Damerau
  EXPECT_EQ(edit_distance({1, 2, 3}, {1, 3}), 1);
  EXPECT_EQ(edit_distance({-5, 1000000000000}, {1000000000000}), 1);
}

TEST(SymbolErrorRate, SumsEditsOverSummedReferenceLengths) {
  // 1 edit over 4 tokens and 2 over 1: the corpus rate is 3/5, not the mean of 1/4 and 2/1.
  const SerResult r = symbol_error_rate({{1, 2, 3}, {7, 8}}, {{1, 2, 3, 4}, {9}});
  EXPECT_EQ(r.edits, 3);
  EXPECT_EQ(r.ref_tokens, 5);
  EXPECT_DOUBLE_EQ(r.ser, 0.6);
  EXPECT_DOUBLE_EQ(symbol_error_rate({{}, {1}}, {{2}, {1}}).ser, 0.5);  // an empty prediction is all deletions
}

TEST(SymbolErrorRate, RejectsMismatchedOrEmptyInput) {
  try {
    symbol_error_rate({{1}}, {{1}, {2}});
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("1 predictions for 2 references"), std::string::npos) << e.what();
  }
  EXPECT_THROW(symbol_error_rate({{1}}, {{}}), ValueError);
  EXPECT_THROW(symbol_error_rate({}, {}), ValueError);
}

const std::vector<ScoreNote> kRef = {{60, 0.0, 1.0, 0}, {64, 1.0, 0.5, 0}, {67, 1.5, 0.5, 0}, {48, 0.0, 2.0, 1}};

void expect_scores(const NoteScores& s, int64_t matched, int64_t n_ref, int64_t n_est) {
  EXPECT_EQ(s.matched, matched);
  EXPECT_EQ(s.n_ref, n_ref);
  EXPECT_EQ(s.n_est, n_est);
  const double p = n_est ? static_cast<double>(matched) / static_cast<double>(n_est) : 0.0;
  const double r = n_ref ? static_cast<double>(matched) / static_cast<double>(n_ref) : 0.0;
  EXPECT_DOUBLE_EQ(s.precision, p);
  EXPECT_DOUBLE_EQ(s.recall, r);
  EXPECT_DOUBLE_EQ(s.f1, p + r == 0.0 ? 0.0 : 2 * p * r / (p + r));
}

TEST(OmrNoteF1, IdenticalScoresOne) {
  expect_scores(omr_note_f1(kRef, kRef, false), 4, 4, 4);
  expect_scores(omr_note_f1(kRef, kRef, true), 4, 4, 4);
  EXPECT_DOUBLE_EQ(omr_note_f1(kRef, kRef, true).f1, 1.0);
}

TEST(OmrNoteF1, WrongPitchOnsetOrDuration) {
  std::vector<ScoreNote> est = kRef;
  est[0].pitch = 61;            // wrong pitch: unmatched either way
  est[1].onset_beats = 1.0005;  // within the 1e-3 onset tolerance
  est[2].onset_beats = 1.502;   // outside it
  est[3].duration_beats = 1.0;  // wrong duration: matched on onsets, not with durations
  expect_scores(omr_note_f1(kRef, est, false), 2, 4, 4);
  expect_scores(omr_note_f1(kRef, est, true), 1, 4, 4);
  expect_scores(omr_note_f1(kRef, est, true, 1e-3, 1.0), 2, 4, 4);  // a wide duration tolerance
}

TEST(OmrNoteF1, ToleranceEdgeCountsAsMatch) {
  // 1.001 - 1.0 is 0.00099999999999989 in binary, 1.0 - 0.999 is 0.0010000000000000009: both "1e-3".
  const std::vector<ScoreNote> ref = {{60, 1.0, 1.0, 0}, {62, 1.0, 1.0, 0}};
  const std::vector<ScoreNote> est = {{60, 1.001, 1.0, 0}, {62, 0.999, 1.0, 0}};
  expect_scores(omr_note_f1(ref, est, false), 2, 2, 2);
  expect_scores(omr_note_f1(ref, est, false, 0.0), 0, 2, 2);
  // Triplets: three thirds of a beat summed in binary still land on beat 1 within any positive tolerance.
  const double third = 1.0 / 3.0;
  expect_scores(omr_note_f1({{60, 1.0, third, 0}}, {{60, third + third + third, third, 0}}, true, 1e-6, 1e-6), 1, 1, 1);
}

TEST(OmrNoteF1, MatchingIsMaximumNotGreedy) {
  // est 0 fits both refs, est 1 only ref 0: a greedy pass pairing ref 0 with est 0 would leave ref 1 alone.
  const std::vector<ScoreNote> ref = {{60, 1.0, 1.0, 0}, {60, 1.1, 1.0, 0}};
  const std::vector<ScoreNote> est = {{60, 1.05, 1.0, 0}, {60, 0.97, 1.0, 0}};
  expect_scores(omr_note_f1(ref, est, false, 0.05), 2, 2, 2);
  // One-to-one: two estimates on one reference match once.
  expect_scores(omr_note_f1({{60, 0.0, 1.0, 0}}, {{60, 0.0, 1.0, 0}, {60, 0.0, 1.0, 0}}, false), 1, 1, 2);
}

TEST(OmrNoteF1, StaffIgnoredUnlessAsked) {
  std::vector<ScoreNote> est = kRef;
  est[3].staff = 0;  // the bass note read on the treble staff
  expect_scores(omr_note_f1(kRef, est, true), 4, 4, 4);
  expect_scores(omr_note_f1(kRef, est, true, 1e-3, 1e-3, true), 3, 4, 4);
}

TEST(OmrNoteF1, EmptyInputsScoreZero) {
  expect_scores(omr_note_f1({}, kRef, false), 0, 0, 4);
  expect_scores(omr_note_f1(kRef, {}, false), 0, 4, 0);
  expect_scores(omr_note_f1({}, {}, true), 0, 0, 0);
}

TEST(OmrNoteF1, LongChainOfEqualNotes) {
  // Scale: 20000 equal-pitch notes, each estimate within the tolerance of two references.
  std::vector<ScoreNote> ref, est;
  for (int i = 0; i < 20000; ++i) {
    ref.push_back({60, i * 0.01, 0.01, 0});
    est.push_back({60, i * 0.01 + 0.006, 0.01, 0});
  }
  expect_scores(omr_note_f1(ref, est, false, 0.011), 20000, 20000, 20000);
}

TEST(OmrNoteF1, RejectsBadNotesAndTolerances) {
  const std::vector<ScoreNote> nan_onset = {{60, std::nan(""), 1.0, 0}};
  try {
    omr_note_f1(kRef, nan_onset, false);
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("estimated note 0"), std::string::npos) << e.what();
  }
  EXPECT_THROW(omr_note_f1({{60, 0.0, -1.0, 0}}, kRef, false), ValueError);
  EXPECT_THROW(omr_note_f1(kRef, kRef, false, -1e-3), ValueError);
  EXPECT_THROW(omr_note_f1(kRef, kRef, true, 1e-3, std::nan("")), ValueError);
}

}  // namespace
}  // namespace pianograd
