// Sustain pedal rolls and their decoding: see pedal_roll.h.
#include "synth/pedal_roll.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "autodiff/errors.h"
#include "autodiff/tape.h"

namespace pianograd {

namespace {

constexpr int64_t kMaxRollFrames = int64_t{1} << 30;

int64_t frame_of(double t, double fr) { return static_cast<int64_t>(std::llround(t * fr)); }

std::vector<float> pedal_values(const Tensor& t, const char* name, int64_t frames) {
  if (!t.defined()) return {};
  if (!is_floating(t.dtype()))
    throw DTypeError(std::string("rolls_to_pedal: ") + name + " roll must be floating, got " + dtype_name(t.dtype()));
  if (t.dim() != 1 || (frames >= 0 && t.size(0) != frames))
    throw ShapeError(std::string("rolls_to_pedal: ") + name + " roll must be [" +
                     (frames >= 0 ? std::to_string(frames) : std::string("frames")) + "], got " + shape_str(t.shape()));
  NoGrad guard;  // decoding is not differentiable; do not record the cast
  std::vector<float> v = t.dtype() == DType::f32 ? t.to_vector<float>() : t.to(DType::f32).to_vector<float>();
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      throw ValueError(std::string("rolls_to_pedal: ") + name + " roll has a non-finite value at frame " +
                       std::to_string(i));
  return v;
}

// Median of v[i - half .. i + half] (clipped to the roll) at every i.
std::vector<float> running_median(const std::vector<float>& v, int64_t half) {
  if (half == 0) return v;
  const int64_t n = static_cast<int64_t>(v.size());
  std::vector<float> out(v.size()), window;
  for (int64_t i = 0; i < n; ++i) {
    window.assign(v.begin() + std::max<int64_t>(0, i - half), v.begin() + std::min(n, i + half + 1));
    auto mid = window.begin() + static_cast<std::ptrdiff_t>(window.size() / 2);
    std::nth_element(window.begin(), mid, window.end());
    out[static_cast<size_t>(i)] = *mid;
  }
  return out;
}

}  // namespace

std::vector<std::pair<double, double>> pedal_segments(const Performance& perf) {
  perf.validate();
  Performance sorted = perf;
  sorted.sort();
  std::vector<std::pair<double, double>> out;
  bool down = false;
  double start = 0.0;
  for (const PedalPoint& p : sorted.pedal) {
    const bool now = p.value >= 0.5;
    if (now && !down) start = p.time;
    if (!now && down) out.emplace_back(start, p.time);
    down = now;
  }
  if (down) out.emplace_back(start, std::max(start, sorted.duration()));
  return out;
}

PedalRolls performance_to_pedal_rolls(const Performance& perf, double frame_rate, int64_t num_frames) {
  if (!std::isfinite(frame_rate) || frame_rate <= 0.0)
    throw ValueError("performance_to_pedal_rolls: frame_rate must be finite and > 0, got " + std::to_string(frame_rate));
  if (num_frames < -1)
    throw ValueError("performance_to_pedal_rolls: num_frames must be >= 0 or -1, got " + std::to_string(num_frames));
  struct Span {
    int64_t on, end;  // frames [on, end), end > on
  };
  std::vector<Span> spans;
  int64_t needed = 1;
  for (const auto& [a, b] : pedal_segments(perf)) {
    const int64_t on = frame_of(a, frame_rate);
    spans.push_back({on, std::max(on + 1, frame_of(b, frame_rate))});
    needed = std::max(needed, spans.back().end + 1);
  }
  const int64_t frames = num_frames >= 0 ? num_frames : needed;
  if (frames > kMaxRollFrames)
    throw ValueError("performance_to_pedal_rolls: " + std::to_string(frames) + " frames is too many (check the frame rate)");
  PedalRolls r;
  r.frame_rate = frame_rate;
  r.onset = zeros({frames});
  r.frame = zeros({frames});
  r.offset = zeros({frames});
  float* on = r.onset.data<float>();
  float* fr = r.frame.data<float>();
  float* off = r.offset.data<float>();
  for (const Span& s : spans) {
    if (s.on < frames) on[s.on] = 1.0f;
    if (s.end < frames) off[s.end] = 1.0f;
    for (int64_t f = std::max<int64_t>(0, s.on); f < std::min(frames, s.end); ++f) fr[f] = 1.0f;
  }
  return r;
}

std::vector<PedalPoint> rolls_to_pedal(const PedalRolls& rolls, const PedalDecodeOptions& o) {
  if (!std::isfinite(rolls.frame_rate) || rolls.frame_rate <= 0.0)
    throw ValueError("rolls_to_pedal: frame_rate must be finite and > 0, got " + std::to_string(rolls.frame_rate));
  for (double t : {o.onset_threshold, o.frame_threshold, o.offset_threshold})
    if (!(t > 0.0 && t <= 1.0)) throw ValueError("rolls_to_pedal: thresholds must lie in (0, 1], got " + std::to_string(t));
  if (!(o.min_seconds >= 0.0) || !std::isfinite(o.min_seconds))
    throw ValueError("rolls_to_pedal: min_seconds must be finite and >= 0, got " + std::to_string(o.min_seconds));
  if (o.median_frames < 1 || o.median_frames % 2 == 0)
    throw ValueError("rolls_to_pedal: median_frames must be odd and >= 1, got " + std::to_string(o.median_frames));
  if (!rolls.frame.defined()) throw ValueError("rolls_to_pedal: the frame roll is required");
  const std::vector<float> frame = running_median(pedal_values(rolls.frame, "frame", -1), o.median_frames / 2);
  const int64_t n = static_cast<int64_t>(frame.size());
  const std::vector<float> onset = pedal_values(rolls.onset, "onset", n);
  const std::vector<float> offset = pedal_values(rolls.offset, "offset", n);
  auto onset_at = [&](int64_t f) { return !onset.empty() && onset[f] >= o.onset_threshold; };
  auto offset_at = [&](int64_t f) { return !offset.empty() && offset[f] >= o.offset_threshold; };
  std::vector<std::pair<int64_t, int64_t>> segs;
  bool down = false, need_onset = false;
  int64_t start = 0;
  for (int64_t f = 0; f < n; ++f) {
    const bool high = frame[f] >= o.frame_threshold;
    if (down) {
      // An offset on the segment's first frame is the previous segment's release, not this one's.
      if (!high || (offset_at(f) && f > start)) {
        segs.emplace_back(start, f);
        down = false;
        need_onset = high;  // the frame roll stayed up through the release: wait for the next onset
      }
      continue;
    }
    if (!high) need_onset = false;
    if (!onset_at(f) && !(high && !need_onset)) continue;
    // Start at the peak of the onset run beginning here (frames before the peak belong to the rise).
    start = f;
    for (int64_t g = f + 1; onset_at(f) && g < n && onset_at(g); ++g)
      if (onset[g] > onset[start]) start = g;
    f = start;
    down = true;
    need_onset = false;
  }
  if (down) segs.emplace_back(start, n);
  std::vector<PedalPoint> out;
  const int64_t min_frames = static_cast<int64_t>(std::ceil(o.min_seconds * rolls.frame_rate - 1e-9));
  for (const auto& [a, b] : segs) {
    if (b - a < std::max<int64_t>(1, min_frames)) continue;
    out.push_back({a / rolls.frame_rate, 1.0});
    out.push_back({b / rolls.frame_rate, 0.0});
  }
  return out;
}

}  // namespace pianograd
