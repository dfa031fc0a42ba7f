// Training loss of the transcriber (Onsets&Frames, Hawthorne et al. 2018): binary cross-entropy with
// logits on the onset, frame and offset rolls, and a velocity loss on the onset cells only (velocity is
// undefined where no note starts).
#pragma once
#include "autodiff/tensor.h"
#include "models/transcriber.h"

namespace pianograd {

struct TranscriptionTargets {
  Tensor onset, frame, offset, velocity;  // [B, F, 88] (or [F, 88] when B = 1), from performance_to_rolls
  Tensor pedal_onset, pedal_frame, pedal_offset;  // [B, F] (or [F]), from performance_to_pedal_rolls
};

struct LossWeights {
  double onset = 1, frame = 1, offset = 1, velocity = 1;
  // Onsets are ~1 cell in several hundred: the positive term is up-weighted so the onset head does not
  // settle on "never" (the same imbalance Onsets&Frames meets; 1 = plain BCE).
  double onset_pos_weight = 5.0;
  double offset_pos_weight = 2.0;
  double pedal = 1;
  double pedal_pos_weight = 5.0;  // on pedal onsets and offsets, rare as note onsets
  // The velocity term also covers this many frames on each side of an onset (same target): decoding reads
  // the velocity at the onset head's peak, which may sit a frame from the labelled one, and a velocity
  // read from the attack's level is otherwise trained on the labelled frame alone.
  int64_t velocity_spread = 0;
  // Share of the velocity term taken on each example's CENTRED errors (its mean error over its onset cells
  // removed), the rest on the raw errors. Scored as mir_eval does (velocities matched per file by a least-
  // squares line), a piece's overall level is free; only the velocities' spread around it counts. Cut
  // from its piece, an excerpt normalised to its own peak does not say how loud the piece was, so the raw
  // error is dominated by that unknowable offset, which drowns the signal for the within-piece detail.
  double velocity_relative = 0.0;
};

struct TranscriptionLoss {
  Tensor total, onset, frame, offset, velocity;  // scalar tensors; total = weighted sum of the parts
  Tensor pedal;  // BCE on pedal onset + frame + offset; 0 unless the model has a pedal head and targets
};

// Every defined target must have the output's shape (ShapeError otherwise); onset and frame are
// required, an undefined offset or velocity target drops that term (its part is then 0). Velocity:
// sum over onset cells of onset_target * (sigmoid(v) - v_target)^2 / max(1, sum(onset_target)), the onset
// and velocity targets first widened by velocity_spread frames each way (a running max over time); a share
// velocity_relative of it uses errors centred per example (minus their mean over its onset cells).
// Pedal: when the output has pedal logits and targets.pedal_frame is defined, BCE on the pedal frame, and
// on pedal onset and offset (pos weight pedal_pos_weight) where those targets are defined; pedal targets
// for a model without a pedal head are ignored (0), so one target dict serves both kinds of model.
TranscriptionLoss transcription_loss(const TranscriberOutput& out, const TranscriptionTargets& targets,
                                     const LossWeights& weights = {});

}  // namespace pianograd
