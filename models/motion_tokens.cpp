#include "models/motion_tokens.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <tuple>

#include "autodiff/errors.h"

namespace pianograd {

namespace {

// One event on the time grid. `order` puts the events of one step in the encoding's order.
struct Event {
  int64_t step;
  int order;  // 0 pedal up, 1 note-off, 2 pedal down, 3 note-on
  int key;
  int velocity;
};

}  // namespace

MotionTokenizer::MotionTokenizer(const TokenizerConfig& config) : config_(config) {
  if (!(config.time_step > 0) || !std::isfinite(config.time_step))
    throw ValueError("MotionTokenizer: time_step must be a positive number of seconds");
  if (config.max_shift_steps < 1 || config.max_shift_steps > 10000)
    throw ValueError("MotionTokenizer: max_shift_steps must be in 1..10000, got " +
                     std::to_string(config.max_shift_steps));
  if (config.velocity_bins < 1 || config.velocity_bins > 127)
    throw ValueError("MotionTokenizer: velocity_bins must be in 1..127, got " + std::to_string(config.velocity_bins));
  note_on_ = kEos + 1;
  note_off_ = note_on_ + kNumKeys;
  shift_ = note_off_ + kNumKeys;
  velocity_ = shift_ + config.max_shift_steps;
  pedal_on_ = velocity_ + config.velocity_bins;
  pedal_off_ = pedal_on_ + 1;
  for (int b = 0; b < config.velocity_bins; ++b) {
    // The middle velocity of the bin's range: its first value is 1 + ceil(b * 127 / bins).
    const int lo = 1 + (b * 127 + config.velocity_bins - 1) / config.velocity_bins;
    int hi = lo;
    while (hi < 127 && velocity_bin(hi + 1) == b) ++hi;
    bin_velocity_.push_back((lo + hi) / 2);
  }
}

int32_t MotionTokenizer::note_on(int key) const {
  if (key < kMinKey || key > kMaxKey) throw ValueError("MotionTokenizer: key " + std::to_string(key) + " outside 21..108");
  return note_on_ + (key - kMinKey);
}
int32_t MotionTokenizer::note_off(int key) const { return note_on(key) - note_on_ + note_off_; }
int32_t MotionTokenizer::shift(int steps) const {
  if (steps < 1 || steps > config_.max_shift_steps)
    throw ValueError("MotionTokenizer: shift of " + std::to_string(steps) + " steps outside 1.." +
                     std::to_string(config_.max_shift_steps));
  return shift_ + steps - 1;
}
int32_t MotionTokenizer::velocity(int bin) const {
  if (bin < 0 || bin >= config_.velocity_bins)
    throw ValueError("MotionTokenizer: velocity bin " + std::to_string(bin) + " outside 0.." +
                     std::to_string(config_.velocity_bins - 1));
  return velocity_ + bin;
}

TokenKind MotionTokenizer::kind(int32_t t) const {
  if (t < 0 || t >= vocab_size())
    throw ValueError("MotionTokenizer: token " + std::to_string(t) + " outside the vocabulary 0.." +
                     std::to_string(vocab_size() - 1));
  if (t == kPad) return TokenKind::pad;
  if (t == kBos) return TokenKind::bos;
  if (t == kEos) return TokenKind::eos;
  if (t < note_off_) return TokenKind::note_on;
  if (t < shift_) return TokenKind::note_off;
  if (t < velocity_) return TokenKind::shift;
  if (t < pedal_on_) return TokenKind::velocity;
  return t == pedal_on_ ? TokenKind::pedal_on : TokenKind::pedal_off;
}

TokenField MotionTokenizer::field(int32_t t) const {
  switch (kind(t)) {
    case TokenKind::note_on:
    case TokenKind::note_off: return TokenField::pitch;
    case TokenKind::shift: return TokenField::time;
    case TokenKind::velocity: return TokenField::velocity;
    case TokenKind::pedal_on:
    case TokenKind::pedal_off: return TokenField::pedal;
    default: return TokenField::special;
  }
}

int MotionTokenizer::value(int32_t t) const {
  switch (kind(t)) {
    case TokenKind::note_on: return kMinKey + (t - note_on_);
    case TokenKind::note_off: return kMinKey + (t - note_off_);
    case TokenKind::shift: return t - shift_ + 1;
    case TokenKind::velocity: return t - velocity_;
    default: return 0;
  }
}

std::string MotionTokenizer::name(int32_t t) const {
  switch (kind(t)) {
    case TokenKind::pad: return "PAD";
    case TokenKind::bos: return "BOS";
    case TokenKind::eos: return "EOS";
    case TokenKind::note_on: return "NOTE_ON(" + std::to_string(value(t)) + ")";
    case TokenKind::note_off: return "NOTE_OFF(" + std::to_string(value(t)) + ")";
    case TokenKind::shift: return "SHIFT(" + std::to_string(value(t)) + ")";
    case TokenKind::velocity: return "VELOCITY(" + std::to_string(value(t)) + ")";
    case TokenKind::pedal_on: return "PEDAL_ON";
    case TokenKind::pedal_off: return "PEDAL_OFF";
  }
  return "?";
}

// Equal-width bins over 1..127; a bin's representative is the middle velocity of its range.
int MotionTokenizer::velocity_bin(int v) const {
  const int c = std::clamp(v, 1, 127);
  return std::min(config_.velocity_bins - 1, (c - 1) * config_.velocity_bins / 127);
}
int MotionTokenizer::bin_velocity(int bin) const {
  return bin_velocity_[static_cast<size_t>(std::clamp(bin, 0, config_.velocity_bins - 1))];
}

int64_t MotionTokenizer::steps(double seconds) const {
  return static_cast<int64_t>(std::llround(seconds / config_.time_step));
}

std::vector<int32_t> MotionTokenizer::encode(const Performance& perf, bool add_bos, bool add_eos) const {
  perf.validate();
  std::vector<Event> ev;
  ev.reserve(2 * perf.notes.size() + perf.pedal.size());
  for (const Note& n : perf.notes) {
    const int64_t on = steps(n.onset), off = std::max(steps(n.offset), on + 1);  // a note lasts >= 1 step
    ev.push_back({on, 3, n.key, n.velocity});
    ev.push_back({off, 1, n.key, 0});
  }
  // The pedal as down/up changes. Within one step only the net effect survives, except that a release
  // and re-press inside the step (a quick re-pedal) stays one: up then down at that step.
  bool down = false;
  for (size_t i = 0; i < perf.pedal.size();) {
    const int64_t s = steps(perf.pedal[i].time);
    const bool before = down;
    bool lifted = false;
    for (; i < perf.pedal.size() && steps(perf.pedal[i].time) == s; ++i) {
      const bool d = perf.pedal[i].value >= 0.5;
      if (down && !d) lifted = true;
      down = d;
    }
    const bool off = before && lifted;
    if (off) ev.push_back({s, 0, 0, 0});
    if (down && (!before || off)) ev.push_back({s, 2, 0, 0});
  }
  std::stable_sort(ev.begin(), ev.end(), [](const Event& a, const Event& b) {
    return std::tie(a.step, a.order, a.key) < std::tie(b.step, b.order, b.key);
  });
  std::vector<int32_t> out;
  out.reserve(ev.size() * 2 + 2);
  if (add_bos) out.push_back(kBos);
  int64_t now = 0;
  int last_bin = -1;
  for (const Event& e : ev) {
    for (int64_t gap = e.step - now; gap > 0;) {
      const int s = static_cast<int>(std::min<int64_t>(gap, config_.max_shift_steps));
      out.push_back(shift(s));
      gap -= s;
    }
    now = e.step;
    switch (e.order) {
      case 0: out.push_back(pedal_off_); break;
      case 1: out.push_back(note_off(e.key)); break;
      case 2: out.push_back(pedal_on_); break;
      default: {
        const int b = velocity_bin(e.velocity);
        if (b != last_bin) out.push_back(velocity(b));
        last_bin = b;
        out.push_back(note_on(e.key));
      }
    }
  }
  if (add_eos) out.push_back(kEos);
  return out;
}

Performance MotionTokenizer::decode(const int32_t* tokens, size_t count) const {
  Performance p;
  std::vector<std::deque<std::pair<int64_t, int>>> open(kNumKeys);  // per key: (onset step, velocity), FIFO
  int64_t now = 0;
  int vel = bin_velocity(config_.velocity_bins / 2);  // a note-on before any VELOCITY: a middle dynamic
  bool down = false;
  const double dt = config_.time_step;
  // A PEDAL_OFF at the time of the PEDAL_ON before it cancels that press (a press of no length, which
  // encode() never writes) so that decode(encode(decode(t))) == decode(t) for any tokens
  // (tests/fuzz/fuzz_motion_tokens.cpp found the press). An up then down at one time stays: that is
  // encode()'s quick re-pedal.
  auto set_pedal = [&p](double time, double v) {
    if (v == 0.0 && !p.pedal.empty() && p.pedal.back().time == time && p.pedal.back().value == 1.0)
      p.pedal.pop_back();
    else
      p.pedal.push_back({time, v});
  };
  for (size_t i = 0; i < count; ++i) {
    const int32_t t = tokens[i];
    switch (kind(t)) {
      case TokenKind::shift: now += value(t); break;
      case TokenKind::velocity: vel = bin_velocity(value(t)); break;
      case TokenKind::note_on: open[value(t) - kMinKey].emplace_back(now, vel); break;
      case TokenKind::note_off: {
        auto& q = open[value(t) - kMinKey];
        if (q.empty()) break;  // nothing sounding on that key: ignored
        const auto [on, v] = q.front();
        q.pop_front();
        p.notes.push_back({value(t), on * dt, std::max(now, on + 1) * dt, v});
        break;
      }
      case TokenKind::pedal_on:
        if (!down) set_pedal(now * dt, 1.0);
        down = true;
        break;
      case TokenKind::pedal_off:
        if (down) set_pedal(now * dt, 0.0);
        down = false;
        break;
      default: break;  // PAD, BOS, EOS
    }
  }
  for (int k = 0; k < kNumKeys; ++k)
    for (const auto& [on, v] : open[static_cast<size_t>(k)])
      p.notes.push_back({kMinKey + k, on * dt, (std::max(now, on) + 1) * dt, v});
  p.sort();
  return p;
}

Performance MotionTokenizer::quantize(const Performance& perf) const { return decode(encode(perf)); }

double MotionTokenizer::seconds(const int32_t* tokens, size_t count) const {
  int64_t total = 0;
  for (size_t i = 0; i < count; ++i)
    if (kind(tokens[i]) == TokenKind::shift) total += value(tokens[i]);
  return static_cast<double>(total) * config_.time_step;
}

}  // namespace pianograd
