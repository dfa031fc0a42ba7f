// Row-wise reduction kernels: sum and softmax through the dispatcher, per ISA (IsaScope), float.
// Args are {rows, n}: 32 x 1000 stays under kParallelGrain (one thread, L2-resident: compute bound);
// 1024 x 1024 (4 MiB) is threaded and closer to memory bound. Bytes = bytes read (+ written).
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/reduce.h"

namespace {

namespace kc = pianograd::kernels::cpu;

std::vector<float> input(size_t n) {
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.f, 3.f);
  std::vector<float> v(n);
  for (auto& e : v) e = d(rng);
  return v;
}

// Runs `body` under the given ISA; skips when the CPU lacks it.
template <class F>
void with_isa(benchmark::State& state, kc::Isa isa, F&& body) {
  if (!kc::isa_supported(isa)) {
    state.SkipWithError("ISA not supported on this CPU");
    return;
  }
  kc::IsaScope scope(isa);
  body();
}

void sum_bench(benchmark::State& state, kc::Isa isa) {
  const long rows = state.range(0), n = state.range(1);
  const auto x = input(static_cast<size_t>(rows * n));
  std::vector<float> y(static_cast<size_t>(rows));
  with_isa(state, isa, [&] {
    for (auto _ : state) {
      kc::reduce_sum(x.data(), y.data(), rows, n, 1L);
      benchmark::DoNotOptimize(y.data());
    }
    state.SetBytesProcessed(state.iterations() * rows * n * static_cast<long>(sizeof(float)));
  });
}

void softmax_bench(benchmark::State& state, kc::Isa isa, bool log) {
  const long rows = state.range(0), n = state.range(1);
  const auto x = input(static_cast<size_t>(rows * n));
  std::vector<float> y(x.size());
  with_isa(state, isa, [&] {
    for (auto _ : state) {
      kc::softmax(x.data(), y.data(), rows, n, 1L, log);
      benchmark::DoNotOptimize(y.data());
    }
    state.SetBytesProcessed(state.iterations() * 2 * rows * n * static_cast<long>(sizeof(float)));
  });
}

void BM_reduce_sum_scalar(benchmark::State& s) { sum_bench(s, kc::Isa::scalar); }
void BM_reduce_sum_sse2(benchmark::State& s) { sum_bench(s, kc::Isa::sse2); }
void BM_reduce_sum_avx2(benchmark::State& s) { sum_bench(s, kc::Isa::avx2); }
void BM_softmax_scalar(benchmark::State& s) { softmax_bench(s, kc::Isa::scalar, false); }
void BM_softmax_sse2(benchmark::State& s) { softmax_bench(s, kc::Isa::sse2, false); }
void BM_softmax_avx2(benchmark::State& s) { softmax_bench(s, kc::Isa::avx2, false); }
void BM_log_softmax_scalar(benchmark::State& s) { softmax_bench(s, kc::Isa::scalar, true); }
void BM_log_softmax_sse2(benchmark::State& s) { softmax_bench(s, kc::Isa::sse2, true); }
void BM_log_softmax_avx2(benchmark::State& s) { softmax_bench(s, kc::Isa::avx2, true); }
void BM_reduce_sum_avx512(benchmark::State& s) { sum_bench(s, kc::Isa::avx512); }
void BM_softmax_avx512(benchmark::State& s) { softmax_bench(s, kc::Isa::avx512, false); }
void BM_log_softmax_avx512(benchmark::State& s) { softmax_bench(s, kc::Isa::avx512, true); }

#define PG_REDUCE_BENCH(fn, name) \
  BENCHMARK(fn)->Name(name)->Args({32, 1000})->Args({1024, 1024})->Unit(benchmark::kMicrosecond)
PG_REDUCE_BENCH(BM_reduce_sum_scalar, "BM_reduce_sum/scalar");
PG_REDUCE_BENCH(BM_reduce_sum_sse2, "BM_reduce_sum/sse2");
PG_REDUCE_BENCH(BM_reduce_sum_avx2, "BM_reduce_sum/avx2");
PG_REDUCE_BENCH(BM_reduce_sum_avx512, "BM_reduce_sum/avx512");
PG_REDUCE_BENCH(BM_softmax_scalar, "BM_softmax/scalar");
PG_REDUCE_BENCH(BM_softmax_sse2, "BM_softmax/sse2");
PG_REDUCE_BENCH(BM_softmax_avx2, "BM_softmax/avx2");
PG_REDUCE_BENCH(BM_softmax_avx512, "BM_softmax/avx512");
PG_REDUCE_BENCH(BM_log_softmax_scalar, "BM_log_softmax/scalar");
PG_REDUCE_BENCH(BM_log_softmax_sse2, "BM_log_softmax/sse2");
PG_REDUCE_BENCH(BM_log_softmax_avx2, "BM_log_softmax/avx2");
PG_REDUCE_BENCH(BM_log_softmax_avx512, "BM_log_softmax/avx512");
#undef PG_REDUCE_BENCH

}  // namespace
