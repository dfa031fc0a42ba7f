#include "models/motion_state.h"

#include <cmath>

namespace pianograd {

namespace {

constexpr double kHoldDecaySeconds = 0.5;
// Upper edges (inclusive) of the time-since buckets (onset, pedal change), in time steps; past the last: the final bucket.
constexpr int64_t kSinceEdges[] = {0, 2, 5, 10, 20, 40, 80, 160};
constexpr int kBuckets = kMotionStateBuckets;
constexpr int kOnsetAt = 2 * kNumKeys + 1, kVelocityAt = kOnsetAt + kBuckets, kPedalAt = kVelocityAt + kMotionStateVelocities;
static_assert(kMotionStateFeatures == kPedalAt + kBuckets, "feature layout");

// One-hot bucket of the steps since `since` (the last bucket when there was none) into out[0, kBuckets).
void since_bucket(int64_t now, int64_t since, float* out) {
  for (int b = 0; b < kBuckets; ++b) out[b] = 0.0f;
  int b = kBuckets - 1;
  if (since >= 0) {
    b = 0;
    while (b < kBuckets - 1 && now - since > kSinceEdges[b]) ++b;
  }
  out[b] = 1.0f;
}

}  // namespace

void advance(const MotionTokenizer& tok, MotionState& s, int32_t token) {
  switch (tok.kind(token)) {
    case TokenKind::note_on: {
      const size_t k = static_cast<size_t>(tok.value(token) - kMinKey);
      ++s.sounding[k];
      s.onset[k] = s.now;
      s.last_onset = s.now;
      break;
    }
    case TokenKind::note_off: {
      const size_t k = static_cast<size_t>(tok.value(token) - kMinKey);
      if (s.sounding[k] > 0) --s.sounding[k];
      break;
    }
    case TokenKind::shift: s.now += tok.value(token); break;
    case TokenKind::pedal_on: s.pedal = true, s.last_pedal = s.now; break;
    case TokenKind::pedal_off: s.pedal = false, s.last_pedal = s.now; break;
    case TokenKind::velocity: s.velocity_bin = tok.value(token); break;
    default: break;
  }
}

void state_features(const MotionTokenizer& tok, const MotionState& s, float* out) {
  const double step = tok.config().time_step;
  for (int k = 0; k < kNumKeys; ++k) {
    const bool on = s.sounding[static_cast<size_t>(k)] > 0;
    out[k] = on ? 1.0f : 0.0f;
    out[kNumKeys + k] =
        on ? static_cast<float>(std::exp(-static_cast<double>(s.now - s.onset[static_cast<size_t>(k)]) * step / kHoldDecaySeconds))
           : 0.0f;
  }
  out[2 * kNumKeys] = s.pedal ? 1.0f : 0.0f;
  since_bucket(s.now, s.last_onset, out + kOnsetAt);
  float* vel = out + kVelocityAt;
  for (int b = 0; b < kMotionStateVelocities; ++b) vel[b] = 0.0f;
  if (s.velocity_bin >= 0)
    vel[s.velocity_bin * kMotionStateVelocities / tok.config().velocity_bins] = 1.0f;
  since_bucket(s.now, s.last_pedal, out + kPedalAt);
}

void window_state_features(const MotionTokenizer& tok, const int64_t* tokens, size_t n, MotionState& state,
                           float* out) {
  for (size_t i = 0; i < n; ++i) {
    advance(tok, state, static_cast<int32_t>(tokens[i]));
    state_features(tok, state, out + i * kMotionStateFeatures);
  }
}

}  // namespace pianograd
