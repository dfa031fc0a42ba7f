// Sustain pedal <-> frame rolls: what the transcriber's pedal head predicts and how its output becomes
// CC64 again (issue 15, item 3). Conventions follow the note rolls (synth/piano_roll.h): frame i stands
// for time i / frame_rate; the pedal is "down" where its value is >= 0.5 (CC64 >= 64, the damper lifted).
// A down segment [a, b) occupies frames [round(a fr), round(b fr)), at least one frame; the onset roll is 1
// at round(a fr), the offset roll 1 at round(b fr) (when inside the roll). Rolls are float32 [frames].
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "autodiff/tensor.h"
#include "synth/performance.h"

namespace pianograd {

struct PedalRolls {
  Tensor onset, frame, offset;  // each [frames] f32
  double frame_rate = 0.0;
};

// The pedal's down segments (start, end) in seconds, from the step curve of perf.pedal: a segment opens
// where the value crosses to >= 0.5 and closes where it falls below; one still down at the last point
// closes at perf.duration() (the end of the last sounding event), or at the last point's time when
// nothing else ends later. Throws ValueError for an invalid performance.
std::vector<std::pair<double, double>> pedal_segments(const Performance& perf);

// num_frames -1: enough frames for every segment end, plus one. Throws ValueError for an invalid
// performance, a non-positive/non-finite frame rate, or num_frames < -1.
PedalRolls performance_to_pedal_rolls(const Performance& perf, double frame_rate, int64_t num_frames = -1);

struct PedalDecodeOptions {
  double onset_threshold = 0.5;
  double frame_threshold = 0.5;
  double offset_threshold = 0.5;
  double min_seconds = 0.04;  // shorter down segments are dropped (a flicker, not a pedal change)
  int64_t median_frames = 1;  // odd; the frame roll's running median over this many frames (1: none)
};

// Predicted pedal rolls -> pedal points (value 1 = down, 0 = up), sorted by time. The frame roll is first
// median-filtered (median_frames; edges use the frames that exist), which removes flickers shorter than
// half the window without moving clean edges. A segment opens where
// the frame roll reaches frame_threshold or the onset roll onset_threshold (at the onset run's peak when
// the onset comes first), and closes where the frame roll drops below frame_threshold or the offset roll
// reaches offset_threshold; after an offset the pedal opens again only on an onset, so a quick re-pedal
// (up and down within a frame or two, the frame roll never dropping) still yields two segments. A segment
// open at the last frame closes at the end of the roll. rolls.frame is required; onset and offset may be
// undefined (frame-only decoding). Every defined roll must be floating [frames].
std::vector<PedalPoint> rolls_to_pedal(const PedalRolls& rolls, const PedalDecodeOptions& options = {});

}  // namespace pianograd
