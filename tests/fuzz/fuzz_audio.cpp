// Audio files through libsndfile (synth/audio_io.h: WAV, FLAC, AIFF, OGG...): any bytes either read as
// mono samples that are finite, non-empty and at a rate within 1..kMaxSampleRate, or raise IOError.
#include <cmath>

#include "fuzz_common.h"

#include "autodiff/errors.h"
#include "synth/audio_io.h"

using namespace pianograd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Audio a;
  try {
    a = read_audio(fuzz::scratch_file(data, size, ".audio"));
  } catch (const Error&) {
    return 0;
  }
  if (a.samples.empty()) fuzz::violated("read_audio returned no samples");
  if (a.sample_rate < 1 || a.sample_rate > kMaxSampleRate) fuzz::violated("read_audio returned a rate out of range");
  for (float s : a.samples)
    if (!std::isfinite(s)) fuzz::violated("read_audio returned a non-finite sample");
  return 0;
}
