// From physical parameters and a list of hammer strikes to the modal bank's per-mode arrays
// (kernels/cpu/modal.h), and the hand-written chain rule back: mode gradients -> per-key parameter
// gradients and per-strike onset / velocity / amplitude-scale gradients. Shared by the event renderer
// and the roll renderer. The formulas are those of synth/piano_params.h; derivatives in the .cpp.
//
// Onset: s = onset * sr, start = ceil(s), delta = start - s, so the true onset start - delta is
// continuous in `onset` and dL/d onset = -sr dL/d delta.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "kernels/cpu/modal.h"
#include "synth/piano_params.h"

namespace pianograd {

struct Strike {
  int key = 60;           // MIDI 21..108
  double onset = 0.0;     // seconds, >= 0
  double velocity = 64;   // MIDI velocity scale (fractional allowed; the curves extrapolate)
  double scale = 1.0;     // amplitude multiplier (a soft onset strength); exactly 0 -> skipped
  std::int32_t env = -1;  // damper-gate row of the kernel; -1: never damped
};

struct ModeBuildOptions {
  double sample_rate = 16000.0;
  long num_samples = 0;            // strikes starting at or after this are skipped
  int max_partials = 0;            // > 0 caps partials per string below the per-key table
  bool knock = true;               // the hammer-knock modes
  double nyquist_fraction = 0.45;  // partials stop below this fraction of the sample rate
  double min_scale = 0.0;          // strikes with |scale| <= min_scale are skipped (no gradient)
  // > 0: a string partial whose initial amplitude (strike comb x brightness roll-off x 1/p) is below
  // partial_floor x the strike's strongest partial is not generated (RenderOptions::partial_floor says
  // why that is inaudible). A discrete choice like the Nyquist cut: a trimmed mode has no gradient.
  double partial_floor = 0.0;
};

// Parameter values in double (what the builder reads) and gradient accumulators of the same layout.
// Only the mode parameters (ids below kBodyIr) are held.
inline constexpr int kNumModeParams = kBodyIr;
using PianoParamValues = std::array<std::vector<double>, kNumModeParams>;
PianoParamValues piano_param_values(const PianoParams& params);
PianoParamValues zero_param_values();

template <class T>
struct ModeSet {
  std::vector<T> omega, sigma, dgain, amp, delta;
  std::vector<std::int64_t> start;
  std::vector<std::int32_t> env;
  // Provenance, for the chain rule: the strike, and the partial (>= 1, with its string) or the knock
  // mode (partial = -1 - q). Modes of one strike are contiguous, strikes in input order.
  std::vector<std::int32_t> strike;
  std::vector<std::int16_t> partial;
  std::vector<std::int8_t> string;
  long trimmed = 0;  // string partials dropped by partial_floor
  long size() const { return static_cast<long>(omega.size()); }
  kernels::cpu::ModalBank<T> bank() const {
    return {size(), omega.data(), sigma.data(), dgain.data(), amp.data(), delta.data(), start.data(), env.data()};
  }
};

// Throws ValueError naming the strike for a key outside 21..108 or a negative/non-finite onset,
// velocity or scale.
template <class T>
ModeSet<T> build_modes(const PianoParamValues& pv, const std::vector<Strike>& strikes, const ModeBuildOptions& opt);

struct StrikeGrad {
  double onset = 0, velocity = 0, scale = 0;
};

// Accumulates (+=) into `grads` and `strike_grads` (sized like `strikes`) the chain rule of the mode
// gradients g_* (each of modes.size(); a null pointer counts as zero).
template <class T>
void backprop_modes(const PianoParamValues& pv, const std::vector<Strike>& strikes, const ModeSet<T>& modes,
                    const ModeBuildOptions& opt, const T* g_omega, const T* g_sigma, const T* g_dgain,
                    const T* g_amp, const T* g_delta, PianoParamValues& grads, std::vector<StrikeGrad>& strike_grads);

}  // namespace pianograd
