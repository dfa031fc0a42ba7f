// Audio files and resampling (DESIGN.md §1 "A": mono piano audio, 16 kHz by default, 44.1 kHz supported).
// Files go through libsndfile, resampling through libsamplerate (band-limited sinc), per DESIGN.md §3
// "libraries before hand-rolled code".
#pragma once
#include <string>
#include <vector>

namespace pianograd {

struct Audio {
  std::vector<float> samples;  // mono, nominally in [-1, 1]
  int sample_rate = 0;         // Hz
};

inline constexpr int kMaxSampleRate = 768000;  // Hz, reading and writing
inline constexpr int kMaxChannels = 256;

// Reads any file libsndfile understands (WAV, FLAC, AIFF, OGG, ...), mixing several channels down to mono
// by averaging. Throws FileNotFound for a missing file and IOError, naming the file and what is wrong, for
// an unreadable or corrupt one: libsndfile's message, a rate outside 1..kMaxSampleRate Hz or a channel
// count outside 1..kMaxChannels, no samples, a NaN or infinite sample, or fewer frames than the header
// promises (a truncated file).
Audio read_audio(const std::string& path);

enum class SampleFormat { pcm16, pcm24, float32 };

// What to do with samples outside [-1, 1], which integer formats cannot hold.
enum class ClipPolicy {
  error,      // throw ValueError naming the peak (the default: clipping is a bug upstream, say so)
  clip,       // clamp to [-1, 1]
  normalize,  // scale the whole signal so its peak is `peak` (only when it exceeds 1)
};

struct AudioWriteOptions {
  SampleFormat format = SampleFormat::pcm16;
  ClipPolicy clipping = ClipPolicy::error;
  float peak = 0.99f;  // target peak for ClipPolicy::normalize, in (0, 1]
};

// Writes mono `samples` at `sample_rate` to `path`; the container comes from the extension: .wav, .flac
// (integer formats only), .aif/.aiff. Written atomically (temp file + rename). Throws ValueError for bad
// arguments (unknown extension, rate outside 1..768000, non-finite samples, clipping under
// ClipPolicy::error) and IOError when libsndfile fails.
void write_audio(const std::string& path, const std::vector<float>& samples, int sample_rate,
                 const AudioWriteOptions& options = {});
inline void write_audio(const std::string& path, const Audio& audio, const AudioWriteOptions& options = {}) {
  write_audio(path, audio.samples, audio.sample_rate, options);
}

enum class ResampleQuality { best, medium, fastest };  // libsamplerate's SRC_SINC_{BEST,MEDIUM,FASTEST}

// Band-limited resampling of a mono signal from sr_in to sr_out (Hz). The result has
// round(samples.size() * sr_out / sr_in) samples and no added delay. Throws ValueError for non-positive,
// non-finite rates or a ratio outside libsamplerate's 1/256..256.
std::vector<float> resample(const std::vector<float>& samples, double sr_in, double sr_out,
                            ResampleQuality quality = ResampleQuality::best);

}  // namespace pianograd
