// Transcription loss: see transcription_loss.h.
#include "models/transcription_loss.h"

#include <algorithm>
#include <string>

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
    Tensor vt = conform(targets.velocity, out.velocity, "velocity");
    const double cells = std::max(1.0, sum(onset_t).item());
    Tensor err = sigmoid(out.velocity) - vt;
    L.velocity = sum(onset_t * err * err) * (1.0 / cells);
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
