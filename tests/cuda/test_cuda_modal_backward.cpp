// The CUDA modal backward (reverse scan, kernels/cuda/modal_scan_backward.cu) against
// cpu::ref::modal_backward without truncation (its contract). Skips with "no CUDA device" without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/modal.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device.h"

namespace pk = pianograd::kernels;
namespace gpu = pianograd::kernels::cuda;
using gpu::DeviceBuffer;

namespace {

// |got - want| <= tol * (1 + max |want|): the gradients are sums over thousands of samples.
template <class T>
void expect_close(const std::vector<T>& got, const std::vector<T>& want, double tol, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 1.0;
  for (T w : want) scale = std::max(scale, std::fabs(double(w)));
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(double(got[i]), double(want[i]), tol * scale) << what << " at " << i;
}

// Modes starting mid-tile, on a tile edge, at the last sample and past the end; amp = 0; gated and
// ungated rows; several tiles of 1024 samples.
template <class T>
void check_modal_backward(double tol) {
  if (!gpu::available()) GTEST_SKIP() << "no CUDA device";
  const long count = 48, n = 4100, rows = 3;
  std::mt19937_64 rng(33);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<T> omega(count), sigma(count), dgain(count), amp(count), delta(count), gy(n), gate(rows * n);
  std::vector<std::int64_t> start(count);
  std::vector<std::int32_t> env(count);
  for (long i = 0; i < count; ++i) {
    omega[i] = T(0.01 + 3.0 * u(rng));
    sigma[i] = T(1e-4 + 2e-3 * u(rng));
    dgain[i] = T(0.05 * u(rng));
    amp[i] = T(i % 11 == 0 ? 0.0 : u(rng) - 0.5);
    delta[i] = T(u(rng) * 0.999);
    start[i] = static_cast<std::int64_t>(u(rng) * n);
    env[i] = static_cast<std::int32_t>(i % (rows + 1)) - 1;
  }
  start[1] = 0;
  start[2] = 1024;
  start[3] = n - 1;
  start[4] = n + 7;
  for (long t = 0; t < n; ++t) gy[t] = T(std::sin(0.01 * t) * (u(rng) - 0.5));
  for (long r = 0; r < rows; ++r)
    for (long t = 0; t < n; ++t) gate[r * n + t] = T(t < (r + 1) * n / 4 ? 0.0 : std::min(1.0, (t % 500) / 200.0));

  pk::cpu::ModalBank<T> bank{count, omega.data(), sigma.data(), dgain.data(), amp.data(), delta.data(),
                             start.data(), env.data()};
  pk::cpu::ModalOptions opt;
  opt.rel_threshold = 0;
  std::vector<T> w_omega(count), w_sigma(count), w_dgain(count), w_amp(count), w_delta(count), w_gate(rows * n);
  pk::cpu::ModalGrads<T> want{w_omega.data(), w_sigma.data(), w_dgain.data(), w_amp.data(), w_delta.data(),
                              w_gate.data()};
  pk::cpu::ref::modal_backward(bank, gate.data(), rows, n, gy.data(), want, opt);

  DeviceBuffer<T> d_omega(omega), d_sigma(sigma), d_dgain(dgain), d_amp(amp), d_delta(delta), d_gate(gate), d_gy(gy);
  DeviceBuffer<std::int64_t> d_start(start);
  DeviceBuffer<std::int32_t> d_env(env);
  DeviceBuffer<T> g_omega(count), g_sigma(count), g_dgain(count), g_amp(count), g_delta(count), g_gate(rows * n);
  gpu::ModalBankDev<T> db{count, d_omega.data(), d_sigma.data(), d_dgain.data(), d_amp.data(),
                          d_delta.data(), d_start.data(), d_env.data()};
  gpu::ModalGradsDev<T> dg{g_omega.data(), g_sigma.data(), g_dgain.data(), g_amp.data(), g_delta.data(),
                           g_gate.data()};
  gpu::modal_backward(db, d_gate.data(), rows, n, d_gy.data(), dg);
  gpu::synchronize();
  expect_close(g_omega.to_host(), w_omega, tol, "omega");
  expect_close(g_sigma.to_host(), w_sigma, tol, "sigma");
  expect_close(g_dgain.to_host(), w_dgain, tol, "dgain");
  expect_close(g_amp.to_host(), w_amp, tol, "amp");
  expect_close(g_delta.to_host(), w_delta, tol, "delta");
  expect_close(g_gate.to_host(), w_gate, tol, "gate");

  // Null outputs are skipped, and the rest is unchanged by their absence.
  DeviceBuffer<T> g_amp2(count);
  gpu::ModalGradsDev<T> only_amp;
  only_amp.amp = g_amp2.data();
  gpu::modal_backward(db, d_gate.data(), rows, n, d_gy.data(), only_amp);
  expect_close(g_amp2.to_host(), w_amp, tol, "amp only");
}

TEST(CudaModal, ScanBackwardMatchesCpuReferenceFloat) { check_modal_backward<float>(2e-3); }
TEST(CudaModal, ScanBackwardMatchesCpuReferenceDouble) { check_modal_backward<double>(1e-9); }

}  // namespace
