// Dev harness for the modal-bank scan kernel, in the manner of llm.c's dev/cuda: build a bank, run
// the CPU reference, run the CUDA kernel, validate, then time it with CUDA events. Iterate on
// kernels/cuda/modal_scan.cu and re-run this:
//   ./build-cuda/bench/cuda/dev_modal_scan [modes=1024] [samples=64000] [repeats=20]
// The default is one batch item of the issue-6 target: ~10 notes x ~100 modes, 4 s at 16 kHz.
// Prints "no CUDA device" and exits 0 where there is no GPU.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "kernels/cpu/modal.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device.h"

namespace pk = pianograd::kernels;
namespace gpu = pianograd::kernels::cuda;

namespace {

void cuda_ok(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

template <class T>
int run(long modes, long n, int repeats, double sample_rate) {
  const long rows = 10;  // one damper envelope per note
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<T> omega(modes), sigma(modes), dgain(modes), amp(modes), delta(modes);
  std::vector<std::int64_t> start(modes);
  std::vector<std::int32_t> env(modes);
  for (long m = 0; m < modes; ++m) {
    omega[m] = T(0.005 + 3.0 * u(rng));
    sigma[m] = T(1e-5 + 1e-3 * u(rng));
    dgain[m] = T(0.01 * u(rng));
    amp[m] = T(u(rng) - 0.5);
    delta[m] = T(u(rng) * 0.999);
    start[m] = static_cast<std::int64_t>(u(rng) * n * 0.5);
    env[m] = static_cast<std::int32_t>(m % rows);
  }
  std::vector<T> gate(rows * n);
  for (long r = 0; r < rows; ++r)
    for (long t = 0; t < n; ++t) gate[r * n + t] = T(t < n / 2 + r * 1000 ? 0.0 : std::min(1.0, (t - n / 2.0) / 800.0));

  // CPU reference (the dispatched SIMD kernel, threaded), without truncation: the GPU kernel's contract.
  pk::cpu::ModalBank<T> bank{modes, omega.data(), sigma.data(), dgain.data(), amp.data(), delta.data(),
                             start.data(), env.data()};
  pk::cpu::ModalOptions opt;
  opt.rel_threshold = 0;
  std::vector<T> want(n);
  const auto c0 = std::chrono::steady_clock::now();
  pk::cpu::modal_forward(bank, gate.data(), rows, n, want.data(), opt);
  const double cpu_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - c0).count();

  gpu::DeviceBuffer<T> d_omega(omega), d_sigma(sigma), d_dgain(dgain), d_amp(amp), d_delta(delta), d_gate(gate), dy(n);
  gpu::DeviceBuffer<std::int64_t> d_start(start);
  gpu::DeviceBuffer<std::int32_t> d_env(env);
  gpu::ModalBankDev<T> db{modes, d_omega.data(), d_sigma.data(), d_dgain.data(), d_amp.data(),
                          d_delta.data(), d_start.data(), d_env.data()};
  gpu::modal_forward(db, d_gate.data(), rows, n, dy.data());
  gpu::synchronize();

  // Validate.
  const std::vector<T> got = dy.to_host();
  double max_err = 0, max_ref = 0;
  for (long t = 0; t < n; ++t) {
    max_err = std::max(max_err, std::fabs(double(got[t]) - double(want[t])));
    max_ref = std::max(max_ref, std::fabs(double(want[t])));
  }
  // float: both sides round ~N times per mode (a random walk of ~sqrt(N) eps), summed over the modes.
  const double tol = (sizeof(T) == 4 ? 1e-3 : 1e-10) * std::max(1.0, max_ref);
  std::printf("%s: max |gpu - cpu| = %.3g (max |y| = %.3g, tolerance %.3g) %s\n", sizeof(T) == 4 ? "float" : "double",
              max_err, max_ref, tol, max_err <= tol ? "OK" : "MISMATCH");
  if (max_err > tol) return 1;

  // Time.
  cudaEvent_t e0, e1;
  cuda_ok(cudaEventCreate(&e0), "cudaEventCreate");
  cuda_ok(cudaEventCreate(&e1), "cudaEventCreate");
  cuda_ok(cudaEventRecord(e0), "cudaEventRecord");
  for (int r = 0; r < repeats; ++r) gpu::modal_forward(db, d_gate.data(), rows, n, dy.data());
  cuda_ok(cudaEventRecord(e1), "cudaEventRecord");
  cuda_ok(cudaEventSynchronize(e1), "cudaEventSynchronize");
  float ms = 0;
  cuda_ok(cudaEventElapsedTime(&ms, e0, e1), "cudaEventElapsedTime");
  const double per = ms / repeats;
  const double mode_samples = static_cast<double>(modes) * n;
  std::printf("  gpu %.3f ms/run (%.2f Gmode-samples/s, %.0fx real time at %.0f Hz); cpu %.1f ms (1 run)\n", per,
              mode_samples / (per * 1e6), (n / sample_rate) / (per * 1e-3), sample_rate, cpu_ms);
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (!gpu::available()) {
    std::printf("no CUDA device: nothing to run\n");
    return 0;
  }
  const long modes = argc > 1 ? std::atol(argv[1]) : 1024;
  const long n = argc > 2 ? std::atol(argv[2]) : 64000;
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 20;
  cudaDeviceProp prop{};
  cuda_ok(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  std::printf("device: %s, modes %ld, samples %ld\n", prop.name, modes, n);
  int rc = run<float>(modes, n, repeats, 16000.0);
  rc |= run<double>(modes, n, repeats, 16000.0);
  return rc;
}
