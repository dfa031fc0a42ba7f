// GPU microbenchmarks (issue 6): run with
//   ./build-cuda/bench/cuda/pianograd_gpu_bench [repeats=20]
// * BM_cuda_elementwise/<op>/<dtype>: achieved GB/s of the elementwise kernels on 64 Mi elements
//   against the device's theoretical DRAM bandwidth (2 x memory clock x bus width: DDR/HBM move
//   data on both clock edges), queried with cudaDeviceGetAttribute.
// * BM_cuda_modal/{forward,backward}/f32: the modal-bank scans for a training batch of 64 items x
//   4 s at 16 kHz with 10-note polyphony (~850 modes per item, 64 x 850 modes), printed as
//   audio-seconds synthesised (or differentiated) per wall second: the real-time factor.
// * BM_cuda_transcriber_step/f32: one Transcriber training step (features, network, transcription
//   loss, backward, Adam) on a batch of 8 x 4 s of 16 kHz audio with the default config, model and
//   data on the GPU, printed as steps/s (wall time with a device synchronise per step).
// * BM_cuda_render_{roll,events}/f32: the renderers end to end, see gpu_bench_render.cpp.
// Times are CUDA-event intervals over `repeats` launches after one warm-up. Prints "no CUDA device"
// and exits 0 where there is no GPU, so CI can build and run it.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include <chrono>

#include "autodiff/device.h"
#include "autodiff/ops.h"
#include "autodiff/optim/adam.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device.h"
#include "models/transcriber.h"
#include "models/transcription_loss.h"

namespace gpu = pianograd::kernels::cuda;
using gpu::DeviceBuffer;

namespace {

void cuda_ok(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

// Seconds per call of f, averaged over `repeats` calls after a warm-up.
template <class F>
double time_it(int repeats, F&& f) {
  f();
  cudaEvent_t a, b;
  cuda_ok(cudaEventCreate(&a), "cudaEventCreate");
  cuda_ok(cudaEventCreate(&b), "cudaEventCreate");
  cuda_ok(cudaEventRecord(a), "cudaEventRecord");
  for (int i = 0; i < repeats; ++i) f();
  cuda_ok(cudaEventRecord(b), "cudaEventRecord");
  cuda_ok(cudaEventSynchronize(b), "cudaEventSynchronize");
  float ms = 0;
  cuda_ok(cudaEventElapsedTime(&ms, a, b), "cudaEventElapsedTime");
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return ms * 1e-3 / repeats;
}

double peak_bandwidth_gbs(int dev) {
  int clock_khz = 0, bus_bits = 0;
  cuda_ok(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, dev), "memory clock");
  cuda_ok(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, dev), "bus width");
  return 2.0 * clock_khz * 1e3 * (bus_bits / 8.0) / 1e9;
}

template <class T>
void bench_elementwise(const char* dtype, double peak, int repeats) {
  const long n = 64L << 20;
  DeviceBuffer<T> a(n), b(n), y(n);
  gpu::device_memset_zero(a.data(), n * sizeof(T));
  gpu::device_memset_zero(b.data(), n * sizeof(T));
  struct Case {
    const char* name;
    double bytes;
    double secs;
  };
  const double s_add = time_it(repeats, [&] { gpu::binary<T>(pianograd::kernels::BinaryOp::add, a.data(), 1, b.data(), 1, y.data(), n); });
  const double s_bcast = time_it(repeats, [&] { gpu::binary<T>(pianograd::kernels::BinaryOp::mul, a.data(), 1, b.data(), 0, y.data(), n); });
  const double s_exp = time_it(repeats, [&] { gpu::unary<T>(pianograd::kernels::UnaryOp::exp, a.data(), y.data(), n); });
  const Case cases[] = {{"add", 3.0 * n * sizeof(T), s_add},
                        {"mul_scalar_broadcast", 2.0 * n * sizeof(T), s_bcast},
                        {"exp", 2.0 * n * sizeof(T), s_exp}};
  for (const Case& c : cases) {
    const double gbs = c.bytes / c.secs / 1e9;
    std::printf("BM_cuda_elementwise/%s/%s  %9.3f ms  %8.1f GB/s  %5.1f%% of %.0f GB/s peak\n", c.name, dtype,
                c.secs * 1e3, gbs, 100.0 * gbs / peak, peak);
  }
}

// The issue-6 training batch: per item, 10 notes x 85 modes, onsets spread over the first 3 s, one
// damper envelope per note released after 2-3 s.
void bench_modal(int repeats) {
  using T = float;
  const long batch = 64, notes = 10, modes_per_note = 85, per_item = notes * modes_per_note;
  const double rate = 16000;
  const long n = static_cast<long>(4 * rate), count = batch * per_item;
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<T> omega(count), sigma(count), dgain(count), amp(count), delta(count), gate(batch * notes * n);
  std::vector<std::int64_t> start(count);
  std::vector<std::int32_t> env(count);
  for (long b = 0; b < batch; ++b)
    for (long k = 0; k < notes; ++k) {
      const long onset = static_cast<long>(u(rng) * 3 * rate);
      const long release = onset + static_cast<long>((1.0 + u(rng)) * rate);
      const double f0 = 27.5 * std::pow(2.0, u(rng) * 7);  // A0 .. A7
      for (long t = 0; t < n; ++t)
        gate[(b * notes + k) * n + t] = T(t < release ? 0.0 : std::min(1.0, (t - release) / 400.0));
      for (long h = 0; h < modes_per_note; ++h) {
        const long m = b * per_item + k * modes_per_note + h;
        omega[m] = T(std::min(3.1, 2 * 3.14159265 * f0 * (h + 1) * (1 + 1e-4 * h * h) / rate));
        sigma[m] = T(2e-5 * (1 + h));
        dgain[m] = T(0.01);
        amp[m] = T((u(rng) - 0.5) / (h + 1));
        delta[m] = T(u(rng) * 0.999);
        start[m] = onset;
        env[m] = static_cast<std::int32_t>(k);  // row within the item's own gate block
      }
    }
  DeviceBuffer<T> d_omega(omega), d_sigma(sigma), d_dgain(dgain), d_amp(amp), d_delta(delta), d_gate(gate);
  DeviceBuffer<std::int64_t> d_start(start);
  DeviceBuffer<std::int32_t> d_env(env);
  DeviceBuffer<T> y(batch * n), gy(batch * n), g_omega(count), g_sigma(count), g_dgain(count), g_amp(count),
      g_delta(count), g_gate(batch * notes * n);
  gpu::device_memset_zero(gy.data(), batch * n * sizeof(T));
  auto item = [&](long b) {
    const long o = b * per_item;
    return gpu::ModalBankDev<T>{per_item, d_omega.data() + o, d_sigma.data() + o, d_dgain.data() + o,
                                d_amp.data() + o, d_delta.data() + o, d_start.data() + o, d_env.data() + o};
  };
  const double s_fwd = time_it(repeats, [&] {
    for (long b = 0; b < batch; ++b)
      gpu::modal_forward<T>(item(b), d_gate.data() + b * notes * n, notes, n, y.data() + b * n);
  });
  const double s_bwd = time_it(repeats, [&] {
    for (long b = 0; b < batch; ++b) {
      const long o = b * per_item;
      gpu::ModalGradsDev<T> g{g_omega.data() + o, g_sigma.data() + o, g_dgain.data() + o,
                              g_amp.data() + o,   g_delta.data() + o, g_gate.data() + b * notes * n};
      gpu::modal_backward<T>(item(b), d_gate.data() + b * notes * n, notes, n, gy.data() + b * n, g);
    }
  });
  const double audio = batch * (n / rate);
  std::printf("BM_cuda_modal/forward/f32   batch %ld x %.0f s, %ld modes: %9.3f ms  %10.1f audio-s/s\n", batch,
              n / rate, count, s_fwd * 1e3, audio / s_fwd);
  std::printf("BM_cuda_modal/backward/f32  batch %ld x %.0f s, %ld modes: %9.3f ms  %10.1f audio-s/s\n", batch,
              n / rate, count, s_bwd * 1e3, audio / s_bwd);
}

// The transcriber's training step through the autodiff engine on CUDA (every op routed to the GPU).
void bench_transcriber_step(int repeats) {
  namespace pg = pianograd;
  const int64_t batch = 8, n = 4 * 16000;
  pg::Transcriber model{pg::TranscriberConfig{}};
  model.to(pg::kCUDA);
  pg::optim::Adam opt(model.parameters(), {});
  pg::manual_seed(1);
  const pg::Tensor audio = (pg::randn({batch, n}) * 0.1).cuda();
  const int64_t frames = model.num_frames(n);
  pg::TranscriptionTargets t;
  t.onset = pg::gt(pg::rand({batch, frames, 88}), pg::scalar(0.99)).cuda();
  t.frame = pg::gt(pg::rand({batch, frames, 88}), pg::scalar(0.9)).cuda();
  t.offset = pg::gt(pg::rand({batch, frames, 88}), pg::scalar(0.99)).cuda();
  t.velocity = pg::rand({batch, frames, 88}).cuda();
  auto step = [&] {
    opt.zero_grad();
    pg::TranscriptionLoss L = pg::transcription_loss(model.forward_all(audio), t);
    L.total.backward();
    opt.step();
  };
  step();  // warm-up: plans, allocator blocks
  pg::cuda::synchronize();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < repeats; ++i) step();
  pg::cuda::synchronize();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / repeats;
  std::printf("BM_cuda_transcriber_step/f32  batch %ld x 4 s: %9.3f ms/step  %8.2f steps/s\n",
              static_cast<long>(batch), s * 1e3, 1.0 / s);
}

}  // namespace

void bench_render(int repeats);  // gpu_bench_render.cpp: the renderers end to end (BM_cuda_render_*)

int main(int argc, char** argv) {
  if (!gpu::available()) {
    std::printf("no CUDA device: nothing to benchmark\n");
    return 0;
  }
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 20;
  const int dev = gpu::current_device();
  cudaDeviceProp prop{};
  cuda_ok(cudaGetDeviceProperties(&prop, dev), "cudaGetDeviceProperties");
  const double peak = peak_bandwidth_gbs(dev);
  std::printf("device %d: %s, %d SMs, theoretical DRAM bandwidth %.0f GB/s\n", dev, prop.name,
              prop.multiProcessorCount, peak);
  bench_elementwise<float>("f32", peak, repeats);
  bench_elementwise<double>("f64", peak, repeats);
  bench_modal(std::max(1, repeats / 4));
  bench_transcriber_step(std::max(1, repeats / 4));
  bench_render(std::max(1, repeats / 4));
  return 0;
}
