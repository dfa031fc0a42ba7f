// Transcription loss: see transcription_loss.h.
#include "models/transcription_loss.h"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "autodiff/errors.h"
#include "autodiff/ops.h"

namespace pianograd {

namespace {

// The target as [B, F, 88] in the logits' dtype; ShapeError naming the roll when shapes differ.
Tensor conform(const Tensor& target, const Tensor& logits, const char* name) {
  if (!logits.defined()) throw ValueError(std::string("transcription_loss: output.") + name + " is undefined");
  Tensor t = target;
  if (t.dim() == 2 && logits.dim() == 3 && logits.size(0) == 1) t = reshape(t, {1, t.size(0), t.size(1)});
  if (t.shape() != logits.shape())
    throw ShapeError(std::string("transcription_loss: ") + name + " target " + shape_str(target.shape()) +
                     " does not match the output " + shape_str(logits.shape()));
  if (t.dtype() != logits.dtype()) t = t.to(logits.dtype());
  if (!(t.device() == logits.device())) t = t.detach().to(logits.device());  // targets follow the model
  return t.detach();
}

// A pedal target as [B, F] like its logits ([F] is accepted for B = 1).
Tensor conform_pedal(const Tensor& target, const Tensor& logits, const char* name) {
  Tensor t = target;
  if (t.dim() == 1 && logits.dim() == 2 && logits.size(0) == 1) t = reshape(t, {1, t.size(0)});
  return conform(t, logits, name);
}

// A target roll [B, F, 88] (or [F, 88]) widened along time: each cell is the max of the cells within
// `spread` frames of it. Targets are constants, so this is plain host arithmetic.
Tensor spread_in_time(const Tensor& roll, int64_t spread) {
  const Shape shape = roll.shape();
  const int64_t keys = shape.back(), frames = shape[shape.size() - 2], batch = roll.numel() / (frames * keys);
  const std::vector<float> in = roll.to(kCPU).to(DType::f32).to_vector<float>();
  std::vector<float> out(in);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t f = 0; f < frames; ++f) {
      const float* src = in.data() + (b * frames + f) * keys;
      for (int64_t g = std::max<int64_t>(0, f - spread); g <= std::min(frames - 1, f + spread); ++g) {
        float* dst = out.data() + (b * frames + g) * keys;
        for (int64_t k = 0; k < keys; ++k) dst[k] = std::max(dst[k], src[k]);
      }
    }
  return from_vector(out, shape).to(roll.dtype()).to(roll.device());
}

}  // namespace

TranscriptionLoss transcription_loss(const TranscriberOutput& out, const TranscriptionTargets& targets,
                                     const LossWeights& w) {
  if (!targets.onset.defined() || !targets.frame.defined())
    throw ValueError("transcription_loss: the onset and frame targets are required");
  const DType dt = out.onset.defined() ? out.onset.dtype() : DType::f32;
  const Device dev = out.onset.defined() ? out.onset.device() : kCPU;
  TranscriptionLoss L;
  Tensor onset_t = conform(targets.onset, out.onset, "onset");
  L.onset = bce_with_logits(out.onset, onset_t, Reduction::mean, scalar(w.onset_pos_weight, dt, dev));
  L.frame = bce_with_logits(out.frame, conform(targets.frame, out.frame, "frame"));
  if (targets.offset.defined())
    L.offset = bce_with_logits(out.offset, conform(targets.offset, out.offset, "offset"), Reduction::mean,
                               scalar(w.offset_pos_weight, dt, dev));
  else
    L.offset = scalar(0.0, dt, dev);
  if (targets.velocity.defined()) {
    if (w.velocity_spread < 0)
      throw ValueError("transcription_loss: velocity_spread must be >= 0, got " + std::to_string(w.velocity_spread));
    Tensor vt = conform(targets.velocity, out.velocity, "velocity");
    Tensor mask = onset_t;
    if (w.velocity_spread > 0) {
      mask = spread_in_time(onset_t, w.velocity_spread);
      vt = spread_in_time(vt, w.velocity_spread);
    }
    if (!(w.velocity_relative >= 0.0 && w.velocity_relative <= 1.0))
      throw ValueError("transcription_loss: velocity_relative must be in [0, 1], got " +
                       std::to_string(w.velocity_relative));
    const double cells = std::max(1.0, sum(mask).item());
    Tensor err = sigmoid(out.velocity) - vt;
    L.velocity = sum(mask * err * err) * ((1.0 - w.velocity_relative) / cells);
    if (w.velocity_relative > 0.0) {
      // Per example: the mask-weighted mean error over (frames, keys), removed before squaring.
      const Axes per_example = err.dim() == 3 ? Axes{1, 2} : Axes{0, 1};
      Tensor count = clamp(sum(mask, per_example, true), 1.0, std::numeric_limits<double>::infinity());
      Tensor centred = err - sum(mask * err, per_example, true) / count;
      L.velocity = L.velocity + sum(mask * centred * centred) * (w.velocity_relative / cells);
    }
  } else {
    L.velocity = scalar(0.0, dt, dev);
  }
  L.pedal = scalar(0.0, dt, dev);
  if (out.pedal_frame.defined() && targets.pedal_frame.defined()) {
    const Tensor pw = scalar(w.pedal_pos_weight, dt, dev);
    L.pedal = bce_with_logits(out.pedal_frame, conform_pedal(targets.pedal_frame, out.pedal_frame, "pedal_frame"));
    if (targets.pedal_onset.defined())
      L.pedal = L.pedal + bce_with_logits(out.pedal_onset, conform_pedal(targets.pedal_onset, out.pedal_onset,
                                                                         "pedal_onset"), Reduction::mean, pw);
    if (targets.pedal_offset.defined())
      L.pedal = L.pedal + bce_with_logits(out.pedal_offset, conform_pedal(targets.pedal_offset, out.pedal_offset,
                                                                          "pedal_offset"), Reduction::mean, pw);
  }
  L.total = L.onset * w.onset + L.frame * w.frame + L.offset * w.offset + L.velocity * w.velocity + L.pedal * w.pedal;
  return L;
}

}  // namespace pianograd
