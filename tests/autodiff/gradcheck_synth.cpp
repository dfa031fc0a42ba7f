// Gradient checks of the event renderer (synth/event_renderer.h) in float64 on a tiny configuration:
// 4 kHz, 80 ms, at most 3 partials per string, no truncation (rel_threshold 0, so no mode's length
// depends on the parameters), two notes on keys with 2 and 3 unison strings, released inside the
// signal so that the damper gates, the offsets and the pedal all matter. One case per input kind and
// one per PianoParams tensor.
#include <random>

#include "gradcheck.h"
#include "synth/event_renderer.h"
#include "synth/performance.h"

namespace pianograd::testing {
namespace {
using V = const std::vector<Tensor>&;

constexpr double kSr = 4000.0;
constexpr int64_t kN = 320;
// The check's tolerance is relative to max(1, |numeric gradient|): the output is scaled up so that the
// gradients are O(1) and a 0.1% error in any of them fails.
constexpr double kGain = 1000.0;

RenderOptions tiny(bool ir = false) {
  RenderOptions o;
  o.sample_rate = kSr;
  o.max_partials = 3;
  o.rel_threshold = 0.0;
  o.body = ir;
  o.room = ir;
  o.pedal_frame_rate = 50.0;
  return o;
}

const PianoParams& base() {
  static const PianoParams p = PianoParams::concert_grand(kSr, DType::f64);
  return p;
}

Tensor keys() { return from_vector(std::vector<int64_t>{36, 62}); }
Tensor vel() { return tensor({70.0, 45.0}, DType::f64); }
Tensor on() { return tensor({0.0052, 0.0213}, DType::f64); }
Tensor off() { return tensor({0.047, 0.0391}, DType::f64); }

// Values in a domain: velocities 30..110, onsets 3..28 ms (not on a sample), offsets 32..58 ms,
// pedal 0.1..0.9.
Tensor note_input(const Shape& s, size_t idx) {
  std::mt19937 rng(static_cast<unsigned>(17 + idx));
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> v(static_cast<size_t>(shape_numel(s)));
  for (auto& x : v) {
    const double r = u(rng);
    x = idx == 0 ? 30 + 80 * r : idx == 1 ? 0.003 + 0.025 * r : idx == 2 ? 0.032 + 0.026 * r : 0.1 + 0.8 * r;
  }
  return from_vector(v, s);
}

Tensor dry(const Tensor& v, const Tensor& o, const Tensor& f, const Tensor& pedal, PianoParams p = base()) {
  return mul(render_events_dry(p, keys(), o, f, v, pedal, kN, tiny()), kGain);
}

// A case whose single input is PianoParams tensor `id`, initialised to its concert-grand default.
GradCase param_case(int id) {
  GradCase c;
  c.op = "render_events";
  c.shapes = {id == kDetuneCents ? Shape{kNumKeys, 3} : id >= kKnockLogFreq ? Shape{kNumKnockModes} : Shape{kNumKeys}};
  c.fn = [id](V in) {
    PianoParams p = base();
    p[id] = in[0];
    return mul(render_events_dry(p, keys(), on(), off(), vel(), tensor({0.2, 0.2, 0.7, 0.0}, DType::f64), kN, tiny()), kGain);
  };
  c.init = [id](const Shape&, size_t) { return base()[id].clone(); };
  c.tol = 1e-5;
  c.label = piano_param_name(id);
  return c;
}

PG_GRAD_CASES(
    {"render_events", {{2}, {2}, {2}, {kN}}, [](V in) { return dry(in[0], in[1], in[2], in[3]); }, 1e-5,
     note_input, "velocities, onsets, offsets, per-sample pedal"},
    {"render_events", {{2}, {2}, {2}, {4}}, [](V in) { return dry(in[0], in[1], in[2], in[3]); }, 1e-5, note_input,
     "per-frame pedal"},
    {"render_events", {{2}, {2}, {2}}, [](V in) { return dry(in[0], in[1], in[2], Tensor()); }, 1e-5, note_input,
     "no pedal"},
    {"render_events", {{2}, {8}, {16}},
     [](V in) {
       PianoParams p = base();
       p[kBodyIr] = in[1];
       p[kRoomIr] = in[2];
       return mul(render_events(p, keys(), on(), off(), in[0], Tensor(), kN, tiny(true)), kGain);
     },
     1e-5, [](const Shape& s, size_t i) { return i == 0 ? note_input(s, 0) : randn(s, DType::f64); },
     "with body and room impulse responses"});

struct ParamCases {
  ParamCases() {
    for (int id = 0; id < kBodyIr; ++id) grad_cases().push_back(param_case(id));
  }
} const param_cases;

}  // namespace
}  // namespace pianograd::testing
