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

}  // namespace pianograd
