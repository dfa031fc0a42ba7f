// Performances to the event renderer (event_renderer.h): render() and render_batch() turn validated
// notes and the sustain-pedal curve into render_events' tensors.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "autodiff/ops.h"
#include "synth/event_renderer.h"
#include "synth/modal_packed.h"

namespace pianograd {

namespace detail {
Tensor apply_body_room(const Tensor& dry, PianoParams& params, const RenderOptions& ro);  // event_renderer_ir.cpp
}  // namespace detail

namespace {
int64_t perf_samples(const Performance& perf, const RenderOptions& ro) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil((perf.duration() + ro.tail_seconds) * ro.sample_rate)));
}

// The performance as render_events' controls, on ro.device.
detail::EventControls controls(const Performance& perf, int64_t N, DType dt, const RenderOptions& ro) {
  perf.validate();
  std::vector<int64_t> keys;
  std::vector<double> on, off, vel;
  for (const Note& n : perf.notes) {
    keys.push_back(n.key);
    on.push_back(n.onset);
    off.push_back(n.offset);
    vel.push_back(n.velocity);
  }
  Tensor pedal;
  if (!perf.pedal.empty()) {
    std::vector<double> p(static_cast<size_t>(N));
    size_t i = 0;  // walk the step function once instead of a search per sample
    double v = 0.0;
    for (int64_t n = 0; n < N; ++n) {
      const double t = static_cast<double>(n) / ro.sample_rate;
      while (i < perf.pedal.size() && perf.pedal[i].time <= t) v = perf.pedal[i++].value;
      p[static_cast<size_t>(n)] = v;
    }
    pedal = from_vector(p).to(dt);
  }
  // The controls on ro.device pick where the modal bank runs (event_renderer.h, "Devices").
  auto dev = [&](const Tensor& t) { return ro.device.type == DeviceType::CPU || !t.defined() ? t : t.to(ro.device); };
  return {from_vector(keys), dev(from_vector(on).to(dt)), dev(from_vector(off).to(dt)), dev(from_vector(vel).to(dt)),
          dev(pedal)};
}

Tensor render_n(PianoParams& params, const Performance& perf, int64_t N, const RenderOptions& ro) {
  const detail::EventControls c = controls(perf, N, params.dtype(), ro);
  return render_events(params, c.keys, c.onsets, c.offsets, c.velocities, c.pedal, N, ro);
}
}  // namespace

Tensor render(PianoParams& params, const Performance& perf, const RenderOptions& ro) {
  detail::check_render_options("render", ro, 1);  // before the length is computed from them
  perf.validate();
  return render_n(params, perf, perf_samples(perf, ro), ro);
}

Tensor render_batch(PianoParams& params, const std::vector<Performance>& perfs, const RenderOptions& ro) {
  if (perfs.empty()) throw ValueError("render_batch: no performances");
  detail::check_render_options("render_batch", ro, 1);
  int64_t N = 1;
  for (const auto& p : perfs) {
    p.validate();
    N = std::max(N, perf_samples(p, ro));
  }
  if (ro.device.type != DeviceType::CPU) {  // one op, one packed launch per pass (event_renderer.h)
    std::vector<detail::EventControls> items;
    for (const auto& p : perfs) items.push_back(controls(p, N, params.dtype(), ro));
    if ((ro.body || ro.room) && std::fabs(params.ir_sample_rate - ro.sample_rate) > 1e-9 * ro.sample_rate)
      throw ValueError("render_batch: the impulse responses are sampled at " + std::to_string(params.ir_sample_rate) +
                       " Hz but rendering is at " + std::to_string(ro.sample_rate) +
                       " Hz (call params.set_default_irs(rate) or disable body/room)");
    return detail::apply_body_room(detail::render_events_batch_dry(params, items, N, ro), params, ro);
  }
  std::vector<Tensor> ys;
  for (const auto& p : perfs) ys.push_back(render_n(params, p, N, ro));
  return stack(ys, 0);
}

}  // namespace pianograd
