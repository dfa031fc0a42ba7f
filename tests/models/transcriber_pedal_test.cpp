// The transcriber's sustain pedal head (issue 15, item 3): shapes, config, checkpoints, chunked inference,
// the loss term, and learning the pedalling of a rendered phrase until its events decode exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <unistd.h>
#include <vector>

#include "autodiff/errors.h"
#include "autodiff/ops.h"
#include "autodiff/optim/adam.h"
#include "models/transcriber.h"
#include "models/transcription_loss.h"
#include "models/transcription_metrics.h"
#include "synth/event_renderer.h"
#include "models/transcriber_test_util.h"
#include "synth/pedal_roll.h"
#include "synth/piano_roll.h"

namespace pianograd {
namespace {

constexpr double kSr = 16000;

TranscriberConfig pedal_config(uint64_t seed = 2) {
  TranscriberConfig c;
  c.seed = seed;
  c.pedal_channels = 8;
  return c;
}

TEST(TranscriberPedal, HeadShapesAndItsAbsence) {
  Transcriber m(pedal_config());
  EXPECT_TRUE(m.has_pedal());
  NoGrad ng;
  const TranscriberOutput y = m.forward_all(randn({2, 8000}) * 0.1);
  const int64_t f = m.num_frames(8000);
  for (const Tensor* t : {&y.pedal_onset, &y.pedal_frame, &y.pedal_offset}) EXPECT_EQ(t->shape(), (Shape{2, f}));
  Transcriber plain(TranscriberConfig{});
  EXPECT_FALSE(plain.has_pedal());
  const TranscriberOutput z = plain.forward_all(randn({1, 4000}));
  EXPECT_FALSE(z.pedal_frame.defined());
  // The pedal head adds parameters only when asked for.
  EXPECT_GT(m.parameter_count(), plain.parameter_count());
}

TEST(TranscriberPedal, ConfigValidationAndJson) {
  TranscriberConfig c = pedal_config();
  c.pedal_dilations = {1, 2, 8};
  EXPECT_EQ(TranscriberConfig::from_json(c.to_json()).to_json(), c.to_json());
  // A checkpoint written before the pedal head existed has no pedal keys: no pedal head.
  EXPECT_EQ(TranscriberConfig::from_json("{\"seed\": 4}").pedal_channels, 0);
  TranscriberConfig bad = pedal_config();
  bad.pedal_kernel = 4;
  EXPECT_THROW(bad.validate(), ValueError);
  bad = pedal_config();
  bad.pedal_channels = -1;
  EXPECT_THROW(bad.validate(), ValueError);
  bad = pedal_config();
  bad.pedal_dilations = {};
  EXPECT_THROW(bad.validate(), ValueError);
  bad.pedal_dilations = {0};
  EXPECT_THROW(bad.validate(), ValueError);
}

TEST(TranscriberPedal, SaveLoadAndChunkedInferenceMatchForward) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("pg_pedal_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  Transcriber m(pedal_config(5));
  const std::string path = (dir / "m.safetensors").string();
  m.save(path);
  auto back = Transcriber::load(path);
  EXPECT_TRUE(back->has_pedal());
  NoGrad ng;
  const Tensor audio = randn({1, 16000}) * 0.05;
  const TranscriberOutput a = m.forward_all(audio), b = back->forward_all(audio);
  EXPECT_EQ(a.pedal_frame.to_vector<float>(), b.pedal_frame.to_vector<float>());
  EXPECT_EQ(a.pedal_onset.to_vector<float>(), b.pedal_onset.to_vector<float>());
  // One chunk (1 s < chunk_seconds): predict_rolls' pedal rolls are the sigmoid of forward_all's logits on
  // the chunk it runs, the audio zero-padded to F * hop samples (frames f <-> samples f * hop).
  const std::vector<float> samples = audio.to_vector<float>();
  const PianoRolls r = m.predict_rolls(samples.data(), 16000, kSr);
  ASSERT_TRUE(r.pedal.frame.defined());
  const int64_t frames = m.num_frames(16000);
  EXPECT_EQ(r.pedal.frame.shape(), (Shape{frames}));
  std::vector<float> padded = samples;
  padded.resize(static_cast<size_t>(frames * m.config().hop), 0.0f);
  const TranscriberOutput c = m.forward_all(from_vector(padded, {1, frames * m.config().hop}));
  const std::vector<float> want = sigmoid(c.pedal_frame).to_vector<float>(), got = r.pedal.frame.to_vector<float>();
  ASSERT_EQ(got.size(), static_cast<size_t>(frames));
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << i;
  fs::remove_all(dir);
}

TEST(TranscriberPedal, LossTermOnlyWithHeadAndTargets) {
  Transcriber m(pedal_config()), plain(TranscriberConfig{});
  const Tensor audio = randn({1, 8000}) * 0.1;
  const int64_t f = m.num_frames(8000);
  TranscriptionTargets t{zeros({1, f, 88}), zeros({1, f, 88}), {}, {}, zeros({1, f}), ones({1, f}), zeros({1, f})};
  const TranscriptionLoss with = transcription_loss(m.forward_all(audio), t);
  EXPECT_GT(with.pedal.item(), 0.0);
  EXPECT_NEAR(with.total.item(), with.onset.item() + with.frame.item() + with.pedal.item(), 1e-5);
  EXPECT_EQ(transcription_loss(plain.forward_all(audio), t).pedal.item(), 0.0);  // no head: targets ignored
  LossWeights w;
  w.pedal = 0.0;
  EXPECT_NEAR(transcription_loss(m.forward_all(audio), t, w).total.item(), with.onset.item() + with.frame.item(), 1e-5);
  t.pedal_frame = ones({1, f + 1});
  EXPECT_THROW(transcription_loss(m.forward_all(audio), t), ShapeError);
  // [F] pedal targets are accepted for B = 1, as [F, 88] key targets are.
  t.pedal_frame = ones({f});
  EXPECT_NO_THROW(transcription_loss(m.forward_all(audio), t));
}

TEST(TranscriberPedal, LearnsThePedallingOfARenderedPhrase) {
  // Staccato keys under two pedal segments: only the pedal keeps them ringing, so the head must hear it.
  Performance perf;
  for (int i = 0; i < 10; ++i) {
    const double on = 0.1 + 0.25 * i;
    perf.notes.push_back({48 + 3 * i, on, on + 0.08, 60 + 4 * i});
  }
  perf.pedal = {{0.3, 1.0}, {1.1, 0.0}, {1.6, 1.0}, {2.4, 0.0}};
  const Tensor audio = transcriber_test::render_dry_batch(perf, kSr);
  const int64_t n = audio.size(1);
  Transcriber m(pedal_config(1));
  const int64_t f = m.num_frames(n);
  const PianoRolls r = performance_to_rolls(perf, m.frame_rate(), {true, f});
  const PedalRolls p = performance_to_pedal_rolls(perf, m.frame_rate(), f);
  auto keys = [](const Tensor& t) { return reshape(t, {1, t.size(0), 88}); };
  auto line = [](const Tensor& t) { return reshape(t, {1, t.size(0)}); };
  const TranscriptionTargets targets{keys(r.onset), keys(r.frame), keys(r.offset), keys(r.velocity),
                                     line(p.onset), line(p.frame), line(p.offset)};
  optim::AdamOptions o;
  o.lr = 1e-2;
  optim::Adam opt(m.parameters(), o);
  const std::vector<float> samples = audio.to_vector<float>();
  double first = 0, last = 0, f1 = 0;
  size_t points = 0;
  for (int step = 0; step < 400 && f1 < 1.0; ++step) {
    opt.zero_grad();
    TranscriptionLoss L = transcription_loss(m.forward_all(audio), targets);
    L.pedal.backward();  // the key heads are not the subject here
    opt.step();
    if (step == 0) first = L.pedal.item();
    last = L.pedal.item();
    if (step >= 50 && (step + 1) % 25 == 0) {
      const Performance est = m.transcribe(samples.data(), n, kSr);
      f1 = pedal_metrics(perf, est).f1;
      points = est.pedal.size();
    }
  }
  EXPECT_LT(last, 0.8 * first);  // it stops as soon as the events decode exactly
  EXPECT_EQ(f1, 1.0) << "decoded " << points << " pedal points";
}

}  // namespace
}  // namespace pianograd
