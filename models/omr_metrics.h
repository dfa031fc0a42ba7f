// Optical music recognition metrics (DESIGN.md §5): the symbol error rate of the PrIMuS / end-to-end OMR
// literature over token sequences, and note precision/recall/F1 in score time (beats), cross-checked in
// tests/python/test_omr_metrics.py against a plain-Python edit distance and mir_eval's note matching.
#pragma once
#include <cstdint>
#include <vector>

namespace pianograd {

// Levenshtein distance (unit-cost insertions, deletions, substitutions) in O(|a| |b|) time and
// O(min(|a|, |b|)) memory.
int64_t edit_distance(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

struct SerResult {
  int64_t edits = 0, ref_tokens = 0;
  double ser = 0.0;  // edits / ref_tokens
};

// Corpus symbol error rate: the edit distances of all (pred, ref) pairs summed, over the summed reference
// lengths (PrIMuS convention: long sequences weigh more than in a mean of per-sequence rates).
// Throws ValueError when the lists differ in length or the references hold no token at all (the rate
// is then undefined: an empty evaluation set is a bug upstream).
SerResult symbol_error_rate(const std::vector<std::vector<int64_t>>& preds,
                            const std::vector<std::vector<int64_t>>& refs);

struct ScoreNote {
  int pitch = 60;               // MIDI number
  double onset_beats = 0.0;     // from the start of the piece, in quarter-note beats
  double duration_beats = 0.0;  // >= 0 (a grace note may have none)
  int staff = 0;
};

struct NoteScores {
  double precision = 0.0, recall = 0.0, f1 = 0.0;
  int64_t matched = 0, n_ref = 0, n_est = 0;
};

// Note P/R/F1 over a maximum one-to-one matching (as mir_eval.transcription matches notes): an estimated
// and a reference note may pair when their pitches are equal and |onset difference| <= onset_tol_beats,
// with with_duration also |duration difference| <= duration_tol_beats, with same_staff also equal staves.
// The staff is not compared by default: a note read onto the wrong staff (a voice crossing to the other
// hand) still sounds right, and the audio-side metrics cannot see staves either; same_staff=true gives the
// stricter, notation-side score. Tolerances absorb the binary rounding of triplet positions (1/3 beat).
// Empty inputs follow mir_eval: when either side has no notes, precision, recall and F1 are 0.
// Throws ValueError for a non-finite onset or duration, a negative duration, or a tolerance that is
// negative or not finite.
NoteScores omr_note_f1(const std::vector<ScoreNote>& ref, const std::vector<ScoreNote>& est, bool with_duration,
                       double onset_tol_beats = 1e-3, double duration_tol_beats = 1e-3, bool same_staff = false);

}  // namespace pianograd
