// Single-threaded square GEMM, C = A @ B, in GFLOP/s (counter "GFLOPS"): our packed xsimd kernel vs
// Eigen's GEMM (Eigen::Map over the same buffers, compiled for AVX2+FMA; see gemm_eigen_avx2.cpp)
// vs the scalar reference (small sizes only: it is O(n^3) with no blocking).
// Both backends are called directly, below the dispatcher and its threading. The figures decide
// kernels/cpu/gemm.cpp's pick_backend().
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/isa.h"

namespace {
namespace kc = pianograd::kernels::cpu;

template <class T>
using Fn = void (*)(bool, bool, long, long, long, T, const T*, long, const T*, long, T, T*, long);

template <class T>
void run(benchmark::State& state, Fn<T> fn) {
  if (fn == &kc::gemm_eigen<T> && !kc::gemm_eigen_available()) {
    state.SkipWithError("Eigen backend needs AVX2");
    return;
  }
  const long n = state.range(0);
  std::mt19937 rng(0);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<T> a(static_cast<size_t>(n * n)), b(a.size()), c(a.size());
  for (auto& x : a) x = static_cast<T>(u(rng));
  for (auto& x : b) x = static_cast<T>(u(rng));
  for (auto _ : state) {
    fn(false, false, n, n, n, T(1), a.data(), n, b.data(), n, T(0), c.data(), n);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOPS"] =
      benchmark::Counter(2e-9 * static_cast<double>(n * n * n), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(kc::isa_name(kc::active_isa()));
}

void BM_matmul_f32_ours(benchmark::State& s) { run<float>(s, &kc::gemm_packed<float>); }
void BM_matmul_f32_eigen(benchmark::State& s) { run<float>(s, &kc::gemm_eigen<float>); }
void BM_matmul_f32_ref(benchmark::State& s) { run<float>(s, &kc::ref::gemm<float>); }
void BM_matmul_f64_ours(benchmark::State& s) { run<double>(s, &kc::gemm_packed<double>); }
void BM_matmul_f64_eigen(benchmark::State& s) { run<double>(s, &kc::gemm_eigen<double>); }

}  // namespace

BENCHMARK(BM_matmul_f32_ours)->Name("BM_matmul_f32/ours")->RangeMultiplier(2)->Range(64, 1024);
BENCHMARK(BM_matmul_f32_eigen)->Name("BM_matmul_f32/eigen")->RangeMultiplier(2)->Range(64, 1024);
BENCHMARK(BM_matmul_f32_ref)->Name("BM_matmul_f32/ref")->RangeMultiplier(2)->Range(64, 256);
BENCHMARK(BM_matmul_f64_ours)->Name("BM_matmul_f64/ours")->RangeMultiplier(2)->Range(64, 1024);
BENCHMARK(BM_matmul_f64_eigen)->Name("BM_matmul_f64/eigen")->RangeMultiplier(2)->Range(64, 1024);
