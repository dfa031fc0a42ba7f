// The CUDA route's host side, measured where no GPU is: the renderers' packed route (synth/modal_packed.h)
// run through its CPU twin (detail::PackedCpuScope), on the GPU bench's batch (bench/cuda/
// gpu_bench_render.cpp: 64 items x 4 s at 16 kHz, 10 random notes each, held 1-2 s, body/room off).
// The time per iteration is the CPU twin's scan and means nothing for the GPU; the counters are what
// the GPU route pays on the host and asks of the device:
//   host_ms  the forward's host time (plans, modes, life ends, packing: last_*_render_stats)
//   scan_G   the scan's samples per pass (scan_samples), in 1e9
// range(0): 0 render_roll_dry on [64, F, 88] rolls, 1 the batched events op (render_batch's CUDA route).
// range(1): 0 rel_threshold = 0 (every mode scanned to the end of the signal), 1 the default threshold
// (each strike's modes scanned only to its life end).
//   ./build/bench/pianograd_bench --benchmark_filter=BM_packed_route_host
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "autodiff/ops.h"
#include "autodiff/tape.h"
#include "synth/event_renderer.h"
#include "synth/modal_packed.h"
#include "synth/piano_roll.h"
#include "synth/roll_renderer.h"

namespace {
using namespace pianograd;

constexpr long kBatch = 64, kNotes = 10;
constexpr double kSr = 16000, kSeconds = 4, kFr = 31.25;
constexpr int64_t kN = static_cast<int64_t>(kSeconds * kSr);

std::vector<Performance> performances() {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<Performance> perfs(static_cast<size_t>(kBatch));
  for (auto& p : perfs) {
    for (long k = 0; k < kNotes; ++k) {
      const double on = u(rng) * 3;
      p.notes.push_back({21 + static_cast<int>(u(rng) * 87), on, on + 1 + u(rng), 30 + static_cast<int>(u(rng) * 97)});
    }
    p.sort();
  }
  return perfs;
}

void BM_packed_route_host(benchmark::State& state) {
  const bool events = state.range(0) == 1;
  const std::vector<Performance> perfs = performances();
  PianoParams params = PianoParams::concert_grand(kSr, DType::f32);
  RenderOptions ro;
  ro.sample_rate = kSr;
  ro.body = ro.room = false;
  if (state.range(1) == 0) ro.rel_threshold = 0.0;
  std::vector<Tensor> on, vel, gate;
  std::vector<detail::EventControls> items;
  RollOptions rop;
  rop.num_frames = static_cast<int64_t>(kSeconds * kFr);
  for (const auto& p : perfs) {
    const PianoRolls r = performance_to_rolls(p, kFr, rop);
    on.push_back(r.onset), vel.push_back(r.velocity), gate.push_back(r.frame);
    std::vector<int64_t> keys;
    std::vector<double> a, b, v;
    for (const Note& n : p.notes) keys.push_back(n.key), a.push_back(n.onset), b.push_back(n.offset), v.push_back(n.velocity);
    items.push_back({from_vector(keys), from_vector(a).to(DType::f32), from_vector(b).to(DType::f32),
                     from_vector(v).to(DType::f32), Tensor()});
  }
  const Tensor onset = stack(on, 0).to(DType::f32), velocity = stack(vel, 0).to(DType::f32),
               frames = stack(gate, 0).to(DType::f32);
  detail::PackedCpuScope scope;
  NoGrad ng;
  double host = 0, scan = 0;
  for (auto _ : state) {
    if (events) {
      benchmark::DoNotOptimize(detail::render_events_batch_dry(params, items, kN, ro));
      host += last_event_render_stats().host_seconds;
      scan = static_cast<double>(last_event_render_stats().scan_samples);
    } else {
      benchmark::DoNotOptimize(render_roll_dry(params, onset, velocity, frames, kFr, kN, ro));
      host += last_roll_render_stats().host_seconds;
      scan = static_cast<double>(last_roll_render_stats().scan_samples);
    }
  }
  state.counters["host_ms"] = 1e3 * host / static_cast<double>(state.iterations());
  state.counters["scan_G"] = scan * 1e-9;
}
BENCHMARK(BM_packed_route_host)
    ->ArgsProduct({{0, 1}, {0, 1}})
    ->ArgNames({"events", "threshold"})
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

}  // namespace
