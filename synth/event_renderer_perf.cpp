// Performances to the event renderer (event_renderer.h): render() and render_batch() turn validated
// notes and the sustain-pedal curve into render_events' tensors.
#include <algorithm>
#include <cmath>
#include <vector>

#include "autodiff/ops.h"
#include "synth/event_renderer.h"

namespace pianograd {

namespace {
int64_t perf_samples(const Performance& perf, const RenderOptions& ro) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil((perf.duration() + ro.tail_seconds) * ro.sample_rate)));
}

Tensor render_n(PianoParams& params, const Performance& perf, int64_t N, const RenderOptions& ro) {
  perf.validate();
  const DType dt = params.dtype();
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
  return render_events(params, from_vector(keys), from_vector(on).to(dt), from_vector(off).to(dt),
                       from_vector(vel).to(dt), pedal, N, ro);
}
}  // namespace

Tensor render(PianoParams& params, const Performance& perf, const RenderOptions& ro) {
  perf.validate();
  return render_n(params, perf, perf_samples(perf, ro), ro);
}

Tensor render_batch(PianoParams& params, const std::vector<Performance>& perfs, const RenderOptions& ro) {
  if (perfs.empty()) throw ValueError("render_batch: no performances");
  int64_t N = 1;
  for (const auto& p : perfs) {
    p.validate();
    N = std::max(N, perf_samples(p, ro));
  }
  std::vector<Tensor> ys;
  for (const auto& p : perfs) ys.push_back(render_n(params, p, N, ro));
  return stack(ys, 0);
}

}  // namespace pianograd
