// The roll renderer (synth/roll_renderer.h) on a 10 s roll at 16 kHz, 31.25 frames/s (Onsets and Frames),
// ~4 notes/s over the whole keyboard range in use (keys 33..96, velocities 30..110, 0.1..1 s long),
// float32, body and room impulse responses on, one thread. Counter rtf = audio seconds per compute second.
//
// range(0): 0 a binary roll (performance_to_rolls of the notes: one strike per note); 1 a "soft" roll
// as a transcription model would output it: onset 0.8 at the note's frame and 0.15 on both neighbours
// (three strikes per note), 2e-4 everywhere else (below the 1e-3 threshold: free), the gate smoothed
// over frames, velocity 0.5 off the onsets.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <random>
#include <vector>

#include "autodiff/ops.h"
#include "autodiff/tape.h"
#include "synth/piano_roll.h"
#include "synth/roll_renderer.h"

namespace {
using namespace pianograd;

constexpr double kSr = 16000, kFr = 31.25, kSeconds = 10;
constexpr int64_t kN = static_cast<int64_t>(kSr * kSeconds), kF = static_cast<int64_t>(kFr * kSeconds);

struct Input {
  Tensor onset, velocity, gate;
};

Input make_roll(bool soft) {
  std::mt19937 rng(4);
  std::uniform_real_distribution<double> u(0, 1);
  Performance perf;
  for (int i = 0; i < 40; ++i) {
    const double on = u(rng) * (kSeconds - 1.0);
    perf.notes.push_back({33 + static_cast<int>(u(rng) * 64), on, on + 0.1 + 0.9 * u(rng), 30 + static_cast<int>(u(rng) * 80)});
  }
  perf.sort();
  RollOptions ro;
  ro.num_frames = kF;
  const PianoRolls r = performance_to_rolls(perf, kFr, ro);
  if (!soft) return {r.onset, r.velocity, r.frame};
  std::vector<float> on = r.onset.to_vector<float>(), vel = r.velocity.to_vector<float>(), fr = r.frame.to_vector<float>();
  std::vector<float> so(on.size(), 2e-4f), sv(on.size(), 0.5f), sg(on.size());
  for (int64_t f = 0; f < kF; ++f)
    for (int64_t k = 0; k < kNumKeys; ++k) {
      const size_t i = static_cast<size_t>(f * kNumKeys + k);
      auto at = [&](const std::vector<float>& v, int64_t ff) {
        return v[static_cast<size_t>(std::clamp<int64_t>(ff, 0, kF - 1) * kNumKeys + k)];
      };
      if (on[i] > 0) {
        so[i] = 0.8f, sv[i] = vel[i];
        for (int64_t d : {-1, 1})
          if (f + d >= 0 && f + d < kF) {
            const size_t j = static_cast<size_t>((f + d) * kNumKeys + k);
            so[j] = std::max(so[j], 0.15f), sv[j] = vel[i];
          }
      }
      sg[i] = 0.05f + 0.9f * (0.25f * at(fr, f - 1) + 0.5f * fr[i] + 0.25f * at(fr, f + 1));
    }
  const Shape s{kF, kNumKeys};
  return {from_vector(so, s), from_vector(sv, s), from_vector(sg, s)};
}

// all_threads: the default OpenMP team (the modal kernel's groups of modes run in parallel).
void run(benchmark::State& st, bool backward, bool all_threads = false) {
  const Input in = make_roll(st.range(0) != 0);
  const int prev = omp_get_max_threads();
  omp_set_num_threads(all_threads ? prev : 1);
  PianoParams p = PianoParams::concert_grand(kSr);
  std::vector<float> w(static_cast<size_t>(kN));
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0, 1);
  for (auto& x : w) x = nd(rng);
  const Tensor wt = from_vector(w);
  if (backward) p.parameters();
  int64_t strikes = 0, modes = 0;
  for (auto _ : st) {
    if (backward) {
      Tensor o = in.onset.detach().requires_grad_(), v = in.velocity.detach().requires_grad_(),
             g = in.gate.detach().requires_grad_();
      Tensor loss = sum(mul(render_roll(p, o, v, g, kFr, kN), wt));
      const RollRenderStats s = last_roll_render_stats();
      strikes = s.strikes, modes = s.modes;
      loss.backward();
      benchmark::DoNotOptimize(g.grad().data<float>());
      p.zero_grad();
    } else {
      NoGrad ng;
      Tensor y = render_roll(p, in.onset, in.velocity, in.gate, kFr, kN);
      const RollRenderStats s = last_roll_render_stats();
      strikes = s.strikes, modes = s.modes;
      benchmark::DoNotOptimize(y.data<float>());
    }
  }
  omp_set_num_threads(prev);
  st.counters["rtf"] = benchmark::Counter(kSeconds, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["strikes"] = static_cast<double>(strikes);
  st.counters["modes"] = static_cast<double>(modes);
  st.SetLabel(st.range(0) ? "soft roll, 1 thread" : "binary roll, 1 thread");
}

void BM_render_roll_forward(benchmark::State& st) { run(st, false); }
void BM_render_roll_forward_backward(benchmark::State& st) { run(st, true); }
// On every hardware thread, timed on the wall clock (rtf = audio s per wall s).
void BM_render_roll_forward_mt(benchmark::State& st) { run(st, false, true); }
void BM_render_roll_forward_backward_mt(benchmark::State& st) { run(st, true, true); }

BENCHMARK(BM_render_roll_forward)->ArgName("soft")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_render_roll_forward_backward)->ArgName("soft")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_render_roll_forward_mt)->ArgName("soft")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_render_roll_forward_backward_mt)->ArgName("soft")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
