// Scoring performances with the motion LMs (issue 14, item 7): the negative log-likelihood (nats) of
// every token given the ones before it, for NLL per event, bits per second and per-field breakdowns.
// The Transformer reads windows of its context at a stride of context / 2, so each token is scored
// with at least context / 2 tokens of history (the first window's tokens with whatever precedes
// them); the GRU runs through the whole sequence, carrying its state. Both run in eval mode under
// NoGrad (the training flag is restored).
#pragma once
#include <cstdint>
#include <vector>

#include "models/motion_gru.h"
#include "models/motion_lm.h"

namespace pianograd {

// nll[i] = -log p(tokens[i + 1] | tokens[0 .. i]) for i in [0, n - 1): n - 1 values (none for n < 2).
// ValueError for tokens outside the model's vocabulary.
std::vector<float> token_nll(MotionLM& model, const std::vector<int32_t>& tokens);
std::vector<float> token_nll(MotionGRU& model, const std::vector<int32_t>& tokens, int64_t chunk = 512);

}  // namespace pianograd
