// The CPU FFT choice (DESIGN.md §3): KissFFT (libkissfft-float) vs Eigen's FFT module for float real
// transforms, same sizes, one thread. Whichever is faster backs kernels::cpu::RealFFT<float>.
#include <benchmark/benchmark.h>

#include <complex>
#include <unsupported/Eigen/FFT>
#include <vector>

#include "kernels/cpu/fft.h"

namespace {

void BM_rfft_kissfft(benchmark::State& state) {
  const long n = state.range(0);
  pianograd::kernels::cpu::RealFFT<float> plan(n);
  std::vector<float> x(static_cast<size_t>(n), 0.5f);
  std::vector<std::complex<float>> X(static_cast<size_t>(plan.bins()));
  for (auto _ : state) {
    plan.forward(x.data(), X.data());
    benchmark::DoNotOptimize(X.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_rfft_eigen(benchmark::State& state) {
  const long n = state.range(0);
  Eigen::FFT<float> fft;
  fft.SetFlag(Eigen::FFT<float>::HalfSpectrum);
  std::vector<float> x(static_cast<size_t>(n), 0.5f);
  std::vector<std::complex<float>> X(static_cast<size_t>(n / 2 + 1));
  for (auto _ : state) {
    fft.fwd(X.data(), x.data(), static_cast<int>(n));
    benchmark::DoNotOptimize(X.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_fft_convolve(benchmark::State& state) {
  const long nx = state.range(0), nh = state.range(1);
  std::vector<float> x(static_cast<size_t>(nx), 0.25f), h(static_cast<size_t>(nh), 0.5f), y(static_cast<size_t>(nx + nh - 1));
  for (auto _ : state) {
    pianograd::kernels::cpu::fft_convolve(x.data(), nx, h.data(), nh, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * nx);
}

BENCHMARK(BM_rfft_kissfft)->RangeMultiplier(4)->Range(256, 65536);
BENCHMARK(BM_rfft_eigen)->RangeMultiplier(4)->Range(256, 65536);
// 1 s of 16 kHz audio through a 0.25 s body response and a 1.5 s room response.
BENCHMARK(BM_fft_convolve)->Args({16000, 4000})->Args({16000, 24000});

}  // namespace
