#include "synth/audio_io.h"

#include <samplerate.h>
#include <sndfile.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <memory>

#include "autodiff/errors.h"
#include "synth/atomic_file.h"

namespace pianograd {

namespace {

struct SndfileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};
using SndfilePtr = std::unique_ptr<SNDFILE, SndfileCloser>;

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

}  // namespace

Audio read_audio(const std::string& path) {
  SF_INFO info{};
  SndfilePtr f(sf_open(path.c_str(), SFM_READ, &info));
  if (!f) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw FileNotFound("read_audio: no such file: " + path);
    throw IOError("read_audio: cannot read " + path + ": " + sf_strerror(nullptr));
  }
  // Refused at the header: rates outside what write_audio accepts, and channel counts no recording has
  // (a corrupt header that libsndfile still opens otherwise yields megabytes of nonsense).
  if (info.channels < 1 || info.channels > kMaxChannels || info.samplerate < 1 || info.samplerate > kMaxSampleRate)
    throw IOError("read_audio: " + path + ": invalid header (" + std::to_string(info.channels) + " channels, " +
                  std::to_string(info.samplerate) + " Hz; expected 1.." + std::to_string(kMaxChannels) +
                  " channels at 1.." + std::to_string(kMaxSampleRate) + " Hz)");
  Audio out;
  out.sample_rate = info.samplerate;
  // Read in blocks rather than trusting info.frames, which a corrupt header can make absurd.
  constexpr sf_count_t kBlock = 8192;
  const auto ch = static_cast<size_t>(info.channels);
  std::vector<float> buf(static_cast<size_t>(kBlock) * ch);
  const float scale = 1.0f / static_cast<float>(info.channels);
  for (;;) {
    const sf_count_t got = sf_readf_float(f.get(), buf.data(), kBlock);
    if (got <= 0) break;
    for (sf_count_t i = 0; i < got; ++i) {
      float s = 0.0f;
      for (size_t c = 0; c < ch; ++c) s += buf[static_cast<size_t>(i) * ch + c];
      if (!std::isfinite(s))
        throw IOError("read_audio: " + path + ": sample " + std::to_string(out.samples.size()) + " is not finite");
      out.samples.push_back(s * scale);
    }
  }
  if (sf_error(f.get()) != SF_ERR_NO_ERROR)
    throw IOError("read_audio: error while reading " + path + ": " + sf_strerror(f.get()));
  if (out.samples.empty()) throw IOError("read_audio: " + path + ": no samples");
  // A stream whose header states its length (FLAC's STREAMINFO, WAV's data chunk) but ends early was
  // cut: refuse it rather than return a silently shorter piece.
  const auto have = static_cast<sf_count_t>(out.samples.size());
  if (info.frames > 0 && info.frames != SF_COUNT_MAX && have < info.frames)
    throw IOError("read_audio: " + path + ": truncated (the header promises " + std::to_string(info.frames) +
                  " frames, the file holds " + std::to_string(have) + ")");
  return out;
}

void write_audio(const std::string& path, const std::vector<float>& samples, int sample_rate,
                 const AudioWriteOptions& options) {
  const std::string ext = lower_extension(path);
  int major = 0;
  if (ext == ".wav") major = SF_FORMAT_WAV;
  else if (ext == ".flac") major = SF_FORMAT_FLAC;
  else if (ext == ".aif" || ext == ".aiff") major = SF_FORMAT_AIFF;
  else throw ValueError("write_audio: " + path + ": unknown extension '" + ext + "' (expected .wav, .flac, .aif, .aiff)");
  int sub = SF_FORMAT_PCM_16;
  if (options.format == SampleFormat::pcm24) sub = SF_FORMAT_PCM_24;
  if (options.format == SampleFormat::float32) {
    if (major == SF_FORMAT_FLAC) throw ValueError("write_audio: " + path + ": FLAC cannot store float samples");
    sub = SF_FORMAT_FLOAT;
  }
  if (sample_rate < 1 || sample_rate > kMaxSampleRate)
    throw ValueError("write_audio: " + path + ": sample rate must be 1.." + std::to_string(kMaxSampleRate) +
                     " Hz, got " + std::to_string(sample_rate));
  if (major == SF_FORMAT_FLAC && sample_rate > 655350)
    throw ValueError("write_audio: " + path + ": FLAC sample rate must be <= 655350 Hz, got " + std::to_string(sample_rate));
  if (!(options.peak > 0.0f && options.peak <= 1.0f))
    throw ValueError("write_audio: peak must be in (0, 1], got " + std::to_string(options.peak));

  float peak = 0.0f;
  for (size_t i = 0; i < samples.size(); ++i) {
    if (!std::isfinite(samples[i]))
      throw ValueError("write_audio: " + path + ": sample " + std::to_string(i) + " is not finite");
    peak = std::max(peak, std::fabs(samples[i]));
  }
  const std::vector<float>* data = &samples;
  std::vector<float> fixed;
  if (peak > 1.0f) {
    if (options.clipping == ClipPolicy::error)
      throw ValueError("write_audio: " + path + ": samples reach " + std::to_string(peak) +
                       ", outside [-1, 1]; pass ClipPolicy::clip or ::normalize");
    fixed = samples;
    if (options.clipping == ClipPolicy::clip) {
      for (float& s : fixed) s = std::clamp(s, -1.0f, 1.0f);
    } else {
      const float g = options.peak / peak;
      for (float& s : fixed) s *= g;
    }
    data = &fixed;
  }

  detail::write_atomically(path, "write_audio", [&](const std::filesystem::path& tmp) {
    SF_INFO info{};
    info.samplerate = sample_rate;
    info.channels = 1;
    info.format = major | sub;
    if (!sf_format_check(&info)) throw ValueError("write_audio: " + path + ": libsndfile rejects this format");
    SNDFILE* raw = sf_open(tmp.c_str(), SFM_WRITE, &info);
    if (!raw) throw IOError("write_audio: cannot write " + path + ": " + sf_strerror(nullptr));
    SndfilePtr f(raw);
    // Saturate rather than wrap if a value rounds past full scale in the float -> integer conversion.
    sf_command(raw, SFC_SET_CLIPPING, nullptr, SF_TRUE);
    const auto n = static_cast<sf_count_t>(data->size());
    if (sf_writef_float(raw, data->data(), n) != n)
      throw IOError("write_audio: error while writing " + path + ": " + sf_strerror(raw));
    sf_write_sync(raw);
    if (sf_close(f.release()) != 0) throw IOError("write_audio: error while closing " + path);
  });
}

std::vector<float> resample(const std::vector<float>& samples, double sr_in, double sr_out, ResampleQuality quality) {
  if (!std::isfinite(sr_in) || !std::isfinite(sr_out) || sr_in <= 0.0 || sr_out <= 0.0)
    throw ValueError("resample: sample rates must be finite and > 0, got " + std::to_string(sr_in) + " -> " +
                     std::to_string(sr_out));
  const double ratio = sr_out / sr_in;
  if (!src_is_valid_ratio(ratio))
    throw ValueError("resample: ratio " + std::to_string(ratio) + " (" + std::to_string(sr_in) + " -> " +
                     std::to_string(sr_out) + " Hz) is outside libsamplerate's 1/256..256");
  const auto target = static_cast<size_t>(std::llround(static_cast<double>(samples.size()) * ratio));
  if (samples.empty() || sr_in == sr_out) {
    return samples;
  }
  const int type = quality == ResampleQuality::best     ? SRC_SINC_BEST_QUALITY
                   : quality == ResampleQuality::medium ? SRC_SINC_MEDIUM_QUALITY
                                                        : SRC_SINC_FASTEST;
  int err = 0;
  std::unique_ptr<SRC_STATE, SRC_STATE* (*)(SRC_STATE*)> state(src_new(type, 1, &err), &src_delete);
  if (!state) throw ValueError(std::string("resample: ") + src_strerror(err));

  // libsamplerate compensates its filter delay; with end_of_input set it drains its state over as many
  // calls as the output space needs, so loop until it produces nothing more.
  std::vector<float> out(target + 64);
  SRC_DATA d{};
  d.data_in = samples.data();
  d.input_frames = static_cast<long>(samples.size());
  d.src_ratio = ratio;
  d.end_of_input = 1;
  size_t produced = 0;
  for (;;) {
    if (out.size() - produced < 1024) out.resize(out.size() + 4096);
    d.data_out = out.data() + produced;
    d.output_frames = static_cast<long>(out.size() - produced);
    if ((err = src_process(state.get(), &d)) != 0) throw ValueError(std::string("resample: ") + src_strerror(err));
    d.data_in += d.input_frames_used;
    d.input_frames -= d.input_frames_used;
    produced += static_cast<size_t>(d.output_frames_gen);
    if (d.output_frames_gen == 0 && d.input_frames == 0) break;
  }
  out.resize(produced);
  out.resize(target, 0.0f);  // exact length: trims the filter tail or pads the last fraction of a sample
  return out;
}

}  // namespace pianograd
