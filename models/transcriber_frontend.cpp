// Front end of the transcriber: see transcriber_frontend.h for the pipeline and its reasons.
#include "models/transcriber_frontend.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "autodiff/errors.h"
#include "autodiff/ops.h"

namespace pianograd {

double log_bin_frequency(int64_t j) {
  // Bin 1 is A0 (key 21, 27.5 Hz); bins are a third of a semitone apart.
  const double semitones_from_a4 = (21.0 - 69.0) + static_cast<double>(j - 1) / kBinsPerSemitone;
  return 440.0 * std::exp2(semitones_from_a4 / 12.0);
}

int64_t harmonic_shift(double h) {
  if (!(h > 0) || !std::isfinite(h)) throw ValueError("transcriber: harmonic must be positive and finite, got " +
                                                      std::to_string(h));
  return static_cast<int64_t>(std::lround(12.0 * kBinsPerSemitone * std::log2(h)));
}

namespace {
// |Hann window transform| at an offset of d FFT bins, relative to its peak, main lobe only (|d| < 2):
// sinc(d) / (1 - d^2), whose limit at d = +-1 is 1/2.
double hann_lobe(double d) {
  const double a = std::abs(d);
  if (a >= 2) return 0;
  if (a < 1e-12) return 1;
  if (std::abs(a - 1) < 1e-9) return 0.5;
  const double pi_d = std::numbers::pi * d;
  return std::abs(std::sin(pi_d) / pi_d / (1 - d * d));
}
}  // namespace

Tensor log_filterbank(double sample_rate, int64_t n_fft) {
  if (!(sample_rate > 0) || n_fft < 2 || n_fft % 2 != 0)
    throw ValueError("log_filterbank: expected sample_rate > 0 and an even n_fft >= 2, got sample_rate=" +
                     std::to_string(sample_rate) + " n_fft=" + std::to_string(n_fft));
  const double df = sample_rate / static_cast<double>(n_fft);
  const int64_t fft_bins = n_fft / 2 + 1;
  // FFT bins needed: up to the widest upper edge of the top filter (beyond Nyquist there are none).
  const double top = std::max(log_bin_frequency(kLogBins), log_bin_frequency(kLogBins - 1) + df);
  const int64_t used = std::min<int64_t>(fft_bins, static_cast<int64_t>(std::ceil(top / df)) + 2);
  std::vector<double> w(static_cast<size_t>(used * kLogBins), 0.0);
  for (int64_t j = 0; j < kLogBins; ++j) {
    const double fc = log_bin_frequency(j);
    const double lo = std::max(fc - log_bin_frequency(j - 1), df);
    const double hi = std::max(log_bin_frequency(j + 1) - fc, df);
    // Below ~800 Hz the log bins are closer than the Hann main lobe (+-2 FFT bins): the filter is then
    // matched to the lobe a sine at fc leaves, so the response to a sine peaks at its own frequency
    // rather than at the nearest FFT bin (a triangle / linear interpolation would snap low keys to FFT
    // bins 7.8 Hz apart, up to two semitones at A0). Above, a triangle between the neighbouring centres.
    const bool matched = log_bin_frequency(j + 1) - fc < 2 * df;
    double total = 0;
    for (int64_t b = 0; b < used; ++b) {
      const double f = static_cast<double>(b) * df;
      double v = 0;
      if (matched) v = hann_lobe((f - fc) / df);
      else if (f <= fc && f > fc - lo) v = 1.0 - (fc - f) / lo;
      else if (f > fc && f < fc + hi) v = 1.0 - (f - fc) / hi;
      w[static_cast<size_t>(b * kLogBins + j)] = v;
      total += v;
    }
    if (total > 0)  // a centre above Nyquist keeps an all-zero column (silence)
      for (int64_t b = 0; b < used; ++b) w[static_cast<size_t>(b * kLogBins + j)] /= total;
  }
  return from_vector(w, Shape{used, kLogBins});
}

namespace {

Tensor log_spectrogram(const Tensor& audio, const Tensor& filterbank, const FrontendConfig& cfg) {
  if (audio.dim() != 2)
    throw ShapeError("transcriber_features: expected audio [B, N], got " + shape_str(audio.shape()));
  const int64_t used = filterbank.size(0);
  // Only the bins the filterbank reads (559 of 1025 at 16 kHz): neither computed nor sliced out.
  Tensor mag = stft_magnitude(audio, cfg.n_fft, cfg.hop, used);  // [B, F, min(used, n_fft/2+1)]
  // The filterbank's columns are narrow bands of FFT bins (1.1% nonzero): a banded product, not a GEMM.
  return log(banded_matmul(mag, filterbank) + cfg.eps);  // [B, F, 264]
}

}  // namespace

Tensor log_spectrum_peak(const Tensor& audio, const Tensor& filterbank, const FrontendConfig& cfg) {
  NoGrad ng;
  Tensor logspec = log_spectrogram(audio, filterbank, cfg);
  return max(reshape(logspec, {logspec.size(0), logspec.size(1) * kLogBins}), 1, false).first;
}

Tensor transcriber_features(const Tensor& audio, const Tensor& filterbank, const FrontendConfig& cfg,
                            const Tensor& reference) {
  Tensor logspec = log_spectrogram(audio, filterbank, cfg);
  const int64_t batch = logspec.size(0), frames = logspec.size(1);
  // Per-example max over time x frequency: gain only shifts the log spectrum, so this removes it.
  // The peak is held at or above log(min_peak) so that silence (or near-silence) is not blown up to
  // full scale: a silent input then maps to 0 everywhere (log(eps) - log(min_peak) < -floor).
  Tensor peak;
  if (reference.defined()) {
    if (reference.numel() != batch)
      throw ShapeError("transcriber_features: the loudness reference has " + std::to_string(reference.numel()) +
                       " values for a batch of " + std::to_string(batch));
    peak = reshape(reference.detach(), {batch, 1});
    if (peak.dtype() != logspec.dtype()) peak = peak.to(logspec.dtype());
    if (!(peak.device() == logspec.device())) peak = peak.to(logspec.device());
  } else {
    peak = max(reshape(logspec, {batch, frames * kLogBins}), 1, true).first;  // [B, 1]
  }
  peak = maximum(peak, scalar(std::log(cfg.min_peak), peak.dtype(), peak.device()));
  Tensor rel = clamp(logspec - reshape(peak, {batch, 1, 1}), -cfg.floor, 0.0);
  Tensor x = (rel + cfg.floor) * (1.0 / cfg.floor);  // [0, 1], 0 = silence (what zero padding means)
  // Harmonic stacking: channel h at bin j holds the spectrum at bin j + shift(h), 0 beyond the edges.
  std::vector<int64_t> shifts;
  shifts.reserve(cfg.harmonics.size());
  for (double h : cfg.harmonics) shifts.push_back(harmonic_shift(h));
  return harmonic_stack(x, shifts);  // [B, H, F, 264], one gather (CPU or CUDA kernel)
}

}  // namespace pianograd
