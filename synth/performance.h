// The motion (M) modality: what a pianist does — which key, when pressed, how fast, when released —
// plus the sustain pedal (DESIGN.md §1, §5). Times are seconds; everything else derives from this type
// (MIDI files in synth/midi.h, piano rolls in synth/piano_roll.h, the renderers).
#pragma once
#include <cstddef>
#include <vector>

namespace pianograd {

// The 88 keys of a concert grand, as MIDI key numbers (A0 = 21 … C8 = 108).
inline constexpr int kMinKey = 21;
inline constexpr int kMaxKey = 108;
inline constexpr int kNumKeys = kMaxKey - kMinKey + 1;

struct Note {
  int key = 60;          // MIDI key number, kMinKey..kMaxKey
  double onset = 0.0;    // key press, seconds
  double offset = 0.0;   // key release, seconds (> onset); the pedal may sustain the sound beyond it
  int velocity = 64;     // MIDI velocity 1..127
  bool operator==(const Note&) const = default;
};

// One control point of the sustain pedal. The curve is a step function (as CC64 is): `value` holds from
// `time` until the next point. MIDI CC64 maps to value = cc / 127; value >= 0.5 means "pedal down".
struct PedalPoint {
  double time = 0.0;
  double value = 0.0;  // 0 = up, 1 = fully down
  bool operator==(const PedalPoint&) const = default;
};

struct Performance {
  std::vector<Note> notes;
  std::vector<PedalPoint> pedal;  // sorted by time; the pedal is up (0) before the first point

  // Throws ValueError naming the offending note/pedal index and field when any note has a key outside
  // 21..108, a non-finite or negative onset, offset <= onset, or velocity outside 1..127, or when a
  // pedal point has a non-finite/negative time, a value outside [0,1], or times out of order.
  void validate() const;

  // The end of the last sounding event: max over note offsets and pedal point times (0 when empty).
  double duration() const;

  // Notes by (onset, key, offset, velocity); pedal points by time (stable, so equal times keep order).
  void sort();

  // Pedal value in effect at time t: the value of the last point with time <= t, 0 before the first.
  double pedal_at(double t) const;

  // Every time rounded to a grid of `step` seconds (the 1 ms of the data set's MIDI files by default) and
  // then to the microsecond, so that JSON labels hold short decimals; a note that collapses keeps one
  // step. Sorted. The label, its MIDI file and the audio rendered from it then describe one performance.
  Performance quantized(double step = 0.001) const;

  // The excerpt [start, end): notes with onsets in [start, end - min_len), offsets clipped to `end`, times
  // shifted by -start (to the nanosecond, so window shifts leave no float residue); the pedal value at
  // `start` carried in as a point at 0, and a lift at the cut when it is down then (the excerpt's audio
  // ends cleanly). Sorted. ValueError unless 0 <= start < end.
  Performance window(double start, double end, double min_len = 0.03) const;

  // Data augmentation for the motion LM: keys moved by `semitones` (notes leaving 21..108 dropped), every
  // time multiplied by `time_scale` (> 0: 1.1 is 10% slower), velocities multiplied by `velocity_scale`
  // (> 0) and clamped to 1..127. Sorted. ValueError for a non-positive or non-finite scale.
  Performance transformed(int semitones, double time_scale = 1.0, double velocity_scale = 1.0) const;

  bool operator==(const Performance&) const = default;
};

}  // namespace pianograd
