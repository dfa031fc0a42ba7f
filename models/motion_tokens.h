// Performances (M) as event tokens, for the motion language model LM^M (issue 14). The vocabulary of
// Performance RNN (Oore et al. 2018) plus the sustain pedal:
//
//   PAD, BOS, EOS                      specials (BOS starts a sequence; PAD and EOS are never events)
//   NOTE_ON(key)   x 88                a key pressed, at the current time and the current velocity
//   NOTE_OFF(key)  x 88                a key released (the oldest sounding note of that key ends)
//   SHIFT(k)       x max_shift_steps   time advances by k steps of time_step (k = 1 .. max_shift_steps)
//   VELOCITY(b)    x velocity_bins     the velocity of the following note-ons (bin of MIDI 1..127)
//   PEDAL_ON, PEDAL_OFF                the sustain pedal down / up (the performance's value >= 0.5)
//
// At one time the events come in a fixed order: pedal up, note-offs (by key), pedal down, then for each
// note-on (by key) a VELOCITY token when its bin differs from the last one, and the NOTE_ON. Longer gaps
// are several SHIFT tokens, the longest first. So decode(encode(p)) == quantize(p): onsets, offsets and
// pedal times rounded to the time grid (a note keeps at least one step), velocities to their bin's
// representative, the pedal to up/down — lossless within the quantisation.
//
// decode() is lenient about the grammar (it has to read a sampled sequence): a NOTE_OFF of a key that
// is not sounding is ignored, notes still sounding at the end close one step after the last time,
// special tokens are skipped, a PEDAL_ON and PEDAL_OFF at one time cancel; a token outside the
// vocabulary raises ValueError.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "synth/performance.h"

namespace pianograd {

struct TokenizerConfig {
  double time_step = 0.01;    // seconds per SHIFT step (10 ms, as Performance RNN)
  int max_shift_steps = 100;  // the longest single SHIFT (1 s)
  int velocity_bins = 32;     // MIDI velocities 1..127 in this many bins
};

enum class TokenKind : int { pad, bos, eos, note_on, note_off, shift, velocity, pedal_on, pedal_off };

// Which aspect of the music a token carries: for per-field NLL (time, pitch, velocity, pedal).
enum class TokenField : int { special, pitch, time, velocity, pedal };

class MotionTokenizer {
 public:
  static constexpr int32_t kPad = 0, kBos = 1, kEos = 2;

  explicit MotionTokenizer(const TokenizerConfig& config = {});  // ValueError on a bad config

  const TokenizerConfig& config() const { return config_; }
  int32_t vocab_size() const { return pedal_off_ + 1; }

  int32_t note_on(int key) const;      // key 21..108
  int32_t note_off(int key) const;
  int32_t shift(int steps) const;      // 1..max_shift_steps
  int32_t velocity(int bin) const;     // 0..velocity_bins-1
  int32_t pedal_on() const { return pedal_on_; }
  int32_t pedal_off() const { return pedal_off_; }

  TokenKind kind(int32_t token) const;  // ValueError outside the vocabulary
  TokenField field(int32_t token) const;
  // The key of a NOTE_ON/NOTE_OFF, the steps of a SHIFT, the bin of a VELOCITY; 0 for the others.
  int value(int32_t token) const;
  std::string name(int32_t token) const;  // "NOTE_ON(60)", "SHIFT(12)", "VELOCITY(20)", "PEDAL_ON", "BOS"...

  int velocity_bin(int midi_velocity) const;     // 1..127 -> 0..bins-1
  int bin_velocity(int bin) const;               // the bin's representative MIDI velocity
  int64_t steps(double seconds) const;           // round(seconds / time_step)

  // The performance (validated) as tokens, optionally framed by BOS / EOS.
  std::vector<int32_t> encode(const Performance& perf, bool add_bos = false, bool add_eos = false) const;
  // Tokens -> a valid, sorted performance (see the grammar note above).
  Performance decode(const int32_t* tokens, size_t count) const;
  Performance decode(const std::vector<int32_t>& tokens) const { return decode(tokens.data(), tokens.size()); }
  // What decode(encode(perf)) returns.
  Performance quantize(const Performance& perf) const;
  // Seconds of music the tokens span (the sum of their SHIFTs): the denominator of bits per second.
  double seconds(const int32_t* tokens, size_t count) const;

 private:
  TokenizerConfig config_;
  std::vector<int> bin_velocity_;  // per bin
  int32_t note_on_, note_off_, shift_, velocity_, pedal_on_, pedal_off_;  // first id of each range
};

}  // namespace pianograd
