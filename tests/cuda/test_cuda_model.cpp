// The transcriber path on CUDA (issue 6): every op it needs beyond the core set (slice, concat,
// stack, pad, permute, clamp, maximum/minimum VJPs, softmax over a non-last axis, harmonic_stack,
// the pointwise losses, SGD) against the CPU, forward and input gradients; nn::Module::to moving a
// model in place; and one Transcriber training step (features, network, loss, backward, Adam) on
// CUDA against the same step on the CPU, plus predict_rolls on a CUDA model. Labelled `gpu`; skips
// with "no CUDA device" where there is none.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "autodiff/device.h"
#include "autodiff/nn/linear.h"
#include "autodiff/ops.h"
#include "autodiff/optim/adam.h"
#include "autodiff/optim/sgd.h"
#include "models/transcriber.h"
#include "models/transcription_loss.h"
#include "cuda_test.h"


namespace {

// f on CPU inputs and on their CUDA copies: outputs and every input gradient (of sum(out * r) with a
// fixed random r) agree.
void check_op(const std::string& name, const std::vector<Shape>& shapes, const Fn& f, DType dt = DType::f64,
              double tol = 1e-10) {
  SCOPED_TRACE(name);
  pg::manual_seed(7);
  std::vector<Tensor> cpu_in, gpu_in;
  for (const Shape& s : shapes) {
    Tensor x = pg::randn(s, dt);
    cpu_in.push_back(x.detach().requires_grad_(true));
    gpu_in.push_back(x.detach().cuda().requires_grad_(true));
  }
  Tensor yc = f(cpu_in), yg = f(gpu_in);
  ASSERT_TRUE(yg.is_cuda()) << name << " did not stay on the device";
  expect_close(yg, yc, tol, name + " forward");
  Tensor r = pg::randn(yc.shape(), dt);
  pg::sum(yc * r).backward();
  pg::sum(yg * r.cuda()).backward();
  for (size_t i = 0; i < shapes.size(); ++i)
    if (cpu_in[i].grad().defined())
      expect_close(gpu_in[i].grad(), cpu_in[i].grad(), tol, name + " grad " + std::to_string(i));
}

TEST(CudaModelOps, MatchCpu) {
  PG_REQUIRE_GPU();
  check_op("slice step 2", {{3, 10, 4}}, [](auto& in) { return pg::slice(in[0], 1, 1, 9, 2); });
  check_op("slice last", {{2, 3, 7}}, [](auto& in) { return pg::slice(in[0], -1, 2, 6); });
  check_op("concat", {{2, 3, 4}, {2, 5, 4}}, [](auto& in) { return pg::concat({in[0], in[1]}, 1); });
  check_op("stack", {{3, 4}, {3, 4}, {3, 4}}, [](auto& in) { return pg::stack({in[0], in[1], in[2]}, 1); });
  check_op("pad", {{2, 3, 5}}, [](auto& in) { return pg::pad(in[0], {2, 1, 0, 3}, 0.5); });
  check_op("pad crop", {{2, 6}}, [](auto& in) { return pg::pad(in[0], {-2, 1}); });
  check_op("permute", {{2, 3, 4, 5}}, [](auto& in) { return pg::permute(in[0], {2, 0, 3, 1}); });
  check_op("clamp", {{4, 33}}, [](auto& in) { return pg::clamp(in[0], -0.5, 0.7); });
  check_op("maximum broadcast", {{4, 1, 6}, {5, 1}}, [](auto& in) { return pg::maximum(in[0], in[1]); });
  check_op("minimum", {{4, 6}, {4, 6}}, [](auto& in) { return pg::minimum(in[0], in[1]); });
  check_op("softmax axis 1", {{3, 7, 5}}, [](auto& in) { return pg::softmax(in[0], 1); });
  check_op("log_softmax axis 0", {{6, 4}}, [](auto& in) { return pg::log_softmax(in[0], 0); });
  check_op("harmonic_stack", {{2, 5, 40}}, [](auto& in) { return pg::harmonic_stack(in[0], {-12, 0, 19, 36, 50}); });
  check_op("bce pos_weight", {{3, 9}, {3, 9}}, [](auto& in) {
    return pg::bce_with_logits(in[0], pg::sigmoid(in[1]), pg::Reduction::mean,
                               pg::scalar(3.0, in[0].dtype(), in[0].device()));
  });
  check_op("mse sum", {{5, 4}, {5, 4}}, [](auto& in) { return pg::mse_loss(in[0], in[1], pg::Reduction::sum); });
  check_op("l1 none", {{5, 4}, {5, 4}}, [](auto& in) { return pg::l1_loss(in[0], in[1], pg::Reduction::none); });
  check_op("harmonic_stack f32", {{1, 3, 264}}, [](auto& in) { return pg::harmonic_stack(in[0], {-36, 0, 19}); },
           DType::f32, 1e-6);
}

TEST(CudaModelOps, FftConvolveMatchesCpu) {
  PG_REQUIRE_GPU();
  // K < T, K > T, a batch, and float (FFT rounding grows with the length).
  check_op("fft_convolve 1-D", {{100}, {17}}, [](auto& in) { return pg::fft_convolve(in[0], in[1]); });
  check_op("fft_convolve long IR", {{30}, {45}}, [](auto& in) { return pg::fft_convolve(in[0], in[1]); });
  check_op("fft_convolve batch", {{3, 257}, {64}}, [](auto& in) { return pg::fft_convolve(in[0], in[1]); });
  check_op("fft_convolve f32", {{2, 4000}, {300}}, [](auto& in) { return pg::fft_convolve(in[0], in[1]); },
           DType::f32, 2e-4);
}

TEST(CudaModelOps, SgdMatchesCpu) {
  PG_REQUIRE_GPU();
  for (bool nesterov : {false, true}) {
    pg::manual_seed(3);
    Tensor p0 = pg::randn({1000}), g0 = pg::randn({1000});
    Tensor pc = p0.clone().detach().requires_grad_(true), pgpu = p0.cuda().detach().requires_grad_(true);
    pg::optim::SGDOptions o;
    o.lr = 0.1;
    o.momentum = 0.9;
    o.weight_decay = 0.01;
    o.nesterov = nesterov;
    pg::optim::SGD sc({pc}, o), sg({pgpu}, o);
    for (int step = 0; step < 3; ++step) {  // the first step initialises the buffer, later ones use it
      pc.set_grad(g0 * (1.0 + step));
      pgpu.set_grad((g0 * (1.0 + step)).cuda());
      sc.step();
      sg.step();
    }
    expect_close(pgpu, pc, 1e-6, nesterov ? "sgd nesterov" : "sgd momentum");
  }
}

TEST(CudaModule, ToMovesInPlaceAndOptimizerFollows) {
  PG_REQUIRE_GPU();
  pg::manual_seed(1);
  pg::nn::Linear lin(4, 3);
  Tensor w = lin.weight;  // a handle taken before the move
  pg::optim::Adam opt(lin.parameters(), {});
  Tensor x = pg::randn({2, 4});
  pg::sum(lin(x)).backward();
  opt.step();  // state made on the CPU
  Tensor w_cpu = w.detach().clone();
  lin.to(pg::kCUDA);
  EXPECT_TRUE(w.is_cuda());
  EXPECT_TRUE(lin.weight.is_same(w));
  EXPECT_TRUE(lin.device() == pg::kCUDA);
  expect_close(w, w_cpu, 0, "moved values");
  opt.zero_grad();
  pg::sum(lin(x.cuda())).backward();
  opt.step();  // the Adam moments follow the parameters to the device
  EXPECT_TRUE(w.is_cuda());
  lin.cpu();
  EXPECT_FALSE(w.is_cuda());
}

pg::TranscriberConfig tiny_config() {
  pg::TranscriberConfig c;
  c.n_fft = 512;
  c.hop = 160;
  c.harmonics = {0.5, 1, 2, 3};
  c.conv_channels = {4};
  c.key_channels = 6;
  c.key_context_channels = 4;
  c.temporal_channels = 6;
  c.temporal_dilations = {1, 2};
  c.frame_channels = 4;
  c.chunk_seconds = 1.0;
  c.context_seconds = 0.2;
  return c;
}

TEST(CudaTranscriber, TrainingStepMatchesCpu) {
  PG_REQUIRE_GPU();
  const pg::TranscriberConfig cfg = tiny_config();
  auto cpu_model = std::make_shared<pg::Transcriber>(cfg);
  auto gpu_model = std::make_shared<pg::Transcriber>(cfg);  // same seed: same initial weights
  gpu_model->to(pg::kCUDA);
  pg::manual_seed(11);
  const int64_t batch = 2, n = 16000;
  Tensor audio = pg::randn({batch, n}) * 0.1;
  const int64_t frames = cpu_model->num_frames(n);
  pg::TranscriptionTargets t;
  t.onset = pg::gt(pg::rand({batch, frames, 88}), pg::scalar(0.97));
  t.frame = pg::gt(pg::rand({batch, frames, 88}), pg::scalar(0.8));
  t.offset = pg::gt(pg::rand({batch, frames, 88}), pg::scalar(0.97));
  t.velocity = pg::rand({batch, frames, 88});
  pg::optim::Adam oc(cpu_model->parameters(), {}), og(gpu_model->parameters(), {});
  double losses[2];
  for (int which = 0; which < 2; ++which) {
    pg::Transcriber& m = which ? *gpu_model : *cpu_model;
    pg::optim::Adam& opt = which ? og : oc;
    opt.zero_grad();
    // The GPU model gets CPU audio and CPU targets: both follow the model's device.
    pg::TranscriptionLoss L = pg::transcription_loss(m.forward_all(audio), t);
    EXPECT_EQ(L.total.is_cuda(), which == 1);
    L.total.backward();
    losses[which] = L.total.item();
  }
  EXPECT_NEAR(losses[1], losses[0], 1e-4 * std::max(1.0, std::fabs(losses[0])));
  const auto pc = cpu_model->named_parameters(), pgpu = gpu_model->named_parameters();
  ASSERT_EQ(pc.size(), pgpu.size());
  for (size_t i = 0; i < pc.size(); ++i) {
    ASSERT_TRUE(pgpu[i].second.is_cuda()) << pgpu[i].first;
    // Gradients are sums over thousands of cells in float: relative to the largest one.
    const auto gc = pc[i].second.grad().to_vector<double>();
    double scale = 1e-6;
    for (double v : gc) scale = std::max(scale, std::fabs(v));
    expect_close(pgpu[i].second.grad() * (1.0 / scale), pc[i].second.grad() * (1.0 / scale), 2e-3,
                 "grad " + pc[i].first);
  }
  // Adam's first step is ~lr * sign(g): where a gradient is at rounding level its sign may differ
  // between backends, so the updated values are compared where |g| is clearly above that level.
  std::vector<std::vector<double>> grads;
  for (const auto& [name, p] : pc) grads.push_back(p.grad().to_vector<double>());
  oc.step();
  og.step();
  for (size_t i = 0; i < pc.size(); ++i) {
    const auto a = pgpu[i].second.cpu().to_vector<double>(), b = pc[i].second.to_vector<double>();
    double scale = 0;
    for (double v : grads[i]) scale = std::max(scale, std::fabs(v));
    for (size_t k = 0; k < a.size(); ++k)
      if (std::fabs(grads[i][k]) > 1e-3 * scale) {
        ASSERT_NEAR(a[k], b[k], 1e-5) << "param " << pc[i].first << " at " << k;
      }
  }
}

TEST(CudaTranscriber, PredictRollsMatchesCpu) {
  PG_REQUIRE_GPU();
  const pg::TranscriberConfig cfg = tiny_config();
  pg::Transcriber cpu_model(cfg), gpu_model(cfg);
  gpu_model.cuda();
  pg::manual_seed(5);
  const std::vector<float> audio = (pg::randn({40000}) * 0.1).to_vector<float>();  // several chunks
  const pg::PianoRolls rc = cpu_model.predict_rolls(audio.data(), 40000, cfg.sample_rate);
  const pg::PianoRolls rg = gpu_model.predict_rolls(audio.data(), 40000, cfg.sample_rate);
  EXPECT_FALSE(rg.onset.is_cuda());
  expect_close(rg.onset, rc.onset, 1e-4, "onset roll");
  expect_close(rg.frame, rc.frame, 1e-4, "frame roll");
  expect_close(rg.velocity, rc.velocity, 1e-4, "velocity roll");
  EXPECT_NO_THROW(gpu_model.transcribe(audio.data(), 40000, cfg.sample_rate, {}));
}

}  // namespace
