// Performance <-> piano rolls at a frame rate: the frame-level form of M that transcription models
// predict and the roll renderer consumes (DESIGN.md §4 "roll renderer", §5 frame F1).
//
// Conventions (those of Onsets and Frames, Hawthorne et al. 2018, and of the MAESTRO tooling):
// * frame i stands for time i / frame_rate; an event at time t lands in frame round(t * frame_rate);
// * a note occupies frames [round(onset*fr), round(end*fr)), at least one frame, where `end` is the key
//   release — or, with pedal extension, the moment the sustain pedal (value >= 0.5) next lifts after the
//   release, whichever is later; a re-strike of the same key cuts the previous (sustained) note;
// * onset roll: 1 at the onset frame; offset roll: 1 at the frame of `end` (when inside the roll);
//   velocity roll: velocity / 127 at the onset frame, 0 elsewhere; frame roll: 1 on occupied frames.
// All rolls are float32 tensors of shape [frames, 88], column k = key 21 + k.
#pragma once
#include <cstdint>
#include <vector>

#include "autodiff/tensor.h"
#include "synth/pedal_roll.h"
#include "synth/performance.h"

namespace pianograd {

struct PianoRolls {
  Tensor onset, frame, offset, velocity;  // each [frames, 88] f32
  double frame_rate = 0.0;
  // The sustain pedal's rolls [frames] (synth/pedal_roll.h), when a model predicts them; empty (undefined
  // tensors) from performance_to_rolls, which keeps the pedal in the extended frame roll instead.
  PedalRolls pedal;
};

struct RollOptions {
  bool pedal_extend = true;  // sustained notes last until the pedal lifts
  int64_t num_frames = -1;   // -1: enough frames for every (extended) note end, plus one
};

// Throws ValueError for an invalid performance, a non-positive/non-finite frame rate, or num_frames < -1.
PianoRolls performance_to_rolls(const Performance& perf, double frame_rate, const RollOptions& options = {});

// The notes as they sound, in Performance::sort() order, each offset replaced by its sounding end: the key
// release — or, with pedal_extend, when the sustain pedal (value >= 0.5) next lifts after the release,
// whichever is later (the end of the performance when it never lifts) — cut at the next onset of the same
// key. The rule performance_to_rolls uses; the transcription metrics compare these notes.
// Throws ValueError for an invalid performance.
std::vector<Note> sounding_notes(const Performance& perf, bool pedal_extend = true);

struct RollDecodeOptions {
  double onset_threshold = 0.5;
  double frame_threshold = 0.5;
  double offset_threshold = 0.5;  // used only when rolls.offset is defined
  PedalDecodeOptions pedal;       // used only when rolls.pedal.frame is defined
};

// Decodes rolls into notes. Per key, each run of consecutive frames with onset >= onset_threshold is one
// note starting at the run's largest onset value (a peak); the note continues while frame >=
// frame_threshold (frames of its own onset run always count), and ends at the first frame where the
// frame roll drops, the next onset starts, or the offset roll reaches offset_threshold. Velocity =
// round(127 * velocity roll at the onset frame), clamped to 1..127; when rolls.velocity is undefined,
// 64. The decoded offsets are the sounding (pedal-extended) ends; when rolls.pedal.frame is defined the
// result also carries the decoded pedal (rolls_to_pedal at rolls.frame_rate), otherwise no pedal.
// rolls.onset and rolls.frame are required; every defined roll must be floating [frames, 88].
Performance rolls_to_performance(const PianoRolls& rolls, const RollDecodeOptions& options = {});

}  // namespace pianograd
