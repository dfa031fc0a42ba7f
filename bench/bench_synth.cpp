// The event renderer end to end (modes, gates, modal kernel, body and room convolution) on one thread
// (and, *_mt, on all hardware threads): real-time factor (counter rtf = audio seconds per compute second) of the forward and of
// forward+backward (gradients to every note input and every PianoParams tensor), issue 4 targets:
// 10-note chord at 16 kHz >= 300x forward, >= 50x forward+backward.
//
// Cases (first argument): 0 one note (C4, 2 s), 1 a 10-note chord (2 s), 2 a 30 s polyphonic piece
// (~4 notes/s, deterministic random keys/velocities/durations, sustain pedal half the time).
// Second argument: the sample rate.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <random>
#include <vector>

#include "autodiff/ops.h"
#include "synth/event_renderer.h"

namespace {
using namespace pianograd;

Performance bench_case(int which) {
  Performance perf;
  if (which == 0) {
    perf.notes.push_back({60, 0.0, 1.5, 80});
  } else if (which == 1) {
    const int keys[10] = {36, 43, 48, 52, 55, 60, 64, 67, 72, 76};
    for (int i = 0; i < 10; ++i) perf.notes.push_back({keys[i], 0.003 * i, 1.5, 60 + 3 * i});
  } else {
    std::mt19937 rng(2024);
    std::uniform_real_distribution<double> u(0, 1);
    for (int i = 0; i < 120; ++i) {
      const double on = 29.0 * i / 120.0 + 0.1 * u(rng);
      perf.notes.push_back({33 + static_cast<int>(u(rng) * 60), on, on + 0.1 + 0.9 * u(rng), 30 + static_cast<int>(u(rng) * 80)});
    }
    for (int s = 0; s < 30; s += 4) perf.pedal.push_back({static_cast<double>(s), s % 8 == 0 ? 1.0 : 0.0});
    perf.sort();
  }
  return perf;
}

double case_seconds(int which) { return which == 2 ? 30.0 : 2.0; }

// all_threads: OpenMP keeps its default team (the hardware threads); the renderer's parallelism is the
// modal kernel's, over groups of modes (kernels/cpu/modal_simd.h), and the FFT convolution's.
void run(benchmark::State& state, bool backward, bool all_threads = false) {
  const int which = static_cast<int>(state.range(0));
  const double sr = static_cast<double>(state.range(1));
  const int threads = omp_get_max_threads();
  omp_set_num_threads(all_threads ? threads : 1);
  PianoParams params = PianoParams::concert_grand(sr);
  if (backward) params.parameters();
  const Performance perf = bench_case(which);
  RenderOptions opt;
  opt.sample_rate = sr;
  const int64_t N = static_cast<int64_t>(case_seconds(which) * sr);
  std::vector<int64_t> k;
  std::vector<float> on, off, vel;
  for (const Note& n : perf.notes) k.push_back(n.key), on.push_back(static_cast<float>(n.onset)),
                                   off.push_back(static_cast<float>(n.offset)), vel.push_back(static_cast<float>(n.velocity));
  std::vector<float> ped(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) ped[static_cast<size_t>(i)] = static_cast<float>(perf.pedal_at(static_cast<double>(i) / sr));
  Tensor keys = from_vector(k), onsets = from_vector(on), offsets = from_vector(off), velocities = from_vector(vel);
  Tensor pedal = from_vector(ped);
  for (Tensor* t : {&onsets, &offsets, &velocities, &pedal}) t->requires_grad_(backward);
  manual_seed(1);
  const Tensor gy = randn({N});
  for (auto _ : state) {
    Tensor y = render_events(params, keys, onsets, offsets, velocities, pedal, N, opt);
    if (backward) {
      y.backward(gy);
      params.zero_grad();
      for (Tensor* t : {&onsets, &offsets, &velocities, &pedal}) t->zero_grad();
    }
    benchmark::DoNotOptimize(y.data<float>());
  }
  state.counters["rtf"] = benchmark::Counter(case_seconds(which), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["notes"] = static_cast<double>(perf.notes.size());
  state.counters["modes"] = static_cast<double>(last_event_render_stats().modes);
  state.counters["threads"] = all_threads ? threads : 1;
  omp_set_num_threads(threads);
}

void BM_render_events_forward(benchmark::State& state) { run(state, false); }
void BM_render_events_fwd_bwd(benchmark::State& state) { run(state, true); }
// The same on every hardware thread, timed on the wall clock (UseRealTime: rtf = audio s per wall s,
// since the main thread's CPU time misses the workers').
void BM_render_events_forward_mt(benchmark::State& state) { run(state, false, true); }
void BM_render_events_fwd_bwd_mt(benchmark::State& state) { run(state, true, true); }

void args(benchmark::internal::Benchmark* b) {
  for (int which : {0, 1, 2})
    for (int sr : {16000, 44100}) b->Args({which, sr});
  b->Unit(benchmark::kMillisecond)->MinTime(0.5);
}
BENCHMARK(BM_render_events_forward)->Apply(args);
BENCHMARK(BM_render_events_fwd_bwd)->Apply(args);
BENCHMARK(BM_render_events_forward_mt)->Apply(args)->UseRealTime();
BENCHMARK(BM_render_events_fwd_bwd_mt)->Apply(args)->UseRealTime();

// The default multi-resolution spectral loss (6 FFT sizes) on one 1 s signal at 16 kHz, one thread:
// the per-step cost a training loop pays on top of the render. Argument: 1 = forward+backward.
void BM_spectral_loss(benchmark::State& state) {
  const bool backward = state.range(0) != 0;
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  manual_seed(2);
  Tensor pred = randn({16000}), target = randn({16000});
  pred.requires_grad_(backward);
  for (auto _ : state) {
    Tensor loss = multi_resolution_stft_loss(pred, target);
    if (backward) {
      loss.backward();
      pred.zero_grad();
    }
    benchmark::DoNotOptimize(loss.data<float>());
  }
  omp_set_num_threads(threads);
}
BENCHMARK(BM_spectral_loss)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(0.5);

}  // namespace
