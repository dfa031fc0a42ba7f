// conv1d at an audio-model size (N=8, C=64 -> 64, L=1024, K=3, padding 1), forward and forward +
// backward (input and weight gradients), through the public ops (im2col + GEMM + bias), in GFLOP/s
// of the convolution arithmetic: forward 2*N*Cout*L*Cin*K, backward twice that. The thread count is
// OpenMP's; rates are per process CPU second (robust on a shared machine; with OMP_NUM_THREADS=1,
// single-thread GFLOP/s).
#include <benchmark/benchmark.h>

#include "pianograd.h"

namespace {
using namespace pianograd;

constexpr int64_t kN = 8, kC = 64, kL = 1024, kK = 3;
constexpr double kFwdFlops = 2.0 * kN * kC * kL * kC * kK;

void BM_conv1d_fwd(benchmark::State& state) {
  manual_seed(0);
  const Tensor x = randn({kN, kC, kL}), w = randn({kC, kC, kK}), b = randn({kC});
  NoGrad ng;
  for (auto _ : state) {
    Tensor y = conv1d(x, w, b, 1, 1);
    benchmark::DoNotOptimize(y.raw_data());
  }
  state.counters["GFLOPS"] = benchmark::Counter(kFwdFlops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_conv1d_fwd_bwd(benchmark::State& state) {
  manual_seed(0);
  Tensor x = randn({kN, kC, kL}).requires_grad_(), w = randn({kC, kC, kK}).requires_grad_(),
         b = randn({kC}).requires_grad_();
  const Tensor gy = ones({kN, kC, kL});
  for (auto _ : state) {
    Tensor y = conv1d(x, w, b, 1, 1);
    y.backward(gy);
    benchmark::DoNotOptimize(w.grad().raw_data());
    x.zero_grad();
    w.zero_grad();
    b.zero_grad();
  }
  state.counters["GFLOPS"] =
      benchmark::Counter(3.0 * kFwdFlops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_conv1d_fwd)->Name("BM_conv1d/fwd_N8_C64_L1024_K3")->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
BENCHMARK(BM_conv1d_fwd_bwd)->Name("BM_conv1d/fwd_bwd_N8_C64_L1024_K3")->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
