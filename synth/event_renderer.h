// The event renderer: notes (key, onset, offset, velocity) + sustain pedal -> piano audio, as an autodiff
// op whose gradients reach the velocities, the onset and offset times, the pedal and every PianoParams
// tensor (DESIGN.md §4, renderer 1).
//
// Each note is one hammer strike (synth/mode_builder.h); its string modes are damped by the gate
//   d(t) = (1 - pedal(t)) * sigmoid((t - offset) / tau)
// (soft, so offsets and the pedal differentiate; tau a few ms), run through the modal bank
// (kernels/cpu/modal.h), then through the body and room impulse responses by FFT convolution.
#pragma once
#include <cstdint>
#include <vector>

#include "autodiff/tensor.h"
#include "synth/performance.h"
#include "synth/piano_params.h"

namespace pianograd {

struct RenderOptions {
  double sample_rate = 16000.0;    // 16 k, 22.05 k, 44.1 k, 48 k (any rate >= 1000 Hz works)
  int max_partials = 0;            // > 0: cap partials per string (tiny configurations, tests)
  bool knock = true;               // hammer-knock modes
  bool body = true;                // convolve with params body_ir
  bool room = true;                // convolve with params room_ir
  double damper_tau = 0.004;       // s, softness of the release gate
  double pedal_frame_rate = 100.0; // frames/s of a pedal tensor that is not per-sample
  double rel_threshold = 1e-5;     // modes end below -100 dB of the loudest (0: never truncate)
  // String partials starting below -90 dB of their note's strongest partial are not generated (0: keep
  // all). Inaudible: 90 dB is beyond the 16-bit floor (-96 dBFS) for any note not near full scale, and
  // far below the masking of the note's own partials (a partial next to a 90 dB louder one is masked
  // by ~40-60 dB); it is also 10 dB above rel_threshold, which already silences such a mode when its note
  // is the loudest. What it removes in practice: partials on the strike-position comb's zeros
  // (sin(p pi beta) ~ 0) and, at high sample rates, the top of the brightness roll-off. Trimmed modes
  // carry no gradient (a discrete choice, like the Nyquist cut and the truncation).
  double partial_floor = 3.1622776601683795e-5;
  long checkpoint = 256;           // adjoint checkpoint interval (a multiple of 64)
  int group_size = 16;             // notes per modal-kernel call (bounds the gate buffer)
  double tape_budget_bytes = 256e6;  // forward checkpoints kept for the backward (beyond: recomputed)
  double tail_seconds = 1.0;       // render(): audio kept after the last event
  // render() / render_batch() only, which build the control tensors from Performances: the device they
  // are created on. The ops themselves (render_events[_dry], render_roll[_dry]) follow their controls'
  // device, see "Devices" below.
  Device device = kCPU;
};

// Devices. The modal bank runs where the control tensors live (onsets/offsets/velocities/pedal, or the
// onset/velocity/gate rolls; all on one device, else DeviceError); the output lives there too and every
// gradient comes back on its input's device. On CUDA every group of every batch item is packed into one
// bank (synth/modal_packed.h) and run by the parallel-scan kernels (kernels/cuda/modal_scan*.cu) in one
// launch per pass. The scan cannot truncate a mode on the fly as the CPU kernel does; instead each strike
// gets a conservative life end on the host (synth/event_life.h, synth/roll_life.h: from the threshold,
// the modes' decay and a lower bound of the damper's integral, O(modes) per strike) and its modes are
// scanned to it, never earlier than the CPU kernel would stop them: the result differs from the CPU
// render by the two truncations (both at ~-100 dB of the loudest mode); with rel_threshold = 0 it is the
// CPU render with rel_threshold = 0, to rounding. The damper gates are compact there: the host passes a few numbers per
// note (synth/event_gates.h, synth/roll_gates.h), a kernel writes the gate rows on the device and another
// reduces their gradient there to per-note offset gradients, the per-sample pedal gradient or the gate
// roll's gradient. Mode building, the per-item plan and the mode builder's chain rule (backprop_modes)
// stay on the host: a few ms per call for a batch of 64 x 4 s (host_seconds in the stats below). Body/room
// convolution needs fft_convolve on the dry signal's device.

// keys i64/i32 [N] (MIDI 21..108); onsets, offsets, velocities [N] in the params' dtype (seconds,
// seconds, MIDI velocity 1..127); pedal: undefined (up), [num_samples] per sample, or [F] frames at
// options.pedal_frame_rate (linearly interpolated), values in [0, 1] (1 = down). Returns [num_samples].
// Throws ShapeError/DTypeError/ValueError naming the argument.
Tensor render_events(PianoParams& params, const Tensor& keys, const Tensor& onsets, const Tensor& offsets,
                     const Tensor& velocities, const Tensor& pedal, int64_t num_samples,
                     const RenderOptions& options = {});

// The dry modal signal only (no body/room convolution): the registered op "render_events".
Tensor render_events_dry(PianoParams& params, const Tensor& keys, const Tensor& onsets, const Tensor& offsets,
                         const Tensor& velocities, const Tensor& pedal, int64_t num_samples,
                         const RenderOptions& options = {});

// What the last render_events_dry forward on this thread built (tests, benchmarks): notes, modes in the
// bank, string partials dropped by partial_floor.
struct EventRenderStats {
  int64_t notes = 0, modes = 0, trimmed = 0;
  double host_seconds = 0;  // packed/CUDA route: host time of plans, modes, packing (CPU: whole forward)
  int64_t host_gate_samples = 0;  // damper-gate samples written on the host (0 on the packed/CUDA route)
  int64_t scan_samples = 0;  // packed/CUDA route: sum over the bank's modes of (len - start), the scan's work (else 0)
};
EventRenderStats last_event_render_stats();

// A Performance (validated) rendered for duration() + tail_seconds; the pedal curve is sampled per sample.
Tensor render(PianoParams& params, const Performance& perf, const RenderOptions& options = {});
// Several performances -> [B, T], T the longest; shorter ones are rendered to the same length.
Tensor render_batch(PianoParams& params, const std::vector<Performance>& perfs, const RenderOptions& options = {});

namespace detail {
// The RenderOptions and num_samples checks shared by both renderers (ValueError naming `op` and the field).
void check_render_options(const char* op, const RenderOptions& ro, int64_t num_samples);
}  // namespace detail

}  // namespace pianograd
