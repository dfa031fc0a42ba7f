// The motion LM (models/motion_lm.h) at its shipped shape (configs/lm/shipped.json: d_model 128, 4 layers,
// 4 heads, d_ff 480, context 512, the piano state read beside the tokens, 829,568 parameters), one thread:
//   * sampling: generate() continuing a BOS prompt by a fixed number of tokens (EOS held back by
//     min_new_tokens), with the KV cache (one token through the network per step) and without it
//     (every step recomputes the whole window, the cost the cache removes). items = tokens sampled.
//   * training: one AdamW step (forward, cross-entropy, backward, clipping, update) on [16, 513]
//     tokens, as `pianograd train lm` runs it. items = tokens trained on.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <random>

#include "autodiff/ops.h"
#include "autodiff/optim/adam.h"
#include "autodiff/optim/clip.h"
#include "kernels/cpu/isa.h"
#include "models/motion_lm.h"
#include "models/motion_sampling.h"

namespace {
namespace pg = pianograd;

pg::MotionLMConfig shipped() {
  pg::MotionLMConfig c;
  c.d_ff = 480;
  c.state_features = true;
  return c;
}

struct OneThread {
  int prev = omp_get_max_threads();
  OneThread() { omp_set_num_threads(1); }
  ~OneThread() { omp_set_num_threads(prev); }
};

void BM_motion_lm_sample(benchmark::State& state) {
  OneThread one;
  const bool cache = state.range(0) != 0;
  const int64_t n = state.range(1);
  pg::MotionTokenizer tok;
  pg::MotionLM model(shipped());
  pg::SamplingOptions o;
  o.use_cache = cache;
  o.max_new_tokens = o.min_new_tokens = n;
  o.top_p = 0.95;
  int64_t tokens = 0;
  for (auto _ : state) {
    const auto out = pg::generate(model, tok, {{}}, o);
    tokens += static_cast<int64_t>(out[0].size());
    ++o.seed;
  }
  state.SetItemsProcessed(tokens);
  state.counters["params"] = static_cast<double>(model.num_parameters());
  state.SetLabel(std::string(cache ? "kv cache, " : "no cache, ") + pg::kernels::cpu::isa_name(pg::kernels::cpu::active_isa()));
}

void BM_motion_lm_train_step(benchmark::State& state) {
  OneThread one;
  const int64_t B = state.range(0), T = 512;
  pg::MotionLM model(shipped());
  model.train();
  std::mt19937_64 rng(3);
  pg::Tensor x = pg::zeros({B, T + 1}, pg::DType::i64);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<int64_t>()[i] = 3 + static_cast<int64_t>(rng() % 310);
  const std::vector<pg::Tensor> params = model.parameters();
  pg::optim::AdamOptions ao;
  ao.lr = 1e-3;
  ao.weight_decay = 0.05;
  pg::optim::AdamW opt(params, ao);
  for (auto _ : state) {
    opt.zero_grad();
    const pg::Tensor loss = model.loss(x);
    loss.backward();
    pg::optim::clip_grad_norm(params, 1.0);
    opt.step();
    benchmark::DoNotOptimize(loss.item());
  }
  state.SetItemsProcessed(state.iterations() * B * T);
  state.SetLabel(pg::kernels::cpu::isa_name(pg::kernels::cpu::active_isa()));
}

}  // namespace

// 256 tokens: a few seconds of music; 1024 passes the context twice, so the cache restarts.
BENCHMARK(BM_motion_lm_sample)
    ->ArgNames({"cache", "tokens"})
    ->Args({1, 256})
    ->Args({0, 256})
    ->Args({1, 1024})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_motion_lm_train_step)->ArgName("batch")->Arg(4)->Arg(16)->Unit(benchmark::kMillisecond);
