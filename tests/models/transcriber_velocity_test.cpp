// The transcriber's velocity branch (issue 15, item 2): config and checkpoints, growing it on a trained
// model leaves every note output unchanged, it is detached from the trunk, and it learns the velocities
// of a rendered phrase.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "autodiff/errors.h"
#include "autodiff/ops.h"
#include "autodiff/nn/init.h"
#include "autodiff/optim/adam.h"
#include "models/transcriber.h"
#include "models/transcription_loss.h"
#include "synth/event_renderer.h"
#include "models/transcriber_test_util.h"
#include "synth/piano_roll.h"

namespace pianograd {
namespace {

constexpr double kSr = 16000;

TranscriberConfig velocity_config(uint64_t seed = 3) {
  TranscriberConfig c;
  c.seed = seed;
  c.velocity_channels = 8;
  c.velocity_readout = 6;
  return c;
}

// Gives the branch's (zero-initialised) output layer a nonzero weight, as training would.
void set_head(Transcriber& m, double value) {
  for (auto& [name, p] : m.named_parameters())
    if (name == "velocity_head_weight") {
      Tensor w = p;
      nn::init::constant_(w, value);
      return;
    }
  FAIL() << "no velocity_head_weight";
}

TEST(TranscriberVelocity, ConfigValidationAndJson) {
  TranscriberConfig c = velocity_config();
  c.velocity_dilations = {1, 3, 9};
  EXPECT_EQ(TranscriberConfig::from_json(c.to_json()).to_json(), c.to_json());
  // Checkpoints written before the branch existed have no velocity keys: the trunk's velocity head.
  EXPECT_EQ(TranscriberConfig::from_json("{\"seed\": 4}").velocity_channels, 0);
  TranscriberConfig bad = velocity_config();
  bad.velocity_kernel = 2;
  EXPECT_THROW(bad.validate(), ValueError);
  bad = velocity_config();
  bad.velocity_channels = -2;
  EXPECT_THROW(bad.validate(), ValueError);
  bad = velocity_config();
  bad.velocity_readout = 0;
  EXPECT_THROW(bad.validate(), ValueError);
  bad = velocity_config();
  bad.velocity_dilations = {};
  EXPECT_THROW(bad.validate(), ValueError);
  bad.velocity_dilations = {0};
  EXPECT_THROW(bad.validate(), ValueError);
}

TEST(TranscriberVelocity, LossSpreadCoversTheFramesBesideAnOnset) {
  // One onset (key 10, frame 2 of 5, velocity 0.75); the prediction is right at that frame only.
  const int64_t frames = 5;
  std::vector<float> on(frames * 88, 0.0f), vel(frames * 88, 0.0f), logit(frames * 88, 0.0f);
  on[2 * 88 + 10] = 1.0f;
  vel[2 * 88 + 10] = 0.75f;
  logit[2 * 88 + 10] = std::log(3.0f);  // sigmoid = 0.75; 0.5 elsewhere
  TranscriberOutput out;
  out.velocity = from_vector(logit, {1, frames, 88});
  out.onset = out.frame = out.offset = zeros({1, frames, 88});
  const TranscriptionTargets t{from_vector(on, {1, frames, 88}), zeros({1, frames, 88}), {},
                               from_vector(vel, {1, frames, 88}), {}, {}, {}};
  LossWeights w;
  EXPECT_NEAR(transcription_loss(out, t, w).velocity.item(), 0.0, 1e-7);
  w.velocity_spread = 1;  // frames 1 and 3 join with target 0.75 and prediction 0.5: (0 + 2 * 0.25^2) / 3
  EXPECT_NEAR(transcription_loss(out, t, w).velocity.item(), 2 * 0.0625 / 3, 1e-6);
  w.velocity_spread = 4;  // clipped at both ends of the roll: all 5 frames
  EXPECT_NEAR(transcription_loss(out, t, w).velocity.item(), 4 * 0.0625 / 5, 1e-6);
  // [F, 88] targets (B = 1) spread the same way.
  const TranscriptionTargets flat{reshape(t.onset, {frames, 88}), zeros({frames, 88}), {},
                                  reshape(t.velocity, {frames, 88}), {}, {}, {}};
  EXPECT_NEAR(transcription_loss(out, flat, w).velocity.item(), 4 * 0.0625 / 5, 1e-6);
  w.velocity_spread = -1;
  EXPECT_THROW(transcription_loss(out, t, w), ValueError);
}

TEST(TranscriberVelocity, RelativeLossIgnoresEachExamplesOffset) {
  // Two examples, two onsets each. Example 0 is off by -0.1 at both (a pure offset); example 1 by +0.1
  // and -0.1 (a real spread error).
  const int64_t frames = 4;
  std::vector<float> on(2 * frames * 88, 0.0f), vel(on), logit(on);
  auto put = [&](int64_t b, int64_t f, int64_t k, float target, float predicted) {
    const size_t i = static_cast<size_t>((b * frames + f) * 88 + k);
    on[i] = 1.0f;
    vel[i] = target;
    logit[i] = std::log(predicted / (1.0f - predicted));
  };
  put(0, 1, 5, 0.6f, 0.5f);
  put(0, 2, 9, 0.8f, 0.7f);
  put(1, 0, 30, 0.4f, 0.5f);
  put(1, 3, 31, 0.6f, 0.5f);
  TranscriberOutput out;
  out.velocity = from_vector(logit, {2, frames, 88});
  out.onset = out.frame = out.offset = zeros({2, frames, 88});
  const TranscriptionTargets t{from_vector(on, {2, frames, 88}), zeros({2, frames, 88}), {},
                               from_vector(vel, {2, frames, 88}), {}, {}, {}};
  LossWeights w;
  EXPECT_NEAR(transcription_loss(out, t, w).velocity.item(), 0.01, 1e-6);  // every error is 0.1
  w.velocity_relative = 1.0;  // example 0's offset is free; example 1's errors are centred already
  EXPECT_NEAR(transcription_loss(out, t, w).velocity.item(), 2 * 0.01 / 4, 1e-6);
  w.velocity_relative = 0.25;
  EXPECT_NEAR(transcription_loss(out, t, w).velocity.item(), 0.75 * 0.01 + 0.25 * 0.005, 1e-6);
  w.velocity_relative = 1.5;
  EXPECT_THROW(transcription_loss(out, t, w), ValueError);
  // With the relative share alone, the pure offset of example 0 gets no gradient; example 1's spread does.
  w.velocity_relative = 1.0;
  Tensor logits = from_vector(logit, {2, frames, 88}).requires_grad_(true);
  out.velocity = logits;
  transcription_loss(out, t, w).velocity.backward();
  const std::vector<float> g = logits.grad().to_vector<float>();
  EXPECT_NEAR(g[1 * 88 + 5], 0.0, 1e-7);
  EXPECT_NEAR(g[2 * 88 + 9], 0.0, 1e-7);
  EXPECT_GT(std::abs(g[(frames + 0) * 88 + 30]), 1e-4);
}

TEST(TranscriberVelocity, KeyPositionIsOneMoreInputOfTheBranch) {
  TranscriberConfig c = velocity_config();
  c.velocity_key_position = true;
  EXPECT_EQ(TranscriberConfig::from_json(c.to_json()).velocity_key_position, true);
  Transcriber with(c), without(velocity_config());
  // One more input channel of the first time conv: velocity_channels x velocity_kernel weights.
  EXPECT_EQ(with.parameter_count() - without.parameter_count(), c.velocity_channels * c.velocity_kernel);
  set_head(with, 0.05);
  NoGrad ng;
  // A silent input: every key reads the same levels, so only the key's place can tell them apart.
  const std::vector<float> v = with.forward_all(zeros({1, 4000})).velocity.to_vector<float>();
  EXPECT_NE(v[20], v[60]);  // keys far from both ends of the keyboard (no zero padding reaches them)
  set_head(without, 0.05);
  const std::vector<float> u = without.forward_all(zeros({1, 4000})).velocity.to_vector<float>();
  EXPECT_FLOAT_EQ(u[20], u[60]);
}

TEST(TranscriberVelocity, GrownOnATrainedModelChangesOnlyTheVelocity) {
  TranscriberConfig base;
  base.seed = 7;
  base.pedal_channels = 4;
  Transcriber plain(base);
  TranscriberConfig grown_cfg = base;
  grown_cfg.velocity_channels = 8;
  Transcriber grown(grown_cfg);
  EXPECT_GT(grown.parameter_count(), plain.parameter_count());
  grown.load_state_dict(plain.state_dict(), /*strict=*/false);  // what `init` + a model override does
  NoGrad ng;
  const Tensor audio = randn({2, 12000}) * 0.1;
  const TranscriberOutput a = plain.forward_all(audio), b = grown.forward_all(audio);
  EXPECT_EQ(a.onset.to_vector<float>(), b.onset.to_vector<float>());
  EXPECT_EQ(a.frame.to_vector<float>(), b.frame.to_vector<float>());
  EXPECT_EQ(a.offset.to_vector<float>(), b.offset.to_vector<float>());
  EXPECT_EQ(a.pedal_frame.to_vector<float>(), b.pedal_frame.to_vector<float>());
  // Its head starts at zero: the grown model is the trained one until the branch learns.
  EXPECT_EQ(a.velocity.to_vector<float>(), b.velocity.to_vector<float>());
  set_head(grown, 0.05);
  const TranscriberOutput c = grown.forward_all(audio);
  EXPECT_EQ(a.onset.to_vector<float>(), c.onset.to_vector<float>());
  EXPECT_NE(a.velocity.to_vector<float>(), c.velocity.to_vector<float>());
}

TEST(TranscriberVelocity, DetachedFromTheTrunkAndSavedWithItsConfig) {
  Transcriber m(velocity_config());
  set_head(m, 0.05);
  TranscriberConfig plain_cfg = velocity_config();
  plain_cfg.velocity_channels = 0;
  Transcriber plain(plain_cfg);
  plain.load_state_dict(m.state_dict(), /*strict=*/false);
  // The trunk gets exactly the gradient it gets without the branch (its own velocity head's).
  transcriber_test::expect_detached_branch_round_trips(
      m, plain, "velocity", [](const TranscriberOutput& o) { return sum(o.velocity); }, &TranscriberOutput::velocity);
}

TEST(TranscriberVelocity, LearnsTheVelocitiesOfARenderedPhrase) {
  // Repeated keys at spread velocities, a held chord under some: level alone, not pitch, tells them apart.
  Performance perf;
  const int vels[] = {30, 100, 55, 80, 40, 110, 65, 90};
  for (int i = 0; i < 8; ++i) {
    const double on = 0.1 + 0.3 * i;
    perf.notes.push_back({i % 2 ? 60 : 67, on, on + 0.25, vels[i]});
  }
  perf.notes.push_back({48, 1.0, 2.4, 70});
  const Tensor audio = transcriber_test::render_dry_batch(perf, kSr);
  const int64_t n = audio.size(1);
  Transcriber m(velocity_config(1));
  const int64_t f = m.num_frames(n);
  const PianoRolls r = performance_to_rolls(perf, m.frame_rate(), {true, f});
  auto keys = [](const Tensor& t) { return reshape(t, {1, t.size(0), 88}); };
  const TranscriptionTargets targets{keys(r.onset), keys(r.frame), keys(r.offset), keys(r.velocity), {}, {}, {}};
  std::vector<Tensor> branch;
  for (const auto& [name, p] : m.named_parameters())
    if (name.rfind("velocity", 0) == 0) branch.push_back(p);
  optim::AdamOptions o;
  o.lr = 2e-2;
  optim::Adam opt(branch, o);
  double first = 0, last = 0;
  for (int step = 0; step < 120; ++step) {
    opt.zero_grad();
    TranscriptionLoss L = transcription_loss(m.forward_all(audio), targets);
    L.velocity.backward();
    opt.step();
    if (step == 0) first = L.velocity.item();
    last = L.velocity.item();
  }
  EXPECT_LT(last, 0.05 * first);
  // At each strike the branch's velocity is within 6 MIDI units of the played one.
  NoGrad ng;
  const std::vector<float> v = sigmoid(m.forward_all(audio).velocity).to_vector<float>();
  const std::vector<float> on = r.onset.to_vector<float>(), want = r.velocity.to_vector<float>();
  int checked = 0;
  for (size_t i = 0; i < on.size(); ++i) {
    if (on[i] < 0.5f) continue;
    EXPECT_NEAR(127.0 * v[i], 127.0 * want[i], 6.0) << "cell " << i;
    ++checked;
  }
  EXPECT_EQ(checked, 9);
}

}  // namespace
}  // namespace pianograd
