// What the piano is doing after a prefix of performance tokens (models/motion_tokens.h), as features
// the motion LM can read beside each token (MotionLMConfig::state_features).
//
// Why: in an event sequence the sounding keys, the pedal and the time since the last note-on are sums
// over the whole prefix (every NOTE_ON not yet matched by its NOTE_OFF, every SHIFT since the last
// onset). A recurrent net carries them in its state; attention has to rediscover them by matching
// events across the window at every position, which a small Transformer trained on ~10^6 tokens does
// poorly (our GRU baseline beat it on note-offs by 0.28 nats). The state is a deterministic function of
// the tokens, so giving it to the model leaks nothing and keeps it causal: the features at position t
// are the state after token t, and token t + 1 is what the model predicts from them.
//
// Features (kMotionStateFeatures floats per position):
//   [0, 88)     1 for each key sounding (a NOTE_ON not yet released), by key - 21
//   [88, 176)   for each sounding key, exp(-age / 0.5 s), age since its latest NOTE_ON (how long it has
//               been held: what a release time depends on); 0 for silent keys
//   176         1 while the sustain pedal is down
//   [177, 186)  one-hot bucket of the time since the last NOTE_ON, in time steps: 0, 1-2, 3-5, 6-10,
//               11-20, 21-40, 41-80, 81-160, > 160 or none yet (chord continuation versus a new onset)
//   [186, 218)  one-hot current velocity bin (the last VELOCITY token; none before the first), in 32
//               bins (a tokenizer with other bins is mapped onto them): the dynamic the next note starts
//               from, which the GRU baseline beat the stateless model on by 0.14 nats per VELOCITY
//   [218, 227)  one-hot bucket of the time since the last pedal change, edges as for the onsets
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

#include "models/motion_tokens.h"

namespace pianograd {

inline constexpr int kMotionStateBuckets = 9;   // time-since buckets
inline constexpr int kMotionStateVelocities = 32;
inline constexpr int kMotionStateFeatures = 2 * kNumKeys + 1 + kMotionStateBuckets + kMotionStateVelocities + kMotionStateBuckets;

struct MotionState {
  std::array<int16_t, kNumKeys> sounding{};  // notes sounding per key (a key may be struck again)
  std::array<int64_t, kNumKeys> onset{};     // time step of each key's latest NOTE_ON
  bool pedal = false;
  int64_t now = 0;          // time steps since the sequence began
  int64_t last_onset = -1;  // time step of the latest NOTE_ON, -1 before the first
  int64_t last_pedal = -1;  // time step of the latest PEDAL_ON / PEDAL_OFF, -1 before the first
  int velocity_bin = -1;    // the latest VELOCITY token's bin, -1 before the first
};

// The state after `token` (the tokenizer's grammar: a NOTE_OFF of a silent key and special tokens change
// nothing). ValueError for a token outside the vocabulary.
void advance(const MotionTokenizer& tok, MotionState& state, int32_t token);

// The kMotionStateFeatures features of a state into out.
void state_features(const MotionTokenizer& tok, const MotionState& state, float* out);

// For tokens[0 .. n): advances `state` over each token and writes the features after it into
// out[i * kMotionStateFeatures ...]; `state` ends after the last token.
void window_state_features(const MotionTokenizer& tok, const int64_t* tokens, size_t n, MotionState& state,
                           float* out);

}  // namespace pianograd
