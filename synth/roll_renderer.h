// The roll renderer: frame-rate soft controls per key (onset strength, velocity, gate) -> piano audio, as
// an autodiff op whose gradients reach every control and every PianoParams tensor (DESIGN.md §4,
// renderer 2). This is what a transcription model's sigmoid outputs drive in the synth loop.
//
// Frame f stands for time t_f = f / frame_rate. Every (frame f, key k) whose onset strength o[f,k]
// exceeds `onset_threshold` is one hammer strike (synth/mode_builder.h) at t_f with velocity 127 v[f,k]
// and amplitude scale o[f,k]; entries at or below it are skipped entirely (silent keys cost nothing; the
// hard threshold is a jump of at most threshold x one strike's amplitude, and those entries get no
// gradient).
//
// Damper gate. The key's activity is a sum of boxes with sigmoid edges,
//   h_k(t) = sum_f g[f,k] (S_f(t) - S_{f+1}(t)),   S_e(t) = sigmoid((t - t_e) / tau),
// so a binary run of frames telescopes to S_on - S_off. A strike's own modes see that activity with the
// damper fully lifted by the strike itself: for strike j at frame f_j,
//   h_j(t) = g[f_j,k] (1 - S_{f_j+1}(t)) + sum_{f > f_j} g[f,k] (S_f(t) - S_{f+1}(t)),  d_j = 1 - h_j,
// (the hammer cannot hit a string the damper is resting on). Without this the rising edge of the note's
// own onset would half-damp the first few ms of every note (d = 0.5 at the strike; with the default
// 46 1/s damper a 12% loss of amplitude). With it, a binary roll (pedal up, offsets on frame boundaries)
// gives d_j(t) = sigmoid((t - t_off) / tau), the event renderer's gate, so both render the same audio.
// Each strike is one gate row; only edges within 20 tau of a sample are evaluated (sigmoid(-20) = 2e-9).
// The roll ends after its last frame: g = 0 from t_F on.
#pragma once
#include <cstdint>

#include "autodiff/tensor.h"
#include "synth/event_renderer.h"
#include "synth/piano_params.h"

namespace pianograd {

inline constexpr double kRollOnsetThreshold = 1e-3;

// onset, velocity, gate: [F, 88] or [B, F, 88] of one shape, in the params' dtype, finite; onset in
// [0, 1] (entries <= onset_threshold, negative ones included, are no strike), velocity = MIDI velocity /
// 127 (>= 0 where there is a strike), gate in [0, 1]. Returns [num_samples] or [B, num_samples]. The
// body and room impulse responses are applied as by render_events (options.body / options.room).
// Throws ShapeError/DTypeError/ValueError naming the argument.
Tensor render_roll(PianoParams& params, const Tensor& onset, const Tensor& velocity, const Tensor& gate,
                   double frame_rate, int64_t num_samples, const RenderOptions& options = {},
                   double onset_threshold = kRollOnsetThreshold);

// The dry modal signal only (no body/room convolution): the registered op "render_roll".
Tensor render_roll_dry(PianoParams& params, const Tensor& onset, const Tensor& velocity, const Tensor& gate,
                       double frame_rate, int64_t num_samples, const RenderOptions& options = {},
                       double onset_threshold = kRollOnsetThreshold);

// What the last render_roll_dry forward on this thread did (summed over the batch): strikes built,
// modes in the bank, and gate samples evaluated on the host (0 on the packed/CUDA route, whose gates are
// compact). Lets tests check that silent entries cost nothing.
struct RollRenderStats {
  int64_t strikes = 0, modes = 0, gate_samples = 0;
  double host_seconds = 0;  // packed/CUDA route: host wall time of plans, modes, packing (else 0)
  int64_t scan_samples = 0;  // packed/CUDA route: sum over the bank's modes of (len - start), the scan's work (else 0)
};
RollRenderStats last_roll_render_stats();

}  // namespace pianograd
