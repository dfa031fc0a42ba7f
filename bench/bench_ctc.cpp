// ctc_loss forward + backward at the size of the OMR model's training batch: B = 16 sequences of T = 256
// frames over C = 100 classes, targets of S = 60 labels (input lengths 200..256, target lengths 40..60).
// The op runs the alpha and beta recursions once each (the gradient is formed in the forward pass when
// logits require it); the no-grad variant is the alpha recursion alone (evaluation). Arg: thread count.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <random>
#include <vector>

#include "pianograd.h"

namespace {

using namespace pianograd;

struct Batch {
  Tensor logits, targets, input_lengths, target_lengths;
};

Batch make_batch() {
  constexpr int64_t B = 16, T = 256, C = 100, S = 60;
  manual_seed(1);
  Batch b{mul(randn({B, T, C}), 2.0), randint(1, C, {B, S}), Tensor(), Tensor()};
  std::mt19937 rng(2);
  std::vector<int64_t> il(B), tl(B);
  for (int64_t i = 0; i < B; ++i) {
    il[size_t(i)] = 200 + int64_t(rng() % 57);
    tl[size_t(i)] = 40 + int64_t(rng() % 21);
  }
  b.input_lengths = from_vector(il);
  b.target_lengths = from_vector(tl);
  return b;
}

void BM_ctc_loss_forward_backward(benchmark::State& state) {
  const Batch b = make_batch();
  const int prev = omp_get_max_threads();
  omp_set_num_threads(int(state.range(0)));
  Tensor x = b.logits.detach().requires_grad_(true);
  for (auto _ : state) {
    x.zero_grad();
    Tensor y = ctc_loss(x, b.targets, b.input_lengths, b.target_lengths);
    y.backward();
    benchmark::DoNotOptimize(x.grad().raw_data());
  }
  omp_set_num_threads(prev);
  state.SetItemsProcessed(state.iterations() * 16);  // sequences
}
BENCHMARK(BM_ctc_loss_forward_backward)->Arg(1)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ctc_loss_forward_nograd(benchmark::State& state) {
  const Batch b = make_batch();
  const int prev = omp_get_max_threads();
  omp_set_num_threads(int(state.range(0)));
  NoGrad ng;
  for (auto _ : state) benchmark::DoNotOptimize(ctc_loss(b.logits, b.targets, b.input_lengths, b.target_lengths).raw_data());
  omp_set_num_threads(prev);
  state.SetItemsProcessed(state.iterations() * 16);
}
BENCHMARK(BM_ctc_loss_forward_nograd)->Arg(1)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
