// Transcription metrics (DESIGN.md §5, issue 5): note precision/recall/F1 with onsets only, with offsets,
// with offsets and velocity, and frame F1 — computed here in C++ exactly as mir_eval 0.8 computes them
// (mir_eval.transcription.precision_recall_f1_overlap, mir_eval.transcription_velocity), cross-checked
// against mir_eval in tests/python/test_metrics.py.
//
// Notes are compared as (key, onset, sounding end): with pedal_extend the end is the pedal-extended end of
// sounding_notes() (synth/piano_roll.h), the rule the piano rolls use, so note and frame metrics judge the
// same sound. Keys are MIDI numbers, so mir_eval's 50-cent pitch tolerance is exact key equality.
//
// Empty inputs follow mir_eval: when the reference or the estimate has no notes (or no active frames),
// precision, recall and F1 are 0 (mir_eval warns and returns zeros); the counts still say what was there.
#pragma once
#include <cstdint>
#include <limits>

#include "synth/performance.h"

namespace pianograd {

struct PRF {
  double precision = 0.0, recall = 0.0, f1 = 0.0;
  int64_t n_ref = 0, n_est = 0, n_matched = 0;  // notes (note metrics) or active (frame, key) cells (frame)
  // mir_eval's Average Overlap Ratio over the matched notes (0 when none match); NaN for frame metrics.
  double overlap = std::numeric_limits<double>::quiet_NaN();
};

struct NoteMetricOptions {
  double onset_tolerance = 0.05;       // seconds, |Δonset| <= tol after rounding to 0.1 ms (mir_eval)
  double offset_ratio = 0.2;           // offset tolerance = max(offset_min_tolerance, ratio * ref duration)
  double offset_min_tolerance = 0.05;  // seconds
  double velocity_tolerance = 0.1;     // on mir_eval's rescaled velocity axis (reference range -> [0, 1])
  bool pedal_extend = true;            // compare sounding (pedal-extended) note ends
};

// Note-level P/R/F1. with_offset adds the offset criterion; with_velocity applies mir_eval's velocity
// rule on top of the (onset[, offset]) matching: reference velocities are mapped to [0,1] by their
// min/max, estimated velocities are fitted to them by least squares over the matched pairs, and a pair
// survives when the fitted difference is < velocity_tolerance. Throws ValueError for invalid
// performances or non-finite/negative tolerances.
PRF note_metrics(const Performance& ref, const Performance& est, const NoteMetricOptions& opts = {},
                 bool with_offset = false, bool with_velocity = false);

// Frame-level P/R/F1 over all (frame, key) cells of the binary frame rolls of performance_to_rolls at
// frame_rate (the Onsets and Frames convention), both rolls padded to the longer one. Equal to
// mir_eval.multipitch's Precision/Recall when it is fed these frames (one frequency per active key).
PRF frame_metrics(const Performance& ref, const Performance& est, double frame_rate, bool pedal_extend = true);

// Sustain pedal events: every down segment (synth/pedal_roll.h pedal_segments, value >= 0.5) is one event,
// matched like a note with offsets (onset within onset_tolerance, offset within max(offset_min_tolerance,
// offset_ratio * duration)). Both sides without pedal give zeros, as empty note lists do. With
// with_offset = false only the press is matched (onset within onset_tolerance): the figure to set beside
// onset-only pedal F1s, and the one that says whether a pedal change was heard at all.
PRF pedal_metrics(const Performance& ref, const Performance& est, const NoteMetricOptions& opts = {},
                  bool with_offset = true);

struct TranscriptionMetrics {
  PRF note, note_offset, note_offset_velocity, frame;
  PRF pedal;        // pedal_metrics
  PRF pedal_onset;  // pedal_metrics(..., with_offset = false)
};

TranscriptionMetrics transcription_metrics(const Performance& ref, const Performance& est,
                                           double frame_rate = 50.0, const NoteMetricOptions& opts = {});

}  // namespace pianograd
