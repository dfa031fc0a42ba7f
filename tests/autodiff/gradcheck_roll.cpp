// Gradient checks of the roll renderer (synth/roll_renderer.h) in float64 on a tiny configuration: 4 kHz,
// 80 ms, 6 frames at 100 frames/s (the roll ends inside the signal, so its last edge matters), at most 3
// partials per string, no truncation (rel_threshold 0), knock and impulse responses off except in one
// case. Strikes on three keys (1, 2 and 3 unison strings), one key struck twice; the velocity and gate
// rolls are soft everywhere, so every edge of every strike's damper gate carries a gradient. One case
// per input kind, one batched, one with the impulse responses and one per PianoParams tensor.
#include <random>

#include "gradcheck.h"
#include "synth/roll_renderer.h"

namespace pianograd::testing {
namespace {
using V = const std::vector<Tensor>&;

constexpr double kSr = 4000.0, kFr = 100.0;
constexpr int64_t kN = 320, kF = 6;
constexpr double kGain = 1000.0;  // gradients O(1), so the relative tolerance bites

RenderOptions tiny(bool ir = false) {
  RenderOptions o;
  o.sample_rate = kSr;
  o.max_partials = 3;
  o.rel_threshold = 0.0;
  o.knock = ir;
  o.body = ir;
  o.room = ir;
  return o;
}

const PianoParams& base() {
  static const PianoParams p = PianoParams::concert_grand(kSr, DType::f64);
  return p;
}

// (frame, key index) of the strikes: keys 28 (1 string), 36 (2) and 62 (3); key 62 twice.
constexpr int kStrikes[4][2] = {{0, 28 - 21}, {1, 62 - 21}, {2, 36 - 21}, {4, 62 - 21}};

// input 0 onset: 0.3..1 at the strikes, 0 elsewhere; 1 velocity: 0.2..0.9; 2 gate: 0.1..0.9.
Tensor roll_input(const Shape& s, size_t idx) {
  std::mt19937 rng(static_cast<unsigned>(29 + idx));
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> v(static_cast<size_t>(shape_numel(s)), 0.0);
  const size_t per = static_cast<size_t>(kF * kNumKeys);
  for (size_t b = 0; b < v.size() / per; ++b) {
    if (idx == 0) {
      for (const auto& fk : kStrikes) v[b * per + static_cast<size_t>(fk[0] * kNumKeys + fk[1])] = 0.3 + 0.7 * u(rng);
    } else {
      for (size_t i = 0; i < per; ++i) v[b * per + i] = idx == 1 ? 0.2 + 0.7 * u(rng) : 0.1 + 0.8 * u(rng);
    }
  }
  return from_vector(v, s);
}

Tensor fixed(size_t idx) { return roll_input({kF, kNumKeys}, idx); }

Tensor dry(const Tensor& o, const Tensor& v, const Tensor& g, PianoParams p = base()) {
  return mul(render_roll_dry(p, o, v, g, kFr, kN, tiny()), kGain);
}

GradCase param_case(int id) {
  GradCase c;
  c.op = "render_roll";
  c.shapes = {id == kDetuneCents ? Shape{kNumKeys, 3} : id >= kKnockLogFreq ? Shape{kNumKnockModes} : Shape{kNumKeys}};
  c.fn = [id](V in) {
    PianoParams p = base();
    p[id] = in[0];
    // The knock parameters need the knock modes.
    return mul(render_roll_dry(p, fixed(0), fixed(1), fixed(2), kFr, kN, tiny(id >= kKnockDb)), kGain);
  };
  c.init = [id](const Shape&, size_t) { return base()[id].clone(); };
  c.tol = 1e-5;
  c.label = std::string("roll ") + piano_param_name(id);
  return c;
}

PG_GRAD_CASES(
    {"render_roll", {{kF, kNumKeys}, {kF, kNumKeys}, {kF, kNumKeys}},
     [](V in) { return dry(in[0], in[1], in[2]); }, 1e-5, roll_input, "onset, velocity, gate rolls"},
    {"render_roll", {{2, kF, kNumKeys}, {2, kF, kNumKeys}, {2, kF, kNumKeys}},
     [](V in) { return dry(in[0], in[1], in[2]); }, 1e-5, roll_input, "batched rolls [2, F, 88]"},
    {"render_roll", {{kF, kNumKeys}, {8}, {16}},
     [](V in) {
       PianoParams p = base();
       p[kBodyIr] = in[1];
       p[kRoomIr] = in[2];
       return mul(render_roll(p, fixed(0), fixed(1), in[0], kFr, kN, tiny(true)), kGain);
     },
     1e-5, [](const Shape& s, size_t i) { return i == 0 ? roll_input(s, 2) : randn(s, DType::f64); },
     "gate roll with knock, body and room impulse responses"});

struct RollParamCases {
  RollParamCases() {
    for (int id = 0; id < kBodyIr; ++id) grad_cases().push_back(param_case(id));
  }
} const roll_param_cases;

}  // namespace
}  // namespace pianograd::testing
