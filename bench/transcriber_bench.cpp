// The transcription model (models/transcriber.h) at its training size: one Adam step (forward +
// backward + update) on a batch of 8 x 4 s of 16 kHz audio, and inference forward throughput as a
// real-time factor (audio seconds per compute second). GFLOP counts the network's multiply-adds
// (2 per MAC): STFT omitted, filterbank matmul and every conv / linear layer included; the step is
// counted as 3x the forward (backward = input + weight gradients), the usual estimate.
#include <benchmark/benchmark.h>

#include "pianograd.h"
#include "models/transcriber.h"
#include "models/transcription_loss.h"

namespace {
using namespace pianograd;

constexpr int64_t kBatch = 8;
constexpr double kSeconds = 4.0;

double forward_gflop(const Transcriber& m, int64_t batch, int64_t samples) {
  const TranscriberConfig& c = m.config();
  const double frames = static_cast<double>(batch * m.num_frames(samples));
  const double fb = static_cast<double>(m.named_buffers().front().second.size(0));
  double macs = frames * fb * kLogBins;
  double cin = static_cast<double>(c.harmonics.size());
  for (int64_t ch : c.conv_channels) {
    macs += frames * kLogBins * static_cast<double>(ch) * cin * 9;
    cin = static_cast<double>(ch);
  }
  const double cells = frames * 88, d = static_cast<double>(c.key_channels), t = static_cast<double>(c.temporal_channels);
  const double kc = static_cast<double>(c.key_context_channels);
  macs += cells * cin * 3 * d + cells * d * kc * static_cast<double>(c.key_kernel);
  double tin = d + kc;
  for (size_t i = 0; i < c.temporal_dilations.size(); ++i) {
    macs += cells * tin * t * static_cast<double>(c.temporal_kernel);
    tin = t;
  }
  macs += cells * (t * 3 + (t + 1) * static_cast<double>(c.frame_channels) * 3 + static_cast<double>(c.frame_channels));
  return 2 * macs * 1e-9;
}

// range(0): 0 = the default config, 1 = the config the lead trains (wider key / temporal / frame layers).
TranscriberConfig bench_config(int64_t which) {
  TranscriberConfig c;
  if (which == 1) {
    c.key_channels = 24;
    c.temporal_channels = 32;
    c.frame_channels = 16;
  }
  return c;
}

TranscriptionTargets random_targets(int64_t batch, int64_t frames) {
  TranscriptionTargets t;
  t.onset = lt(rand({batch, frames, 88}), scalar(0.005));
  t.frame = lt(rand({batch, frames, 88}), scalar(0.05));
  t.offset = lt(rand({batch, frames, 88}), scalar(0.005));
  t.velocity = t.onset * rand({batch, frames, 88});
  return t;
}

void BM_transcriber_train_step(benchmark::State& state) {
  Transcriber m(bench_config(state.range(0)));
  const int64_t n = static_cast<int64_t>(kSeconds * m.config().sample_rate);
  manual_seed(1);
  const Tensor audio = randn({kBatch, n}) * 0.1;
  const TranscriptionTargets targets = random_targets(kBatch, m.num_frames(n));
  optim::AdamOptions o;
  optim::Adam opt(m.parameters(), o);
  for (auto _ : state) {
    opt.zero_grad();
    TranscriptionLoss loss = transcription_loss(m.forward_all(audio), targets);
    loss.total.backward();
    opt.step();
    benchmark::DoNotOptimize(loss.total.item());
  }
  state.counters["GFLOP"] = 3 * forward_gflop(m, kBatch, n);
  state.counters["params"] = static_cast<double>(m.parameter_count());
}

void BM_transcriber_forward(benchmark::State& state) {
  Transcriber m(bench_config(state.range(0)));
  m.eval();
  const int64_t n = static_cast<int64_t>(kSeconds * m.config().sample_rate);
  manual_seed(1);
  const Tensor audio = randn({kBatch, n}) * 0.1;
  NoGrad ng;
  for (auto _ : state) {
    TranscriberOutput y = m.forward_all(audio);
    benchmark::DoNotOptimize(y.frame.raw_data());
  }
  state.counters["GFLOP"] = forward_gflop(m, kBatch, n);
  state.counters["realtime_x"] =
      benchmark::Counter(kBatch * kSeconds, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

// Names: .../8x4s/0 = default config, .../8x4s/1 = the lead's training config (24/32/16 channels).
BENCHMARK(BM_transcriber_train_step)->Name("BM_transcriber_train_step/8x4s")->Arg(0)->Arg(1)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_transcriber_forward)->Name("BM_transcriber_forward/8x4s")->Arg(0)->Arg(1)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
