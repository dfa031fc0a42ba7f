// The transcription model's front end (issue 5): audio -> a harmonically stacked, loudness-normalised
// log-frequency spectrogram, in the spirit of basic-pitch (Bittner et al., ICASSP 2022).
//
//   |STFT| (periodic Hann, centred frames, hop = sample_rate / frame_rate)
//   -> fixed filterbank matmul to 3 bins per semitone, bin 3(k-21)+1 centred on key k (A0 = 21)
//   -> log(eps + .) -> minus the per-example max (at least log(min_peak)), floored at -floor nats,
//      mapped to [0, 1] (0 = silence)
//   -> harmonic stacking: channel i is the spectrogram shifted down by round(36 log2 h_i) bins, so that
//      the h-th partial of a note lands on the note's own bin (zero-filled past either end).
//
// Every step is an autodiff op, so gradients reach the audio. Subtracting the max makes the features
// invariant to the gain of the input (up to eps and the floor): the network sees relative loudness.
#pragma once
#include <cstdint>
#include <vector>

#include "autodiff/tensor.h"

namespace pianograd {

inline constexpr int64_t kBinsPerSemitone = 3;
inline constexpr int64_t kLogBins = 88 * kBinsPerSemitone;  // 264: key 21's lower third-tone .. key 108's upper

struct FrontendConfig {
  double sample_rate = 16000;
  int64_t hop = 320;
  int64_t n_fft = 2048;
  std::vector<double> harmonics{0.5, 1, 2, 3, 4, 5, 6, 7};
  double eps = 1e-6;    // inside log(eps + |X|); far below any audible magnitude at n_fft 2048
  double floor = 10.0;  // nats below the loudest cell (~87 dB) that map to 0
  // Smallest peak magnitude normalised away (a -80 dBFS sine peaks near 0.05 at n_fft 2048): quieter
  // inputs are not scaled up, so digital silence stays silent instead of becoming full scale.
  double min_peak = 0.05;
};

// Centre frequency (Hz) of log bin j (j = 3(k-21)+1 is key k's fundamental, 12-TET at A4 = 440 Hz).
double log_bin_frequency(int64_t j);
// Shift in bins of harmonic h: round(36 log2 h).
int64_t harmonic_shift(double h);

// Filterbank [used_fft_bins, 264] (f64, built once; cast to f32 by the model). Where log bins are
// spaced wider than the Hann main lobe (2 FFT bins) log bin j is a triangle from the centre of bin j-1
// to that of bin j+1; below, where several log bins share one FFT bin (at n_fft 2048 / 16 kHz, under
// ~800 Hz), it is the main lobe a sine at its centre leaves (a matched filter), which puts a sine's
// peak on its own third-of-a-semitone bin (+-1) down to A0. Each column sums to 1: a log bin is a
// weighted mean of magnitudes, so its scale does not depend on the bin's bandwidth.
Tensor log_filterbank(double sample_rate, int64_t n_fft);

// audio [B, N] -> features [B, H, F, 264] with H = harmonics.size(), F = N / hop + 1.
// `filterbank` is log_filterbank(...) in audio's dtype. `reference`, when defined, is the loudness
// reference [B] (a log magnitude, e.g. log_spectrum_peak of the whole piece the audio was cut from) used
// instead of each example's own peak, so that the chunks of one piece share one scale; it is treated as a
// constant (no gradient), and cells above it are clamped to full scale.
Tensor transcriber_features(const Tensor& audio, const Tensor& filterbank, const FrontendConfig& cfg,
                            const Tensor& reference = Tensor());

// The per-example peak of the log spectrogram, [B] (no gradient): what transcriber_features subtracts
// when no reference is given (before the min_peak floor).
Tensor log_spectrum_peak(const Tensor& audio, const Tensor& filterbank, const FrontendConfig& cfg);

}  // namespace pianograd
