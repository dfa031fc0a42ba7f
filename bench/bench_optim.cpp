// Adam step on 1M f32 parameters: the fused kernel (one pass over p, g, m, v) against its scalar
// reference and against the same update composed from engine ops (~10 full passes plus allocations).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstring>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/optim.h"
#include "pianograd.h"

namespace {

using namespace pianograd;
namespace kc = pianograd::kernels::cpu;

constexpr int64_t kParams = 1 << 20;

kc::AdamStep step_at(int t) {
  kc::AdamStep s;
  s.bias_correction1 = 1.0 - std::pow(s.beta1, t);
  s.bias_correction2 = 1.0 - std::pow(s.beta2, t);
  return s;
}

void set_bytes(benchmark::State& state) {
  // Reads p, g, m, v and writes p, m, v: 7 floats per parameter per step.
  state.SetBytesProcessed(state.iterations() * kParams * 7 * static_cast<int64_t>(sizeof(float)));
}

void BM_adam_fused(benchmark::State& state) {
  manual_seed(0);
  Tensor p = randn({kParams}), g = randn({kParams}), m = zeros({kParams}), v = zeros({kParams});
  const kc::AdamStep s = step_at(10);
  for (auto _ : state) {
    kc::adam_update<float>(p.data<float>(), g.data<float>(), m.data<float>(), v.data<float>(), kParams, s);
    benchmark::ClobberMemory();
  }
  set_bytes(state);
}
BENCHMARK(BM_adam_fused)->Name("BM_adam/fused")->Unit(benchmark::kMicrosecond);

void BM_adam_fused_1thread(benchmark::State& state) {
  manual_seed(0);
  Tensor p = randn({kParams}), g = randn({kParams}), m = zeros({kParams}), v = zeros({kParams});
  const kc::AdamStep s = step_at(10);
  const long grain = 1L << 14;  // one thread: call the ISA body chunk by chunk below the OpenMP grain
  for (auto _ : state) {
    for (long lo = 0; lo < kParams; lo += grain)
      kc::adam_update<float>(p.data<float>() + lo, g.data<float>() + lo, m.data<float>() + lo, v.data<float>() + lo,
                             grain, s);
    benchmark::ClobberMemory();
  }
  set_bytes(state);
}
BENCHMARK(BM_adam_fused_1thread)->Name("BM_adam/fused_1thread")->Unit(benchmark::kMicrosecond);

void BM_adam_scalar(benchmark::State& state) {
  manual_seed(0);
  Tensor p = randn({kParams}), g = randn({kParams}), m = zeros({kParams}), v = zeros({kParams});
  const kc::AdamStep s = step_at(10);
  for (auto _ : state) {
    kc::ref::adam_update<float>(p.data<float>(), g.data<float>(), m.data<float>(), v.data<float>(), kParams, s);
    benchmark::ClobberMemory();
  }
  set_bytes(state);
}
BENCHMARK(BM_adam_scalar)->Name("BM_adam/scalar")->Unit(benchmark::kMicrosecond);

// The naive version: every line is an op that allocates its result and sweeps memory again.
void BM_adam_ops(benchmark::State& state) {
  manual_seed(0);
  Tensor p = randn({kParams}), g = randn({kParams}), m = zeros({kParams}), v = zeros({kParams});
  const kc::AdamStep s = step_at(10);
  NoGrad ng;
  for (auto _ : state) {
    m = add(mul(m, s.beta1), mul(g, 1.0 - s.beta1));
    v = add(mul(v, s.beta2), mul(mul(g, g), 1.0 - s.beta2));
    const Tensor denom = add(mul(sqrt(v), 1.0 / std::sqrt(s.bias_correction2)), s.eps);
    p = sub(p, mul(div(m, denom), s.lr / s.bias_correction1));
    benchmark::DoNotOptimize(p.raw_data());
  }
  set_bytes(state);
}
BENCHMARK(BM_adam_ops)->Name("BM_adam/ops")->Unit(benchmark::kMicrosecond);

}  // namespace
