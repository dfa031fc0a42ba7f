// Part of pianograd_gpu_bench (gpu_bench.cpp calls bench_render): the renderers end to end on CUDA.
// * BM_cuda_render_roll/f32: render_roll_dry forward + backward for a batch of 64 x 4 s at 16 kHz, 10
//   notes per item (the training batch of BM_cuda_modal), controls [64, F, 88] on the GPU: one packed
//   bank, one launch per pass (synth/modal_packed.h).
// * BM_cuda_render_events/f32: render_batch of the same 64 performances with RenderOptions::device =
//   cuda (one batched events op, one packed launch per pass).
// Both print audio-seconds rendered (forward + backward) per wall second, the target being
// >= 10,000, the host share: the forward's host time (plans, modes, life ends, packing; from
// last_*_render_stats) over the forward + backward wall time, and the scan's work (samples visited
// by all modes per pass, stats' scan_samples; the life ends keep it below modes x samples). Body and
// room convolution are off: this measures the modal bank and its host side. Wall time includes a
// device synchronise per step.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "autodiff/device.h"
#include "autodiff/ops.h"
#include "autodiff/tape.h"
#include "synth/event_renderer.h"
#include "synth/piano_roll.h"
#include "synth/roll_renderer.h"

namespace pg = pianograd;

void bench_render(int repeats) {
  const long batch = 64, notes = 10;
  const double rate = 16000, seconds = 4, fr = 31.25;
  const int64_t N = static_cast<int64_t>(seconds * rate);
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<pg::Performance> perfs(static_cast<size_t>(batch));
  for (auto& p : perfs) {
    for (long k = 0; k < notes; ++k) {
      const double on = u(rng) * 3;
      p.notes.push_back({21 + static_cast<int>(u(rng) * 87), on, on + 1 + u(rng), 30 + static_cast<int>(u(rng) * 97)});
    }
    p.sort();
  }
  pg::PianoParams params = pg::PianoParams::concert_grand(rate, pg::DType::f32);
  const std::vector<pg::Tensor> ps = params.parameters();
  pg::RenderOptions ro;
  ro.sample_rate = rate;
  ro.body = ro.room = false;

  // [B, F, 88] rolls of the performances, on the GPU.
  const int64_t F = static_cast<int64_t>(seconds * fr);
  std::vector<pg::Tensor> on, vel, gate;
  pg::RollOptions rop;
  rop.num_frames = F;
  for (const auto& p : perfs) {
    const pg::PianoRolls r = pg::performance_to_rolls(p, fr, rop);
    on.push_back(r.onset), vel.push_back(r.velocity), gate.push_back(r.frame);
  }
  auto to_gpu = [](const std::vector<pg::Tensor>& v) {
    return pg::stack(v, 0).to(pg::DType::f32).cuda().requires_grad_();
  };
  const pg::Tensor d_on = to_gpu(on), d_vel = to_gpu(vel), d_gate = to_gpu(gate);

  // One forward + backward; returns the samples per item rendered.
  auto step = [&](auto render) {
    params.zero_grad();
    const pg::Tensor y = render();
    pg::sum(pg::mul(y, pg::ones(y.shape(), pg::DType::f32, pg::kCUDA))).backward();
    pg::cuda::synchronize();
    return y.shape().back();
  };
  auto time_steps = [&](auto render, auto stats_of, const char* name) {
    step(render);  // warm-up (caching allocator)
    double wall = 0, host = 0, scan = 0;
    int64_t samples = 0;
    for (int i = 0; i < repeats; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      samples = step(render);
      wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      host += stats_of().host_seconds;
      scan = static_cast<double>(stats_of().scan_samples);
    }
    wall /= repeats;
    host /= repeats;
    const double audio = static_cast<double>(batch) * static_cast<double>(samples) / rate;
    std::printf("%s  batch %ld x %.1f s, %ld notes/item: %9.2f ms fwd+bwd  %10.1f audio-s/s  host share %4.1f%%  "
                "scan %.3g samples/pass\n", name, batch, static_cast<double>(samples) / rate, notes, wall * 1e3,
                audio / wall, 100.0 * host / wall, scan);
  };
  time_steps([&] { return pg::render_roll_dry(params, d_on, d_vel, d_gate, fr, N, ro); },
             [] { return pg::last_roll_render_stats(); }, "BM_cuda_render_roll/f32  ");
  pg::RenderOptions re = ro;
  re.device = pg::kCUDA;
  re.tail_seconds = 0;
  time_steps([&] { return pg::render_batch(params, perfs, re); },
             [] { return pg::last_event_render_stats(); },
             "BM_cuda_render_events/f32");
}
