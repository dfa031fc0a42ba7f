// The transcriber's loudness reference (issue 15, item 2): the front end normalised by a given reference
// instead of each example's own peak, the whole-piece reference, and chunked inference that shares it.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "autodiff/errors.h"
#include "autodiff/ops.h"
#include "models/transcriber.h"
#include "models/transcriber_frontend.h"

namespace pianograd {
namespace {

constexpr double kSr = 16000;

Tensor fb(const FrontendConfig& cfg) { return log_filterbank(cfg.sample_rate, cfg.n_fft).to(DType::f32); }

std::vector<float> decaying_tones(int64_t n, double gain) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double t = i / kSr;
    x[static_cast<size_t>(i)] = static_cast<float>(gain * std::exp(-0.8 * std::fmod(t, 1.5)) *
                                                    std::sin(2 * M_PI * (220.0 + 110.0 * std::floor(t / 1.5)) * t));
  }
  return x;
}

TEST(TranscriberLoudness, OwnPeakAsReferenceChangesNothing) {
  FrontendConfig cfg;
  NoGrad ng;
  const Tensor audio = randn({2, 6000}) * 0.2;
  const Tensor peak = log_spectrum_peak(audio, fb(cfg), cfg);
  ASSERT_EQ(peak.shape(), (Shape{2}));
  EXPECT_EQ(transcriber_features(audio, fb(cfg), cfg).to_vector<float>(),
            transcriber_features(audio, fb(cfg), cfg, peak).to_vector<float>());
  // A reference 1 nat above the peak lowers every non-silent cell by 1 / floor (a quieter "piece").
  const std::vector<float> own = transcriber_features(audio, fb(cfg), cfg).to_vector<float>();
  const std::vector<float> lower = transcriber_features(audio, fb(cfg), cfg, peak + 1.0).to_vector<float>();
  int64_t checked = 0;
  for (size_t i = 0; i < own.size(); ++i)
    if (own[i] > 0.2f) {
      EXPECT_NEAR(own[i] - lower[i], 1.0 / cfg.floor, 1e-5) << i;
      ++checked;
    }
  EXPECT_GT(checked, 1000);
  EXPECT_THROW(transcriber_features(audio, fb(cfg), cfg, zeros({3})), ShapeError);
}

TEST(TranscriberLoudness, PieceReferenceFollowsGainAndCoversEveryChunk) {
  TranscriberConfig c;
  c.seed = 4;
  Transcriber m(c);
  const int64_t n = static_cast<int64_t>(6 * kSr);
  const std::vector<float> x = decaying_tones(n, 0.3);
  std::vector<float> loud(x);
  for (float& v : loud) v *= 2.0f;
  const double r = m.loudness_reference(x.data(), n, kSr);
  EXPECT_NEAR(m.loudness_reference(loud.data(), n, kSr) - r, std::log(2.0), 1e-3);
  // The piece's reference is the largest of its parts' peaks.
  NoGrad ng;
  FrontendConfig f = c.frontend();
  const int64_t half = n / 2;
  const double first = log_spectrum_peak(from_vector(std::vector<float>(x.begin(), x.begin() + half), {1, half}),
                                         fb(f), f).item();
  EXPECT_GE(r, first - 1e-6);
  EXPECT_THROW(m.loudness_reference(nullptr, 0, kSr), ShapeError);
  EXPECT_THROW(m.loudness_reference(x.data(), n, 0.0), ValueError);
}

TEST(TranscriberLoudness, PieceLoudnessInferenceUsesOneReference) {
  // Two 3 s chunks of one 6 s piece whose second half is 20 dB quieter: with piece loudness the second
  // chunk is seen as quiet (its features stay low), with chunk loudness it is renormalised to full scale.
  TranscriberConfig c;
  c.seed = 5;
  c.chunk_seconds = 3.0;
  c.context_seconds = 0.5;
  std::vector<float> x = decaying_tones(static_cast<int64_t>(6 * kSr), 0.3);
  for (size_t i = x.size() / 2; i < x.size(); ++i) x[i] *= 0.1f;
  const int64_t n = static_cast<int64_t>(x.size());
  Transcriber chunked(c);
  c.piece_loudness = true;
  Transcriber piece(c);
  piece.load_state_dict(chunked.state_dict());
  EXPECT_EQ(TranscriberConfig::from_json(c.to_json()).piece_loudness, true);
  const PianoRolls a = chunked.predict_rolls(x.data(), n, kSr), b = piece.predict_rolls(x.data(), n, kSr);
  // Same weights, same first chunk (its own peak is the piece's): the first frames agree...
  const std::vector<float> fa = a.frame.to_vector<float>(), fbv = b.frame.to_vector<float>();
  for (size_t i = 0; i < 50 * 88; ++i) EXPECT_NEAR(fa[i], fbv[i], 1e-5) << i;
  // ...the quiet half does not: each chunk normalised alone reads it 20 dB louder than the piece does.
  double diff = 0;
  for (size_t i = fa.size() - 50 * 88; i < fa.size(); ++i) diff += std::abs(fa[i] - fbv[i]);
  EXPECT_GT(diff, 1e-3);
  // And chunked piece-loudness inference equals one forward pass with the piece reference.
  NoGrad ng;
  const int64_t frames = piece.num_frames(n);
  std::vector<float> padded = x;
  padded.resize(static_cast<size_t>(frames * c.hop), 0.0f);
  const Tensor ref = full({1}, piece.loudness_reference(x.data(), n, kSr));
  const std::vector<float> whole =
      sigmoid(piece.forward_all(from_vector(padded, {1, frames * c.hop}), ref).frame).to_vector<float>();
  double worst = 0;
  for (size_t i = 0; i < fbv.size(); ++i) worst = std::max(worst, static_cast<double>(std::abs(whole[i] - fbv[i])));
  EXPECT_LT(worst, 2e-3);  // chunk edges see zero padding where the whole sees audio; inside, the same
}

}  // namespace
}  // namespace pianograd
