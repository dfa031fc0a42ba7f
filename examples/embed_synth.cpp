// Embedding the piano in a C++ program with no Python: read a MIDI file, render it with the default
// concert grand, write a WAV.
//
//   embed_synth in.mid out.wav [sample_rate]     render a file
//   embed_synth --demo out.wav [sample_rate]     render a built-in phrase (also written as out.wav.mid)
#include <pianograd/pianograd.h>
#include <pianograd/synth/audio_io.h>
#include <pianograd/synth/event_renderer.h>
#include <pianograd/synth/midi.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

// A C-major arpeggio over a held pedal, then a soft chord: enough to hear strings, pedal and damping.
pianograd::Performance demo_phrase() {
  pianograd::Performance p;
  const int keys[] = {48, 52, 55, 60, 64, 67, 72};
  for (int i = 0; i < 7; ++i) p.notes.push_back({keys[i], 0.15 * i, 0.15 * i + 0.5, 50 + 8 * i});
  for (int k : {53, 57, 60, 65}) p.notes.push_back({k, 1.4, 2.4, 45});
  p.pedal = {{0.0, 1.0}, {1.3, 0.0}};
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pianograd;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s in.mid|--demo out.wav [sample_rate]\n", argv[0]);
    return 2;
  }
  const std::string in = argv[1], out = argv[2];
  const double sr = argc > 3 ? std::atof(argv[3]) : 16000.0;
  try {
    Performance perf;
    if (in == "--demo") {
      perf = demo_phrase();
      write_midi(out + ".mid", perf);
      perf = read_midi(out + ".mid");  // exercise the reader on what the writer made
    } else {
      perf = read_midi(in);
    }
    PianoParams piano = PianoParams::concert_grand(sr);
    RenderOptions opt;
    opt.sample_rate = sr;
    const auto t0 = std::chrono::steady_clock::now();
    Tensor audio;
    {
      NoGrad no_grad;  // rendering only: no tape
      audio = render(piano, perf, opt);
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<float> samples = audio.to_vector<float>();
    double peak = 0.0, energy = 0.0;
    for (float v : samples) {
      peak = std::max(peak, static_cast<double>(std::fabs(v)));
      energy += static_cast<double>(v) * v;
    }
    AudioWriteOptions wopt;
    wopt.clipping = ClipPolicy::normalize;
    write_audio(out, samples, static_cast<int>(sr), wopt);
    const double dur = static_cast<double>(samples.size()) / sr;
    std::printf("embed_synth: %zu notes, %.2f s of audio at %.0f Hz in %.3f s (%.0fx real time), peak %.3f, rms %.4f -> %s\n",
                perf.notes.size(), dur, sr, secs, dur / secs, peak, std::sqrt(energy / static_cast<double>(samples.size())),
                out.c_str());
    return energy > 0.0 ? 0 : 1;
  } catch (const Error& e) {
    std::fprintf(stderr, "embed_synth: %s\n", e.what());
    return 1;
  }
}
