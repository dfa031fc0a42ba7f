// Per-op cost of the tape on tiny tensors ([4] elements), where the arithmetic is free and what is
// measured is allocation, dispatch, recording and the backward walk: a chain of 1000 ops cycling
// add/mul/tanh/sub/sigmoid, forward + backward. Counter per_op = CPU time per op (seconds, printed with SI prefix: 380n = 380 ns).
#include <benchmark/benchmark.h>

#include "pianograd.h"

namespace {

using namespace pianograd;

constexpr int kChain = 1000;

Tensor chain(const Tensor& x, const Tensor& c) {
  Tensor y = x;
  for (int i = 0; i < kChain; ++i) {
    switch (i % 5) {
      case 0: y = add(y, c); break;
      case 1: y = mul(y, c); break;
      case 2: y = tanh(y); break;
      case 3: y = sub(y, c); break;
      default: y = sigmoid(y); break;
    }
  }
  return y;
}

void set_ns_per_op(benchmark::State& state, int ops_per_iter) {
  // kIsIterationInvariantRate | kInvert: (iterations * ops / time)^-1 = seconds per op (CPU time).
  state.counters["per_op"] = benchmark::Counter(static_cast<double>(ops_per_iter),
                                                   benchmark::Counter::kIsIterationInvariantRate |
                                                       benchmark::Counter::kInvert);
}

void BM_autodiff_overhead_forward_nograd(benchmark::State& state) {
  Tensor x = full({4}, 0.3), c = full({4}, 0.7);
  NoGrad ng;
  for (auto _ : state) benchmark::DoNotOptimize(chain(x, c).raw_data());
  set_ns_per_op(state, kChain);
}
BENCHMARK(BM_autodiff_overhead_forward_nograd);

void BM_autodiff_overhead_forward(benchmark::State& state) {
  Tensor x = full({4}, 0.3).requires_grad_(), c = full({4}, 0.7);
  for (auto _ : state) benchmark::DoNotOptimize(chain(x, c).raw_data());
  set_ns_per_op(state, kChain);
}
BENCHMARK(BM_autodiff_overhead_forward);

void BM_autodiff_overhead_forward_backward(benchmark::State& state) {
  Tensor x = full({4}, 0.3).requires_grad_(), c = full({4}, 0.7).requires_grad_();
  for (auto _ : state) {
    Tensor y = chain(x, c);
    y.backward(ones({4}));
    x.zero_grad();
    c.zero_grad();
  }
  set_ns_per_op(state, kChain);
}
BENCHMARK(BM_autodiff_overhead_forward_backward);

}  // namespace
