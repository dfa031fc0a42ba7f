// STFT magnitude front end of the transcriber: 8 signals of 4 s at 16 kHz, n_fft 2048, hop 320
// (201 frames each), one thread, spectra kept (the op always keeps them for its backward).
// kissfft = the per-frame KissFFT path (routed there by the scalar ISA, which only changes the
// routing: KissFFT is compiled once); batched = frames across SIMD lanes (kernels/cpu/stft_batched.h)
// under the best ISA; batched_mag_only without the spectra. Rate in frames/s.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <complex>
#include <random>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/stft.h"

namespace {

namespace kc = pianograd::kernels::cpu;

void run_stft(benchmark::State& state, kc::Isa isa, bool keep_spec = true) {
  const long batch = 8;
  const kc::StftGeometry g{state.range(0), 320, 4 * 16000};
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  std::vector<float> x(static_cast<size_t>(batch * g.length));
  for (auto& v : x) v = dist(rng);
  const size_t out = static_cast<size_t>(batch * g.frames() * g.bins());
  std::vector<float> mag(out);
  std::vector<std::complex<float>> spec(out);
  kc::IsaScope scope(isa);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  for (auto _ : state) {
    kc::stft_magnitude<float>(x.data(), batch, g, mag.data(), keep_spec ? spec.data() : nullptr);
    benchmark::DoNotOptimize(mag.data());
    benchmark::DoNotOptimize(spec.data());
  }
  omp_set_num_threads(threads);
  state.SetLabel(kc::isa_name(kc::active_isa()));
  state.counters["frames/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * batch * g.frames()), benchmark::Counter::kIsRate);
}

void BM_stft_kissfft(benchmark::State& state) { run_stft(state, kc::Isa::scalar); }
void BM_stft_batched(benchmark::State& state) { run_stft(state, kc::active_isa()); }
// Magnitudes only (the spectral loss's target side): how much of the time is writing the spectra.
void BM_stft_batched_mag_only(benchmark::State& state) { run_stft(state, kc::active_isa(), false); }

// Alternating in one run, so machine load hits both alike.
BENCHMARK(BM_stft_kissfft)->Name("BM_stft_magnitude/kissfft")->Arg(2048)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_stft_batched)->Name("BM_stft_magnitude/batched")->Arg(2048)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_stft_batched_mag_only)->Name("BM_stft_magnitude/batched_mag_only")->Arg(2048)->Unit(benchmark::kMillisecond);

}  // namespace
