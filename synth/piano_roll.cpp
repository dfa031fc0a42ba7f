#include "synth/piano_roll.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "autodiff/tape.h"

namespace pianograd {

namespace {

constexpr int64_t kMaxRollElements = int64_t{1} << 30;  // 4 GiB per float roll: beyond that, a unit mistake

int64_t frame_of(double t, double fr) { return static_cast<int64_t>(std::llround(t * fr)); }

// When the sustain pedal next lifts (value < 0.5) strictly after t, given that it is down at t; the end
// of the performance when it never lifts.
double pedal_release_after(const Performance& perf, double t, double end_of_performance) {
  for (const PedalPoint& p : perf.pedal)
    if (p.time > t && p.value < 0.5) return p.time;
  return end_of_performance;
}

std::vector<float> roll_values(const Tensor& t, const char* name, int64_t frames) {
  if (!t.defined()) return {};
  if (!is_floating(t.dtype()))
    throw DTypeError(std::string("rolls_to_performance: ") + name + " roll must be floating, got " +
                     dtype_name(t.dtype()));
  if (t.dim() != 2 || t.size(1) != kNumKeys || (frames >= 0 && t.size(0) != frames))
    throw ShapeError(std::string("rolls_to_performance: ") + name + " roll must be [" +
                     (frames >= 0 ? std::to_string(frames) : std::string("frames")) + ",88], got " +
                     shape_str(t.shape()));
  NoGrad guard;  // decoding is not differentiable; do not record the cast
  return t.dtype() == DType::f32 ? t.to_vector<float>() : t.to(DType::f32).to_vector<float>();
}

}  // namespace

std::vector<Note> sounding_notes(const Performance& perf, bool pedal_extend) {
  perf.validate();
  Performance sorted = perf;
  sorted.sort();
  const double total = sorted.duration();
  std::vector<Note> out = sorted.notes;
  for (size_t i = 0; i < sorted.notes.size(); ++i) {
    const Note& n = sorted.notes[i];
    double end = n.offset;
    if (pedal_extend && sorted.pedal_at(n.offset) >= 0.5)
      end = std::max(end, pedal_release_after(sorted, n.offset, total));
    // A re-strike of the same key ends the previous note: its damper cannot sound two notes at once.
    for (size_t j = i + 1; j < sorted.notes.size(); ++j)
      if (sorted.notes[j].key == n.key && sorted.notes[j].onset > n.onset) {
        end = std::min(end, sorted.notes[j].onset);
        break;
      }
    out[i].offset = end;
  }
  return out;
}

PianoRolls performance_to_rolls(const Performance& perf, double frame_rate, const RollOptions& options) {
  if (!std::isfinite(frame_rate) || frame_rate <= 0.0)
    throw ValueError("performance_to_rolls: frame_rate must be finite and > 0, got " + std::to_string(frame_rate));
  if (options.num_frames < -1)
    throw ValueError("performance_to_rolls: num_frames must be >= 0 or -1, got " +
                     std::to_string(options.num_frames));
  const std::vector<Note> notes = sounding_notes(perf, options.pedal_extend);
  const double total = perf.duration();
  struct Span {
    int key;
    int64_t on, end;  // frames: occupies [on, end), end > on
    float velocity;
  };
  std::vector<Span> spans;
  spans.reserve(notes.size());
  for (const Note& n : notes) {
    const int64_t on = frame_of(n.onset, frame_rate);
    spans.push_back({n.key, on, std::max(on + 1, frame_of(n.offset, frame_rate)), n.velocity / 127.0f});
  }

  int64_t frames = options.num_frames;
  if (frames < 0) {
    frames = frame_of(total, frame_rate) + 1;
    for (const Span& s : spans) frames = std::max(frames, s.end + 1);
  }
  if (frames > kMaxRollElements / kNumKeys)
    throw ValueError("performance_to_rolls: " + std::to_string(frames) + " frames of 88 keys is too large (" +
                     std::to_string(total) + " s at " + std::to_string(frame_rate) + " frames/s)");

  const size_t n = static_cast<size_t>(frames) * kNumKeys;
  std::vector<float> onset(n, 0.0f), frame(n, 0.0f), offset(n, 0.0f), velocity(n, 0.0f);
  auto at = [](int64_t f, int key) { return static_cast<size_t>(f) * kNumKeys + static_cast<size_t>(key - kMinKey); };
  for (const Span& s : spans) {
    if (s.on < frames) {
      onset[at(s.on, s.key)] = 1.0f;
      velocity[at(s.on, s.key)] = std::max(velocity[at(s.on, s.key)], s.velocity);
    }
    for (int64_t f = s.on; f < std::min(s.end, frames); ++f) frame[at(f, s.key)] = 1.0f;
    if (s.end < frames) offset[at(s.end, s.key)] = 1.0f;
  }
  const Shape shape{frames, kNumKeys};
  return {from_vector(onset, shape), from_vector(frame, shape), from_vector(offset, shape),
          from_vector(velocity, shape), frame_rate, {}};
}

Performance rolls_to_performance(const PianoRolls& rolls, const RollDecodeOptions& options) {
  if (!std::isfinite(rolls.frame_rate) || rolls.frame_rate <= 0.0)
    throw ValueError("rolls_to_performance: frame_rate must be finite and > 0, got " +
                     std::to_string(rolls.frame_rate));
  if (!rolls.onset.defined() || !rolls.frame.defined())
    throw ValueError("rolls_to_performance: the onset and frame rolls are required");
  const std::vector<float> onset = roll_values(rolls.onset, "onset", -1);
  const int64_t frames = rolls.onset.size(0);
  const std::vector<float> frame = roll_values(rolls.frame, "frame", frames);
  const std::vector<float> offset = roll_values(rolls.offset, "offset", frames);
  const std::vector<float> velocity = roll_values(rolls.velocity, "velocity", frames);
  auto at = [](int64_t f, int k) { return static_cast<size_t>(f) * kNumKeys + static_cast<size_t>(k); };
  const double th_on = options.onset_threshold, th_fr = options.frame_threshold, th_off = options.offset_threshold;

  Performance perf;
  for (int k = 0; k < kNumKeys; ++k) {
    int64_t f = 0;
    while (f < frames) {
      if (!(onset[at(f, k)] >= th_on)) {
        ++f;
        continue;
      }
      // One onset run [f, run_end): its peak is the note's onset frame.
      int64_t run_end = f, peak = f;
      while (run_end < frames && onset[at(run_end, k)] >= th_on) {
        if (onset[at(run_end, k)] > onset[at(peak, k)]) peak = run_end;
        ++run_end;
      }
      int64_t j = peak + 1;
      for (; j < frames; ++j) {
        if (j < run_end) continue;  // the note's own onset run always sounds
        if (onset[at(j, k)] >= th_on || !(frame[at(j, k)] >= th_fr)) break;
        if (!offset.empty() && offset[at(j, k)] >= th_off) break;
      }
      int vel = 64;
      if (!velocity.empty()) {
        const double v = std::round(127.0 * velocity[at(peak, k)]);
        vel = static_cast<int>(std::clamp(std::isfinite(v) ? v : 1.0, 1.0, 127.0));
      }
      perf.notes.push_back({kMinKey + k, peak / rolls.frame_rate, j / rolls.frame_rate, vel});
      f = run_end;
    }
  }
  if (rolls.pedal.frame.defined()) {
    if (rolls.pedal.frame.dim() != 1 || rolls.pedal.frame.size(0) != frames)
      throw ShapeError("rolls_to_performance: the pedal frame roll must be [" + std::to_string(frames) +
                       "] like the key rolls, got " + shape_str(rolls.pedal.frame.shape()));
    PedalRolls pedal = rolls.pedal;
    pedal.frame_rate = rolls.frame_rate;
    perf.pedal = rolls_to_pedal(pedal, options.pedal);
  }
  perf.sort();
  return perf;
}

}  // namespace pianograd
