#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <random>

#include "autodiff/errors.h"
#include "synth/audio_io.h"
#include "tests/synth/synth_test_util.h"

namespace pg = pianograd;

namespace {

std::vector<float> sine(double freq, double sr, size_t n, double amp = 0.5) {
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>(amp * std::sin(2.0 * std::numbers::pi * freq * i / sr));
  return x;
}

// Frequency from upward zero crossings over [begin, end), interpolated linearly between samples.
double zero_crossing_freq(const std::vector<float>& x, double sr, size_t begin, size_t end) {
  double first = -1.0, last = -1.0;
  int count = 0;
  for (size_t i = begin + 1; i < end; ++i)
    if (x[i - 1] < 0.0f && x[i] >= 0.0f) {
      const double t = (i - 1) + x[i - 1] / (x[i - 1] - x[i]);
      if (first < 0.0) first = t;
      else ++count;
      last = t;
    }
  return count * sr / (last - first);
}

}  // namespace

TEST(AudioIO, WavAndFlacRoundTrip) {
  const std::vector<float> x = sine(440.0, 16000.0, 16000);
  for (const char* ext : {".wav", ".flac", ".aiff"}) {
    pg::test::TempPath path(ext);
    pg::write_audio(path.str(), x, 16000);
    const pg::Audio a = pg::read_audio(path.str());
    EXPECT_EQ(a.sample_rate, 16000);
    ASSERT_EQ(a.samples.size(), x.size()) << ext;
    float err = 0.0f;
    for (size_t i = 0; i < x.size(); ++i) err = std::max(err, std::fabs(a.samples[i] - x[i]));
    EXPECT_LE(err, 1.0f / 32768.0f) << ext;  // PCM16 quantisation: half a step, plus rounding
    EXPECT_GT(err, 0.0f) << ext;             // it really went through 16 bits
  }
  pg::test::TempPath path(".wav");
  pg::AudioWriteOptions opt;
  opt.format = pg::SampleFormat::float32;
  pg::write_audio(path.str(), x, 44100, opt);
  const pg::Audio a = pg::read_audio(path.str());
  EXPECT_EQ(a.sample_rate, 44100);
  EXPECT_EQ(a.samples, x);  // float WAV is exact
}

TEST(AudioIO, StereoMixesDownToMono) {
  // A 16-bit stereo WAV written byte by byte (independently of our writer).
  const int16_t frames[] = {16384, -16384, 8192, 24576, -32768, 0};  // /32768: .5 -.5, .25 .75, -1 0
  std::vector<uint8_t> b;
  auto put = [&](uint32_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  auto tag = [&](const char* s) { b.insert(b.end(), s, s + 4); };
  tag("RIFF"); put(36 + sizeof frames, 4); tag("WAVE");
  tag("fmt "); put(16, 4); put(1, 2); put(2, 2); put(22050, 4); put(22050 * 4, 4); put(4, 2); put(16, 2);
  tag("data"); put(sizeof frames, 4);
  for (int16_t v : frames) put(static_cast<uint16_t>(v), 2);
  pg::test::TempPath path(".wav");
  std::ofstream(path.path(), std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<long>(b.size()));
  const pg::Audio a = pg::read_audio(path.str());
  EXPECT_EQ(a.sample_rate, 22050);
  EXPECT_EQ(a.samples, (std::vector<float>{0.0f, 0.5f, -0.5f}));
}

TEST(AudioIO, ReadErrors) {
  try {
    pg::read_audio("/nonexistent/none.wav");
    FAIL();
  } catch (const pg::FileNotFound& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/none.wav"), std::string::npos);
  }
  pg::test::TempPath garbage(".wav");
  {
    std::mt19937 rng(3);
    std::ofstream out(garbage.path(), std::ios::binary);
    for (int i = 0; i < 1000; ++i) out.put(static_cast<char>(rng()));
  }
  try {
    pg::read_audio(garbage.str());
    FAIL();
  } catch (const pg::FileNotFound&) {
    FAIL() << "garbage is not a missing file";
  } catch (const pg::IOError& e) {
    EXPECT_NE(std::string(e.what()).find(garbage.str()), std::string::npos);
  }

  // Truncating a valid WAV anywhere either reads (fewer samples) or raises IOError.
  pg::test::TempPath good(".wav");
  pg::write_audio(good.str(), sine(100.0, 8000.0, 200), 8000);
  std::vector<char> bytes(std::filesystem::file_size(good.path()));
  std::ifstream(good.path(), std::ios::binary).read(bytes.data(), static_cast<long>(bytes.size()));
  pg::test::TempPath cut(".wav");
  for (size_t n = 0; n < bytes.size(); n += 7) {
    std::ofstream(cut.path(), std::ios::binary).write(bytes.data(), static_cast<long>(n));
    try {
      EXPECT_LE(pg::read_audio(cut.str()).samples.size(), 200u);
    } catch (const pg::IOError&) {
    }
  }
}

std::vector<char> file_bytes(const std::filesystem::path& p) {
  std::vector<char> b(std::filesystem::file_size(p));
  std::ifstream(p, std::ios::binary).read(b.data(), static_cast<long>(b.size()));
  return b;
}

void put_bytes(const std::filesystem::path& p, const std::vector<char>& b, size_t n) {
  std::ofstream(p, std::ios::binary).write(b.data(), static_cast<long>(n));
}

// Issue 17: what the reader used to accept in silence is refused, naming the file and the reason.
void expect_refused(const pg::test::TempPath& f, const std::string& why) {
  try {
    const pg::Audio a = pg::read_audio(f.str());
    ADD_FAILURE() << why << ": read " << a.samples.size() << " samples at " << a.sample_rate << " Hz";
  } catch (const pg::IOError& e) {
    EXPECT_NE(std::string(e.what()).find(f.str()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
  }
}

TEST(AudioIO, RefusesAbsurdRatesEmptyNonFiniteAndTruncatedFiles) {
  pg::test::TempPath wav(".wav");
  pg::write_audio(wav.str(), sine(100.0, 8000.0, 400), 8000, {pg::SampleFormat::float32});
  const std::vector<char> good = file_bytes(wav.path());
  ASSERT_EQ(std::string(good.data() + 12, 4), "fmt ");
  auto patched = [&](size_t at, uint32_t v) {
    std::vector<char> b = good;
    for (int i = 0; i < 4; ++i) b[at + static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
    return b;
  };
  pg::test::TempPath bad(".wav");
  put_bytes(bad.path(), patched(24, 2147483647u), good.size());  // the fmt chunk's sample rate
  expect_refused(bad, "invalid header");
  // A NaN in the data chunk of the float file: the last sample.
  std::vector<char> nan = good;
  const float q = NAN;
  std::memcpy(nan.data() + nan.size() - 4, &q, 4);
  put_bytes(bad.path(), nan, nan.size());
  expect_refused(bad, "not finite");
  // A header with no frames.
  pg::test::TempPath empty(".wav");
  pg::write_audio(empty.str(), {}, 8000);
  expect_refused(empty, "no samples");
  // A FLAC cut in the middle: its STREAMINFO promises every frame.
  pg::test::TempPath flac(".flac");
  std::mt19937 rng(1);
  std::normal_distribution<float> noise(0.0f, 0.2f);  // noise does not compress: the cut loses frames
  std::vector<float> x(20000);
  for (float& v : x) v = std::clamp(noise(rng), -1.0f, 1.0f);
  pg::write_audio(flac.str(), x, 16000);
  ASSERT_EQ(pg::read_audio(flac.str()).samples.size(), x.size());
  const std::vector<char> fb = file_bytes(flac.path());
  pg::test::TempPath cut(".flac");
  put_bytes(cut.path(), fb, fb.size() * 6 / 10);
  EXPECT_THROW(pg::read_audio(cut.str()), pg::IOError);
}

TEST(AudioIO, WriteValidationAndClipping) {
  pg::test::TempPath path(".wav");
  const std::vector<float> loud = {0.0f, 2.0f, -4.0f};
  EXPECT_THROW(pg::write_audio(path.str(), loud, 16000), pg::ValueError);
  EXPECT_FALSE(std::filesystem::exists(path.path()));
  EXPECT_THROW(pg::write_audio(path.str(), {0.0f, NAN}, 16000), pg::ValueError);
  EXPECT_THROW(pg::write_audio(path.str(), {0.0f}, 0), pg::ValueError);
  pg::test::TempPath mp3(".mp3");
  EXPECT_THROW(pg::write_audio(mp3.str(), {0.0f}, 16000), pg::ValueError);
  pg::test::TempPath flac(".flac");
  pg::AudioWriteOptions fl;
  fl.format = pg::SampleFormat::float32;
  EXPECT_THROW(pg::write_audio(flac.str(), {0.0f}, 16000, fl), pg::ValueError);
  EXPECT_THROW(pg::write_audio("/nonexistent/dir/x.wav", {0.0f}, 16000), pg::IOError);

  pg::AudioWriteOptions opt;
  opt.format = pg::SampleFormat::float32;
  opt.clipping = pg::ClipPolicy::normalize;
  opt.peak = 0.5f;
  pg::write_audio(path.str(), loud, 16000, opt);
  EXPECT_EQ(pg::read_audio(path.str()).samples, (std::vector<float>{0.0f, 0.25f, -0.5f}));
  opt.clipping = pg::ClipPolicy::clip;
  pg::write_audio(path.str(), loud, 16000, opt);  // overwrites atomically
  EXPECT_EQ(pg::read_audio(path.str()).samples, (std::vector<float>{0.0f, 1.0f, -1.0f}));
}

TEST(AudioIO, ResampleKeepsFrequencyAndLength) {
  const double f = 440.0;
  const std::vector<float> x = sine(f, 16000.0, 16000);
  for (auto q : {pg::ResampleQuality::best, pg::ResampleQuality::medium}) {
    const std::vector<float> y = pg::resample(x, 16000.0, 44100.0, q);
    EXPECT_EQ(y.size(), 44100u);
    // Away from the edges (filter transients), the tone is 440 Hz and its level unchanged.
    EXPECT_NEAR(zero_crossing_freq(y, 44100.0, 2000, 42000), f, 0.01);
    float peak = 0.0f;
    for (size_t i = 2000; i < 42000; ++i) peak = std::max(peak, std::fabs(y[i]));
    EXPECT_NEAR(peak, 0.5f, 0.005f);
    // No delay: the resampled sine is in phase with the ideal one.
    const std::vector<float> ideal = sine(f, 44100.0, 44100);
    double err = 0.0;
    for (size_t i = 2000; i < 42000; ++i) err = std::max(err, static_cast<double>(std::fabs(y[i] - ideal[i])));
    EXPECT_LT(err, 1e-5);  // measured 5e-8 (best), 1.3e-7 (medium)
  }
  const std::vector<float> down = pg::resample(pg::resample(x, 16000.0, 44100.0), 44100.0, 16000.0);
  EXPECT_EQ(down.size(), x.size());
  EXPECT_NEAR(zero_crossing_freq(down, 16000.0, 1000, 15000), f, 0.01);
  EXPECT_EQ(pg::resample(std::vector<float>(7, 0.0f), 16000.0, 32000.0).size(), 14u);
  EXPECT_TRUE(pg::resample({}, 16000.0, 44100.0).empty());

  EXPECT_THROW(pg::resample(x, 0.0, 16000.0), pg::ValueError);
  EXPECT_THROW(pg::resample(x, 16000.0, -1.0), pg::ValueError);
  EXPECT_THROW(pg::resample(x, 16000.0, NAN), pg::ValueError);
  EXPECT_THROW(pg::resample(x, 1.0, 1000.0), pg::ValueError);  // ratio 1000 > 256
}
