// The physical parameters of the differentiable piano (DESIGN.md §4): learnable tensors, one value per
// key (88 keys, MIDI 21..108, index = key - 21) unless stated, with concert-grand defaults from the
// literature (sources next to each default in piano_params.cpp).
//
// The model they parameterise (synth/mode_builder.h turns them into modes):
//   partial p of unison string s of key k:  f = p f0_k 2^(detune_{k,s}/1200) sqrt(1 + B_k p^2)
//     f0_k = stretched equal temperament 2^(tuning_cents_k/1200),  B_k = exp(log_B_k)
//   decay (damper off)  sigma = b1_k + b3_k w^2, w = 2 pi f (rad/s), b1 = exp(log_b1), b3 = exp(log_b3)
//   damper on release   extra decay exp(log_damper_rate_k) (1/s) times the damper gate in [0,1]
//   amplitude           G_k(v) sin(pi p beta_k) / p * 1 / (1 + (f / fc_k(v))^2) / strings_k
//     loudness G_k(v) = 10^((loudness_db_k + loudness_range_db_k (v/127 - 1)) / 20)
//     brightness fc_k(v) = exp(log_cutoff_hz_k + brightness_k (v - 64) / 63)  (harder felt when louder)
//   hammer knock        modes q of frequency exp(knock_log_freq_q), decay exp(knock_log_decay_q),
//                       amplitude G_k(v) 10^(knock_db_k/20) knock_gain_q (a heavily damped thump)
//   body and room       impulse responses body_ir, room_ir at ir_sample_rate, applied by FFT convolution
#pragma once
#include <array>
#include <string>
#include <vector>

#include "autodiff/tensor.h"

namespace pianograd {

enum PianoParamId : int {
  kTuningCents,      // [88] cents over stretched equal temperament
  kLogB,             // [88] log inharmonicity coefficient
  kDetuneCents,      // [88, 3] per unison string (entries beyond piano_strings(key) unused)
  kLogB1,            // [88] log frequency-independent decay (1/s)
  kLogB3,            // [88] log frequency-dependent decay coefficient (s)
  kStrikePosition,   // [88] hammer position as a fraction of the speaking length
  kLogCutoffHz,      // [88] log hammer low-pass cutoff (Hz) at velocity 64
  kBrightness,       // [88] d log cutoff per unit of (v - 64) / 63
  kLoudnessDb,       // [88] level (dB) at velocity 127
  kLoudnessRangeDb,  // [88] dB from velocity 0 to 127
  kLogDamperRate,    // [88] log extra decay (1/s) with the damper down
  kKnockDb,          // [88] hammer-knock level (dB, relative to the note's loudness)
  kKnockLogFreq,     // [Q] log frequency (Hz) of the knock modes
  kKnockLogDecay,    // [Q] log decay rate (1/s) of the knock modes
  kKnockGain,        // [Q] relative amplitude of the knock modes
  kBodyIr,           // [Kb] soundboard/body impulse response
  kRoomIr,           // [Kr] room impulse response (direct sound at tap 0 plus the reverberant tail)
  kNumPianoParams
};

// The safetensors name of each tensor: "tuning_cents", "log_B", ...
const char* piano_param_name(int id);

// Fixed tables (not learnable). Unison strings per key: 1 in the lowest 10 keys (MIDI 21-30), 2 up to
// MIDI 40, 3 above (Weinreich 1977). Partials per key before the Nyquist cut: ~100 in the low bass,
// 15-30 in the middle, a few in the top octave (DESIGN.md §4 table).
int piano_strings(int key);
int piano_max_partials(int key);
// Stretched equal temperament (A4 = 440 Hz), a smooth approximation of the Railsback curve (Martin &
// Ward 1961): -30 cents at A0, 0 around A4, +35 cents at C8.
double stretched_et_hz(int key);
// Default inharmonicity B(m) = exp(0.0926 m - 13.64) + exp(-0.0847 m - 5.82) (Rigaud et al., DAFx-11).
double default_inharmonicity(int key);

inline constexpr int kNumKnockModes = 4;

struct PianoParams {
  std::array<Tensor, kNumPianoParams> tensors;
  std::array<bool, kNumPianoParams> frozen{};  // frozen tensors are left out of parameters()
  double ir_sample_rate = 16000.0;             // the rate the impulse responses are sampled at

  // The concert-grand defaults; the impulse responses are generated at `sample_rate`.
  static PianoParams concert_grand(double sample_rate = 16000.0, DType dtype = DType::f32);

  Tensor& operator[](int id) { return tensors.at(static_cast<size_t>(id)); }
  const Tensor& operator[](int id) const { return tensors.at(static_cast<size_t>(id)); }
  DType dtype() const { return tensors[0].dtype(); }

  // The non-frozen tensors, switched to requires_grad, for an optimizer.
  std::vector<Tensor> parameters();
  void freeze(int id, bool on = true) { frozen.at(static_cast<size_t>(id)) = on; }
  // Drops every accumulated gradient.
  void zero_grad();
  // A deep copy (no shared storage, no history) in the given dtype.
  PianoParams to(DType dtype) const;
  // Replaces both impulse responses by the defaults generated at `sample_rate`.
  void set_default_irs(double sample_rate);
  // Throws ValueError/ShapeError/DTypeError naming the tensor when a shape, dtype or value is off.
  void validate() const;

  // Presets: safetensors files (autodiff/checkpoint.h) with one tensor per name above; metadata holds
  // the IR sample rate and the frozen set. load() validates every name, shape and dtype.
  void save(const std::string& path) const;
  static PianoParams load(const std::string& path);
};

}  // namespace pianograd
