// Shared by the transcriber's tests: a performance played by our piano, dry, as a [1, N] batch.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <unistd.h>

#include "autodiff/ops.h"
#include "models/transcriber.h"
#include "synth/event_renderer.h"
#include "synth/performance.h"

namespace pianograd::transcriber_test {

// Concert-grand parameters at `sample_rate`, no room, a 0.3 s tail; rendered without a tape.
inline Tensor render_dry_batch(const Performance& perf, double sample_rate) {
  RenderOptions ro;
  ro.sample_rate = sample_rate;
  ro.room = false;
  ro.tail_seconds = 0.3;
  PianoParams params = PianoParams::concert_grand(sample_rate);
  NoGrad ng;
  const Tensor audio = render(params, perf, ro);
  return reshape(audio, {1, audio.numel()});
}

// `m` has a branch whose parameter names start with `prefix`; `plain` holds the same weights without it.
// Backward of `loss` through both: the branch's parameters get gradient and every other parameter exactly
// the gradient it gets without the branch (the branch reads the trunk detached). Then `m` survives a save
// and load with its config and its `head` output.
inline void expect_detached_branch_round_trips(Transcriber& m, Transcriber& plain, const std::string& prefix,
                                               const std::function<Tensor(const TranscriberOutput&)>& loss,
                                               Tensor TranscriberOutput::*head) {
  namespace fs = std::filesystem;
  const Tensor audio = randn({1, 8000}) * 0.1;
  loss(m.forward_all(audio)).backward();
  loss(plain.forward_all(audio)).backward();
  std::map<std::string, Tensor> plain_grads;
  for (const auto& [name, p] : plain.named_parameters()) plain_grads[name] = p.grad();
  for (const auto& [name, p] : m.named_parameters()) {
    const double g = p.grad().defined() ? sum(abs(p.grad())).item() : 0.0;
    if (name.rfind(prefix, 0) == 0) {
      EXPECT_GT(g, 0.0) << name;
      continue;
    }
    const Tensor& want = plain_grads.at(name);
    ASSERT_EQ(p.grad().defined(), want.defined()) << name;
    if (want.defined()) {
      EXPECT_LT(max(abs(p.grad() - want)).item(), 1e-5) << name;
    }
  }
  const fs::path dir = fs::temp_directory_path() / ("pg_" + prefix + "_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "m.safetensors").string();
  m.save(path);
  auto back = Transcriber::load(path);
  EXPECT_EQ(back->config().to_json(), m.config().to_json());
  NoGrad ng;
  EXPECT_EQ((m.forward_all(audio).*head).to_vector<float>(), (back->forward_all(audio).*head).to_vector<float>());
  fs::remove_all(dir);
}

}  // namespace pianograd::transcriber_test
