// The event renderer's argument checks (event_renderer.h: typed errors naming the argument), apart from
// event_renderer.cpp to keep that file to the renderer itself.
#include <cmath>
#include <string>
#include <utility>

#include "autodiff/dispatch.h"
#include "kernels/common/modal_math.h"
#include "synth/audio_io.h"
#include "synth/event_renderer.h"

namespace pianograd::detail {

using kernels::kModalBlock;

void check_render_options(const char* op, const RenderOptions& ro, int64_t num_samples) {
  if (num_samples < 1) throw ValueError(std::string(op) + ": num_samples must be >= 1, got " + std::to_string(num_samples));
  const std::string o(op);
  // Rates a recording can have (the audio reader's bounds); 10^9 Hz once rendered 10^9 samples (issue 17).
  if (!(ro.sample_rate >= 1000.0 && ro.sample_rate <= kMaxSampleRate))
    throw ValueError(o + ": sample_rate must be in 1000.." + std::to_string(kMaxSampleRate) + " Hz, got " +
                     std::to_string(ro.sample_rate));
  if (ro.max_partials < 0)
    throw ValueError(o + ": max_partials must be >= 0 (0: the per-key table), got " + std::to_string(ro.max_partials));
  if (!(ro.tail_seconds >= 0 && ro.tail_seconds <= 3600))
    throw ValueError(o + ": tail_seconds must be in [0, 3600], got " + std::to_string(ro.tail_seconds));
  if (!(ro.damper_tau > 0 && std::isfinite(ro.damper_tau)))
    throw ValueError(o + ": damper_tau must be > 0, got " + std::to_string(ro.damper_tau));
  if (!(ro.rel_threshold >= 0 && ro.rel_threshold < 1))
    throw ValueError(o + ": rel_threshold must be in [0, 1), got " + std::to_string(ro.rel_threshold));
  if (!(ro.pedal_frame_rate >= 0 && std::isfinite(ro.pedal_frame_rate)))
    throw ValueError(o + ": pedal_frame_rate must be >= 0, got " + std::to_string(ro.pedal_frame_rate));
  if (ro.group_size < 1) throw ValueError(o + ": group_size must be >= 1, got " + std::to_string(ro.group_size));
  if (!(ro.tape_budget_bytes >= 0))
    throw ValueError(o + ": tape_budget_bytes must be >= 0, got " + std::to_string(ro.tape_budget_bytes));
  if (!(ro.partial_floor >= 0 && ro.partial_floor < 1))
    throw ValueError(std::string(op) + ": partial_floor must be in [0, 1), got " + std::to_string(ro.partial_floor));
  if (ro.checkpoint <= 0 || ro.checkpoint % kModalBlock != 0)
    throw ValueError(std::string(op) + ": checkpoint must be a positive multiple of 64, got " + std::to_string(ro.checkpoint));
}

void check_event_inputs(const PianoParams& params, const Tensor& keys, const Tensor& onsets, const Tensor& offsets,
                  const Tensor& velocities, const Tensor& pedal, int64_t num_samples, const RenderOptions& ro) {
  const char* op = "render_events";
  params.validate();
  check_index_dtype(keys, op);
  if (keys.dim() != 1) throw ShapeError(std::string(op) + ": keys must be [N], got " + shape_str(keys.shape()));
  const int64_t N = keys.numel();
  const std::pair<const Tensor*, const char*> fl[3] = {{&onsets, "onsets"}, {&offsets, "offsets"}, {&velocities, "velocities"}};
  for (const auto& [t, name] : fl) {
    check_defined(*t, op, name);
    if (t->dtype() != params.dtype())
      throw DTypeError(std::string(op) + ": " + name + " dtype " + dtype_name(t->dtype()) + " differs from the params' " +
                       dtype_name(params.dtype()));
    if (t->shape() != Shape{N})
      throw ShapeError(std::string(op) + ": " + name + " must be [" + std::to_string(N) + "] like keys, got " + shape_str(t->shape()));
  }
  for (int64_t k : keys.to(DType::i64).to_vector<int64_t>())
    if (k < kMinKey || k > kMaxKey) throw ValueError(std::string(op) + ": key " + std::to_string(k) + " outside 21..108");
  check_render_options(op, ro, num_samples);
  if (pedal.defined()) {
    if (pedal.dtype() != params.dtype())
      throw DTypeError(std::string(op) + ": pedal dtype " + dtype_name(pedal.dtype()) + " differs from the params' " +
                       dtype_name(params.dtype()));
    if (pedal.dim() != 1 || pedal.numel() < 1)
      throw ShapeError(std::string(op) + ": pedal must be [num_samples] or [frames], got " + shape_str(pedal.shape()));
    if (pedal.numel() != num_samples && !(ro.pedal_frame_rate > 0))
      throw ValueError(std::string(op) + ": a per-frame pedal needs pedal_frame_rate > 0");
  }
}

}  // namespace pianograd::detail
