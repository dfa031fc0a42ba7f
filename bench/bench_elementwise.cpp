// Elementwise kernels: SIMD (active ISA, dispatched + OpenMP) vs the scalar reference vs memcpy of the
// same traffic. In-cache (4096 elements: compute bound, shows the SIMD speedup) and 16M elements
// (64 MiB per array: memory bound, where everything should approach the memcpy ceiling).
// bytes_per_second counts every byte read and written (add: 2 loads + 1 store per element), over
// wall-clock time (UseRealTime: CPU time of the main thread would overstate the threaded variants).
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/isa.h"

namespace {

namespace kc = pianograd::kernels::cpu;
using pianograd::kernels::BinaryOp;
using pianograd::kernels::UnaryOp;

constexpr long kSmall = 4096;
constexpr long kLarge = 16L << 20;

std::vector<float> input(long n, unsigned seed) {
  std::vector<float> v(static_cast<size_t>(n));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);  // exp stays finite
  for (auto& x : v) x = u(rng);
  return v;
}

// threads: 1, or 0 = all the machine's cores. Restores the OpenMP setting afterwards.
struct Threads {
  int prev;
  explicit Threads(int n) : prev(omp_get_max_threads()) { omp_set_num_threads(n > 0 ? n : omp_get_num_procs()); }
  ~Threads() { omp_set_num_threads(prev); }
};

void BM_binary(benchmark::State& state, BinaryOp op, bool simd, long n, int threads) {
  const auto a = input(n, 1), b = input(n, 2);
  std::vector<float> y(static_cast<size_t>(n));
  Threads th(threads);
  for (auto _ : state) {
    if (simd) kc::binary<float>(op, a.data(), 1, b.data(), 1, y.data(), n);
    else kc::ref::binary<float>(op, a.data(), 1, b.data(), 1, y.data(), n);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * n * 3 * static_cast<int64_t>(sizeof(float)));
  state.SetItemsProcessed(state.iterations() * n);
  state.SetLabel(simd ? kc::isa_name(kc::active_isa()) : "scalar ref");
}

void BM_unary(benchmark::State& state, UnaryOp op, bool simd, long n, int threads) {
  const auto x = input(n, 3);
  std::vector<float> y(static_cast<size_t>(n));
  Threads th(threads);
  for (auto _ : state) {
    if (simd) kc::unary<float>(op, x.data(), y.data(), n);
    else kc::ref::unary<float>(op, x.data(), y.data(), n);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * n * 2 * static_cast<int64_t>(sizeof(float)));
  state.SetItemsProcessed(state.iterations() * n);
  state.SetLabel(simd ? kc::isa_name(kc::active_isa()) : "scalar ref");
}

// The ceiling: copying n floats moves 2n*4 bytes (read + write), counted like the kernels' traffic.
// The all-threads variant copies one chunk per thread, as the kernels split their work.
void BM_memcpy(benchmark::State& state, long n, int threads) {
  const auto x = input(n, 4);
  std::vector<float> y(static_cast<size_t>(n));
  Threads th(threads);
  for (auto _ : state) {
    if (threads == 1) {
      std::memcpy(y.data(), x.data(), static_cast<size_t>(n) * sizeof(float));
    } else {
#pragma omp parallel
      {
        const long nt = omp_get_num_threads(), t = omp_get_thread_num();
        const long chunk = (n + nt - 1) / nt, lo = std::min(n, t * chunk), hi = std::min(n, lo + chunk);
        if (hi > lo) std::memcpy(y.data() + lo, x.data() + lo, static_cast<size_t>(hi - lo) * sizeof(float));
      }
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * n * 2 * static_cast<int64_t>(sizeof(float)));
}

// BM_<op>/<variant>/<size>[/<threads>]; the scalar reference is single-threaded by construction.
const bool registered = [] {
  struct Size {
    long n;
    const char* name;
  };
  const Size sizes[] = {{kSmall, "4096"}, {kLarge, "16M"}};
  for (const Size& s : sizes) {
    const bool large = s.n == kLarge;
    const std::vector<std::pair<int, std::string>> thread_variants =
        large ? std::vector<std::pair<int, std::string>>{{1, "/1thread"}, {0, "/allthreads"}}
              : std::vector<std::pair<int, std::string>>{{1, ""}};
    const std::pair<BinaryOp, const char*> binops[] = {{BinaryOp::add, "add"}, {BinaryOp::mul, "mul"}};
    for (auto [op, name] : binops) {
      for (const auto& [t, suffix] : thread_variants)
        benchmark::RegisterBenchmark((std::string("BM_") + name + "/simd/" + s.name + suffix).c_str(), BM_binary,
                                     op, true, s.n, t)->UseRealTime();
      benchmark::RegisterBenchmark((std::string("BM_") + name + "/scalar/" + s.name).c_str(), BM_binary, op, false,
                                   s.n, 1)->UseRealTime();
    }
    for (const auto& [t, suffix] : thread_variants)
      benchmark::RegisterBenchmark((std::string("BM_exp/simd/") + s.name + suffix).c_str(), BM_unary, UnaryOp::exp,
                                   true, s.n, t)->UseRealTime();
    benchmark::RegisterBenchmark((std::string("BM_exp/scalar/") + s.name).c_str(), BM_unary, UnaryOp::exp, false,
                                 s.n, 1)->UseRealTime();
    for (const auto& [t, suffix] : thread_variants)
      benchmark::RegisterBenchmark((std::string("BM_memcpy/") + s.name + suffix).c_str(), BM_memcpy, s.n, t)
          ->UseRealTime();
  }
  return true;
}();

}  // namespace
