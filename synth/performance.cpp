#include "synth/performance.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <tuple>

#include "autodiff/errors.h"

namespace pianograd {

namespace {

[[noreturn]] void bad_note(size_t i, const char* field, const std::string& why) {
  throw ValueError("Performance: note " + std::to_string(i) + " " + field + ": " + why);
}

std::string num(double v) {
  // std::to_string prints 6 decimals, which hides the sub-millisecond values we care about.
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

}  // namespace

void Performance::validate() const {
  for (size_t i = 0; i < notes.size(); ++i) {
    const Note& n = notes[i];
    if (n.key < kMinKey || n.key > kMaxKey)
      bad_note(i, "key", "expected " + std::to_string(kMinKey) + ".." + std::to_string(kMaxKey) + ", got " +
                             std::to_string(n.key));
    if (!std::isfinite(n.onset) || n.onset < 0.0)
      bad_note(i, "onset", "expected a finite time >= 0, got " + num(n.onset));
    if (!std::isfinite(n.offset)) bad_note(i, "offset", "expected a finite time, got " + num(n.offset));
    if (!(n.offset > n.onset))
      bad_note(i, "offset", "expected offset > onset " + num(n.onset) + ", got " + num(n.offset));
    if (n.velocity < 1 || n.velocity > 127)
      bad_note(i, "velocity", "expected 1..127, got " + std::to_string(n.velocity));
  }
  for (size_t i = 0; i < pedal.size(); ++i) {
    const PedalPoint& p = pedal[i];
    const std::string where = "Performance: pedal point " + std::to_string(i);
    if (!std::isfinite(p.time) || p.time < 0.0)
      throw ValueError(where + " time: expected a finite time >= 0, got " + num(p.time));
    if (!(p.value >= 0.0 && p.value <= 1.0))
      throw ValueError(where + " value: expected a value in [0,1], got " + num(p.value));
    if (i > 0 && p.time < pedal[i - 1].time)
      throw ValueError(where + " time: points out of order, " + num(p.time) + " after " +
                       num(pedal[i - 1].time));
  }
}

double Performance::duration() const {
  double d = 0.0;
  for (const Note& n : notes) d = std::max(d, n.offset);
  for (const PedalPoint& p : pedal) d = std::max(d, p.time);
  return d;
}

void Performance::sort() {
  std::stable_sort(notes.begin(), notes.end(), [](const Note& a, const Note& b) {
    return std::tie(a.onset, a.key, a.offset, a.velocity) < std::tie(b.onset, b.key, b.offset, b.velocity);
  });
  std::stable_sort(pedal.begin(), pedal.end(),
                   [](const PedalPoint& a, const PedalPoint& b) { return a.time < b.time; });
}

double Performance::pedal_at(double t) const {
  // Last point with time <= t: upper_bound gives the first point strictly after t.
  auto it = std::upper_bound(pedal.begin(), pedal.end(), t,
                             [](double tt, const PedalPoint& p) { return tt < p.time; });
  if (it == pedal.begin()) return 0.0;
  return std::prev(it)->value;
}

namespace {
// x rounded to `decimals` decimal places (half to even, as Python's round): the nearest double to it.
double round_to(double x, double scale) { return std::nearbyint(x * scale) / scale; }
}  // namespace

Performance Performance::quantized(double step) const {
  if (!(step > 0) || !std::isfinite(step)) throw ValueError("Performance.quantized: step must be > 0, got " + num(step));
  auto q = [&](double t) { return round_to(std::nearbyint(t / step) * step, 1e6); };
  const double one = round_to(step, 1e6);
  Performance out;
  out.notes.reserve(notes.size());
  for (const Note& n : notes) out.notes.push_back({n.key, q(n.onset), std::max(q(n.offset), q(n.onset) + one), n.velocity});
  for (const PedalPoint& p : pedal) out.pedal.push_back({q(p.time), p.value});
  out.sort();
  return out;
}

Performance Performance::window(double start, double end, double min_len) const {
  if (!(start >= 0) || !(end > start) || !std::isfinite(end))
    throw ValueError("Performance.window: expected 0 <= start < end, got [" + num(start) + ", " + num(end) + ")");
  auto rel = [&](double t) { return round_to(t - start, 1e9); };
  Performance out;
  for (const Note& n : notes)
    if (n.onset >= start && n.onset < end - min_len) out.notes.push_back({n.key, rel(n.onset), rel(std::min(n.offset, end)), n.velocity});
  const double v0 = pedal_at(start);
  if (v0 > 0) out.pedal.push_back({0.0, v0});
  for (const PedalPoint& p : pedal)
    if (p.time > start && p.time < end) out.pedal.push_back({rel(p.time), p.value});
  if (pedal_at(end) > 0) out.pedal.push_back({rel(end), 0.0});
  out.sort();
  return out;
}

Performance Performance::transformed(int semitones, double time_scale, double velocity_scale) const {
  if (!(time_scale > 0) || !std::isfinite(time_scale))
    throw ValueError("Performance.transformed: time_scale must be > 0, got " + num(time_scale));
  if (!(velocity_scale > 0) || !std::isfinite(velocity_scale))
    throw ValueError("Performance.transformed: velocity_scale must be > 0, got " + num(velocity_scale));
  Performance out;
  out.notes.reserve(notes.size());
  for (const Note& n : notes) {
    const int key = n.key + semitones;
    if (key < kMinKey || key > kMaxKey) continue;
    const int v = static_cast<int>(std::lround(n.velocity * velocity_scale));
    out.notes.push_back({key, n.onset * time_scale, n.offset * time_scale, std::clamp(v, 1, 127)});
  }
  for (const PedalPoint& p : pedal) out.pedal.push_back({p.time * time_scale, p.value});
  out.sort();
  return out;
}

}  // namespace pianograd
