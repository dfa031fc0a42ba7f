// Causal self-attention of a small Transformer LM, [B, H, T, D] = [8, 4, T, 32], one thread, float:
// the fused op (scaled_dot_product_attention: FlashAttention-2 tiling, online softmax, no T x T matrix)
// against the op chain it replaces (matmul + additive mask + softmax + matmul through the engine, as
// nn::MultiheadAttention computes with an explicit mask), forward and forward + backward.
//
// Counters: GFLOPS = useful flops per second, counted the same for both (so they compare as times):
// 2 D flops per (query, visible key) pair per matmul, T (T + 1) / 2 pairs per head under the causal
// mask; 2 matmuls forward, 5 backward (the recomputed scores, dP, dV, dQ, dK): the FlashAttention-2
// paper's convention (backward = 2.5x forward). The op chain computes all T^2 scores (and no
// recomputation), so its real work differs from the count. items = tokens (B T).
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cmath>

#include "autodiff/nn/attention.h"
#include "autodiff/ops.h"
#include "autodiff/ops/attention.h"
#include "kernels/cpu/isa.h"

namespace {
namespace pg = pianograd;
namespace kc = pianograd::kernels::cpu;

constexpr int64_t kB = 8, kH = 4, kD = 32;

struct OneThread {
  int prev = omp_get_max_threads();
  OneThread() { omp_set_num_threads(1); }
  ~OneThread() { omp_set_num_threads(prev); }
};

pg::Tensor chain(const pg::Tensor& q, const pg::Tensor& k, const pg::Tensor& v, const pg::Tensor& mask, double scale) {
  const pg::Tensor s = pg::add(pg::matmul(pg::mul(q, scale), pg::transpose(k, 2, 3)), mask);
  return pg::matmul(pg::softmax(s, -1), v);
}

void run(benchmark::State& state, bool fused, bool backward) {
  OneThread one;
  const int64_t T = state.range(0);
  pg::manual_seed(1);
  pg::Tensor q = pg::randn({kB, kH, T, kD}), k = pg::randn({kB, kH, T, kD}), v = pg::randn({kB, kH, T, kD});
  const pg::Tensor g = pg::randn({kB, kH, T, kD});
  const pg::Tensor mask = pg::nn::MultiheadAttention::causal_mask(T, T);
  const double scale = 1.0 / std::sqrt(static_cast<double>(kD));
  if (backward)
    for (pg::Tensor* t : {&q, &k, &v}) t->requires_grad_(true);
  for (auto _ : state) {
    const pg::Tensor o = fused ? pg::scaled_dot_product_attention(q, k, v, true, scale) : chain(q, k, v, mask, scale);
    if (backward) {
      o.backward(g);
      benchmark::DoNotOptimize(q.grad().data<float>());
      for (pg::Tensor* t : {&q, &k, &v}) t->zero_grad();
    }
    benchmark::DoNotOptimize(o.data<float>());
  }
  const double pairs = static_cast<double>(kB * kH) * static_cast<double>(T) * static_cast<double>(T + 1) / 2;
  const double flops = 2.0 * static_cast<double>(kD) * pairs * (backward ? 7 : 2);
  state.counters["GFLOPS"] = benchmark::Counter(1e-9 * flops, benchmark::Counter::kIsIterationInvariantRate);
  state.SetItemsProcessed(state.iterations() * kB * T);
  state.SetLabel(kc::isa_name(kc::active_isa()));
}

void BM_attention_fused(benchmark::State& s) { run(s, true, false); }
void BM_attention_op_chain(benchmark::State& s) { run(s, false, false); }
void BM_attention_fused_fwd_bwd(benchmark::State& s) { run(s, true, true); }
void BM_attention_op_chain_fwd_bwd(benchmark::State& s) { run(s, false, true); }

}  // namespace

BENCHMARK(BM_attention_fused)->Name("BM_attention_fused/fwd")->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_attention_op_chain)->Name("BM_attention_op_chain/fwd")->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_attention_fused_fwd_bwd)->Name("BM_attention_fused/fwd_bwd")->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_attention_op_chain_fwd_bwd)
    ->Name("BM_attention_op_chain/fwd_bwd")
    ->Arg(256)
    ->Arg(1024)
    ->Unit(benchmark::kMillisecond);
