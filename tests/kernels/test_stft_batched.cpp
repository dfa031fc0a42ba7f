// The batched (frames across SIMD lanes) STFT of kernels/cpu/stft_batched.h against the per-frame
// KissFFT path (stft_magnitude under the scalar ISA) and a naive O(n^2) DFT in double: every SIMD ISA,
// power-of-two sizes 16..4096, frame counts that leave a partial lane group, signals shorter than a
// frame (reflection at both ends), with and without the complex spectra.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <numbers>
#include <random>
#include <stdexcept>
#include <vector>

#include "kernels/common/stft_math.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/stft.h"
#include "kernels/cpu/stft_batched.h"

namespace pianograd::kernels::cpu {
namespace {

struct Result {
  std::vector<float> mag;
  std::vector<std::complex<float>> spec;
};

Result run(const std::vector<float>& x, long batch, const StftGeometry& g, bool with_spec) {
  const size_t sz = static_cast<size_t>(batch * g.frames() * g.bins());
  Result r{std::vector<float>(sz, -1.f), std::vector<std::complex<float>>(with_spec ? sz : 0, {-1.f, -1.f})};
  stft_magnitude<float>(x.data(), batch, g, r.mag.data(), with_spec ? r.spec.data() : nullptr);
  return r;
}

// Spectra of every frame by the definition, in double.
std::vector<std::complex<double>> naive(const std::vector<float>& x, long batch, const StftGeometry& g) {
  const long n = g.n_fft, frames = g.frames(), bins = g.bins();
  std::vector<std::complex<double>> out(static_cast<size_t>(batch * frames * bins));
  for (long b = 0; b < batch; ++b)
    for (long f = 0; f < frames; ++f)
      for (long k = 0; k < bins; ++k) {
        std::complex<double> acc = 0;
        for (long t = 0; t < n; ++t) {
          const double v = x[static_cast<size_t>(b * g.length + stft_source(f, t, g.hop, n, g.length))];
          const double w = 0.5 - 0.5 * std::cos(2 * std::numbers::pi * static_cast<double>(t) / static_cast<double>(n));
          acc += w * v * std::polar(1.0, -2 * std::numbers::pi * static_cast<double>(k * t % n) / static_cast<double>(n));
        }
        out[static_cast<size_t>((b * frames + f) * bins + k)] = acc;
      }
  return out;
}

std::vector<float> signal(long batch, long length, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist;
  std::vector<float> x(static_cast<size_t>(batch * length));
  for (auto& v : x) v = dist(rng);
  return x;
}

std::vector<Isa> simd_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::sse2, Isa::avx2, Isa::avx512})
    if (isa_supported(isa)) out.push_back(isa);
  return out;
}

// Every frame's magnitudes and spectra within rel * (that frame's max |X|) of the reference.
template <class C>
void expect_close(const Result& got, const std::vector<float>& ref_mag, const std::vector<C>& ref_spec, long nframes,
                  long bins, double rel, const char* what) {
  for (long bf = 0; bf < nframes; ++bf) {
    double peak = 1e-30;
    for (long k = 0; k < bins; ++k) peak = std::max(peak, static_cast<double>(ref_mag[static_cast<size_t>(bf * bins + k)]));
    for (long k = 0; k < bins; ++k) {
      const size_t i = static_cast<size_t>(bf * bins + k);
      ASSERT_NEAR(got.mag[i], ref_mag[i], rel * peak) << what << " frame " << bf << " bin " << k;
      if (got.spec.empty()) continue;
      ASSERT_NEAR(got.spec[i].real(), static_cast<double>(ref_spec[i].real()), rel * peak) << what << " frame " << bf << " bin " << k;
      ASSERT_NEAR(got.spec[i].imag(), static_cast<double>(ref_spec[i].imag()), rel * peak) << what << " frame " << bf << " bin " << k;
    }
  }
}

TEST(StftBatched, SupportedSizes) {
  IsaScope scope(best_isa());
  if (best_isa() == Isa::scalar) GTEST_SKIP() << "no SIMD ISA";
  for (long n : {16L, 32L, 2048L, 4096L}) EXPECT_TRUE(stft_batched_supported(n)) << n;
  for (long n : {0L, 8L, 48L, 2000L, -16L}) EXPECT_FALSE(stft_batched_supported(n)) << n;
  IsaScope scalar(Isa::scalar);
  EXPECT_FALSE(stft_batched_supported(2048));
}

TEST(StftBatched, RejectsUnsupportedSize) {
  IsaScope scope(best_isa());
  std::vector<float> x(100, 1.f), mag(3 * 25);
  const StftGeometry g{48, 50, 100};
  EXPECT_THROW(stft_magnitude_batched(x.data(), 1, g, mag.data(), nullptr), std::invalid_argument);
}

// Against KissFFT (the scalar ISA routes stft_magnitude there) for every SIMD ISA.
TEST(StftBatched, MatchesKissFFTEveryIsa) {
  struct Case {
    long n, hop, length, batch;
  };
  const Case cases[] = {
      {16, 4, 37, 3},       // 10 frames x 3: partial groups for 4, 8 and 16 lanes
      {16, 5, 3, 2},        // signal shorter than half a frame: reflection at both ends, repeatedly
      {64, 16, 1000, 1},    // 63 frames
      {256, 64, 100, 5},    // short: every frame reflects on both sides
      {256, 100, 2501, 2},  // 26 frames
      {2048, 320, 16000, 1},
      {2048, 320, 1500, 3},  // shorter than a frame
      {4096, 512, 9001, 2},
      {16384, 4096, 20000, 1},  // several stages sweep the whole buffer
  };
  for (const Case& c : cases) {
    const StftGeometry g{c.n, c.hop, c.length};
    const auto x = signal(c.batch, c.length, static_cast<unsigned>(c.n + c.length));
    Result ref;
    {
      IsaScope scalar(Isa::scalar);
      ref = run(x, c.batch, g, true);
    }
    for (Isa isa : simd_isas()) {
      IsaScope scope(isa);
      ASSERT_TRUE(stft_batched_supported(c.n));
      const Result with = run(x, c.batch, g, true), without = run(x, c.batch, g, false);
      const std::string what = std::string(isa_name(isa)) + " n=" + std::to_string(c.n) + " len=" + std::to_string(c.length);
      expect_close(with, ref.mag, ref.spec, c.batch * g.frames(), g.bins(), 1e-5, what.c_str());
      EXPECT_EQ(with.mag, without.mag) << what;  // the spectra are optional outputs, not a different path
    }
  }
}

// Against the definition in double (independent of KissFFT), small sizes.
TEST(StftBatched, MatchesNaiveDFT) {
  for (long n : {16L, 32L, 64L, 128L}) {
    const StftGeometry g{n, n / 4 + 1, 3 * n + 7};
    const long batch = 2;
    const auto x = signal(batch, g.length, static_cast<unsigned>(n));
    const auto want = naive(x, batch, g);
    std::vector<float> want_mag(want.size());
    for (size_t i = 0; i < want.size(); ++i) want_mag[i] = static_cast<float>(std::abs(want[i]));
    for (Isa isa : simd_isas()) {
      IsaScope scope(isa);
      const Result got = run(x, batch, g, true);
      expect_close(got, want_mag, want, batch * g.frames(), g.bins(), 1e-5, isa_name(isa));
    }
  }
}

// A pure tone at a bin centre: the energy lands in that bin and its two Hann neighbours (n/4, n/8).
TEST(StftBatched, ToneAtBinCentre) {
  const long n = 1024, k0 = 100;
  const StftGeometry g{n, 256, 8192};
  std::vector<float> x(static_cast<size_t>(g.length));
  for (long t = 0; t < g.length; ++t)
    x[static_cast<size_t>(t)] = static_cast<float>(std::cos(2 * std::numbers::pi * static_cast<double>(k0 * t) / n));
  IsaScope scope(best_isa());
  if (!stft_batched_supported(n)) GTEST_SKIP() << "no SIMD ISA";
  const Result r = run(x, 1, g, false);
  const long f = 10;  // an interior frame
  const float* m = r.mag.data() + f * g.bins();
  EXPECT_NEAR(m[k0], n / 4.0, 1e-2);
  EXPECT_NEAR(m[k0 - 1], n / 8.0, 1e-2);
  EXPECT_NEAR(m[k0 + 1], n / 8.0, 1e-2);
  for (long k = 0; k < g.bins(); ++k) {
    if (std::abs(k - k0) > 1) {
      EXPECT_LT(m[k], 1e-2) << k;
    }
  }
}

// Silence: |X| = 0 exactly (the rsqrt-based magnitude must not turn 0 into NaN), and a NaN sample
// shows up in the frames that read it instead of being hidden.
TEST(StftBatched, SilenceIsZeroAndNaNPropagates) {
  const StftGeometry g{256, 64, 1000};
  std::vector<float> x(static_cast<size_t>(g.length), 0.f);
  for (Isa isa : simd_isas()) {
    IsaScope scope(isa);
    const Result r = run(x, 1, g, true);
    for (float v : r.mag) ASSERT_EQ(v, 0.f) << isa_name(isa);
    for (auto c : r.spec) ASSERT_EQ(c, std::complex<float>(0.f, 0.f)) << isa_name(isa);
    std::vector<float> y = x;
    y[500] = std::numeric_limits<float>::quiet_NaN();
    const Result q = run(y, 1, g, false);
    EXPECT_TRUE(std::isnan(q.mag[static_cast<size_t>((500 / 64) * g.bins() + 3)])) << isa_name(isa);
    EXPECT_EQ(q.mag[3], 0.f) << isa_name(isa);  // frame 0 (samples < 128 and their reflections) is clean
  }
}

// The result does not depend on the thread count (groups are fixed by the lane width, not the split).
TEST(StftBatched, SameResultOnOneOrManyThreads) {
  const StftGeometry g{512, 128, 20000};
  const auto x = signal(3, g.length, 9);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const Result one = run(x, 3, g, true);
  omp_set_num_threads(std::max(2, threads));
  const Result many = run(x, 3, g, true);
  omp_set_num_threads(threads);
  EXPECT_EQ(one.mag, many.mag);
  EXPECT_EQ(one.spec, many.spec);
}

}  // namespace
}  // namespace pianograd::kernels::cpu
