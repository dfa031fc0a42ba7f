// Shared by the transcriber's tests: a performance played by our piano, dry, as a [1, N] batch.
#pragma once
#include "autodiff/ops.h"
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

}  // namespace pianograd::transcriber_test
