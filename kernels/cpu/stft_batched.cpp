// Baseline-compiled dispatcher of the batched STFT: the plan cache, the ISA choice and the OpenMP
// split over groups of frames (the per-ISA bodies are in stft_batched_simd.h).
#include "kernels/cpu/stft_batched.h"

#include <omp.h>

#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <numbers>
#include <stdexcept>
#include <string>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/kernel_registry.h"

namespace pianograd::kernels::cpu {
namespace {

bool power_of_two_at_least_16(long n) { return n >= 16 && (n & (n - 1)) == 0; }

// Input placement of the in-place decimation-in-time FFT (stft_batched_simd.h): the transform of
// size len at positions [off, off+len) over inputs z[j0 + stride u], u < len, keeps the transform of
// its inputs u = c mod 4 (c mod 2 at the top when log2 len is odd) in quarter (half) c. The size-4
// transforms at the bottom all read z[j + c m/4], c < 4.
void place(std::vector<long>& blockpos, long off, long len, long j0, long stride) {
  if (len == 4) {
    blockpos[static_cast<size_t>(j0)] = off;
  } else if ((len & 0x5555555555555555L) == 0) {  // odd power of two: one radix-2 split
    for (long c = 0; c < 2; ++c) place(blockpos, off + c * (len / 2), len / 2, j0 + c * stride, 2 * stride);
  } else {
    for (long c = 0; c < 4; ++c) place(blockpos, off + c * (len / 4), len / 4, j0 + c * stride, 4 * stride);
  }
}

std::unique_ptr<StftBatchedPlan> make_plan(long n) {
  auto plan = std::make_unique<StftBatchedPlan>();
  plan->n = n;
  plan->window = hann_window<float>(n);  // the KissFFT path's window, bit for bit
  plan->wr.resize(static_cast<size_t>(n));
  plan->wi.resize(static_cast<size_t>(n));
  for (long k = 0; k < n; ++k) {
    // Angles in double, rounded once; k = n/4, n/2, 3n/4 get exact zeros (cos(pi/2) is 6e-17 in
    // double), so the DC and Nyquist bins come out exactly real, as from KissFFT.
    const double a = 2 * std::numbers::pi * static_cast<double>(k) / static_cast<double>(n);
    double c = std::cos(a), s = -std::sin(a);
    if (4 * k % n == 0) {
      c = std::round(c);
      s = std::round(s);
    }
    plan->wr[static_cast<size_t>(k)] = static_cast<float>(c);
    plan->wi[static_cast<size_t>(k)] = static_cast<float>(s);
  }
  plan->blockpos.resize(static_cast<size_t>(n / 8));
  place(plan->blockpos, 0, n / 2, 0, 1);
  return plan;
}

using GroupFn = void (*)(const float*, long, const StftGeometry&, const StftBatchedPlan&, long, float*,
                         std::complex<float>*);

}  // namespace

const StftBatchedPlan& stft_batched_plan(long n) {
  static std::mutex mu;
  static std::map<long, std::unique_ptr<StftBatchedPlan>> plans;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = plans[n];
  if (!slot) slot = make_plan(n);
  return *slot;
}

bool stft_batched_supported(long n_fft) {
  return power_of_two_at_least_16(n_fft) && active_isa() != Isa::scalar;
}

void stft_magnitude_batched(const float* x, long batch, const StftGeometry& g, float* mag, std::complex<float>* spec) {
  if (!stft_batched_supported(g.n_fft))
    throw std::invalid_argument("stft_magnitude_batched: n_fft must be a power of two >= 16 under a SIMD ISA, got " +
                                std::to_string(g.n_fft) + " under " + isa_name(active_isa()));
  GroupFn fn = nullptr;
  long lanes = 0;
  switch (active_isa()) {
    // AVX-512 hosts run the 8-frame AVX2 groups: on the AMD EPYC Zen 4 we measured, 16-frame groups took
    // the 2048-point STFT of 8 x 4 s from 4.0 to 5.9 ms (bench/stft_bench.cpp), transposes in registers
    // or not. The 16-lane logic stays tested (tests/kernels/emulated_stft_test.cpp).
    case Isa::avx512:
    case Isa::avx2: fn = &avx2::stft_group; lanes = avx2::stft_lanes(); break;
    case Isa::sse2: fn = &sse2::stft_group; lanes = sse2::stft_lanes(); break;
    case Isa::scalar: break;  // excluded above
  }
  const long total = batch * g.frames();
  if (total <= 0) return;
  const StftBatchedPlan& plan = stft_batched_plan(g.n_fft);
  const long groups = (total + lanes - 1) / lanes;
#pragma omp parallel for schedule(static) if (groups > 1)
  for (long gi = 0; gi < groups; ++gi) fn(x, batch, g, plan, gi * lanes, mag, spec);
}

// stft_magnitude (stft.cpp) takes this batched path for float; the conformance suite checks it there.
PG_CPU_KERNEL(stft_magnitude);

}  // namespace pianograd::kernels::cpu
