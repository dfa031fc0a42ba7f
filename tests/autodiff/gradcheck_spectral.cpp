// Gradient-check cases for the spectral ops (small FFTs; float64 through Eigen's FFT).
#include "gradcheck.h"

namespace pianograd::testing {
namespace {
using V = const std::vector<Tensor>&;

SpectralLossOptions small_loss() {
  SpectralLossOptions o;
  o.fft_sizes = {16, 8};
  return o;
}

PG_GRAD_CASES(
    {"stft_magnitude", {{40}}, [](V in) { return stft_magnitude(in[0], 16, 4); }},
    {"stft_magnitude", {{2, 33}}, [](V in) { return stft_magnitude(in[0], 8, 3); }, 1e-6, nullptr, "batched, odd hop"},
    // The loss has |.| kinks; random inputs keep every bin away from them, so differences are smooth.
    {"multi_resolution_stft_loss", {{48}, {48}},
     [](V in) { return multi_resolution_stft_loss(in[0], in[1], small_loss()); }, 1e-5},
    {"multi_resolution_stft_loss", {{2, 40}, {2, 40}},
     [](V in) { return multi_resolution_stft_loss(in[0], in[1], small_loss()); }, 1e-5, nullptr, "batched"},
    {"fft_convolve", {{30}, {7}}, [](V in) { return fft_convolve(in[0], in[1]); }},
    {"fft_convolve", {{2, 90}, {80}}, [](V in) { return fft_convolve(in[0], in[1]); }, 1e-6, nullptr, "batched, FFT path"},
    {"fft_convolve", {{5}, {9}}, [](V in) { return fft_convolve(in[0], in[1]); }, 1e-6, nullptr, "IR longer than signal"});

}  // namespace
}  // namespace pianograd::testing
