// Fitting one key of the piano to a recording of a single note (issue 4 item 5): analysis by synthesis.
// The key's physical parameters (tuning offset, inharmonicity B, decay b1/b3, unison detune, hammer
// brightness, loudness) are recovered by gradient descent (Adam) on the multi-resolution spectral loss
// (autodiff/ops/spectral.h) between the event renderer's note (synth/event_renderer.h) and the target.
//
// Spectral losses are not convex in frequency: once a partial misses its target by more than a bin
// the gradient pulling it back vanishes. So the descent starts from a measured initial point, in the
// order a piano tuner would work:
//   1. onset: the first 1 ms frame whose energy rises 30 dB above the pre-onset floor; the target is
//      cropped to [onset - pre_roll, onset - pre_roll + duration) and the note rendered at pre_roll;
//   2. pitch: a harmonic-sum search over +-60 cents around the key's nominal partials, then the
//      partials are peak-picked one by one (parabolic interpolation of the log spectrum) and f0 and B
//      refitted by least squares on (f_p / p)^2 = f0^2 (1 + B p^2) (stiff-string law, Fletcher 1964);
//   3. level and alignment: the loudness is shifted by the RMS ratio of target to render, then the
//      onset is grid-searched over +-2 ms in 1/8 ms steps on the small FFTs (256..64);
//   4. descent, coarse to fine: first the large FFTs (2048..512) with the frequencies held (levels,
//      decays, hammer cutoff), then everything on all sizes 2048..64, warmup + cosine learning rate;
//      the best iterate by the full loss is kept (never worse than step 3's starting point).
// Only the fitted key's entries move (the render holds one note, so every other entry's gradient is
// zero and Adam leaves it unchanged); the unison detune is re-centred after every step so that its mean
// stays where it started and `tuning_cents` alone carries the note's pitch (the two are otherwise
// degenerate).
#pragma once
#include <array>
#include <functional>
#include <string>
#include <vector>

#include "autodiff/dtype.h"
#include "synth/event_renderer.h"
#include "synth/piano_params.h"

namespace pianograd {

struct FitOptions {
  double sample_rate = 0.0;     // fit rate (Hz); 0: the starting preset's ir_sample_rate (16 kHz default)
  double duration = 1.0;        // seconds of the note fitted (rendered each step), from the onset
  double pre_roll = 0.01;       // seconds kept before the detected onset
  double velocity = 80.0;       // strike velocity; loudness and cutoff are fitted at this velocity
  int max_partials = 24;        // per string (bounds the work; 0: the per-key table alone)
  int steps = 200;              // Adam steps in all (~35 ms each for 1 s at 16 kHz on one core)
  double coarse_fraction = 0.4; // share of the steps on the large FFTs only
  int warmup_steps = 10;
  double lr_scale = 1.0;        // multiplies every per-parameter learning rate
  bool init_from_spectrum = true;  // steps 2-3 above (off: start from the preset as it is)
  bool fit_detune = true;
  bool fit_strike_position = false;
  bool fit_onset = true;        // also descend on the onset in the fine stage (after step 3's grid search)
  bool knock = true, body = true, room = true;  // the model's parts rendered
  DType dtype = DType::f32;
  std::string preset;           // a preset file to start from (empty: concert grand defaults)
  // Called after every step with (step, loss); for progress output.
  std::function<void(int, double)> on_step;
};

// One key's parameters in physical units.
struct NoteValues {
  double tuning_cents = 0;                 // over stretched equal temperament
  double f0_hz = 0;                        // stretched ET with the tuning offset (without detune)
  double B = 0;
  double b1 = 0, b3 = 0;                   // sigma = b1 + b3 w^2
  std::array<double, 3> detune_cents{};    // entries beyond `strings` are 0
  int strings = 1;
  double cutoff_hz = 0;                    // hammer low-pass cutoff at the fitted velocity
  double brightness = 0;                   // d log cutoff per (v - 64) / 63 (not identifiable from one note)
  double loudness_db = 0;
  double strike_position = 0;
  // Decay rate (1/s) of partial p (1-based) of the first string: b1 + b3 (2 pi f_p)^2.
  double sigma(int p) const;
};

NoteValues note_values(const PianoParams& params, int key, double velocity);

struct FitResult {
  int key = 60;
  double sample_rate = 16000;   // the fit rate
  double velocity = 80;
  double onset_seconds = 0;     // the detected (and refined) onset in the input signal
  double render_onset = 0;      // where the note sits in the fitted window (seconds)
  PianoParams initial, fitted;  // whole presets; only `key` differs between them
  NoteValues before, init, after;  // the starting preset, after steps 1-3, after the descent
  int partials_found = 0;       // by the peak-picking of step 2
  // Multi-resolution spectral distance (full 2048..64 loss) of the render against the aligned target.
  double distance_before = 0, distance_init = 0, distance_after = 0;
  int iterations = 0;
  double seconds = 0;           // wall time of the whole fit
  std::vector<double> loss_history;  // the optimised loss per step (the coarse stage's loss is partial)
  std::vector<float> target;    // the aligned, cropped target at the fit rate
  RenderOptions render_options;  // how the note is rendered (rate, partial cap, knock/body/room)
  long num_samples = 0;         // the window's length

  std::vector<float> render_before() const;  // the starting preset's note, aligned with `target`
  std::vector<float> render_after() const;   // the fitted preset's note
  void save_preset(const std::string& path) const { fitted.save(path); }
  // WAV/FLAC files at the fit rate (float WAV keeps levels above full scale); an empty path is skipped.
  void write_audio_files(const std::string& before_path, const std::string& after_path,
                         const std::string& target_path = "") const;
  std::string summary() const;  // a human-readable report (for the CLI)
};

// Throws ValueError for empty or non-finite audio, a non-positive sample rate, a key outside 21..108, a
// silent target, too little audio after the onset, or bad options.
FitResult fit_note(const std::vector<float>& target_audio, double sample_rate, int key, const FitOptions& options = {});
FitResult fit_note(const std::vector<float>& target_audio, double sample_rate, int key, const FitOptions& options,
                   const PianoParams& initial);

// Reads any audio file (synth/audio_io.h: mono mix-down), resamples to the fit rate, fits.
FitResult fit_note_file(const std::string& path, int key, const FitOptions& options = {});

}  // namespace pianograd
