// Generation with the motion language model (models/motion_lm.h): continues prompts token by token
// with the KV cache, sampling from the model's distribution sharpened by a temperature and cut to the
// k most likely tokens and/or the smallest set holding probability top_p (nucleus sampling, Holtzman et
// al. 2020). Seeded: the same prompts, options and model give the same tokens.
//
// Rules, all documented for users of `pianograd generate` / pg.generate:
//   * PAD and BOS are never sampled; EOS ends a sequence (and is not sampled before min_new_tokens).
//   * With piano_grammar (the default) the note tokens follow the keys' state (see SamplingOptions).
//   * A sequence also ends once its tokens span max_seconds of music (the sum of its SHIFTs), or after
//     max_new_tokens. The batch runs until every sequence has ended.
//   * Prompts are cut to the shortest one's length, keeping their most recent tokens (the batch shares
//     positions); an empty prompt is a lone BOS. A prompt longer than the context is read as its
//     restart window (below).
//   * When a sequence reaches the context, the cache restarts from its restart window: BOS, the state
//     where its last context / 2 tokens begin written as events (PEDAL_ON if the pedal is down, the
//     VELOCITY and NOTE_ON of every note still sounding, the current VELOCITY), then those tokens. So a
//     note struck before the window can still be released (without the summary the model never sees
//     its NOTE_ON again and holds it to the end). Windows of a batch are left-padded with BOS to one
//     length. Rotary positions are relative, so the model reads the tail as before.
#pragma once
#include <cstdint>
#include <vector>

#include "models/motion_lm.h"
#include "models/motion_tokens.h"

namespace pianograd {

struct SamplingOptions {
  double temperature = 1.0;  // > 0
  int64_t top_k = 0;         // 0: no cut
  double top_p = 1.0;        // in (0, 1]
  uint64_t seed = 0;
  int64_t max_new_tokens = 2048;
  double max_seconds = 0.0;  // 0: no limit
  bool use_cache = true;     // false: every step recomputes the whole window (the benchmark's baseline)
  int64_t min_new_tokens = 0;  // EOS is not sampled before this many new tokens (fixed-length runs)
  // The piano's grammar: NOTE_OFF only for a key that sounds, NOTE_ON only for a key that does not (a
  // key is released before it is struck again). Without it an imperfect model strikes sounding keys
  // and releases silent ones, and the unreleased notes pile up (measured on the shipped model: half of
  // the sampled note-ons were on a sounding key; 20-29 notes held after 30 s).
  bool piano_grammar = true;
};

// Continuations (without their prompts) of each prompt. ValueError for bad options or tokens outside
// the vocabulary. Runs under NoGrad with the model in eval mode (restored afterwards).
std::vector<std::vector<int32_t>> generate(MotionLM& model, const MotionTokenizer& tokenizer,
                                           const std::vector<std::vector<int32_t>>& prompts,
                                           const SamplingOptions& options = {});

// The restart window of a token sequence (see above) keeping its last `tail` tokens; the whole
// sequence when it has at most `tail` tokens. Exposed for the tests.
std::vector<int32_t> restart_window(const MotionTokenizer& tokenizer, const std::vector<int32_t>& seq, size_t tail);

// One draw from logits [V] under the options' temperature / top-k / top-p, with `banned` tokens
// excluded; `u` is a uniform number in [0, 1). Exposed for the tests.
int32_t sample_token(const float* logits, int64_t vocab, const SamplingOptions& options,
                     const std::vector<int32_t>& banned, double u);

}  // namespace pianograd
